"""The accessibility audit's checks, each shown catching its defect on a small widget tree and
passing the corrected one; then every screen of the kiosk measured by all of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QLocale, QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QWidget,
)
from pytestqt.qtbot import QtBot

from kiosk import cli
from kiosk.ui import audit
from kiosk.ui.audit import CHECKS, AuditReport, Failure, run_audit
from kiosk.ui.audit_checks import (
    Finding,
    Pixels,
    check_contrast,
    check_keyboard,
    check_layout,
    check_locale,
    check_names,
    check_targets,
    text_contrast,
)
from kiosk.ui.screenshots import representative_views


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[QWidget]:
    """A white 400×300 top-level window for one tiny widget tree, shown and active."""
    top = QWidget()
    top.setStyleSheet("QWidget { background: white; color: black; }")
    top.setFixedSize(400, 300)
    qtbot.addWidget(top)
    yield top


def show(qtbot: QtBot, top: QWidget) -> None:
    top.show()
    top.activateWindow()
    qtbot.waitExposed(top)


def button(parent: QWidget, text: str, rect: tuple[int, int, int, int]) -> QPushButton:
    widget = QPushButton(text, parent)
    widget.setGeometry(*rect)
    return widget


def problems(findings: list[Finding], word: str) -> list[str]:
    return [f"{f.widget}: {f.problem}" for f in findings if word in f.problem]


# -- a. overlap and clipping -----------------------------------------------------------------------


@pytest.mark.parametrize("second_x, overlapping", [(60, True), (110, False)])
def test_two_overlapping_buttons_are_caught(qtbot: QtBot, window: QWidget, second_x: int,
                                            overlapping: bool) -> None:
    button(window, "A", (10, 10, 100, 60))
    button(window, "B", (second_x, 20, 100, 60))
    show(qtbot, window)
    found = problems(check_layout(window), "overlaps")
    assert found == (["QPushButton(A): overlaps QPushButton(B) by 50×50 px"] if overlapping else [])


def test_content_scrolled_out_of_view_overlaps_nothing(qtbot: QtBot, window: QWidget) -> None:
    area = QScrollArea(window)
    area.setGeometry(0, 0, 400, 200)
    content = QWidget()
    content.setFixedSize(380, 600)
    QLabel("Further down: what happens next", content).setGeometry(10, 220, 300, 40)
    area.setWidget(content)
    ok = button(window, "OK", (10, 210, 100, 60))  # below the area, where the label would be
    show(qtbot, window)
    assert problems(check_layout(window), "overlaps") == []
    ok.setGeometry(10, 150, 100, 60)  # over the area's visible part: a real overlap
    assert problems(check_layout(window), "overlaps")


@pytest.mark.parametrize("width, clipped", [(60, True), (380, False)])
def test_a_clipped_label_is_caught(qtbot: QtBot, window: QWidget, width: int, clipped: bool) -> None:
    label = QLabel("Place your card on the reader", window)
    label.setGeometry(10, 10, width, 40)
    show(qtbot, window)
    assert bool(problems(check_layout(window), "text needs")) is clipped


def test_wrapped_text_taller_than_its_label_is_caught(qtbot: QtBot, window: QWidget) -> None:
    label = QLabel("Place your card on the reader and keep it there until the kiosk is done", window)
    label.setWordWrap(True)
    label.setGeometry(10, 10, 120, 30)
    show(qtbot, window)
    assert problems(check_layout(window), "wrapped text needs")
    label.setGeometry(10, 10, 120, label.heightForWidth(120))
    assert not problems(check_layout(window), "wrapped text needs")


@pytest.mark.parametrize("height, cut", [(34, True), (70, False)])
def test_descenders_cut_off_at_the_bottom_of_a_key_are_caught(qtbot: QtBot, window: QWidget, height: int,
                                                               cut: bool) -> None:
    key = button(window, "gjqy", (10, 10, 200, height))
    key.setStyleSheet("font-size: 40px;")
    show(qtbot, window)
    found = problems(check_layout(window), "caption drawn")
    assert len(found) == (1 if cut else 0)
    if cut:
        assert found[0].startswith("QPushButton(gjqy): caption drawn from y ")
        assert found[0].endswith(f"the button is {height} px high")


def test_a_caption_wider_than_its_button_and_a_child_outside_its_parent_are_caught(
        qtbot: QtBot, window: QWidget) -> None:
    wide = button(window, "Reset my password now", (10, 10, 60, 60))
    panel = QWidget(window)
    panel.setGeometry(10, 100, 100, 100)
    button(panel, "OK", (50, 50, 80, 60))  # reaches 130 in a 100 px panel
    show(qtbot, window)
    findings = check_layout(window)
    assert problems(findings, "caption needs") and "Reset my password now" in findings[0].widget
    assert problems(findings, "lies outside QWidget: 50,50 80×60 in 100×100")
    wide.setGeometry(10, 10, 380, 60)
    assert not problems(check_layout(window), "caption needs")


# -- b. targets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("side, small", [(30, True), (44, False)])
def test_a_30_px_button_is_too_small_a_target(qtbot: QtBot, window: QWidget, side: int, small: bool) -> None:
    button(window, "", (10, 10, side, side))
    show(qtbot, window)
    expected = [f"QPushButton: target {side}×{side} px, less than 44×44"] if small else []
    assert problems(check_targets(window), "target") == expected


# -- c. keyboard and focus -------------------------------------------------------------------------


class Ringed(QWidget):
    """A control that draws a black focus edge of ``ring`` px around itself when it has the focus."""

    def __init__(self, parent: QWidget, ring: int, *, underline: bool = False, by_key: bool = False) -> None:
        super().__init__(parent)
        self.ring = ring
        self.underline = underline
        #: Draw the ring only once the keyboard moved the focus (as Qt's styles do).
        self.by_key = by_key
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        keyed = self.window().testAttribute(Qt.WidgetAttribute.WA_KeyboardFocusChange)
        if self.by_key and not keyed:
            pass
        elif self.hasFocus() and self.underline:
            painter.fillRect(0, self.height() - self.ring, self.width(), self.ring, QColor("black"))
        elif self.hasFocus():
            pen = QPen(QColor("black"), self.ring)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            painter.setPen(pen)
            half = self.ring / 2
            painter.drawRect(self.rect().toRectF().adjusted(half, half, -half, -half))
        painter.end()


def focus_problems(qtbot: QtBot, window: QWidget, ring: int, *, underline: bool = False,
                   by_key: bool = False) -> list[str]:
    """The focus-indicator findings for two such controls side by side, the first one focused."""
    controls = [Ringed(window, ring, underline=underline, by_key=by_key) for _ in range(2)]
    for index, control in enumerate(controls):
        control.setGeometry(20 + 150 * index, 20, 100, 60)
    show(qtbot, window)
    controls[0].setFocus()
    qtbot.waitUntil(lambda: controls[0].hasFocus())
    return problems(check_keyboard(window, window), "focus indicator")


def test_a_control_tab_never_reaches_is_caught(qtbot: QtBot, window: QWidget) -> None:
    first, second = Ringed(window, 3), Ringed(window, 3)
    first.setGeometry(10, 10, 100, 60)
    second.setGeometry(150, 10, 100, 60)
    second.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # a mouse reaches it; Tab does not
    touch_only = button(window, "A", (10, 100, 100, 60))
    touch_only.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # an on-screen key, for touch: no focus stop
    show(qtbot, window)
    first.setFocus()
    qtbot.waitUntil(lambda: first.hasFocus())
    assert problems(check_keyboard(window, window), "Tab never") == ["Ringed: Tab never reaches it"]
    second.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    first.setFocus()
    assert check_keyboard(window, window) == []


def test_a_control_that_tab_hides_on_its_way_is_not_missed(qtbot: QtBot, window: QWidget,
                                                           qapp: QApplication) -> None:
    first, pin = QLineEdit(window), QLineEdit(window)
    first.setGeometry(10, 10, 200, 50)
    pin.setGeometry(10, 70, 200, 50)
    letter = button(window, "q", (10, 130, 60, 60))  # after the PIN field in the Tab order

    def turn_to_digits(_old: QWidget | None, now: QWidget | None) -> None:
        letter.setVisible(now is not pin)  # and back to the letters when Tab comes round

    qapp.focusChanged.connect(turn_to_digits)
    try:
        show(qtbot, window)
        first.setFocus()
        qtbot.waitUntil(lambda: first.hasFocus())
        assert problems(check_keyboard(window, window), "Tab never") == []
        assert letter.isVisible() and first.hasFocus()
    finally:
        qapp.focusChanged.disconnect(turn_to_digits)


@pytest.mark.parametrize("exclusive", [True, False])
def test_tab_reaches_a_choice_of_one_through_any_of_its_buttons(qtbot: QtBot, window: QWidget,
                                                                exclusive: bool) -> None:
    group = QButtonGroup(window)
    group.setExclusive(exclusive)
    for index, name in enumerate(("日本語", "English")):
        choice = button(window, name, (10 + 120 * index, 10, 100, 60))
        choice.setCheckable(True)
        choice.setAutoExclusive(False)
        group.addButton(choice)
        choice.setFocusPolicy(Qt.FocusPolicy.StrongFocus if index == 0 else Qt.FocusPolicy.ClickFocus)
    show(qtbot, window)
    group.buttons()[0].setFocus()
    qtbot.waitUntil(lambda: group.buttons()[0].hasFocus())
    found = problems(check_keyboard(window, window), "Tab never")
    assert found == ([] if exclusive else ["QPushButton(English): Tab never reaches it"])


@pytest.mark.parametrize("ring, thin", [(1, True), (3, False)])
def test_a_1_px_focus_edge_is_too_thin_and_a_3_px_ring_is_seen(qtbot: QtBot, window: QWidget, ring: int,
                                                               thin: bool) -> None:
    found = focus_problems(qtbot, window, ring)
    if thin:
        assert len(found) == 2 and all("focus indicator 1 px thick" in f for f in found)
        assert all("the strongest change is 21.00:1" in f for f in found)
    else:
        assert found == []


def test_an_underline_is_no_ring(qtbot: QtBot, window: QWidget) -> None:
    found = focus_problems(qtbot, window, 3, underline=True)
    assert len(found) == 2 and all("focus indicator 0 px thick" in f for f in found)


def test_a_ring_drawn_once_the_keyboard_is_in_use_counts_for_the_first_stop_too(
        qtbot: QtBot, window: QWidget) -> None:
    assert focus_problems(qtbot, window, 3, by_key=True) == []


def test_focus_must_start_in_the_screen_and_in_its_text_field(qtbot: QtBot, window: QWidget) -> None:
    page = QWidget(window)
    page.setGeometry(0, 0, 400, 300)
    field = QLineEdit(page)
    field.setGeometry(10, 10, 300, 50)
    ok = button(page, "OK", (10, 100, 100, 60))
    outside = button(window, "English", (300, 200, 90, 60))
    show(qtbot, window)
    outside.setFocus()
    qtbot.waitUntil(lambda: outside.hasFocus())
    assert problems(check_keyboard(window, page), "first focus") == [
        "QWidget: first focus is QPushButton(English), not in the screen"]
    ok.setFocus()
    qtbot.waitUntil(lambda: ok.hasFocus())
    assert problems(check_keyboard(window, page, text_field_first=True), "first focus") == [
        "QWidget: first focus is QPushButton(OK), not the text field"]
    field.setFocus()
    qtbot.waitUntil(lambda: field.hasFocus())
    assert problems(check_keyboard(window, page, text_field_first=True), "first focus") == []


# -- d. language -----------------------------------------------------------------------------------


def test_a_control_in_the_wrong_locale_is_caught(qtbot: QtBot, window: QWidget) -> None:
    QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
    window.setLocale(QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
    cancel = button(window, "Cancel", (10, 10, 100, 60))
    cancel.setLocale(QLocale(QLocale.Language.Japanese, QLocale.Country.Japan))
    show(qtbot, window)
    assert [str(f) for f in check_locale(window, window, "en")] == [
        str(Finding("QPushButton(Cancel)", "locale ja_JP, not en"))]
    cancel.setLocale(window.locale())
    assert check_locale(window, window, "en") == []
    assert check_locale(window, window, "ja")[0] == Finding("application", "locale en_US, not ja")


# -- e. names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, wrong", [("Show letters", True), ("ABC: show letters", False), ("", False)])
def test_a_name_without_its_caption_is_caught(qtbot: QtBot, window: QWidget, name: str, wrong: bool) -> None:
    key = button(window, "A&BC", (10, 10, 100, 60))
    key.setAccessibleName(name)
    show(qtbot, window)
    expected = [f"QPushButton({name}): name {name!r} lacks its caption 'ABC'"] if wrong else []
    assert problems(check_names(window), "lacks") == expected


# -- f. contrast -----------------------------------------------------------------------------------


def grabbed(window: QWidget) -> Pixels:
    return Pixels(window.grab().toImage())


@pytest.mark.parametrize("colour, poor", [("#b0b0b0", True), ("#595959", False)])
def test_grey_text_on_white_is_caught(qtbot: QtBot, window: QWidget, colour: str, poor: bool) -> None:
    label = QLabel("Place your card", window)
    label.setStyleSheet(f"color: {colour}; font-size: 24px;")
    label.setGeometry(10, 10, 300, 60)
    show(qtbot, window)
    found = problems(check_contrast(window, grabbed(window)), "text contrast")
    assert len(found) == (1 if poor else 0)
    if poor:  # #b0b0b0 on white is 2.15:1, give or take the edge pixels' blend
        ratio = float(found[0].split("text contrast ")[1].split(":")[0])
        assert 2.0 <= ratio <= 2.2


@pytest.mark.parametrize("border, poor", [("#b6b6b6", True), ("#767676", False)])
def test_a_b6b6b6_field_outline_is_caught(qtbot: QtBot, window: QWidget, border: str, poor: bool) -> None:
    field = QLineEdit(window)
    field.setStyleSheet(f"QLineEdit {{ border: 2px solid {border}; background: white; }}")
    field.setGeometry(20, 20, 300, 50)
    show(qtbot, window)
    found = problems(check_contrast(window, grabbed(window)), "boundary")
    assert found == (["QLineEdit: boundary contrast 2.03:1, less than 3:1"] if poor else [])


def test_an_area_where_nothing_stands_out_holds_no_text_to_measure() -> None:
    image = QImage(40, 20, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    for x in range(10, 30):
        image.setPixelColor(x, 10, QColor("#f0f0f0"))  # shading, 1.13:1
    assert text_contrast(Pixels(image), QRect(0, 0, 40, 20)) is None
    image.setPixelColor(5, 5, QColor("#767676"))  # ink, 4.54:1
    assert text_contrast(Pixels(image), QRect(0, 0, 40, 20)) == pytest.approx(4.54, abs=0.01)


def test_pixels_read_colours_where_they_were_painted(qtbot: QtBot, window: QWidget) -> None:
    patch = QWidget(window)
    patch.setStyleSheet("background: #123456;")
    patch.setGeometry(QRect(30, 40, 20, 10))
    show(qtbot, window)
    pixels = grabbed(window)
    assert pixels.at(30, 40) is not None and (pixels.at(30, 40) or 0) & 0xFFFFFF == 0x123456
    assert (pixels.at(29, 40) or 0) & 0xFFFFFF == 0xFFFFFF
    assert pixels.at(400, 0) is None
    assert QApplication.focusWidget() is None or window.isAncestorOf(QApplication.focusWidget())


# -- the walk over the kiosk's screens -------------------------------------------------------------


def test_the_walk_measures_each_state_it_shows_and_counts_what_passed(qapp: QApplication) -> None:
    report = run_audit(scales=(1.0,), languages=["en"], states=["start", "pin-last_wrong"])
    assert report.scales == [1.0] and report.totals == {1.0: 2}
    assert {(f.state, f.language, f.scale) for f in report.failures} <= {
        ("start", "en", 1.0), ("pin-last_wrong", "en", 1.0)}
    for check in CHECKS:
        failing = {f.state for f in report.failures if f.check == check}
        assert report.passed.get((check, 1.0), 0) == 2 - len(failing), check
    assert not [f for f in report.failures if f.check == "targets"]  # the kiosk's keys are big
    lines = report.table().splitlines()
    assert lines[0].split() == ["check", "×1"] and len(lines) == 1 + len(CHECKS)


def test_the_command_prints_the_table_and_every_failure_and_fails_on_any(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    asked: list[tuple[object, object]] = []
    failure = Failure("targets", "pin", "en", 1.5, "BigButton(OK)", "target 30×30 px, less than 44×44")
    reports = [AuditReport(scales=[1.5], totals={1.5: 1}, failures=[failure]),
               AuditReport(scales=[1.5], totals={1.5: 1}, passed={(c, 1.5): 1 for c in CHECKS})]

    def fake_run(scales: object, languages: object) -> AuditReport:
        asked.append((scales, languages))
        return reports.pop(0)

    monkeypatch.setattr(audit, "run_audit", fake_run)
    assert cli.main(["audit-screens", "--scale", "1.5", "--language", "en"]) == 1
    out = capsys.readouterr().out
    assert "targets: pin-en ×1.5: BigButton(OK): target 30×30 px, less than 44×44" in out
    assert "targets        0/1" in out and "1 failures" in out
    assert cli.main(["audit-screens", "--scale", "1.5"]) == 0
    assert "layout         1/1" in capsys.readouterr().out
    assert asked == [([1.5], ["en"]), ([1.5], None)]


def test_every_screen_passes_every_check(qapp: QApplication) -> None:
    """Every screen state, in both languages, at 100 %, in larger-text mode (150 %) and at 200 %."""
    report = run_audit(scales=(1.0, 1.5, 2.0))
    first = [str(f) for check in CHECKS for f in [f for f in report.failures if f.check == check][:60]]
    shown = "\n".join([report.table(), *first, f"({len(report.failures)} failures in all)"])
    assert report.totals == {scale: 2 * len(list(representative_views("en"))) for scale in (1.0, 1.5, 2.0)}
    assert report.failures == [], shown
