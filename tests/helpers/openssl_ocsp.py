"""OpenSSL's own OCSP responder over the test JPKI hierarchy, for the server's OCSP checker.

The CA's database (``index.txt``) is kept by ``openssl ca``, the responder certificates are issued
by ``openssl x509`` and the answers are built, signed and encoded by ``openssl ocsp -index … -port
…`` (Debian's openssl): none of the server's own OCSP code takes part on the responder's side.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kiosk.nfc.sim import TestHierarchy
from kiosk.nfc.sim.pcscd import stop_process
from tests.linkserver.helpers import free_port

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

#: The responder certificates' extensions, by ``openssl x509 -extfile`` section: each differs from
#: a delegation by the CA only in its extended key usage and its authority key identifier.
SECTIONS = {
    "delegated": ("critical,OCSPSigning", "keyid"),
    "delegated_without_key_id": ("critical,OCSPSigning", "none"),
    "client_only": ("clientAuth", "keyid"),
}
EXTENSIONS = "".join(
    f"[{name}]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n"
    f"extendedKeyUsage = {usage}\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = {key_id}\n\n"
    for name, (usage, key_id) in SECTIONS.items())


def openssl(*args: str | Path, cwd: Path) -> str:
    """Run the openssl command in ``cwd``; its error output in the exception when it fails."""
    if not Path(OPENSSL).exists():
        raise RuntimeError("openssl is not installed (scripts/setup installs it)")
    done = subprocess.run([OPENSSL, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class Signer:
    """A certificate and its private key, as ``openssl ocsp -rsigner … -rkey …`` take them."""

    cert: Path
    key: Path


class OpensslCa:
    """One authentication CA of the hierarchy as ``openssl ca`` keeps it, in ``folder``: its
    ``index.txt``, and responder certificates (one key for all) signed by it or by another CA."""

    def __init__(self, folder: Path, hierarchy: TestHierarchy, generation: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.own = Signer(hierarchy.auth_ca_path(generation), hierarchy.auth_ca_key_path(generation))
        self.index = folder / "index.txt"
        self.index.write_text("")
        (folder / "ca.cnf").write_text(
            f"[ca]\ndefault_ca = auth\n[auth]\ndatabase = {self.index}\ncertificate = {self.own.cert}\n"
            f"private_key = {self.own.key}\ndefault_md = sha256\n")
        (folder / "extensions.cnf").write_text(EXTENSIONS)
        self.responder_key = folder / "responder.key"
        self._run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                  "-out", self.responder_key)
        self._serial = 0

    def _run(self, *args: str | Path) -> str:
        return openssl(*args, cwd=self.folder)

    def valid(self, cert: Path) -> None:
        """Enter a certificate the CA issued in its database as valid."""
        self._run("ca", "-config", "ca.cnf", "-valid", cert)

    def revoke(self, cert: Path, reason: str = "keyCompromise") -> None:
        """Enter a certificate the CA issued in its database as revoked."""
        self._run("ca", "-config", "ca.cnf", "-revoke", cert, "-crl_reason", reason)

    def responder(self, name: str, issuer: Signer, section: str) -> Signer:
        """A responder certificate named ``name`` for the responder key, issued by ``issuer`` with
        the extensions of ``section`` (see ``SECTIONS``)."""
        request, cert = self.folder / f"{name}.csr", self.folder / f"{name}.pem"
        self._run("req", "-new", "-key", self.responder_key, "-subj", f"/C=JP/O=JPKI-TEST/CN=OCSP {name}",
                  "-out", request)
        self._serial += 1
        self._run("x509", "-req", "-in", request, "-CA", issuer.cert, "-CAkey", issuer.key,
                  "-set_serial", str(self._serial), "-days", "30", "-extfile", "extensions.cnf",
                  "-extensions", section, "-out", cert)
        return Signer(cert, self.responder_key)

    def impostor(self) -> Signer:
        """The CA's own certificate re-signed with the responder key: the CA's name and key
        identifier, another key."""
        cert = self.folder / "impostor.pem"
        self._run("x509", "-in", self.own.cert, "-signkey", self.responder_key, "-days", "30", "-out", cert)
        return Signer(cert, self.responder_key)


class OpensslResponder:
    """``openssl ocsp`` answering for ``ca`` from its index on a reserved loopback port, signing
    with ``signer``; ``options`` go to openssl as they are (``-nmin``, ``-resp_key_id``…)."""

    #: What openssl says once it listens and has loaded its signer, key and index.
    READY = "waiting for OCSP client connections"

    def __init__(self, ca: OpensslCa, signer: Signer, *options: str) -> None:
        self.ca = ca
        self.signer = signer
        self.options = options
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 15.0) -> OpensslResponder:
        """Start openssl and wait until it says it is ready.

        Not until it accepts a probe connection: OpenSSL 3.0's responder spins forever on a
        connection closed before its request line and never answers again (openssl/openssl#31129).
        Nor at its ``ACCEPT`` line, which it prints before it loads the signer and the index.
        ``-ignore_err``: a malformed request (a broken checker's) is answered and the responder
        goes on serving the module's other tests instead of exiting.
        """
        self.process = subprocess.Popen(
            [OPENSSL, "ocsp", "-index", str(self.ca.index), "-CA", str(self.ca.own.cert),
             "-rsigner", str(self.signer.cert), "-rkey", str(self.signer.key), "-rmd", "sha256",
             "-port", str(self.port), "-ignore_err", *self.options],
            cwd=self.ca.folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()
        self._ready.wait(timeout)
        if not any(self.READY in line for line in self.output):
            self.stop()
            said = "".join(self.output).strip() or "nothing said"
            raise RuntimeError(f"openssl ocsp on port {self.port} did not get ready: {said}")
        return self

    def _read(self, stream: IO[str]) -> None:
        """Keep openssl's output (and its pipe drained); wake ``start`` when openssl says it is
        ready or has exited."""
        for line in stream:
            self.output.append(line)
            if self.READY in line:
                self._ready.set()
        self._ready.set()  # it has exited

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        if self._reader is not None:
            self._reader.join(10)
            self._reader = None

    def __enter__(self) -> OpensslResponder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
