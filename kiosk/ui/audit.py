"""``kiosk audit-screens``: every screen state of the kiosk's window measured for accessibility.

The window is built at 1280×800 as ``kiosk screenshots`` builds it, and each representative view
(``kiosk.ui.screenshots.representative_views``) is shown in both languages at each text scale
(1.0, 1.5 — the user's larger text — and 2.0). Each (state, language, scale) is measured
from the rendered window by the checks of ``kiosk.ui.audit_checks``: overlap and clipping, target
size, keyboard and focus, the locale assistive technology sees, names that hold their captions,
and text and boundary contrast from the pixels. The report counts, per check and scale, the
states that pass, and lists every failure with its numbers.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kiosk.flow import Screen, View

SCALES = (1.0, 1.5, 2.0)
CHECKS = ("layout", "targets", "keyboard", "locale", "names", "contrast")
#: The screens where a person types on a physical keyboard at once: focus starts in the text field.
TEXT_FIELD_FIRST = frozenset({Screen.NEW_PASSWORD, Screen.OFFLINE_APPROVAL})


@dataclass(frozen=True)
class Failure:
    check: str
    state: str
    language: str
    scale: float
    widget: str
    problem: str

    def __str__(self) -> str:
        return f"{self.check}: {self.state}-{self.language} ×{self.scale:g}: {self.widget}: {self.problem}"


@dataclass
class AuditReport:
    scales: list[float] = field(default_factory=list)
    #: (scale) -> the number of (state, language) pairs measured at that scale.
    totals: dict[float, int] = field(default_factory=dict)
    #: (check, scale) -> the number of (state, language) pairs with no failure of that check.
    passed: dict[tuple[str, float], int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def table(self) -> str:
        """Per check, per scale: screen states passing out of the total."""
        head = f"{'check':<10}" + "".join(f"{'×' + format(s, 'g'):>12}" for s in self.scales)
        rows = [head]
        for check in CHECKS:
            cells = "".join(f"{self.passed.get((check, s), 0):>6}/{self.totals.get(s, 0):<5}"
                            for s in self.scales)
            rows.append(f"{check:<10}{cells}")
        return "\n".join(rows)


def measure(window: Any, view: View) -> dict[str, list[Any]]:
    """Every check on the window as it shows ``view`` now: check name -> findings."""
    from PySide6.QtWidgets import QApplication

    from kiosk.ui import audit_checks as checks

    QApplication.processEvents()
    page = window.current_page
    pixels = checks.Pixels(window.grab().toImage())
    found = {
        "layout": checks.check_layout(window),
        "targets": checks.check_targets(window),
        "locale": checks.check_locale(window, page, view.language),
        "names": checks.check_names(window),
        "contrast": checks.check_contrast(window, pixels),
    }
    # Last: Tab moves the focus through the screen.
    found["keyboard"] = checks.check_keyboard(window, page,
                                              text_field_first=view.screen in TEXT_FIELD_FIRST)
    return found


def _arrive(window: Any, view: View, scale: float) -> None:
    """Show ``view`` at ``scale`` as a person arrives at it: from another page, so that its first
    focus is set anew. The window follows the view's larger-text flag (1.5); other scales are set
    on it after, and the view is arrived at again at that size."""
    from PySide6.QtWidgets import QApplication

    view = dataclasses.replace(view, large_text=scale != 1.0)
    for _ in range(2):
        window.stack.setCurrentWidget(window.fallback)
        window.show_view(view)
        window.activateWindow()
        QApplication.processEvents()
        if window.text_scale == scale:
            return
        window.set_text_scale(scale)


def run_audit(scales: Sequence[float] = SCALES, languages: Iterable[str] | None = None,
              states: Iterable[str] | None = None) -> AuditReport:
    """Walk every representative view in each language at each scale."""
    from kiosk.ui.screenshots import LANGUAGES, kiosk_window, representative_views

    started = time.perf_counter()
    languages = list(languages or LANGUAGES)
    wanted = set(states) if states is not None else None
    report = AuditReport(scales=list(scales))
    with kiosk_window(languages[0]) as window:
        try:
            for scale in report.scales:
                for language in languages:
                    for stem, view in representative_views(language):
                        if wanted is None or stem in wanted:
                            _arrive(window, view, scale)
                            _record(report, stem, language, scale, measure(window, view))
        finally:
            window.set_text_scale(1.0)
    report.seconds = time.perf_counter() - started
    return report


def _record(report: AuditReport, state: str, language: str, scale: float,
            found: dict[str, list[Any]]) -> None:
    report.totals[scale] = report.totals.get(scale, 0) + 1
    for check in CHECKS:
        findings = found.get(check, [])
        if not findings:
            report.passed[(check, scale)] = report.passed.get((check, scale), 0) + 1
        report.failures += [Failure(check, state, language, scale, f.widget, f.problem) for f in findings]


def main(scales: Sequence[float] = SCALES, languages: Iterable[str] | None = None) -> int:
    """``kiosk audit-screens``: the table and every failure; 0 only when nothing failed."""
    report = run_audit(scales, languages)
    print(report.table())
    for failure in report.failures:
        print(failure)
    print(f"{sum(report.totals.values())} screen states in {report.seconds:.1f} s, "
          f"{len(report.failures)} failures")
    return 0 if report.ok else 1
