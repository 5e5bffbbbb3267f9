"""The HTTP transport under the linkage client: bounded answers and one log line per request.

Every request the client makes, token requests included, passes through here, so this is the one
place that bounds what the server may send (compressed bodies are refused, so the bound is on the
bytes that are parsed) and the one place that logs traffic: method, path, status and duration,
never headers, queries or bodies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx2

logger = logging.getLogger(__name__)

#: The largest answer body accepted; the biggest real answer is a few kilobytes.
MAX_RESPONSE_BYTES = 1024 * 1024


class ResponseRefused(Exception):
    """An answer the transport will not hand on: over the size bound, or compressed."""


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
