"""``kiosk screenshots``: every screen in both languages as PNG, with no character drawn as a box."""

from __future__ import annotations

import logging
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel

from kiosk.flow import Screen, View
from kiosk.ui import screenshots
from kiosk.ui.base import SCREENS
from kiosk.ui.screenshots import ERROR_CODES, SIZE, glyph_problems, render_all, representative_views
from kiosk.ui.translations import kiosk_font


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_every_screen_and_error_renders_in_both_languages_with_every_glyph(
        tmp_path: Path, qapp: QCoreApplication) -> None:
    report = render_all(tmp_path)
    names = {path.name for path in tmp_path.glob("*.png")}
    for language in ("ja", "en"):
        for state in Screen:
            assert {f"{state.value}-{language}.png", f"{state.value}-{language}-large.png"} <= names
        for code in ERROR_CODES:
            assert {f"error-{code}-{language}.png", f"error-{code}-{language}-large.png"} <= names
    assert len(names) == len(report.shots)
    assert all(png_size(shot.path) == SIZE for shot in report.shots)
    assert all(shot.texts for shot in report.shots), "a screen showed no text at all"
    assert not report.glyph_problems, "\n".join(map(str, report.glyph_problems))
    assert not report.untranslated, report.untranslated
    japanese = next(shot for shot in report.shots if shot.name == "pin" and shot.language == "ja")
    assert any("暗証番号" in text for text in japanese.texts)
    warning = next(shot for shot in report.shots if shot.name == "idle_warning" and shot.language == "ja")
    assert "時間を延長する" in warning.texts and any("秒で画面の内容を消去します" in t for t in warning.texts)


def test_the_glyph_check_sees_a_character_no_font_has(qapp: QCoreApplication) -> None:
    label = QLabel("暗証番号 \U00013000")  # an Egyptian hieroglyph: no font here has it
    label.setFont(kiosk_font())  # the kiosk's, as its windows have: the kanji are all there
    label.show()
    problems = glyph_problems(label, "probe")
    label.close()
    assert [(problem.character, problem.kind) for problem in problems] == [("\U00013000", "missing")]


def test_the_command_renders_under_xvfb_as_on_a_real_display(tmp_path: Path, qapp: QCoreApplication) -> None:
    """``kiosk screenshots`` on an X server (Xvfb), through the xcb platform a counter PC uses."""
    assert shutil.which("xvfb-run"), "xvfb-run is missing: scripts/setup installs the xvfb package"
    out = tmp_path / "shots"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "xcb"
    result = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m", "kiosk", "screenshots",
         "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(Qt platform: xcb)" in result.stdout, result.stdout
    names = {path.name for path in out.glob("*.png")}
    for language in ("ja", "en"):
        assert {f"{state.value}-{language}.png" for state in Screen} <= names
    image = QImage(str(out / "pin-ja.png"))
    assert (image.width(), image.height()) == SIZE
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 8, "the screenshot is blank"


@pytest.mark.logs_errors
def test_a_screen_that_cannot_be_shown_fails_the_screenshots(
        tmp_path: Path, qapp: QCoreApplication, monkeypatch: pytest.MonkeyPatch,
        logged_errors: list[logging.LogRecord]) -> None:
    from kiosk.ui import screens  # noqa: F401  (each screen registers in SCREENS as it is imported)

    views = [(stem, view) for stem, view in representative_views("en") if stem in ("start", "done")]
    done = views[1][1]
    cls = SCREENS[Screen.DONE]
    render = cls.render

    def broken(self: object, view: View) -> None:  # only for this view: other done screens live on
        if view == done:  # the normal size only: the larger-text shot of it is drawn
            raise RuntimeError("half drawn")
        render(self, view)  # type: ignore[arg-type]

    monkeypatch.setattr(cls, "render", broken)
    monkeypatch.setattr(screenshots, "representative_views", lambda _language: iter(views))
    report = render_all(tmp_path, ["en"])
    assert report.display_failures == [("done-en.png", "done")] and not report.ok
    assert [record.getMessage() for record in logged_errors] == ["the done screen failed to render"]
