"""The HTTP session under the linkage client: authlib's OAuth client over a transport with bounded
answers and one log line per request. Loaded with the client's first request.

Every request the client makes, token requests included, passes through here, so this is the one
place that bounds what the server may send (compressed bodies are refused, so the bound is on the
bytes that are parsed) and the one place that logs traffic: method, path, status and duration,
never headers, queries or bodies.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

import httpx2
from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]
from authlib.oauth2.rfc7523 import PrivateKeyJWT  # type: ignore[import-untyped]

from kiosk import __version__
from kiosk.linkage.answers import ResponseRefused
from kiosk.linkage.auth import ClientKey, sign_assertion
from kiosk.linkage.config import LinkageConfig

logger = logging.getLogger(__name__)

#: The largest answer body accepted; the biggest real answer is a few kilobytes.
MAX_RESPONSE_BYTES = 1024 * 1024


class _BoundedStream(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                raise ResponseRefused(f"the answer exceeds {self._limit} bytes")
            yield chunk

    def close(self) -> None:
        self._inner.close()


class BoundedTransport(httpx2.BaseTransport):
    """Wraps another transport: refuses oversize or compressed answers, logs each exchange."""

    def __init__(self, inner: httpx2.BaseTransport, limit: int = MAX_RESPONSE_BYTES) -> None:
        self._inner = inner
        self._limit = limit

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        started = time.perf_counter()
        try:
            response = self._inner.handle_request(request)
        except Exception as exc:
            logger.debug("%s %s failed after %.1f ms: %s", request.method, request.url.path,
                         _ms(started), type(exc).__name__)
            raise
        logger.debug("%s %s %d %.1f ms", request.method, request.url.path, response.status_code, _ms(started))
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        length = response.headers.get("content-length")
        problem = None
        if encoding not in ("", "identity"):
            problem = "the answer is compressed, which the client did not ask for"
        elif length is not None and (not length.strip().isdigit() or int(length) > self._limit):
            problem = f"the answer announces more than {self._limit} bytes"
        if problem is not None:
            response.close()
            raise ResponseRefused(problem)
        assert isinstance(response.stream, httpx2.SyncByteStream)
        return httpx2.Response(response.status_code, headers=response.headers,
                               stream=_BoundedStream(response.stream, self._limit),
                               extensions=response.extensions)

    def close(self) -> None:
        self._inner.close()


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class Bearer(httpx2.Auth):
    """One access token on one request (not the shared token another thread may be replacing)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class ShortAssertion(PrivateKeyJWT):  # type: ignore[misc]
    """authlib's ``private_key_jwt`` method, with one-minute assertions and a fresh ``jti`` each time.

    Given to ``OAuth2Client`` as an object (the string name needs registering first); the client
    passes itself as ``auth``, its ``client_secret`` being the kiosk's JOSE key.
    """

    def __init__(self, token_endpoint: str, alg: str) -> None:
        super().__init__(token_endpoint, alg=alg)

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return sign_assertion(auth.client_secret, self.alg, auth.client_id, token_endpoint)


def oauth_session(config: LinkageConfig, key: ClientKey, token_url: str,
                  transport: httpx2.BaseTransport | ssl.SSLContext,
                  check_token_answer: Callable[[httpx2.Response], httpx2.Response],
                  ) -> tuple[Any, ShortAssertion]:
    """authlib's client for the server (bounded answers, no proxies, no redirects), its assertion method.

    ``transport`` is the transport to use, or the TLS context of the default one.
    """
    auth_method = ShortAssertion(token_url, key.alg)
    if isinstance(transport, ssl.SSLContext):
        transport = httpx2.HTTPTransport(verify=transport, trust_env=False, retries=0)
    session = OAuth2Client(
        config.client_id, key.key, token_endpoint_auth_method=auth_method,
        grant_type="client_credentials", token_endpoint=token_url,
        transport=BoundedTransport(transport),
        timeout=httpx2.Timeout(connect=config.connect_timeout, read=config.read_timeout,
                               write=config.read_timeout, pool=config.connect_timeout),
        # identity: the size bound applies to the bytes parsed, not to a compressed stream.
        headers={"Accept": "application/json", "Accept-Encoding": "identity",
                 "User-Agent": f"mynumber-kiosk/{__version__}"},
        follow_redirects=False, trust_env=False,
    )
    session.register_compliance_hook("access_token_response", check_token_answer)
    return session, auth_method
