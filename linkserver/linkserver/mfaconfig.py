"""The [mfa] table: which system resets the accounts' second factors, and its settings.

``backend`` is "code" (the default: a one-time enrolment code for the institution's own
registration page), "builtin" (the server enrols a TOTP secret it keeps sealed) or "privacyidea"
(an MFA server reached over its REST API). Each wrong value names the key and the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linkserver.configread import TableReader

#: The backends ``mfa.backend`` may name.
MFA_BACKENDS = ("code", "builtin", "privacyidea")
#: What an authenticator app shows above the account ID: the institution's name, one line.
ISSUER_NAME = re.compile(r"[^\x00-\x1f\x7f:]{1,64}")


@dataclass(frozen=True)
class PrivacyIdeaSettings:
    """The [mfa] keys of the privacyIDEA backend (see linkserver.example.toml)."""

    #: privacyIDEA's base URL, https:// (http:// only on loopback, for tests).
    url: str
    #: The administrator the server signs in as, and the file holding its password.
    admin_user: str
    admin_password_file: Path
    #: The realm the kiosk's accounts belong to in privacyIDEA.
    realm: str
    #: The CA certificate (PEM) privacyIDEA's certificate must chain to; None: the system's CAs.
    ca_file: Path | None = None
    #: Seconds to wait for privacyIDEA before the reset fails with ``mfa_unavailable``.
    timeout_seconds: int = 5


@dataclass(frozen=True)
class MfaSettings:
    """The [mfa] table."""

    backend: str = "code"
    #: The issuer an authenticator app shows for the enrolled account (the builtin backend's URI).
    issuer_name: str = "University"
    #: The privacyIDEA backend's settings; None for the other backends.
    privacyidea: PrivacyIdeaSettings | None = None


def _privacyidea(table: TableReader) -> PrivacyIdeaSettings:
    url = table.text("url", required=True)
    loopback = re.match(r"http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)", url)
    if not (re.fullmatch(r"https://[^\s/]+(/\S*)?", url) or loopback):
        raise table.fail("url", f"must be an https:// URL (http:// only on loopback), not {url!r}")
    return PrivacyIdeaSettings(
        url=url.rstrip("/"), admin_user=table.text("admin_user", required=True),
        admin_password_file=table.path("admin_password_file", required=True),  # type: ignore[arg-type]
        realm=table.text("realm", required=True), ca_file=table.path("ca_file"),
        timeout_seconds=table.number("timeout_seconds", PrivacyIdeaSettings.timeout_seconds, 1, 120))


def mfa_settings(data: dict[str, Any], source: Path) -> MfaSettings:
    """The [mfa] table of the settings file ``source``; raises ConfigError naming key and file."""
    table = TableReader(data, "mfa", source)
    backend = table.text("backend", default=MfaSettings.backend)
    if backend not in MFA_BACKENDS:
        raise table.fail("backend", f"must be one of {', '.join(MFA_BACKENDS)}, not {backend!r}")
    issuer = table.text("issuer_name", default=MfaSettings.issuer_name)
    if not ISSUER_NAME.fullmatch(issuer) or not issuer.strip():
        raise table.fail("issuer_name", f"must be 1-64 characters on one line without ':', not {issuer!r}")
    privacyidea = _privacyidea(table) if backend == "privacyidea" else None
    table.finish()
    return MfaSettings(backend=backend, issuer_name=issuer.strip(), privacyidea=privacyidea)
