"""A clean Debian 12 root for the packages' tests.

``mmdebstrap`` makes it from Debian's own packages (the machine's apt sources), with apt and nothing
else; the tests install the project's packages in it with ``apt-get``, which resolves their
dependencies from Debian. Each command runs in it through ``chroot``, in a mount namespace of its
own (``unshare``): ``/proc``, ``/sys``, ``/dev`` and an empty ``/run`` are mounted for that command
alone, so nothing stays mounted when a test fails or is killed. Services are not started by
package scripts in the root (``policy-rc.d``), as in any chroot.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: The machine's own apt sources: the root gets the same suites and versions.
APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
#: The machine's apt cache, shared with the root while apt-get runs in it: a package already
#: downloaded is not downloaded again.
APT_CACHE = Path("/var/cache/apt/archives")
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class RootCommandFailed(AssertionError):
    pass


@dataclass
class DebianRoot:
    path: Path

    @classmethod
    def create(cls, path: Path) -> DebianRoot:
        """A new Debian 12 root (variant ``apt``: essential packages and apt) in ``path``."""
        subprocess.run(["mmdebstrap", "--quiet", "--mode=root", "--variant=apt", "bookworm", str(path),
                        str(APT_SOURCES)], check=True, capture_output=True, text=True, timeout=900)
        policy = path / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\n# No service starts inside the test root.\nexit 101\n")
        policy.chmod(0o755)
        root = cls(path)
        root.run(["apt-get", "update", "-qq"], timeout=600)
        return root

    def file(self, inside: str) -> Path:
        """The path on this machine of ``inside``, a path in the root."""
        return self.path / inside.lstrip("/")

    def command(self, args: Sequence[str], *, user: str | None = None, env: dict[str, str] | None = None,
                binds: dict[Path, str] | None = None) -> list[str]:
        """The command line that runs ``args`` in the root (as ``user``, with ``env`` and nothing else
        of this process's environment), with each folder of ``binds`` mounted at its path inside."""
        mounts = [
            'mount -t proc proc "$R/proc"',
            'mount -t sysfs sysfs "$R/sys"',
            'mount --rbind /dev "$R/dev"',
            'mount -t tmpfs -o mode=0755 tmpfs "$R/run"',
        ]
        for outside, inside in (binds or {}).items():
            target = shlex.quote(inside)
            mounts.append(f'mkdir -p "$R"{target} && mount --bind {shlex.quote(str(outside))} "$R"{target}')
        variables = [f"PATH={PATH}", "HOME=/root", "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
                     "DEBIAN_FRONTEND=noninteractive",
                     *(f"{name}={value}" for name, value in (env or {}).items())]
        as_user = ["runuser", "-u", user, "--"] if user else []
        script = " && ".join(mounts) + ' && exec chroot "$R" /usr/bin/env -i "$@"'
        return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                f"R={shlex.quote(str(self.path))}; " + script, "sh", *variables, *as_user, *args]

    def run(self, args: Sequence[str], *, user: str | None = None, env: dict[str, str] | None = None,
            binds: dict[Path, str] | None = None, check: bool = True,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run ``args`` in the root and wait; with ``check``, a failure shows its output."""
        result = subprocess.run(self.command(args, user=user, env=env, binds=binds), capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RootCommandFailed(f"{shlex.join(args)} exited {result.returncode}\n"
                                    f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
        return result

    def apt_install(self, *packages: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        """``apt-get install`` in the root (a .deb file as ``/path/in/root.deb``), with this machine's
        package cache."""
        return self.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                         "-o", "Dpkg::Options::=--force-confold", *packages],
                        binds={APT_CACHE: str(APT_CACHE)}, timeout=timeout)

    def copy_in(self, source: Path, inside: str) -> str:
        target = self.file(inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        return inside
