"""The simulated card satisfies another reader of the card: OpenSC's JPKI driver (Debian's)."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from tests.conftest import Reader
from tests.helpers.tripwire import assert_my_number_untouched


def opensc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60)


def test_opensc_binds_the_jpki_driver_and_reads_the_card(
    reader: Reader, make_card: Callable[..., SimulatedCard], hierarchy: TestHierarchy
) -> None:
    reader.insert(make_card())
    name = opensc("opensc-tool", "-r", reader.name, "-n")
    assert name.returncode == 0 and name.stdout.strip() == "jpki", name.stderr

    pins = opensc("pkcs15-tool", "-r", reader.name, "--list-pins")
    assert "User Authentication PIN" in pins.stdout
    assert "Tries left     : 3" in pins.stdout and "Tries left     : 5" in pins.stdout

    read = opensc("pkcs15-tool", "-r", reader.name, "--read-certificate", "01")
    assert read.returncode == 0, read.stderr
    assert x509.load_pem_x509_certificate(read.stdout.encode()) == (
        hierarchy.holder("linked").auth_certificate
    )


def test_opensc_signs_with_the_authentication_key(
    reader: Reader, make_card: Callable[..., SimulatedCard], hierarchy: TestHierarchy,
    tmp_path: Path,
) -> None:
    card = make_card()
    reader.insert(card)
    digest, signature = tmp_path / "digest", tmp_path / "signature"
    digest.write_bytes(hashlib.sha256(b"opensc").digest())
    result = opensc("pkcs15-crypt", "-r", reader.name, "--sign", "--pin", "1234", "-k", "01",
                    "--sha-256", "--pkcs1", "-i", str(digest), "-o", str(signature))
    assert result.returncode == 0, result.stderr
    key = hierarchy.holder("linked").auth_certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature.read_bytes(), b"opensc", padding.PKCS1v15(), hashes.SHA256())
    # OpenSC's probing of other drivers never woke the My Number file.
    assert_my_number_untouched(card)
