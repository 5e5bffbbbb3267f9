"""Leave out of the kiosk's environment the parts of PySide6 the kiosk never loads.

    python3 packaging/prune_qt.py SITE_PACKAGES

PySide6-Essentials brings Qt Quick, QML, Designer, the developer tools and their libraries: more
than half of its size, none of it used at a counter. Kept: the Python modules the kiosk imports
(``KEEP_MODULES``; a test checks that every ``PySide6`` import in ``kiosk/`` is among them), the
platform plugins a counter may run on (Wayland under cage, X11, and the offscreen platform of the
tests and the start-up figure) with what they need, and every Qt library that those need, found by
following their ELF ``NEEDED`` entries (packaging/record.py then rewrites the RECORD).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

KEEP_MODULES = {"QtCore", "QtGui", "QtWidgets", "QtSvg", "QtTest"}

#: Plugin folders kept whole, and those kept in part (``name -> files``).
KEEP_PLUGIN_FOLDERS = {
    "generic", "iconengines", "wayland-decoration-client", "wayland-graphics-integration-client",
    "wayland-shell-integration", "xcbglintegrations",
}
KEEP_PLUGIN_FILES = {
    "platforms": {"libqoffscreen.so", "libqwayland.so", "libqxcb.so", "libqminimal.so"},
    # Compose keys and IBus (Japanese input methods); not Qt's virtual keyboard, which is Qt Quick.
    "platforminputcontexts": {"libcomposeplatforminputcontextplugin.so",
                              "libibusplatforminputcontextplugin.so"},
    "imageformats": {"libqsvg.so", "libqico.so", "libqgif.so"},
}
#: Besides the modules: what ``import PySide6`` itself reads.
KEEP_PACKAGE_FILES = {"__init__.py", "_config.py", "_git_pyside_version.py", "py.typed", "support", "Qt",
                      "PySide6_Essentials.json"}


def needed(path: Path) -> set[str]:
    """The sonames ``path`` (an ELF file) names as NEEDED."""
    dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return {line.split("[", 1)[1].split("]", 1)[0] for line in dynamic.splitlines() if "(NEEDED)" in line}


def prune_package(package: Path) -> list[Path]:
    """Remove the modules, tools and plugins not kept; returns the ELF files kept, to follow."""
    for entry in package.iterdir():
        module = entry.name.split(".", 1)[0]
        if entry.name.endswith(".abi3.so") and module in KEEP_MODULES:
            continue
        if entry.name.startswith("libpyside6.abi3.so") or entry.name in KEEP_PACKAGE_FILES:
            continue
        remove(entry)
    qt = package / "Qt"
    for entry in qt.iterdir():
        if entry.name not in {"lib", "plugins"}:
            remove(entry)
    for folder in (qt / "plugins").iterdir():
        if folder.name in KEEP_PLUGIN_FOLDERS:
            continue
        files = KEEP_PLUGIN_FILES.get(folder.name)
        if files is None:
            remove(folder)
            continue
        for plugin in folder.iterdir():
            if plugin.name not in files:
                remove(plugin)
    roots = [path for path in package.iterdir() if ".so" in path.name]
    return roots + [path for path in (qt / "plugins").rglob("*.so")]


def prune_libraries(package: Path, roots: list[Path]) -> None:
    """Remove every library in Qt/lib that no kept ELF file needs, directly or through another."""
    lib = package / "Qt" / "lib"
    available = {path.name: path for path in lib.iterdir() if ".so" in path.name}
    wanted: set[str] = set()
    queue = list(roots)
    while queue:
        for name in needed(queue.pop()):
            if name in available and name not in wanted:
                wanted.add(name)
                queue.append(available[name])
    for entry in lib.iterdir():
        if entry.name not in wanted:
            remove(entry)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def main(argv: list[str]) -> int:
    site = Path(argv[0])
    package = site / "PySide6"
    prune_libraries(package, prune_package(package))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
