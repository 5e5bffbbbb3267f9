"""The kiosk's client of the linkage server: tokens, challenges, verifications, operations, evidence.

One ``LinkageClient`` per kiosk, shared by the worker threads. It gets its access token with the
client-credentials grant and ``private_key_jwt`` (authlib), keeps it, and lets authlib renew it
before it expires; a token the server no longer accepts is replaced once per call.

Whether a call is resent after a failure depends on what resending could do: calls that cannot
change anything twice (reads, challenges, operations under their idempotency key, evidence
uploads) are retried with exponential backoff on connection failures, timeouts and 502/503/504;
a verification is never resent (its nonce is single use); a password is resent only when the
first attempt certainly never left the kiosk.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from kiosk.linkage.answers import (
    GATEWAY_STATUSES,
    Answer,
    Fault,
    Retry,
    TokenAnswer,
    backend_outage,
    classify_failure,
    is_transport_failure,
    judge,
    refusal_of,
)
from kiosk.linkage.auth import ASSERTION_TYPE, load_client_key, sign_assertion
from kiosk.linkage.config import MAX_BACKOFF_SECONDS, LinkageConfig, tls_context
from kiosk.linkage.errors import (
    Cancelled,
    LinkageError,
    ServerProtocolError,
    ServerRefused,
    ServerUnreachable,
    TimedOut,
)
from kiosk.linkage.inputs import batches, check_account, check_id, check_length, json_object
from kiosk.linkage.models import (
    IDEMPOTENCY_KEY,
    MAX_NONCE_BYTES,
    MIN_NONCE_BYTES,
    OPAQUE_ID,
    OPERATION_KINDS,
    READER_STATES,
    SESSION_KEY,
    Challenge,
    DeviceAuthorization,
    DevicePoll,
    EvidenceFate,
    HealthReport,
    Operation,
    Roster,
    ServerInfo,
    VerificationResult,
    parse_challenge,
    parse_device_authorization,
    parse_evidence_fates,
    parse_health,
    parse_operation,
    parse_roster,
    parse_server_info,
    parse_token,
    parse_verification,
)
from kiosk.linkage.protocol import b64url

if TYPE_CHECKING:
    import httpx2

    from kiosk.linkage.transport import ShortAssertion

logger = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/token"
DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
#: RFC 8628 §3.5: on ``slow_down`` the interval grows by five seconds.
SLOW_DOWN_STEP = 5
MAX_SEALED_BYTES = 32 * 1024
SEALED = re.compile(r"[A-Za-z0-9_.-]+")
MAX_CERTIFICATE_BYTES = 16_500
MAX_SIGNATURE_BYTES = 1_050
MAX_PASSWORD_CHARS = 1024
VERSION = re.compile(r"[\x21-\x7e]{1,64}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
#: The most outbox items a heartbeat reports (the server's bound).
MAX_OUTBOX_DEPTH = 1_000_000
#: The longest a keep-alive asks the server to hold its answer while staff decide (seconds).
LONG_POLL = 8.0


# -- the client -------------------------------------------------------------------------------------


class LinkageClient:
    """The linkage server's API as blocking calls, for the kiosk's worker threads (never the GUI's).

    ``transport`` replaces the HTTP transport (tests, or a transport with its own TLS setup); the
    configuration's ``ca_file`` only applies to the default one. Either way answers pass through
    ``BoundedTransport``.
    """

    def __init__(self, config: LinkageConfig, *, transport: httpx2.BaseTransport | None = None) -> None:
        self.config = config
        self._base = config.base_url.rstrip("/")
        self._token_url = self._base + TOKEN_PATH
        self._key = load_client_key(config.key_path)
        self._transport: httpx2.BaseTransport | ssl.SSLContext = transport or tls_context(config)
        # The assertions' audience is the token URL the server calls its own, learnt from
        # /v1/server-info: behind a proxy or load balancer the kiosk's base URL is another one.
        self._audience: str | None = None
        self._closed = threading.Event()
        self._token_lock = threading.Lock()
        # The HTTP session (httpx2 and authlib) is made on the first request, not before.
        self._session_lock = threading.Lock()
        self._session: tuple[Any, ShortAssertion] | None = None

    def _http(self) -> tuple[Any, ShortAssertion]:
        """authlib's client and the assertion method, made on first use (a closed client makes none)."""
        with self._session_lock:
            if self._session is None:
                if self._closed.is_set():
                    raise Cancelled("the linkage client is closed")
                from kiosk.linkage.transport import oauth_session

                self._session = oauth_session(self.config, self._key, self._token_url, self._transport,
                                              self._check_token_answer)
            return self._session

    @property
    def _oauth(self) -> Any:
        return self._http()[0]

    # -- lifecycle ------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop: waits between retries end at once, and the connections are closed."""
        self._closed.set()
        with self._session_lock:
            session, self._session = self._session, None
        if session is not None:
            session[0].close()

    def __enter__(self) -> LinkageClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # -- discovery --------------------------------------------------------------------------------------

    def server_info(self) -> ServerInfo:
        """The server's endpoints, sealing key and policies (no token needed)."""
        info = parse_server_info(self._call("GET", "/v1/server-info", retry=Retry.IDEMPOTENT,
                                            authenticated=False))
        if info.token_url != self._audience:
            logger.debug("client assertions name the server's token URL %s", info.token_url)
            self._audience = info.token_url
        return info

    def _assertion_audience(self) -> str:
        """The server's own token URL, asked for once (it names itself as assertions' audience)."""
        audience = self._audience
        if audience is None:
            audience = self.server_info().token_url
        return audience

    def health(self) -> bool:
        """Whether the server answers that it and its database are fine; False for any failure.

        A probe, so it is tried once: the caller probes again on its own schedule.
        """
        try:
            return parse_health(self._call("GET", "/health", retry=Retry.NEVER, authenticated=False))
        except LinkageError as exc:
            logger.debug("health check failed: %s", exc.code)
            return False

    # -- verification ---------------------------------------------------------------------------------

    def challenge(self) -> Challenge:
        """A fresh single-use nonce for the card to sign (a lost one is simply never used)."""
        return parse_challenge(self._call("POST", "/v1/challenges", retry=Retry.IDEMPOTENT, expect=(201,)))

    def verify(self, account_id: str, nonce: bytes, certificate: bytes,
               signature: bytes) -> VerificationResult:
        """The server's match / no match for the claimed account; refusals are ServerRefused.

        Never resent: the nonce is single use, so a second attempt could only be refused. A
        timeout is ServerUnreachable, and the kiosk starts again with a new challenge.
        """
        check_account(account_id)
        check_length("nonce", nonce, MIN_NONCE_BYTES, MAX_NONCE_BYTES)
        check_length("certificate", certificate, 1, MAX_CERTIFICATE_BYTES)
        check_length("signature", signature, 1, MAX_SIGNATURE_BYTES)
        body = {"account_id": account_id, "nonce": b64url(nonce), "certificate": b64url(certificate),
                "signature": b64url(signature)}
        return parse_verification(self._call("POST", "/v1/verifications", retry=Retry.NEVER, json_body=body))

    # -- operations ---------------------------------------------------------------------------------------

    def create_operation(self, kind: str, verification_id: str, params: Mapping[str, object],
                         idempotency_key: str) -> Operation:
        """Ask for an operation; the same key and request always give the same operation."""
        if kind not in OPERATION_KINDS:
            raise ValueError(f"unknown operation kind {kind!r}")
        check_id("verification ID", verification_id, OPAQUE_ID)
        check_id("idempotency key", idempotency_key, IDEMPOTENCY_KEY)
        body = {"kind": kind, "verification_id": verification_id, "params": json_object(params)}
        operation = parse_operation(self._call(
            "POST", "/v1/operations", retry=Retry.IDEMPOTENT, expect=(200, 201), json_body=body,
            headers={"Idempotency-Key": idempotency_key}))
        if operation.kind != kind:
            raise ServerProtocolError("the server answered with an operation of another kind")
        return operation

    def get_operation(self, operation_id: str) -> Operation:
        """The operation as it stands now (this kiosk's operations only)."""
        check_id("operation ID", operation_id, OPAQUE_ID)
        operation = parse_operation(self._call("GET", f"/v1/operations/{quote(operation_id)}",
                                               retry=Retry.IDEMPOTENT))
        if operation.operation_id != operation_id:
            raise ServerProtocolError("the server answered with another operation")
        return operation

    def keep_alive(self, operation_id: str, session_key: str, wait: float = 0) -> Operation:
        """Tell the server this session still waits; the operation as it stands now.

        An operation awaiting staff expires on the server a few seconds after the keep-alives
        stop, so a kiosk that gave up or died leaves nothing for staff to approve. With ``wait``
        the server holds its answer up to that many seconds until staff decide (a long-poll).
        """
        query = f"?wait={wait:g}" if wait > 0 else ""
        return self._session_call(operation_id, session_key, "keepalive" + query, None)

    def cancel_operation(self, operation_id: str, session_key: str, reason: str | None = None) -> Operation:
        """End the operation on the server (every way out of a session calls this); idempotent.

        An operation already completed, refused or expired is answered as it is, unchanged.
        """
        if reason is not None and not re.fullmatch(r"[a-z_]{1,32}", reason):
            raise ValueError("a cancel reason is 1 to 32 lower-case letters or '_'")
        return self._session_call(operation_id, session_key, "cancel", {"reason": reason} if reason else None)

    def _session_call(self, operation_id: str, session_key: str, action: str,
                      body: dict[str, str] | None) -> Operation:
        check_id("operation ID", operation_id, OPAQUE_ID)
        check_id("session key", session_key, SESSION_KEY)
        operation = parse_operation(self._call(
            "POST", f"/v1/operations/{quote(operation_id)}/{action}", retry=Retry.IDEMPOTENT,
            json_body=body, headers={"Session-Key": session_key}, redact=(session_key,)))
        if operation.operation_id != operation_id:
            raise ServerProtocolError("the server answered with another operation")
        return replace(operation, session_key=session_key)

    def wait_for_decision(self, operation_id: str, session_key: str, *, cancel: threading.Event,
                          poll: float = 1.0, timeout: float = 600) -> Operation:
        """Keep the operation alive until staff decided (the status is no longer ``awaiting_approval``).

        Each keep-alive is a long-poll: the server answers as soon as staff decide, or after
        ``long_poll`` seconds (kept well inside the read timeout and the server's keep-alive
        timeout); a server that answers at once is asked again ``poll`` seconds later. Raises
        Cancelled once ``cancel`` is set (the caller then cancels the operation, which ends a
        long-poll under way at once; otherwise it runs out within ``long_poll`` seconds). After
        ``timeout`` seconds the last answer is returned, still ``awaiting_approval``, for the
        caller to treat as undecided.
        """
        if not poll > 0 or not timeout >= 0:
            raise ValueError("poll must be positive and timeout not negative")
        deadline = time.monotonic() + timeout
        while True:
            if cancel.is_set():
                raise Cancelled("the wait for a staff decision was cancelled")
            asked = time.monotonic()
            hold = min(self.long_poll, max(0.0, deadline - asked))
            operation = self.keep_alive(operation_id, session_key, hold)
            if cancel.is_set():  # the session ended while the long-poll was out (its end woke it)
                raise Cancelled("the wait for a staff decision was cancelled")
            remaining = deadline - time.monotonic()
            if operation.status != "awaiting_approval" or remaining <= 0:
                return operation
            if cancel.wait(min(max(0.0, poll - (time.monotonic() - asked)), remaining)):
                raise Cancelled("the wait for a staff decision was cancelled")

    @property
    def long_poll(self) -> float:
        """How long a keep-alive asks the server to hold its answer: within the read timeout, with
        two seconds to spare, and at most ``LONG_POLL`` seconds; none when the timeout is short."""
        return max(0.0, min(LONG_POLL, self.config.read_timeout - 2.0))

    def set_password(self, operation_id: str, new_password: str, session_key: str) -> Operation:
        """Send the user's new password for an approved password reset, from the session that asked.

        Resent only when the first attempt never left the kiosk. The password is not kept,
        logged, or put in any error (a refusal's words are scrubbed of it too).
        """
        check_id("operation ID", operation_id, OPAQUE_ID)
        check_id("session key", session_key, SESSION_KEY)
        if not isinstance(new_password, str) or not 1 <= len(new_password) <= MAX_PASSWORD_CHARS:
            raise ValueError(f"the new password must be 1 to {MAX_PASSWORD_CHARS} characters")
        operation = parse_operation(self._call(
            "POST", f"/v1/operations/{quote(operation_id)}/password", retry=Retry.UNSENT,
            json_body={"new_password": new_password}, headers={"Session-Key": session_key},
            redact=(new_password, session_key)))
        if operation.operation_id != operation_id:
            raise ServerProtocolError("the server answered with another operation")
        return replace(operation, session_key=session_key)

    # -- the device authorization grant (pre-link) ------------------------------------------------------

    def _client_form(self, **fields: str) -> Callable[[], dict[str, str]]:
        """A form with a new client assertion each time it is built (each ``jti`` is single use)."""
        audience = self._assertion_audience()

        def build() -> dict[str, str]:
            assertion = sign_assertion(self._key.key, self._key.alg,
                                       self.config.client_id, audience)
            return {**fields, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}

        return build

    def device_authorize(self) -> DeviceAuthorization:
        """Start the RFC 8628 device grant: the user code and URI to show, the device code to poll."""
        return parse_device_authorization(self._call(
            "POST", "/oauth/device_authorization", retry=Retry.UNSENT, authenticated=False,
            form=self._client_form(scope="account")))

    def poll_device_token(self, device_code: str, *, interval: int = SLOW_DOWN_STEP) -> DevicePoll:
        """Poll the token endpoint once. ``interval`` is the one in force; ``slow_down`` raises it.

        ``access_denied``, ``expired_token`` and ``invalid_grant`` are ServerRefused with that code.
        """
        if not isinstance(device_code, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", device_code):
            raise ValueError("not a device code")
        try:
            data = self._call("POST", TOKEN_PATH, retry=Retry.UNSENT, authenticated=False,
                              form=self._client_form(grant_type=DEVICE_GRANT_TYPE, device_code=device_code))
        except ServerRefused as exc:
            if exc.status == 400 and exc.code == "authorization_pending":
                return DevicePoll("pending", interval)
            if exc.status == 400 and exc.code == "slow_down":
                return DevicePoll("slow_down", interval + SLOW_DOWN_STEP)
            raise
        token, _lifetime = parse_token(data, "device token answer")
        return DevicePoll("done", interval, token)

    def wait_for_device_token(self, authorization: DeviceAuthorization, *, cancel: threading.Event) -> str:
        """Poll, at the server's interval, until the user signed in; the account token.

        Raises Cancelled when ``cancel`` is set, ServerRefused when the user refused or the code
        expired, and TimedOut if the server still says pending after the code's lifetime.
        """
        interval = max(1, authorization.interval)
        deadline = time.monotonic() + authorization.expires_in
        while True:
            if cancel.wait(interval):
                raise Cancelled("the wait for the account sign-in was cancelled")
            answer = self.poll_device_token(authorization.device_code, interval=interval)
            if answer.status == "done" and answer.account_token is not None:
                return answer.account_token
            interval = answer.interval
            if time.monotonic() > deadline + interval:
                raise TimedOut("the sign-in code expired before the user signed in")

    # -- offline evidence -------------------------------------------------------------------------------

    def upload_evidence(self, bundles: Sequence[tuple[str, str]],
                        voucher_shown: Mapping[str, bool] | None = None) -> list[EvidenceFate]:
        """Upload sealed evidence, in batches the server accepts; the fate of each, in order.

        Safe to repeat: the server answers a key it has seen with the fate it recorded (marked
        ``duplicate``). So when a later batch fails after earlier ones were answered, the error
        is raised and the caller simply uploads the same bundles again. ``voucher_shown`` says, by
        key, whether the user was shown the voucher (False: never; a key left out: not said).
        """
        for key, sealed in bundles:
            check_id("idempotency key", key, IDEMPOTENCY_KEY)
            if not isinstance(sealed, str) or len(sealed) > MAX_SEALED_BYTES or not SEALED.fullmatch(sealed):
                raise ValueError(f"the sealed evidence for {key} is not a compact JWE within "
                                 f"{MAX_SEALED_BYTES} bytes")
        fates: list[EvidenceFate] = []
        for batch in batches(list(bundles)):
            keys = [key for key, _ in batch]
            shown = voucher_shown or {}
            body = {"bundles": [{"idempotency_key": key, "sealed": sealed,
                                 **({"voucher_shown": shown[key]} if key in shown else {})}
                                for key, sealed in batch]}
            fates += parse_evidence_fates(
                self._call("POST", "/v1/offline/evidence", retry=Retry.IDEMPOTENT, json_body=body), keys)
        return fates

    # -- heartbeat ------------------------------------------------------------------------------------

    def heartbeat(self, report: HealthReport) -> Roster:
        """Report the kiosk's health; the answer is its offline roster. Harmless to repeat."""
        if report.reader_state not in READER_STATES:
            raise ValueError(f"{report.reader_state!r} is no reader state")
        check_id("version", report.version, VERSION)
        body: dict[str, object] = {"version": report.version, "reader_state": report.reader_state,
                                   "outbox_depth": min(max(report.outbox_depth, 0), MAX_OUTBOX_DEPTH)}
        reader_name = CONTROL.sub(" ", report.reader_name or "").strip()[:200]
        if reader_name:
            body["reader_name"] = reader_name
        if report.last_sync_at is not None:
            body["last_sync_at"] = report.last_sync_at.astimezone(dt.UTC).isoformat()
        return parse_roster(self._call("POST", "/v1/kiosks/heartbeat", retry=Retry.IDEMPOTENT,
                                       json_body=body))

    # -- tokens ---------------------------------------------------------------------------------------------

    def _check_token_answer(self, response: httpx2.Response) -> httpx2.Response:
        """authlib's hook on token answers: a refusal leaves authlib, a success is checked first."""
        answer = Answer.of(response)
        if answer.status != 200:
            raise TokenAnswer(answer)
        parse_token(judge(answer, (200,)))
        return response

    def _access_token(self) -> str:
        """The cached access token, fetched or renewed first when needed.

        A fresh assertion is signed for each attempt, so resending a token request is harmless.
        """
        with self._token_lock:
            # authlib posts to the token endpoint through base_url; the assertion names the
            # audience the server expects.
            self._http()[1].token_endpoint = self._assertion_audience()
            refusal = self._with_retries("POST " + TOKEN_PATH, Retry.IDEMPOTENT, self._renew_token)
            if refusal is not None:
                if refusal.status == 401:
                    self._audience = None  # perhaps the server moved: ask again next time
                judge(refusal, ())
            token = self._oauth.token
            if token is None or not isinstance(token.get("access_token"), str):
                raise ServerProtocolError("the token endpoint gave no access token")
            return str(token["access_token"])

    def _renew_token(self) -> None:
        if self._oauth.token is None:
            self._oauth.fetch_token()
        else:
            # Configured with grant_type="client_credentials", authlib fetches a new token when
            # the cached one is within its leeway (60 s) of expiring.
            self._oauth.ensure_active_token(self._oauth.token)

    def _forget_token(self, used: str) -> None:
        with self._token_lock:
            token = self._oauth.token
            if token is not None and token.get("access_token") == used:
                self._oauth.token = None

    # -- requests --------------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, retry: Retry, expect: tuple[int, ...] = (200,),
              authenticated: bool = True, json_body: object = None,
              form: Callable[[], dict[str, str]] | None = None, headers: Mapping[str, str] | None = None,
              redact: Sequence[str] = ()) -> object:
        """One API call, retried as ``retry`` allows; the JSON of an expected answer, else an error."""
        renewed = False
        while True:
            token = self._access_token() if authenticated else None
            send = functools.partial(self._send, method, self._base + path, token, json_body, form, headers)
            answer = self._with_retries(f"{method} {path}", retry, send)
            assert answer is not None
            refusal = refusal_of(answer, redact) if answer.status == 401 else None
            if token is not None and not renewed and refusal is not None and refusal.code == "invalid_token":
                # The server no longer takes the token (restarted with a new key, clock moved):
                # the request was refused before anything happened, so one more try is safe.
                renewed = True
                self._forget_token(token)
                continue
            return judge(answer, expect, redact)

    def _send(self, method: str, url: str, token: str | None, json_body: object,
              form: Callable[[], dict[str, str]] | None, headers: Mapping[str, str] | None) -> Answer:
        extra: dict[str, Any] = {}
        if json_body is not None:
            extra["json"] = json_body
        if form is not None:
            extra["data"] = form()
        from kiosk.linkage.transport import Bearer  # loaded with the session

        response = self._oauth.request(method, url, withhold_token=True,
                                       auth=Bearer(token) if token is not None else None,
                                       headers=dict(headers or {}), **extra)
        return Answer.of(response)

    def _with_retries(self, what: str, retry: Retry,
                      attempt: Callable[[], Answer | None]) -> Answer | None:
        """Run ``attempt`` until it gives a non-gateway answer (or None) or a failure may not be retried.

        A failure ends as ServerUnreachable (the server is not there) or ServerProtocolError (it
        answered something that is not HTTP). Errors are raised outside the ``except`` blocks, so
        they do not drag the failed request, and the body it carried, along as their context.
        """
        tries = 0
        while True:
            if self._closed.is_set():
                raise Cancelled("the linkage client is closed")
            answer: Answer | None = None
            fault: Fault | None = None
            try:
                answer = attempt()
            except TokenAnswer as exc:
                answer = exc.answer
            except Exception as exc:
                if not is_transport_failure(exc):
                    raise
                fault = classify_failure(exc)
            if fault is None:
                if answer is None or answer.status not in GATEWAY_STATUSES or backend_outage(answer):
                    return answer
                fault = Fault("gateway", f"HTTP {answer.status}")
            if fault.kind == "garbled":
                raise ServerProtocolError(f"{what}: {fault.detail}")
            if fault.kind not in retry.value or tries >= self.config.retries:
                raise ServerUnreachable(f"{what}: {fault.detail}")
            delay = min(MAX_BACKOFF_SECONDS, self.config.backoff * 2 ** tries) * random.uniform(0.75, 1.25)
            tries += 1
            logger.info("%s failed (%s); retry %d of %d in %.2f s", what, fault.detail, tries,
                        self.config.retries, delay)
            if self._closed.wait(delay):
                raise Cancelled("the linkage client is closed")
