"""How the linkage client judges what came back: an answer, a documented refusal, or a failure.

A failure to exchange HTTP at all is sorted by what resending could do (``Fault.kind``); an answer
becomes the JSON the caller expected, a ``ServerRefused`` with the server's code, or a
``ServerProtocolError``. Words taken from the server or a library are cleaned before they go into
an error: one line, bounded, and scrubbed of any secret the caller names.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from kiosk.linkage.errors import ServerProtocolError, ServerRefused
from kiosk.linkage.models import ERROR_CODE

if TYPE_CHECKING:
    import httpx2

#: Gateway answers that mean the server behind it is not there (now).
GATEWAY_STATUSES = frozenset({502, 503, 504})
#: The server's own 503s: one of the systems behind it (the account directory, the MFA server) did
#: not answer. The server is there and changed nothing, so these are refusals to show, not a
#: gateway's failure to retry or to take the kiosk offline for.
BACKEND_OUTAGES = frozenset({"directory_unavailable", "mfa_unavailable"})
MAX_MESSAGE_CHARS = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_PROBLEM = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class Retry(enum.Enum):
    """Which failures a call may be resent after."""

    #: Never resent (a verification: its nonce is single use).
    NEVER = frozenset[str]()
    #: Only when the request certainly never reached the server (a password, a device grant).
    UNSENT = frozenset({"unsent"})
    #: After any connection failure, timeout or gateway error (calls that are safe to repeat).
    IDEMPOTENT = frozenset({"unsent", "lost", "gateway"})


@dataclass(frozen=True)
class Answer:
    """An HTTP answer reduced to what the client judges: no request, so no secret, is kept."""

    status: int
    content_type: str
    retry_after: str | None
    body: bytes

    @classmethod
    def of(cls, response: httpx2.Response) -> Answer:
        return cls(response.status_code, response.headers.get("content-type", ""),
                   response.headers.get("retry-after"), response.content)


@dataclass(frozen=True)
class Fault:
    """Why an exchange failed, sorted by what resending the request could do."""

    #: "unsent" (never left the kiosk), "lost" (may have reached the server), "gateway" (502-504),
    #: or "garbled" (the server answered something that is not HTTP the client accepts).
    kind: str
    detail: str


class TokenAnswer(Exception):
    """Carries a token endpoint's refusal out of authlib, to be judged like any other answer."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(f"token endpoint answered {answer.status}")
        self.answer = answer


class ResponseRefused(Exception):
    """An answer the transport will not hand on: over the size bound, or compressed."""


def is_transport_failure(exc: Exception) -> bool:
    """Whether ``exc`` is an exchange that failed (httpx2's errors, or an answer refused), not a bug."""
    import httpx2  # already loaded: only a request can fail

    return isinstance(exc, httpx2.HTTPError | ResponseRefused)


def classify_failure(exc: Exception) -> Fault:
    import httpx2

    detail = f"{type(exc).__name__}: {clean(str(exc))}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout):
        # Refused, DNS, TLS handshake, no route: the request was never sent.
        return Fault("unsent", detail)
    if isinstance(exc, httpx2.TimeoutException | httpx2.NetworkError):
        return Fault("lost", detail)
    if isinstance(exc, httpx2.RemoteProtocolError) and str(exc).startswith("Server disconnected"):
        # The connection closed with no answer at all (a crash, a dropped or stale connection):
        # a failure to reach the server, unlike an answer that is not HTTP.
        return Fault("lost", detail)
    return Fault("garbled", detail)


def clean(text: str, redact: Sequence[str] = ()) -> str:
    """Server- or library-supplied words made fit for a message: one line, bounded, secrets removed."""
    for secret in redact:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS - 1] + "…"


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def json_body(answer: Answer) -> object:
    """The answer's body as JSON, or None when it is not (declared and well-formed) JSON."""
    media = answer.content_type.split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        return None
    try:
        return json.loads(answer.body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def retry_after_of(answer: Answer, body: Mapping[str, object] | None) -> int | None:
    value = body.get("retry_after") if body else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 86_400:
        return value
    header = (answer.retry_after or "").strip()
    return int(header) if header.isdigit() and int(header) <= 86_400 else None


def refusal_of(answer: Answer, redact: Sequence[str]) -> ServerRefused | None:
    """The documented refusal an error answer carries, or None when it carries none."""
    body = json_body(answer)
    if not isinstance(body, dict):
        return None
    fields = cast(dict[str, object], body)
    code = fields.get("error")
    if not isinstance(code, str) or ERROR_CODE.fullmatch(code) is None:
        return None
    words = fields.get("message", fields.get("error_description"))
    message = clean(words, redact) if isinstance(words, str) and words else code
    extra: dict[str, object] = {}
    problems = fields.get("problems")
    if isinstance(problems, list) and all(isinstance(p, str) for p in problems):
        extra["problems"] = [clean(p, redact) for p in problems[:50]
                             if _PROBLEM.fullmatch(clean(p, redact))]
    policy = fields.get("policy")
    if isinstance(policy, dict):
        extra["policy"] = dict(policy)
    wait = retry_after_of(answer, fields)
    if wait is not None:
        extra["retry_after"] = wait
    return ServerRefused(code, message, status=answer.status, extra=extra)


def backend_outage(answer: Answer) -> bool:
    """Whether a 503 is the server's own, saying a system behind it did not answer."""
    if answer.status != 503:
        return False
    refusal = refusal_of(answer, ())
    return refusal is not None and refusal.code in BACKEND_OUTAGES


def judge(answer: Answer, expect: tuple[int, ...], redact: Sequence[str] = ()) -> object:
    """The JSON of an expected answer; otherwise the refusal or protocol error it amounts to."""
    if answer.status in expect:
        body = json_body(answer)
        if body is None:
            raise ServerProtocolError(f"the server answered {answer.status} without a JSON body")
        return body
    refusal = refusal_of(answer, redact) if 400 <= answer.status < 500 or backend_outage(answer) else None
    if answer.status == 429 and (refusal is None or refusal.code != "rate_limited"):
        # A gateway's own rate limit: the same meaning, without the server's words.
        wait = retry_after_of(answer, None)
        refusal = ServerRefused("rate_limited", "too many requests; try again later", status=429,
                                extra={} if wait is None else {"retry_after": wait})
    if refusal is not None:
        raise refusal
    if 400 <= answer.status < 500:
        raise ServerProtocolError(f"the server answered {answer.status} without a documented error code")
    raise ServerProtocolError(f"the server answered with HTTP status {answer.status}")
