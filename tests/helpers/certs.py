"""Certificates and CRLs for the kiosk's offline check: the test hierarchy's roots and cards, and
throwaway CAs for the cases the hierarchy does not hold."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from kiosk.nfc.sim import TestHierarchy
from kiosk.nfc.sim.hierarchy import GENERATIONS
from kiosk.offline import LocalValidator, OfflineRefused

DAY = dt.timedelta(days=1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def root(hierarchy: TestHierarchy, generation: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(hierarchy.auth_ca_path(generation).read_bytes())


def anchors(hierarchy: TestHierarchy) -> list[tuple[str, x509.Certificate]]:
    return [(f"auth-{g}.pem", root(hierarchy, g)) for g in GENERATIONS]


def cert_der(hierarchy: TestHierarchy, holder: str) -> bytes:
    return hierarchy.holder(holder).auth_certificate.public_bytes(serialization.Encoding.DER)


def refused(call: Callable[[], object]) -> OfflineRefused:
    """The refusal ``call`` raises, which must carry words of its own beyond the code."""
    with pytest.raises(OfflineRefused) as caught:
        call()
    assert caught.value.message and not caught.value.message.startswith(caught.value.code)
    return caught.value


def refusal(call: Callable[[], object]) -> str:
    return refused(call).code


def ca(name: str, not_before: dt.datetime, not_after: dt.datetime, *,
       extensions: tuple[x509.ExtensionType, ...] | None = None,
       ) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A throwaway self-signed CA, for cases the test hierarchy does not hold.

    By default it is a CA (critical BasicConstraints) with a Subject Key Identifier; ``extensions``
    replaces both.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    if extensions is None:
        extensions = (x509.BasicConstraints(ca=True, path_length=0),
                      x509.SubjectKeyIdentifier.from_public_key(key.public_key()))
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number()).not_valid_before(not_before)
               .not_valid_after(not_after))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=isinstance(extension, x509.BasicConstraints))
    return builder.sign(key, hashes.SHA256()), key


def hierarchy_validator(hierarchy: TestHierarchy) -> LocalValidator:
    """A validator as the kiosk loads it: every generation's root and CRL, from their files."""
    crls = [hierarchy.crl_path(g) for g in GENERATIONS]
    return LocalValidator.from_files(hierarchy.trust_anchor_paths(), crls)
