"""The ``kiosk`` command's exit codes: one table, shown in every ``--help``."""

from __future__ import annotations

import textwrap

EXIT_OK = 0
#: A check or a step failed (a card, a reader, the server, staff): the words say which.
EXIT_FAILED = 1
#: Refused before anything started or was written: a setting, an option or an environment variable.
EXIT_CONFIG = 2
#: A port or a reader the command needs is taken by another program, or cannot be used.
EXIT_BUSY = 3
#: Interrupted by Ctrl-C; another signal ends the command with 128 plus its number.
EXIT_INTERRUPTED = 130

MEANINGS = {
    EXIT_OK: "done (every check passed, or the command did what was asked)",
    EXIT_FAILED: "a check or a step failed: a card, a reader, the server, staff (the words say which)",
    EXIT_CONFIG: "refused before anything started or was written: a bad or missing setting, option or "
                 "environment variable (the message names the key and the file, or the option)",
    EXIT_BUSY: "a port or a reader it needs is taken by another program, or cannot be used",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); SIGHUP and SIGTERM end it with 129 and 143, cleaned up",
}


def exit_codes(*codes: int) -> str:
    """An argparse epilog listing ``codes`` (with 0 and 130), each with its meaning."""
    shown = sorted({EXIT_OK, *codes, EXIT_INTERRUPTED})
    lines = ["exit codes:"]
    for code in shown:
        lines += textwrap.wrap(MEANINGS[code], 78, initial_indent=f"  {code:<4} ", subsequent_indent=" " * 7)
    return "\n".join(lines) + "\n"
