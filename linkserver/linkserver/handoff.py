"""The salvage hand-off to a webhook: a JSON POST signed with the server's signing key.

The body (account ID, mode, the ticket's expiry, the operation ID and the time; never the ticket)
is fixed when the ticket is issued. Each attempt POSTs those same bytes with:

- ``Linkserver-Signature``: a detached JWS (RFC 7515, appendix F) over the body: the compact form
  with its middle part left empty, ``ES256``, ``kid`` the key's thumbprint as in the server's
  ``/.well-known/jwks.json``. The receiver puts base64url(body) between the two dots and checks the
  result against that key.
- ``Idempotency-Key``: the operation ID, the same on every attempt, so a receiver that saw a
  delivery whose answer got lost can tell the retry from a new hand-off.

A 2xx answer delivers it; a 5xx, 408 or 429 or no answer is retried like mail; any other answer is
a refusal for good, kept visible with its words.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
from joserfc import jws
from joserfc.jwk import ECKey

from linkserver.tokens import TOKEN_ALGORITHM

SIGNATURE_HEADER = "Linkserver-Signature"
SIGNATURE_TYPE = "linkserver-handoff+jws"
#: Answers after which the POST is tried again; every other non-2xx answer is final.
RETRIED_STATUSES = {408, 429}


def sign_detached(key: ECKey, body: bytes) -> str:
    """A detached compact JWS over ``body``: ``header..signature``."""
    header = {"alg": TOKEN_ALGORITHM, "kid": key.thumbprint(), "typ": SIGNATURE_TYPE}
    protected, _payload, signature = jws.serialize_compact(header, body, key,
                                                           algorithms=[TOKEN_ALGORITHM]).split(".")
    return f"{protected}..{signature}"


class HandoffSender:
    """POSTs a hand-off's body to the configured webhook, signed."""

    def __init__(self, url: str, key: ECKey, ca_file: Path | None = None, timeout: float = 30) -> None:
        self.url = url
        self.key = key
        self.ca_file = ca_file
        self.timeout = timeout

    def post(self, body: str, operation_id: str) -> tuple[bool, str, bool]:
        """(delivered, the words if not, whether that refusal is final)."""
        data = body.encode("utf-8")
        headers = {"Content-Type": "application/json", "Idempotency-Key": operation_id,
                   SIGNATURE_HEADER: sign_detached(self.key, data)}
        verify: bool | str = str(self.ca_file) if self.ca_file else True
        try:
            answer = httpx2.post(self.url, content=data, headers=headers, timeout=self.timeout, verify=verify)
        except httpx2.HTTPError as exc:
            return False, f"the webhook {self.url} could not be reached: {exc}", False
        if 200 <= answer.status_code < 300:
            return True, "", False
        words = f"the webhook {self.url} answered {answer.status_code} {answer.reason_phrase}".rstrip()
        final = answer.status_code < 500 and answer.status_code not in RETRIED_STATUSES
        return False, words, final


def check_webhook(url: str, ca_file: Path | None = None, timeout: float = 10) -> str:
    """Connect to the webhook's host (with a TLS handshake for https): words, or OSError with words."""

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if parts.scheme != "https":
                return f"webhook {host}:{port}: connected (plain HTTP, loopback only)"
            context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
            with context.wrap_socket(sock, server_hostname=host):
                return f"webhook {host}:{port}: connected, TLS certificate verified"
    except (OSError, ssl.SSLError) as exc:
        raise OSError(f"cannot reach the webhook {host}:{port}: {exc}") from None
