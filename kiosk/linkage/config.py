"""Where the linkage server is and how the kiosk talks to it: the client's settings, checked."""

from __future__ import annotations

import ipaddress
import math
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

MAX_BACKOFF_SECONDS = 10.0
_CLIENT_ID = re.compile(r"[\x21-\x7e]{1,64}")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> None:
    """ValueError unless ``url`` is an https URL, or an http URL of a loopback host, with no extras."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"the linkage server URL {url!r} must be https://host[:port][/path]")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ValueError("the linkage server URL may not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(f"plain http is only allowed to a loopback host, not {parts.hostname!r}; use https")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError(f"the linkage server URL {url!r} has an invalid port") from None


@dataclass(frozen=True)
class LinkageConfig:
    """Where the linkage server is and how the kiosk talks to it.

    TLS certificates are always verified: against ``ca_file`` when given (the institution's CA,
    pinned), otherwise against the system's trust store. Proxies from the environment are not
    used, so nothing outside this configuration decides where requests go.
    """

    base_url: str
    client_id: str
    key_path: Path
    ca_file: Path | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.2

    def __post_init__(self) -> None:
        check_base_url(self.base_url)
        if not isinstance(self.client_id, str) or _CLIENT_ID.fullmatch(self.client_id) is None:
            raise ValueError("the client ID must be 1 to 64 printable ASCII characters")
        for name in ("connect_timeout", "read_timeout"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or not 0 < value <= 300:
                raise ValueError(f"{name} must be a number of seconds in (0, 300]")
        if not isinstance(self.retries, int) or isinstance(self.retries, bool) or not 0 <= self.retries <= 10:
            raise ValueError("retries must be an integer from 0 to 10")
        if not isinstance(self.backoff, int | float) or not math.isfinite(self.backoff) or not (
                0 <= self.backoff <= MAX_BACKOFF_SECONDS):
            raise ValueError(f"backoff must be a number of seconds in [0, {MAX_BACKOFF_SECONDS}]")


def tls_context(config: LinkageConfig) -> ssl.SSLContext:
    """The TLS context of the default transport: the pinned CA file if given, TLS 1.2 at least."""
    try:
        context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"the CA file {config.ca_file} cannot be used: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
