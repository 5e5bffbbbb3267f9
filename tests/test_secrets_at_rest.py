"""Nothing secret is written anywhere, over whole flows on the real stack.

``kiosk flow`` runs as a process, logging at level 1 to a file, against the simulated card behind
the tests' pcscd and the reference server on loopback: a wrong PIN, an online password reset with a
new password, an offline verification (recorded in the outbox, then synced by ``kiosk outbox
sync``) and a pre-link with the card-info AP's own PIN. Then everything the kiosk and the server
wrote is searched for the PINs and the new password in every form (``tests/helpers/secret_forms``):
the kiosk's database table by table and as the raw bytes of every file in its data folder (the
-wal, -shm and -journal files too), its log and its output; the server's database the same way,
with every other file in its state folder, and the server's log, also at level 1.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from kiosk.nfc.sim import CardProfile, SimulatedCard, TestHierarchy
from kiosk.nfc.sim.pcscd import PcscdProcess
from linkserver.demo import DEMO_DESK_ID
from linkserver.roster import set_offline_pin
from tests.conftest import Reader
from tests.helpers.kiosk import write_config
from tests.helpers.linkage_client import ROOMY
from tests.helpers.secret_forms import RARE_PASSWORD, RARE_PIN, RARE_WRONG_PIN, leaks, leaks_in
from tests.helpers.server_api import LINKED, UNLINKED
from tests.linkserver.helpers import LiveServer, Staff, live_server

PIN, WRONG_PIN, NEW_PASSWORD = RARE_PIN, RARE_WRONG_PIN, RARE_PASSWORD
CARDINFO_PIN = "0358"  # the pre-linked card's card-info AP PIN: rare like the others
#: The desk member's offline PIN for this run, and a wrong one typed first: rare like the others.
OFFLINE_PIN, WRONG_OFFLINE_PIN = "072951", "041937"
SECRETS = {"the PIN": PIN, "the card-info PIN": CARDINFO_PIN, "the wrong PIN": WRONG_PIN,
           "the new password": NEW_PASSWORD, "the offline PIN": OFFLINE_PIN,
           "the wrong offline PIN": WRONG_OFFLINE_PIN}
UNREACHABLE = "http://127.0.0.1:9"

#: ``kiosk`` logging at level 1 to a file (the CLI's own logging set-up is then a no-op), SQLAlchemy
#: too (which sets itself to WARNING when nothing is set): every statement with its parameters.
LEVEL_ONE = """
import logging, sys
logging.basicConfig(level=1, filename=sys.argv[1], encoding="utf-8",
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("sqlalchemy").setLevel(1)
from kiosk.cli import main
sys.exit(main(sys.argv[2:]))
"""


# -- the search itself -------------------------------------------------------------------------------


@pytest.mark.parametrize("before", [b"", b"=", b"=>", b"\x00\xff\x10"])  # each base64 alignment
def test_the_search_finds_each_form_inside_a_longer_blob(before: bytes) -> None:
    for secret in (PIN, NEW_PASSWORD):
        raw = before + secret.encode() + b"\x7f"
        written = [raw, secret.encode("utf-16-le"), secret.encode("utf-16-be"), base64.b64encode(raw),
                   base64.urlsafe_b64encode(raw).rstrip(b"="),
                   *(text.encode() for text in (raw.hex(), raw.hex(" ").upper(), raw.hex(":")))]
        for blob in written:
            assert leaks({"it": secret}, b"<" + blob + b">"), blob


def test_a_short_pin_is_found_as_a_token_not_inside_digits_or_hex() -> None:
    assert leaks({"pin": PIN}, f"pin={PIN}\n") == ["pin as plain"]
    assert leaks({"pin": PIN}, f"b'{PIN}'") == ["pin as plain"]
    assert leaks({"pin": PIN}, f"port 4{PIN} at 2026-11-25 and sha a{PIN}f") == []


# -- the flows ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One command's exit code and output."""

    code: int
    out: str
    err: str

    def last(self) -> dict[str, Any]:
        """The last JSON document it printed."""
        document: dict[str, Any] = json.loads(self.out.splitlines()[-1])
        return document


@dataclass
class Written:
    """Where a run wrote, and what each command answered."""

    folder: Path
    server: LiveServer
    kiosk_log: Path
    server_log: list[str] = field(default_factory=list)
    #: Each command by its name.
    runs: dict[str, Run] = field(default_factory=dict)

    @property
    def kiosk_data(self) -> Path:
        return self.folder / "kiosk-data"

    @property
    def server_state(self) -> Path:
        return self.server.setup.config_path.parent

    @property
    def server_db(self) -> Path:
        return Path(str(make_url(self.server.setup.settings.database_url).database))

    def kiosk(self, name: str, *args: str, on_line: Callable[[str], None] = lambda _line: None,
              **env: str) -> None:
        """``kiosk ARGS`` at log level 1, each line it prints handed to ``on_line`` as it comes."""
        errors = self.folder / f"{name}.stderr"
        with errors.open("w", encoding="utf-8") as stderr:
            child = subprocess.Popen([sys.executable, "-c", LEVEL_ONE, str(self.kiosk_log), *args],
                                     stdout=subprocess.PIPE, stderr=stderr, text=True,
                                     env={**os.environ, **env})
            assert child.stdout is not None
            lines = []
            for line in child.stdout:
                lines.append(line)
                on_line(line)
            code = child.wait(120)
        self.runs[name] = Run(code, "".join(lines), errors.read_text("utf-8"))

    def flow(self, name: str, operation: str, account: str, pin: str, *args: str,
             on_line: Callable[[str], None] = lambda _line: None, **env: str) -> None:
        """``kiosk flow OPERATION --json`` for ``account``, typing ``pin``."""
        self.kiosk(name, "flow", operation, "--account", account, "--pin-from-env", "CARD_PIN",
                   "--config", str(self.config), "--json", *args, on_line=on_line, CARD_PIN=pin, **env)

    @property
    def config(self) -> Path:
        return self.folder / "kiosk.toml"


class ServerLog(logging.Handler):
    """The server's log records (it runs in this process), at every level; the simulated card and
    its reader bridge, which run here too, are the card's side and not the server's."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(level=1)
        self.lines = lines
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("kiosk"):
            self.lines.append(self.format(record))


@contextlib.contextmanager
def server_logging(lines: list[str]) -> Iterator[None]:
    """Every log record of this process at level 1 into ``lines``, uvicorn's and SQLAlchemy's too."""
    root, handler = logging.getLogger(), ServerLog(lines)
    names = ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy")
    loggers = [root, *(logging.getLogger(name) for name in names)]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(1)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def card(hierarchy: TestHierarchy, holder: str) -> SimulatedCard:
    return SimulatedCard(CardProfile.from_holder(hierarchy, holder, pin=PIN, cardinfo_pin=CARDINFO_PIN))


def run_flows(written: Written, reader: Reader, hierarchy: TestHierarchy) -> None:
    """A wrong PIN, an online password reset, an offline one and a pre-link, each as ``kiosk flow``."""
    reader.insert(card(hierarchy, "linked"))
    written.flow("wrong PIN", "link_status", LINKED, WRONG_PIN)
    new_password = ("--new-password-from-env", "NEW_PW")
    written.flow("online", "password_reset", LINKED, PIN, *new_password, NEW_PW=NEW_PASSWORD)
    offline = (*new_password, "--server", UNREACHABLE, "--offline-staff", DEMO_DESK_ID,
               "--offline-pin-from-env", "OFFLINE_PIN")
    written.flow("wrong offline PIN", "password_reset", LINKED, PIN, *offline, NEW_PW=NEW_PASSWORD,
                 OFFLINE_PIN=WRONG_OFFLINE_PIN)
    written.flow("offline", "password_reset", LINKED, PIN, *offline, NEW_PW=NEW_PASSWORD,
                 OFFLINE_PIN=OFFLINE_PIN)
    written.kiosk("sync", "outbox", "sync", "--config", str(written.config))
    reader.insert(card(hierarchy, "unlinked"))

    def sign_in_when_asked(line: str) -> None:
        step = json.loads(line)
        if step.get("step") == "show_user_code":
            assert written.server.sign_in_on_phone(step["user_code"], UNLINKED).status_code == 200

    written.flow("prelink", "prelink", UNLINKED, PIN, "--cardinfo-pin-from-env", "CARDINFO_PIN",
                 on_line=sign_in_when_asked, CARDINFO_PIN=CARDINFO_PIN)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, hierarchy: TestHierarchy,
            pcscd: PcscdProcess) -> Iterator[Written]:
    """The four flows run once for the module, against one server; what they wrote."""
    folder = tmp_path_factory.mktemp("secrets")
    lines: list[str] = []
    reader = Reader(pcscd)
    with live_server(folder / "server", hierarchy, limits=ROOMY) as server, server_logging(lines):
        written = Written(folder, server, folder / "kiosk.log", lines)
        write_config(folder, server, hierarchy, server.base, reader=reader.name)
        desk = Staff(server)
        set_offline_pin(server.server.parts.db, DEMO_DESK_ID, OFFLINE_PIN)  # before the kiosk's heartbeat
        try:
            run_flows(written, reader, hierarchy)
        finally:
            desk.stop()
            reader.remove()
        yield written


# -- what was written ----------------------------------------------------------------------------------


def files_in(folder: Path) -> list[tuple[str, bytes]]:
    """Every file below ``folder``, as raw bytes."""
    return [(str(path.relative_to(folder)), path.read_bytes()) for path in sorted(folder.rglob("*"))
            if path.is_file()]


def database_values(path: Path) -> list[tuple[str, bytes | str]]:
    """Every value of every column of every table of the SQLite database at ``path``, by its place."""
    values: list[tuple[str, bytes | str]] = []
    connection = sqlite3.connect(path)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')  # the names from the schema
            columns = [description[0] for description in cursor.description]
            for row in cursor:
                values += [(f"{table}.{column}", value if isinstance(value, bytes | str) else str(value))
                           for column, value in zip(columns, row, strict=True) if value is not None]
    finally:
        connection.close()
    return values


def tables_with_rows(values: list[tuple[str, bytes | str]]) -> set[str]:
    return {where.split(".")[0] for where, _value in values}


def test_the_flows_ran_and_everything_was_logged(written: Written) -> None:
    runs = written.runs
    codes = {name: run.code for name, run in runs.items()}
    assert codes == {"wrong PIN": 1, "online": 0, "wrong offline PIN": 1, "offline": 0, "sync": 0,
                     "prelink": 0}, runs
    assert runs["wrong PIN"].last()["error"] == "pin.wrong"
    assert runs["wrong offline PIN"].last()["error"] == "offline.staff_refused"
    assert runs["online"].last()["result"]["status"] == "completed"
    assert runs["offline"].last()["result"]["voucher"]
    assert "accepted" in runs["sync"].out
    assert runs["prelink"].last()["result"]["status"] == "completed"
    log = written.kiosk_log.read_text("utf-8")
    assert "TRACE" in log and "secret bytes]" in log  # the APDU trace, VERIFY's data left out
    assert "INSERT INTO outbox" in log  # and SQLAlchemy's statements with their parameters
    assert any("/v1/operations" in line for line in written.server_log)
    assert any("UPDATE accounts SET password_hash" in line for line in written.server_log)


def test_no_secret_in_the_kiosks_database(written: Written) -> None:
    values = database_values(written.kiosk_data / "kiosk.db")
    assert {"outbox", "audit_log", "cache", "staff_roster_members"} <= tables_with_rows(values)
    assert leaks_in(SECRETS, values) == []


def test_no_secret_in_any_file_the_kiosk_wrote(written: Written) -> None:
    files = files_in(written.kiosk_data)
    assert "kiosk.db" in dict(files)
    assert leaks_in(SECRETS, files) == []


def test_no_secret_in_the_kiosks_log_or_output(written: Written) -> None:
    outputs = [(f"{name}'s output", run.out + run.err) for name, run in written.runs.items()]
    assert leaks_in(SECRETS, [("the kiosk's log", written.kiosk_log.read_bytes()), *outputs]) == []


def test_no_secret_in_the_servers_database(written: Written) -> None:
    values = database_values(written.server_db)
    assert {"accounts", "operations", "offline_evidence", "audit_log"} <= tables_with_rows(values)
    assert leaks_in(SECRETS, values) == []


def test_no_secret_in_any_file_the_server_wrote(written: Written) -> None:
    files = files_in(written.server_state)
    assert written.server_db.name in dict(files)
    assert leaks_in(SECRETS, files) == []


def test_no_secret_in_the_servers_log(written: Written) -> None:
    assert leaks_in(SECRETS, [("the server's log", "\n".join(written.server_log))]) == []
