"""``kiosk screenshots``: every screen in both languages as PNG, with no character drawn as a box."""

from __future__ import annotations

import struct
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QLabel

from kiosk.flow import Screen
from kiosk.ui.screenshots import ERROR_CODES, SIZE, glyph_problems, render_all


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
            assert f"{state.value}-{language}.png" in names
        for code in ERROR_CODES:
            assert f"error-{code}-{language}.png" in names
    assert len(names) == len(report.shots)
    assert all(png_size(shot.path) == SIZE for shot in report.shots)
    assert all(shot.texts for shot in report.shots), "a screen showed no text at all"
    assert not report.glyph_problems, "\n".join(map(str, report.glyph_problems))
    assert not report.untranslated, report.untranslated
    japanese = next(shot for shot in report.shots if shot.name == "pin" and shot.language == "ja")
    assert any("暗証番号" in text for text in japanese.texts)


def test_the_glyph_check_sees_a_character_no_font_has(qapp: QCoreApplication) -> None:
    label = QLabel("暗証番号 \U00013000")  # an Egyptian hieroglyph: no font here has it
    label.show()
    problems = glyph_problems(label, "probe")
    label.close()
    assert [(problem.character, problem.kind) for problem in problems] == [("\U00013000", "missing")]
