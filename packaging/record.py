"""Make every installed distribution's RECORD true again after the build changed its files.

    python3 packaging/record.py SITE_PACKAGES

The build relocates the scripts (their interpreter line), strips the extensions it compiled and
leaves out files (the developer's tools, the parts of Qt a counter never loads). Each RECORD then
lists, for every file still there, its hash and size as installed, and nothing that is gone; so
``pip`` sees a consistent environment, and two builds give the same RECORDs.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import sys
from pathlib import Path


def digest(path: Path) -> str:
    raw = hashlib.sha256(path.read_bytes()).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def rewrite(record: Path, site: Path) -> None:
    rows = []
    for row in csv.reader(io.StringIO(record.read_text("utf-8"))):
        if not row:
            continue
        path = (site / row[0]).resolve() if not Path(row[0]).is_absolute() else Path(row[0])
        if path == record.resolve():
            rows.append([row[0], "", ""])
        elif path.is_file():
            rows.append([row[0], digest(path), str(path.stat().st_size)])
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    record.write_text(out.getvalue(), "utf-8")


def main(argv: list[str]) -> int:
    site = Path(argv[0])
    for record in sorted(site.glob("*.dist-info/RECORD")):
        rewrite(record, site)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
