"""Renders every screen of the kiosk in both languages to PNG, and checks that every character has a glyph.

``kiosk screenshots --out DIR`` writes ``SCREEN-LANG.png`` for each flow state (with a
representative view: tries left, a typed PIN, a name on record, an enrolment code...), a few
variants as ``SCREEN-VARIANT-LANG.png`` (the done screen of each operation), and the error screen
for a representative set of codes as ``error-CODE-LANG.png``, all at 1280×800, so a person can
look at them; each again with the user's larger text as ``...-LANG-large.png``. While rendering
it reads every visible text of the widget tree and checks each
character: it must have a glyph in the widget's font (or a fallback), and Japanese characters must
come from the widget's own font, so kanji never take Chinese shapes or become boxes. It also lists
texts still in English on a Japanese screen although the translation has words for them, and any
screen that could not be shown (the error page stands in its shot, and the command fails).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.flow import (
    LinkStatus,
    MfaEnrolment,
    PasswordSet,
    Prelinked,
    Result,
    SalvageTicket,
    Screen,
    Unlinked,
    View,
    VoucherIssued,
)
from kiosk.flow.backend import DEFAULT_POLICY
from kiosk.linkage import OperationKind

SIZE = (1280, 800)
LANGUAGES = ("ja", "en")
#: The error screen for these codes: card, reader, PIN, certificate, match, server, offline, bugs.
ERROR_CODES = (
    "card.removed", "card.unknown", "card.no_card_info", "card.timeout", "reader.none", "pin.blocked",
    "expired", "not_yet_valid", "revoked", "unknown_issuer", "no_match", "server.unreachable",
    "offline.not_for_operation", "approval.timeout", "salvage_not_eligible", "account_already_linked",
    "internal", "display.failed", "refused.photo_mismatch", "refused.needs_documents", "database_busy",
)
_EXPIRES = dt.datetime(2026, 11, 25, 14, 30, tzinfo=dt.UTC)
#: An authenticator app's enrolment, as the builtin MFA backend hands one out.
_ENROLMENT_URI = ("otpauth://totp/University:2024000001?secret=JBSWY3DPEHPK3PXPKRSXG5CTMVRXEZLU"
                  "&issuer=University")
#: The shot of the warning before the idle wipe, over the screen of its view.
IDLE_WARNING_SHOT = "idle_warning"


@dataclass
class Shot:
    """One rendered screen: its file and the texts it showed."""

    name: str
    language: str
    path: Path
    texts: list[str] = field(default_factory=list)


@dataclass
class GlyphProblem:
    shot: str
    widget: str
    text: str
    character: str
    #: "missing": no font has it (a box); "fallback": Japanese text drawn from another font.
    kind: str

    def __str__(self) -> str:
        return (f"{self.shot}: {self.widget} {self.text!r}: U+{ord(self.character):04X} "
                f"{unicodedata.name(self.character, '?')} ({self.kind})")


@dataclass
class Report:
    shots: list[Shot] = field(default_factory=list)
    glyph_problems: list[GlyphProblem] = field(default_factory=list)
    #: (shot, text): English source text shown on a Japanese screen although it has a translation.
    untranslated: list[tuple[str, str]] = field(default_factory=list)
    #: (shot, width, height): screens whose layout needs more than the screen, so they are cut off.
    overflows: list[tuple[str, int, int]] = field(default_factory=list)
    #: (shot, state): a screen that could not be shown (the shot holds the error page instead).
    display_failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.glyph_problems and not self.untranslated and not self.display_failures


# -- the views ---------------------------------------------------------------------------------------


_MASKED = "20******01"
_NAME = "佐藤　花子"
_Views = Iterator[tuple[str, View]]


def representative_views(language: str) -> _Views:
    """(file name stem without language, view) for every state, and variants worth looking at."""
    base = View(Screen.START, language, reader_ready=True)

    def view(screen: Screen, **changes: Any) -> View:
        return dataclasses.replace(base, screen=screen, **changes)

    yield from _views_before_the_pin(view)
    yield from _views_of_the_pins_and_approval(view)
    yield from _views_of_outcomes(view)


def _views_before_the_pin(view: Callable[..., View]) -> _Views:
    yield "start", view(Screen.START)
    yield "account", view(Screen.ACCOUNT, operation="password_reset")
    yield "device_grant", view(Screen.DEVICE_GRANT, operation="prelink", account="2024000002", busy=True,
                               device_user_code="WDJB-MJHT", wait_seconds=600,
                               device_uri="http://127.0.0.1:8470/device?user_code=WDJB-MJHT")
    yield "place_card", view(Screen.PLACE_CARD, operation="password_reset", account="2024000001")
    yield IDLE_WARNING_SHOT, view(Screen.PLACE_CARD, operation="password_reset", account="2024000001")
    yield "place_card-reading", view(Screen.PLACE_CARD, operation="password_reset", account="2024000001",
                                     card_present=True, busy=True)
    yield "place_card-moved", view(Screen.PLACE_CARD, operation="password_reset", account="2024000001",
                                   error="card.removed", error_step="place_card")
    yield "place_card-no_reader", view(Screen.PLACE_CARD, operation="password_reset",
                                       account="2024000001", reader_ready=False)


def _views_of_the_pins_and_approval(view: Callable[..., View]) -> _Views:
    masked, name = _MASKED, _NAME
    pin = {"operation": "password_reset", "account": "2024000001", "card_present": True}
    yield "pin", view(Screen.PIN, tries_left=3, pin_digits=2, **pin)
    yield "pin-wrong", view(Screen.PIN, tries_left=2, pin_digits=0, error="pin.wrong", error_step="verify",
                            **pin)
    yield "pin-last_wrong", view(Screen.PIN, tries_left=1, pin_digits=0, error="pin.wrong",
                                 error_step="verify", **pin)
    yield "pin-offline", view(Screen.PIN, tries_left=3, pin_digits=0, online=False, **pin)
    yield "last_try", view(Screen.LAST_TRY, tries_left=1, pin_digits=4, **pin)
    prelink = {"operation": "prelink", "account": "2024000002", "card_present": True}
    yield "cardinfo_question", view(Screen.CARDINFO_QUESTION, tries_left=3, pin_digits=4, **prelink)
    yield "cardinfo_pin", view(Screen.CARDINFO_PIN, cardinfo_tries_left=3, pin_digits=1, **prelink)
    yield "verifying", view(Screen.VERIFYING, busy=True, **pin)
    yield "unlink_confirm", view(Screen.UNLINK_CONFIRM, operation="unlink", account=masked,
                                 name_on_record=name, card_present=True)
    yield "staff_wait", view(Screen.STAFF_WAIT, operation="password_reset", account=masked,
                             name_on_record=name, busy=True, card_present=True, wait_seconds=600)
    yield "offline_approval", view(Screen.OFFLINE_APPROVAL, operation="mfa_reset", account=masked,
                                   online=False, card_present=True)
    yield "offline_approval-stale", view(Screen.OFFLINE_APPROVAL, operation="mfa_reset", account=masked,
                                         online=False, card_present=True, error="offline.roster_stale",
                                         roster_age=dt.timedelta(hours=80))
    yield "offline_approval-refused", view(Screen.OFFLINE_APPROVAL, operation="mfa_reset", account=masked,
                                           online=False, card_present=True, error="offline.staff_refused")
    yield "new_password", view(Screen.NEW_PASSWORD, operation="password_reset", account=masked,
                               password_policy=dict(DEFAULT_POLICY),
                               password_problems=("too_short", "too_few_classes"))
    yield "new_password-ok", view(Screen.NEW_PASSWORD, operation="password_reset", account=masked,
                                  password_policy=dict(DEFAULT_POLICY))
    yield "new_password-refused", view(Screen.NEW_PASSWORD, operation="password_reset", account=masked,
                                       password_policy=dict(DEFAULT_POLICY), password_refused=("in_history",),
                                       password_refusal="Password is in history of old passwords")
    yield "new_password-directory_down", view(Screen.NEW_PASSWORD, operation="password_reset", account=masked,
                                              password_policy=dict(DEFAULT_POLICY),
                                              password_refused=("directory_unavailable",))
    yield "working", view(Screen.WORKING, operation="password_reset", account=masked, busy=True)


def _views_of_outcomes(view: Callable[..., View]) -> _Views:
    masked, name = _MASKED, _NAME
    yield "done", view(Screen.DONE, operation=OperationKind.PASSWORD_RESET, account=masked,
                       result=PasswordSet(), card_present=True)
    done: dict[OperationKind, Result] = {
        OperationKind.MFA_RESET: MfaEnrolment("K7QM-3XHD-9HTP-CW4N", _EXPIRES),
        OperationKind.SALVAGE: SalvageTicket("R4TB-8KZP-2MWQ-JX7C-HN3D", "backup", _EXPIRES),
        OperationKind.LINK_STATUS: LinkStatus(True, name, dt.datetime(2026, 8, 27, 10, 12, tzinfo=dt.UTC)),
        OperationKind.UNLINK: Unlinked(),
        OperationKind.PRELINK: Prelinked(),
    }
    for operation, result in done.items():
        yield f"done-{operation}", view(Screen.DONE, operation=operation, account=masked, result=result)
    yield "done-mfa_reset-app", view(Screen.DONE, operation=OperationKind.MFA_RESET, account=masked,
                                     result=MfaEnrolment("", _EXPIRES, _ENROLMENT_URI))
    yield "done-offline", view(Screen.DONE, operation=OperationKind.MFA_RESET, account=masked, online=False,
                               result=VoucherIssued("K7QM-2XRD-9HTP-CW4N", "https://linkage.example.ac.jp/"
                                                    "voucher#code=K7QM-2XRD-9HTP-CW4N"))
    yield "error", view(Screen.ERROR, error="card.removed", error_step="pin")
    for code in ERROR_CODES:
        step = ("verify" if code in ("no_match", "expired", "revoked", "unknown_issuer")
                else "staff_wait" if code == "display.failed" or code.startswith("refused") else "card")
        yield f"error-{code}", view(Screen.ERROR, error=code, error_step=step)


# -- the glyph check -------------------------------------------------------------------------------


def _is_japanese(ch: str) -> bool:
    code = ord(ch)
    return (0x3000 <= code <= 0x30FF or 0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF
            or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF)


def _plain(text: str) -> str:
    from PySide6.QtGui import Qt as GuiQt  # mightBeRichText lives in QtGui's Qt namespace
    from PySide6.QtGui import QTextDocument

    if GuiQt.mightBeRichText(text):
        document = QTextDocument()
        document.setHtml(text)
        return document.toPlainText()
    return text


def visible_texts(root: Any) -> Iterator[tuple[Any, str]]:
    """(widget, plain text) for every text a person can see in ``root``'s widget tree."""
    from PySide6.QtWidgets import (
        QAbstractButton,
        QComboBox,
        QGroupBox,
        QLabel,
        QLineEdit,
        QPlainTextEdit,
        QTextEdit,
        QWidget,
    )

    for widget in [root, *root.findChildren(QWidget)]:
        if widget is not root and not widget.isVisibleTo(root):
            continue
        texts: list[str] = []
        if isinstance(widget, QLabel):
            texts.append(_plain(widget.text()))
        elif isinstance(widget, QAbstractButton):
            texts.append(widget.text())
        elif isinstance(widget, QLineEdit):
            texts += [widget.displayText(), widget.placeholderText()]
        elif isinstance(widget, QTextEdit | QPlainTextEdit):
            texts.append(widget.toPlainText())
        elif isinstance(widget, QGroupBox):
            texts.append(widget.title())
        elif isinstance(widget, QComboBox):
            texts.append(widget.currentText())
        for text in texts:
            if text.strip():
                yield widget, text


def glyph_problems(root: Any, shot: str) -> list[GlyphProblem]:
    """Characters of visible texts with no glyph (boxes), or Japanese drawn from a fallback font."""
    from PySide6.QtGui import QFontMetrics, QRawFont

    problems: list[GlyphProblem] = []
    for widget, text in visible_texts(root):
        font = widget.font()
        metrics = QFontMetrics(font)
        raw = QRawFont.fromFont(font)
        for ch in dict.fromkeys(text):
            if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp"):
                continue
            label = f"{type(widget).__name__}({widget.objectName() or widget.accessibleName()})"
            if not metrics.inFontUcs4(ord(ch)):
                problems.append(GlyphProblem(shot, label, text, ch, "missing"))
            elif _is_japanese(ch) and not raw.supportsCharacter(ord(ch)):
                problems.append(GlyphProblem(shot, label, text, ch, "fallback"))
    return problems


def translated_sources(ts_file: Path) -> set[str]:
    """Source texts the ``.ts`` translates into something else (what must not show up in Japanese)."""
    if not ts_file.is_file():
        return set()
    sources: set[str] = set()
    for message in ET.parse(ts_file).getroot().iter("message"):
        source = message.findtext("source") or ""
        translation = message.find("translation")
        if translation is None or translation.get("type") in ("unfinished", "obsolete", "vanished"):
            continue
        forms = [f.text or "" for f in translation.findall("numerusform")] or [translation.text or ""]
        if source and any(form and form != source for form in forms):
            sources.add(source)
    return sources


# -- rendering ---------------------------------------------------------------------------------------


class _NoBackend:
    """The screenshots drive views directly; the flow never calls its backend."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"the screenshot window has no backend ({name})")


@contextlib.contextmanager
def kiosk_window(language: str) -> Iterator[Any]:
    """The kiosk's window at the screen's size, shown, with no backend (views are shown directly);
    closed and deleted afterwards. The screenshots and ``kiosk audit-screens`` show views in it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from typing import cast

    from kiosk.flow.machine import Backend
    from kiosk.ui.app import create_app
    from kiosk.ui.window import KioskWindow

    app = create_app()
    window = KioskWindow(cast(Backend, _NoBackend()), language=language, idle_timeout_seconds=3600)
    try:
        # The kiosk's screen is this size and no larger: a screen that needs more is cut off, as
        # it would be at the counter, and reported.
        window.setFixedSize(*SIZE)
        window.show()
        yield window
    finally:
        window.unlock_for_shutdown()
        window.close()
        window.deleteLater()
        app.processEvents()


def render_all(out: Path, languages: Iterable[str] = LANGUAGES) -> Report:
    """Render every representative view in every language into ``out``; the report of what was seen."""
    from PySide6.QtWidgets import QApplication

    from kiosk.ui.translations import TS_DIR

    languages = list(languages)
    out.mkdir(parents=True, exist_ok=True)
    report = Report()
    sources = translated_sources(TS_DIR / "kiosk_ja.ts")
    with kiosk_window(languages[0]) as window:
        failed: list[str] = []
        window.display_failed.connect(failed.append)
        # All at the normal size first: changing the size re-lays out every screen.
        shots = ((stem, language, large, dataclasses.replace(view, large_text=large))
                 for large in (False, True) for language in languages
                 for stem, view in representative_views(language))
        for stem, language, large, view in shots:
            failed.clear()
            window.show_view(view)
            if stem == IDLE_WARNING_SHOT:
                window.idle_warning.show_for_screenshot(18)
            else:
                window.idle_warning.disarm()
            QApplication.processEvents()
            page = window.idle_warning if stem == IDLE_WARNING_SHOT else window.current_page
            assert page is not None
            suffix = "-large" if large else ""
            shot = Shot(stem, language, out / f"{stem}-{language}{suffix}.png")
            report.display_failures += [(shot.path.name, state) for state in failed]
            pixmap = window.grab()
            if not pixmap.save(str(shot.path), "PNG"):
                raise OSError(f"could not write {shot.path}")
            for _widget, text in visible_texts(page):
                shot.texts.append(text)
                if language == "ja" and text in sources:
                    report.untranslated.append((shot.path.name, text))
            report.glyph_problems += glyph_problems(page, shot.path.name)
            needed = page.minimumSizeHint()
            if needed.width() > SIZE[0] or needed.height() > SIZE[1]:
                report.overflows.append((shot.path.name, needed.width(), needed.height()))
            report.shots.append(shot)
    return report


def main(out: Path, languages: Iterable[str] = LANGUAGES) -> int:
    """``kiosk screenshots``: 0 when every screen rendered and every glyph is there."""
    report = render_all(out, languages)
    from PySide6.QtGui import QGuiApplication

    print(f"{len(report.shots)} screenshots in {out} (Qt platform: {QGuiApplication.platformName()})")
    for problem in report.glyph_problems:
        print(f"missing glyph: {problem}")
    for name, text in report.untranslated:
        print(f"untranslated in {name}: {text!r}")
    for name, state in report.display_failures:
        print(f"{name}: the {state} screen could not be shown (the log says why)")
    for name, width, height in report.overflows:
        print(f"warning: {name} needs {width}×{height}, more than {SIZE[0]}×{SIZE[1]}: cut off")
    return 0 if report.ok else 1
