"""A counter set up from the packages in a Debian 12 root, as an administrator would set one up
(packaging/README.md): the server's JPKI files and address, its database, the kiosk registered and
placed at a counter, a desk member with an offline PIN; the kiosk's ID, server and offline files.
Commands run in the root as the packages' own users."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kiosk.nfc.sim import TestHierarchy
from linkserver.demo import HierarchyFolder
from tests.helpers.processes import finish, read_until
from tests.packaging.debroot import DebianRoot

SERVER_CONFIG = "/etc/kiosk-linkserver/linkserver.toml"
KIOSK_CONFIG = "/etc/kiosk/kiosk.toml"
KIOSK_ID = "kiosk-counter-1"
COUNTER_ID = "counter-1"
DESK_ID = "desk1"
DESK_OFFLINE_PIN = "24681357"
CARD_PIN = "1234"
ACCOUNT = "2024000001"


def set_setting(path: Path, key: str, value: str) -> None:
    """Set ``key`` (the one line ``key = ...`` of the file) to the TOML ``value``, as an editor would."""
    text = path.read_text("utf-8")
    changed, count = re.subn(rf"^{re.escape(key)} = .*$", f"{key} = {value}", text, count=1,
                             flags=re.MULTILINE)
    assert count == 1, f"{key} is not set in {path}"
    path.write_text(changed, "utf-8")


@dataclass
class Counter:
    root: DebianRoot
    port: int
    pcscd_socket_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def server(self, *args: str, env: dict[str, str] | None = None,
               check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.root.run(["kiosk-linkserver", "--config", SERVER_CONFIG, *args], user="kiosk-linkserver",
                             env=env, check=check)

    def kiosk(self, *args: str, env: dict[str, str] | None = None, check: bool = True,
              timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """``kiosk ARGS`` in the root as the kiosk's user, with the test pcscd's socket as the
        root's own /run/pcscd."""
        return self.root.run(["kiosk", *args], user="kiosk", env=env, check=check, timeout=timeout,
                             binds={self.pcscd_socket_dir: "/run/pcscd"})

    def install_jpki(self, hierarchy: TestHierarchy, work: Path) -> None:
        """The test hierarchy's CA certificates and fresh CRLs, where both configurations name them."""
        folder = HierarchyFolder.open(hierarchy.path)
        crls = folder.write_fresh_crls(work, dt.datetime.now(dt.UTC))
        for inside in ("/etc/kiosk-linkserver/jpki", "/etc/kiosk/jpki"):
            for generation in folder.generations:
                self.root.copy_in(folder.anchor_path(generation), f"{inside}/auth-{generation}.pem")
            for crl in crls:
                self.root.copy_in(crl, f"{inside}/{crl.name}")

    def configure_server(self) -> None:
        set_setting(self.root.file(SERVER_CONFIG), "issuer", json.dumps(self.url))
        self.server("init")
        self.server("migrate")
        self.root.copy_in(self.root.file("/var/lib/kiosk/kiosk-key.pub.pem"), "/tmp/kiosk-key.pub.pem")
        self.server("register-kiosk", "--client-id", KIOSK_ID, "--public-key", "/tmp/kiosk-key.pub.pem")
        self.server("counter", "add", "--name", "Counter 1", COUNTER_ID)
        self.server("counter", "place", KIOSK_ID, COUNTER_ID)
        self.server("staff", "add", "--name", "Desk One", "--role", "desk", "--password-from-env", "PASSWORD",
                    DESK_ID, env={"PASSWORD": "correct horse battery 42"})
        self.server("staff", "assign", DESK_ID, COUNTER_ID)
        self.server("staff", "offline-pin", "--pin-from-env", "PIN", DESK_ID, env={"PIN": DESK_OFFLINE_PIN})

    def configure_kiosk(self) -> None:
        config = self.root.file(KIOSK_CONFIG)
        set_setting(config, "id", json.dumps(KIOSK_ID))
        set_setting(config, "url", json.dumps(self.url))
        set_setting(config, "enabled", "true")
        generations = ("2015", "2019", "2023")
        set_setting(config, "trust_anchors", json.dumps([f"jpki/auth-{g}.pem" for g in generations]))
        set_setting(config, "crl_files", json.dumps([f"jpki/auth-{g}.crl" for g in generations]))

    @contextlib.contextmanager
    def serving(self) -> Iterator[subprocess.Popen[str]]:
        """The installed server on loopback, as its service runs it, until the block ends."""
        command = self.root.command(["kiosk-linkserver", "--config", SERVER_CONFIG, "--port", str(self.port)],
                                    user="kiosk-linkserver")
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            read_until(server.stderr, "Uvicorn running on")
            yield server
        finally:
            finish(server)

    def flow(self, operation: str, *extra: str, env: dict[str, str] | None = None,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.kiosk("flow", operation, "--account", ACCOUNT, "--pin-from-env", "CARD_PIN", "--json",
                          "--config", KIOSK_CONFIG, "--card-timeout", "20", *extra,
                          env={"CARD_PIN": CARD_PIN, **(env or {})}, check=check)


def verified_online(result: subprocess.CompletedProcess[str]) -> bool:
    """Whether a ``kiosk flow link_status --json`` run had the card verified by the server: the card
    answered through PC/SC, and the server checked its certificate chain, revocation and signature
    and answered. (The installed server links no card to the account yet, so the answer is "no
    match", exit 1; a wrong signature or an unknown CA would be refused before that.)"""
    steps = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    card = [step for step in steps if step.get("step") == "card" and "error" not in step]
    verify = [step for step in steps if step.get("step") == "verify" and "error" not in step]
    return bool(card) and bool(verify) and verify[0].get("online") is True and verify[0].get("match") is False


def last_json(output: str) -> dict[str, object]:
    """The last JSON document of a ``--json`` command's output."""
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    document: dict[str, object] = json.loads(lines[-1])
    return document
