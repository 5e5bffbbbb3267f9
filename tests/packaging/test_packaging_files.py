"""The packaging's own files, checked without building: the installed configurations, the versions,
the dependencies, the units, and that the Qt pruning keeps every module the kiosk imports."""

from __future__ import annotations

import configparser
import importlib.util
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(PACKAGING / "debian" / name)
    return parser


def test_every_pyside6_module_the_kiosk_imports_is_kept() -> None:
    imported = set()
    for source in (REPO / "kiosk").rglob("*.py"):
        imported |= set(re.findall(r"(?:from|import) PySide6\.(Qt\w+)", source.read_text("utf-8")))
    assert imported and imported <= load("prune_qt").KEEP_MODULES


@pytest.mark.parametrize(("app", "example"), [("kiosk", "resources/kiosk.example.toml"),
                                              ("kiosk-linkserver", "linkserver/linkserver.example.toml")])
def test_the_installed_configuration_is_the_example_with_the_packages_places(app: str, example: str) -> None:
    conffile = load("conffile")
    text = (REPO / example).read_text("utf-8")
    installed = conffile.installed(app, text)
    settings = tomllib.loads(installed)
    for section, key, value, _ in conffile.SETTINGS[app]:
        assert settings[section][key] == tomllib.loads(f"v = {value}")["v"]
    example_settings = tomllib.loads(text)
    assert set(settings) == set(example_settings)  # every table still there, each documented
    assert installed.count("\n# ") >= text.count("\n# ") - 2


def test_a_setting_the_example_no_longer_has_fails_the_build() -> None:
    conffile = load("conffile")
    with pytest.raises(SystemExit, match="data_dir is set 0 times"):
        conffile.installed("kiosk", "# a\n# b\n[kiosk]\nkey_file = \"k.pem\"\n")


def test_the_package_version_is_the_projects() -> None:
    changelog = (PACKAGING / "debian" / "changelog").read_text("utf-8")
    version = re.match(r"kiosk \(([^)]+)\)", changelog)
    assert version is not None
    for project in ("pyproject.toml", "linkserver/pyproject.toml"):
        assert tomllib.loads((REPO / project).read_text("utf-8"))["project"]["version"] == version.group(1)


def test_the_kiosk_depends_on_the_counters_parts_and_on_no_test_fixture() -> None:
    control = (PACKAGING / "debian" / "control").read_text("utf-8")
    kiosk = control.split("Package: kiosk\n", 1)[1].split("\nPackage:", 1)[0]
    depends = kiosk.split("Depends:", 1)[1].split("Description:", 1)[0]
    for needed in ("pcscd", "libccid", "fonts-noto-cjk", "cage", "libwayland-client0"):
        assert re.search(rf"\b{re.escape(needed)}\b", depends), needed
    assert "vsmartcard" not in control and "vpcd" not in control


def test_the_kiosk_unit_runs_cage_on_tty1_without_vt_switching_and_restarts() -> None:
    service = unit("kiosk.service")["Service"]
    exec_start = service["ExecStart"].split()
    assert exec_start[0] == "/usr/bin/cage" and "-s" not in exec_start[:exec_start.index("--")]
    assert exec_start[exec_start.index("--") + 1:] == ["/usr/bin/kiosk", "run", "--config",
                                                       "/etc/kiosk/kiosk.toml"]
    assert (service["User"], service["TTYPath"], service["Restart"]) == ("kiosk", "/dev/tty1", "always")
    assert unit("kiosk.service")["Install"]["WantedBy"] == "graphical.target"


def test_the_server_unit_is_hardened_and_writes_only_its_state() -> None:
    service = unit("kiosk-linkserver.service")["Service"]
    assert service["User"] == "kiosk-linkserver"
    hardening = (service["ProtectSystem"], service["NoNewPrivileges"], service["PrivateTmp"])
    assert hardening == ("strict", "yes", "yes")
    assert service["CapabilityBoundingSet"] == ""
    assert service["ReadWritePaths"] == "/var/lib/kiosk-linkserver"
    assert "--workers ${WORKERS}" in service["ExecStart"]
