"""Log lines a request cannot forge: every character that could end, rewrite or hide a line is escaped.

A path, a header or a client ID reaches the log as the client sent it. Escaped are the controls
(C0 such as ESC, CR, LF and VT; DEL; C1 such as NEL), the Unicode line and paragraph separators,
format characters (a right-to-left override reorders what a terminal shows) and code points that
are surrogates, private or unassigned: everything ``str.isprintable`` refuses except spaces.
They are written as in a Python literal (``\\x1b``, ``\\u2028``). A backslash is left as it is, so
escaping twice changes nothing and the request log can escape what it logs whatever the logging
setup.

The command's logging (``log_config``) escapes every message, exception and stack it writes,
uvicorn's included, and blanks any ``otpauth://`` enrolment URI in them: the URI carries a new
TOTP secret, which no log may hold even if some code path were to pass one along.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

#: Categories escaped: controls, format characters, surrogates, private use, unassigned, and the
#: line and paragraph separators.
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: An authenticator app's enrolment URI (RFC 6238 secrets in the Key URI format), to its end.
ENROLMENT_URI = re.compile(r"otpauth://[^\s'\"<>]*", re.IGNORECASE)
REDACTED_URI = "otpauth://[redacted]"


def redacted(text: str) -> str:
    """``text`` with every enrolment URI blanked."""
    return ENROLMENT_URI.sub(REDACTED_URI, text)


def _escape(ch: str) -> str:
    if unicodedata.category(ch) not in ESCAPED_CATEGORIES:
        return ch
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: object) -> str:
    """``text`` on one line, with every character that could forge or hide a log line escaped."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(_escape(ch) for ch in text)


def _lines(text: str) -> str:
    """A multi-line text (a traceback) with its own line breaks kept and everything else escaped."""
    return "\n".join(printable(line) for line in text.split("\n"))


class EscapingFormatter(logging.Formatter):
    """A formatter whose messages are one line each, and whose tracebacks have only their own lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = redacted(printable(record.message))
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return redacted(_lines(super().formatException(ei)))

    def formatStack(self, stack_info: str) -> str:
        return redacted(_lines(super().formatStack(stack_info)))


def log_config(level: str) -> dict[str, Any]:
    """The command's logging (``logging.config.dictConfig``), also given to uvicorn and its workers.

    One handler on the root logger, to standard error, escaping what it writes; uvicorn's loggers
    pass their records to it.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"escaping": {"()": "linkserver.logsafe.EscapingFormatter", "format": LOG_FORMAT}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "escaping",
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            **{name: {"handlers": [], "propagate": True}
               for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
            # The HTTP client's own lines name each request's URL (an MFA server's query holds the
            # account ID): only at debug.
            **{name: {"level": "DEBUG" if level == "debug" else "WARNING"}
               for name in ("httpx2", "httpcore2")},
        },
    }
