"""The two Debian packages, from this checkout to a clean Debian 12, as a help desk would meet them.

``packaging/build`` builds both (lintian must find no error); a second build must give the same
bytes. A Debian 12 root is made by mmdebstrap from Debian's packages, and the packages are installed
there with apt-get, which resolves their dependencies. The build before this one (this build,
relabelled with a lower version: no earlier release is packaged yet) is installed first and set up
as an administrator would (packaging/README.md); the kiosk verifies a card through PC/SC against the
installed server, then, with the server stopped, records an offline approval in its outbox. Then
this build is installed over it: the settings, the secrets and the outbox survive, the entry is
sent once, and the kiosk verifies again. Last, ``remove`` keeps the data and ``purge`` deletes it.

It is one test: the steps share one root and follow each other, so no test runner may split them
(it runs first in the suite, on one worker, while the others take the rest).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.nfc.sim import CardProfile, SimulatedCard, TestHierarchy
from kiosk.nfc.sim.pcscd import PcscdProcess
from tests.conftest import Reader
from tests.helpers.processes import finish, read_until
from tests.linkserver.helpers import free_port
from tests.packaging.counter import (
    DESK_ID,
    DESK_OFFLINE_PIN,
    KIOSK_CONFIG,
    SERVER_CONFIG,
    Counter,
    last_json,
    verified_online,
)
from tests.packaging.debroot import DebianRoot

pytestmark = [
    pytest.mark.packages, pytest.mark.timeout(2700),
    pytest.mark.skipif(os.geteuid() != 0, reason="mmdebstrap --mode=root, chroot and mount need root"),
]

REPO = Path(__file__).resolve().parents[2]
APPS = ("kiosk", "kiosk-linkserver")


@dataclass
class Build:
    folder: Path
    version: str

    def deb(self, app: str) -> Path:
        return self.folder / f"{app}_{self.version}_amd64.deb"


#: Where the two builds of a run keep the wheels they download (make-venv's KIOSK_PIP_CACHE).
PIP_CACHE = Path(tempfile.gettempdir()) / "kiosk-test-pip-cache"


def build_packages(out: Path, *options: str) -> Build:
    # Downloads are shared; wheels pip built itself are not, so that each build compiles the
    # extensions without a wheel (pyscard, python-ldap) again and the two builds' bytes still
    # show that compiling is reproducible.
    shutil.rmtree(PIP_CACHE / "wheels", ignore_errors=True)
    result = subprocess.run([str(REPO / "packaging/build"), *options, str(out)], capture_output=True,
                            text=True, timeout=1800, env={**os.environ, "KIOSK_PIP_CACHE": str(PIP_CACHE)})
    assert result.returncode == 0, result.stdout + result.stderr[-6000:]
    return Build(out, package_version())


def package_version() -> str:
    changelog = (REPO / "packaging/debian/changelog").read_text("utf-8")
    version = re.match(r"kiosk \(([^)]+)\)", changelog)
    assert version is not None
    return version.group(1)


def relabel(build: Build, version: str, out: Path) -> Build:
    """``build`` under another version: the same files, the control's Version changed."""
    for app in APPS:
        tree = out / app
        subprocess.run(["dpkg-deb", "-R", str(build.deb(app)), str(tree)], check=True)
        control = tree / "DEBIAN" / "control"
        control.write_text(re.sub(r"^Version: .*$", f"Version: {version}", control.read_text("utf-8"),
                                  flags=re.MULTILINE), "utf-8")
        subprocess.run(["dpkg-deb", "-Zgzip", "--root-owner-group", "-b", str(tree),
                        str(out / f"{app}_{version}_amd64.deb")], check=True, capture_output=True)
        shutil.rmtree(tree)
    return Build(out, version)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: A folder of packages built before, used instead of building (for working on this test; the
#: second build and its comparison are then left out).
PREBUILT_ENV = "KIOSK_TEST_DEBS"


@dataclass
class Before:
    """What the upgrade must keep, read before it."""
    kiosk_config: str
    secrets: dict[str, str]
    kiosk_key: str
    outbox_keys: list[str]
    kiosk_audit: list[tuple[int, str]]


def kiosk_audit(root: DebianRoot) -> list[tuple[int, str]]:
    """The kiosk's audit log: each entry's number and event."""
    with sqlite3.connect(root.file("/var/lib/kiosk/kiosk.db")) as database:
        return database.execute("SELECT seq, event FROM audit_log ORDER BY seq").fetchall()


def install(root: DebianRoot, build: Build) -> str:
    """Both packages of ``build`` installed with apt-get; its output."""
    debs = [root.copy_in(build.deb(app), f"/tmp/{build.deb(app).name}") for app in APPS]
    return root.apt_install(*debs).stdout


def check_contents(built: Build) -> None:
    """Each package carries its application and no test fixture."""
    for app in APPS:
        fields = subprocess.run(["dpkg-deb", "-f", str(built.deb(app)), "Depends"], check=True,
                                capture_output=True, text=True).stdout
        assert "vsmartcard" not in fields and "vpcd" not in fields
        files = subprocess.run(["dpkg-deb", "-c", str(built.deb(app))], check=True, capture_output=True,
                               text=True).stdout
        assert f" ./opt/{app}/bin/{app}\n" in files and f" ./usr/bin/{app} -> /opt/{app}/bin/{app}\n" in files
        assert "/nfc/sim/" not in files and "/demo.py" not in files and "devpanel" not in files
        assert "reader.conf.d" not in files


def use_the_previous_build(counter: Counter, reader: Reader, hierarchy: TestHierarchy, crls: Path) -> Before:
    """Set up as packaging/README.md says; a verification online, then an offline approval left
    waiting in the outbox with the server stopped. What the upgrade must keep, read then."""
    root = counter.root
    counter.install_jpki(hierarchy, crls)
    counter.configure_server()
    counter.configure_kiosk()
    reader.insert(SimulatedCard(CardProfile.from_holder(hierarchy, "linked")))
    with counter.serving():
        online = counter.flow("link_status", check=False)  # also brings the staff roster
    assert verified_online(online), online.stdout + online.stderr
    offline = counter.flow("mfa_reset", "--offline-staff", DESK_ID, "--offline-pin-from-env", "STAFF_PIN",
                           env={"STAFF_PIN": DESK_OFFLINE_PIN})
    assert "voucher" in offline.stdout, offline.stdout + offline.stderr
    reader.remove()
    listed = json.loads(counter.kiosk("outbox", "list", "--json", "--config", KIOSK_CONFIG).stdout)
    assert len(listed["items"]) == 1, listed
    return Before(
        kiosk_config=root.file(KIOSK_CONFIG).read_text("utf-8"),
        secrets={path.name: digest(path) for path in root.file("/etc/kiosk-linkserver/secrets").iterdir()},
        kiosk_key=digest(root.file("/var/lib/kiosk/kiosk-key.pem")),
        outbox_keys=[str(item["key"]) for item in listed["items"]],
        kiosk_audit=kiosk_audit(root),
    )


def check_the_upgrade_kept_everything(before: Before, root: DebianRoot, built: Build, output: str) -> None:
    assert root.file(KIOSK_CONFIG).read_text("utf-8") == before.kiosk_config
    assert "offline_evidence_recorded" in [event for _, event in before.kiosk_audit]
    assert kiosk_audit(root)[:len(before.kiosk_audit)] == before.kiosk_audit
    secrets = root.file("/etc/kiosk-linkserver/secrets")
    assert {path.name: digest(path) for path in secrets.iterdir()} == before.secrets
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in secrets.iterdir())
    assert digest(root.file("/var/lib/kiosk/kiosk-key.pem")) == before.kiosk_key
    assert root.file("/var/lib/kiosk").stat().st_mode & 0o777 == 0o700
    versions = root.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *APPS]).stdout
    assert versions.split("\n")[:2] == [f"{app} {built.version}" for app in APPS]
    assert "the database schema is up to date" in output  # migrate ran on the upgrade


def check_the_outbox_entry_is_sent_once(before: Before, counter: Counter) -> None:
    with counter.serving():
        first = counter.kiosk("outbox", "sync", "--json", "--config", KIOSK_CONFIG)
        second = counter.kiosk("outbox", "sync", "--json", "--config", KIOSK_CONFIG)
    assert before.outbox_keys[0] in first.stdout, first.stdout + first.stderr
    assert before.outbox_keys[0] not in second.stdout, second.stdout
    with sqlite3.connect(counter.root.file("/var/lib/kiosk-linkserver/linkserver.db")) as database:
        held = database.execute("SELECT idempotency_key FROM offline_evidence").fetchall()
    assert held == [(before.outbox_keys[0],)]
    listed = json.loads(counter.kiosk("outbox", "list", "--json", "--config", KIOSK_CONFIG).stdout)
    assert [(item["key"], item["fate"] is not None) for item in listed["items"]] == [
        (before.outbox_keys[0], True)]  # kept with its fate, nothing left waiting


def check_the_commands_and_the_doctor(root: DebianRoot) -> None:
    shown = root.run(["kiosk", "--help"]).stdout
    assert "doctor" in shown and " demo " not in shown and "{card,sim" not in shown
    assert "--demo" not in root.run(["kiosk-linkserver", "--help"]).stdout
    # No pcscd socket in the root: the reader cannot be reached, and the doctor says so in words.
    doctor = root.run(["kiosk", "doctor", "--config", KIOSK_CONFIG], user="kiosk", check=False)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert "FAIL reader: PC/SC is not available (reader.none): start pcscd and connect the reader" \
        in doctor.stdout
    assert "Traceback" not in doctor.stdout + doctor.stderr


def check_a_flow_through_pcsc(counter: Counter, reader: Reader, hierarchy: TestHierarchy) -> None:
    reader.insert(SimulatedCard(CardProfile.from_holder(hierarchy, "linked")))
    with counter.serving():
        result = counter.flow("link_status", check=False)
    reader.remove()
    assert verified_online(result), result.stdout + result.stderr
    assert last_json(result.stdout)["error"] == "no_match" and result.returncode == 1


def check_the_units_and_the_first_screen(root: DebianRoot) -> None:
    for unit in ("kiosk.service", "kiosk-linkserver.service"):
        verified = root.run(["systemd-analyze", "verify", f"/lib/systemd/system/{unit}"], check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert unit not in verified.stderr, verified.stderr  # no complaint about the unit itself
    command = root.command(["kiosk", "-v", "run", "--windowed", "--config", KIOSK_CONFIG], user="kiosk",
                           env={"QT_QPA_PLATFORM": "offscreen"})
    window = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        read_until(window.stderr, "kiosk.ui.app: the first screen is showing")
    finally:
        finish(window)


def check_remove_then_purge(root: DebianRoot) -> None:
    root.run(["apt-get", "remove", "-y", "-q", *APPS])
    for kept in ("/var/lib/kiosk/kiosk-key.pem", KIOSK_CONFIG, SERVER_CONFIG,
                 "/var/lib/kiosk-linkserver/linkserver.db", "/etc/kiosk-linkserver/secrets/ppid.secret"):
        assert root.file(kept).exists(), f"remove deleted {kept}"
    assert not root.file("/opt/kiosk/bin/kiosk").exists()
    root.run(["apt-get", "purge", "-y", "-q", *APPS])
    for gone in ("/var/lib/kiosk", KIOSK_CONFIG, SERVER_CONFIG, "/var/lib/kiosk-linkserver",
                 "/etc/kiosk-linkserver/secrets", "/opt/kiosk", "/opt/kiosk-linkserver"):
        assert not root.file(gone).exists(), f"purge left {gone}"
    assert root.file("/usr/bin/apt-get").exists()  # the root itself is still whole


def check_a_second_build_gives_the_same_bytes(built: Build, out: Path) -> None:
    again = build_packages(out, "--no-lintian")  # the first one ran lintian
    for app in APPS:
        assert digest(again.deb(app)) == digest(built.deb(app)), f"{app} differs between two builds"
        listing = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(built.deb(app))], check=True,
                                 capture_output=True).stdout
        listed = subprocess.run(["tar", "-tv"], input=listing, check=True, capture_output=True).stdout
        # dpkg-deb's order: files and folders sorted folder by folder, then the symbolic links.
        entries = [(line[:1] == b"l", line.split(b" ./", 1)[1].split(b" -> ")[0].rstrip(b"/").split(b"/"))
                   for line in listed.split(b"\n") if line]
        assert entries == sorted(entries), f"{app}'s file list is not sorted"


def test_the_packages_from_a_clean_checkout_to_purge(tmp_path_factory: pytest.TempPathFactory,
                                                      pcscd: PcscdProcess, hierarchy: TestHierarchy) -> None:
    prebuilt = os.environ.get(PREBUILT_ENV)
    built = (Build(Path(prebuilt), package_version()) if prebuilt
             else build_packages(tmp_path_factory.mktemp("debs")))
    check_contents(built)
    folder = tmp_path_factory.mktemp("root") / "bookworm"
    root = DebianRoot.create(folder)
    reader = Reader(pcscd)
    try:
        counter = Counter(root, free_port(), pcscd.socket_path.parent)
        install(root, relabel(built, f"{built.version}~previous", tmp_path_factory.mktemp("previous")))
        before = use_the_previous_build(counter, reader, hierarchy, tmp_path_factory.mktemp("crls"))
        output = install(root, built)
        check_the_upgrade_kept_everything(before, root, built, output)
        check_the_outbox_entry_is_sent_once(before, counter)
        check_the_commands_and_the_doctor(root)
        check_a_flow_through_pcsc(counter, reader, hierarchy)
        check_the_units_and_the_first_screen(root)
        check_remove_then_purge(root)
    finally:
        reader.remove()
        shutil.rmtree(folder, ignore_errors=True)  # about a gigabyte
    if not prebuilt:
        check_a_second_build_gives_the_same_bytes(built, tmp_path_factory.mktemp("again"))
