"""``kiosk-linkserver screenshots``: every console page in both languages, from the demo in Chromium.

A module of its own: Playwright's synchronous API runs one browser session per thread, and the
browser tests' module-wide browser would still be open beside this command's."""

from __future__ import annotations

from pathlib import Path

from kiosk.nfc.sim import TestHierarchy


def test_the_screenshots_command_writes_every_page_in_both_languages(tmp_path: Path,
                                                                     hierarchy: TestHierarchy) -> None:
    from linkserver.cli import main
    from linkserver.console.screenshots import LANGUAGES, PAGES

    assert main(["--hierarchy", str(hierarchy.path), "--log-level", "warning",
                 "screenshots", "--out", str(tmp_path / "shots")]) == 0
    expected = {f"{name}-{language}.png" for name, _who, _path in PAGES for language in LANGUAGES}
    assert {path.name for path in (tmp_path / "shots").iterdir()} == expected
    for name in expected:
        data = (tmp_path / "shots" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width == 1366 and height >= 600, name
