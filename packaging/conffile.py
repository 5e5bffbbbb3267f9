"""Write an installed configuration file from the project's example configuration.

    python3 packaging/conffile.py kiosk|kiosk-linkserver EXAMPLE OUT

The example documents every setting; the installed file is the same text with the settings that
name places on the machine (where the data, the key and the database live) set to the packages'
folders. Each setting changed must be found exactly once in the example, and the result must read
as TOML with the new values: an example reworded so that a line no longer matches fails the build
instead of shipping a file that points into a checkout.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

HEADER = {
    "kiosk": (
        "# The kiosk's configuration, installed by the kiosk package (a conffile: an upgrade keeps\n"
        "# your changes). Every setting is shown with its default. Relative paths are relative to\n"
        "# this file (/etc/kiosk). After a change: systemctl restart kiosk; kiosk doctor checks it.\n"
    ),
    "kiosk-linkserver": (
        "# The linkage server's configuration, installed by the kiosk-linkserver package (a conffile:\n"
        "# an upgrade keeps your changes). Every setting is shown with its default. Relative paths\n"
        "# are relative to this file (/etc/kiosk-linkserver). After a change:\n"
        "# systemctl restart kiosk-linkserver.\n"
    ),
}

# (section, key, TOML value, keep the example's line as a comment above) for each application.
SETTINGS = {
    "kiosk": [
        ("kiosk", "key_file", '"/var/lib/kiosk/kiosk-key.pem"', False),
        ("kiosk", "data_dir", '"/var/lib/kiosk"', False),
        # Offline verification needs the JPKI trust anchors and CRLs in /etc/kiosk/jpki first.
        ("offline", "enabled", "false", True),
        ("offline", "trust_anchors", "[]", True),
        ("offline", "crl_files", "[]", True),
    ],
    "kiosk-linkserver": [
        ("server", "database_url", '"sqlite:////var/lib/kiosk-linkserver/linkserver.db"', False),
        ("audit", "checkpoint_file", '"/var/lib/kiosk-linkserver/audit-checkpoints.jsonl"', False),
    ],
}


def installed(app: str, example: str) -> str:
    text = example
    for section, key, value, keep in SETTINGS[app]:
        pattern = re.compile(rf"^{re.escape(key)} = .*$", re.MULTILINE)
        found = pattern.findall(text)
        if len(found) != 1:
            raise SystemExit(f"conffile: {key} is set {len(found)} times in the example, not once")
        kept = f"# {found[0]}\n" if keep else ""
        text = pattern.sub(lambda _match, new=f"{kept}{key} = {value}": new, text)
        if tomllib.loads(text)[section][key] != tomllib.loads(f"v = {value}")["v"]:
            raise SystemExit(f"conffile: {key} is not in the [{section}] section of the example")
    body = text.split("\n", 2)[2] if text.startswith("# ") else text
    return HEADER[app] + body


def main(argv: list[str]) -> int:
    app, example, out = argv
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(installed(app, Path(example).read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
