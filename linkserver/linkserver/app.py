"""The HTTP API (FastAPI): routes, authentication, error bodies, size limits and request logging.

The routes only translate between HTTP and the services; every decision lives in the services.
Handlers are plain functions (run on the worker pool), since each does blocking database and
RSA work.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations at run
# time, and the dependency aliases defined inside ``create_app`` must resolve as objects.

import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import Match

from linkserver.device import GRANT_TYPE, DeviceGrant
from linkserver.errors import API_CODES, CODES, ApiError
from linkserver.logsafe import printable
from linkserver.offline import OfflineService, b64url, unb64url
from linkserver.operations import OperationService, OperationView
from linkserver.pages import done_html, pick_language, sign_in_html, voucher_done_html, voucher_html
from linkserver.ratelimit import RateLimiter
from linkserver.schemas import (
    CancelRequest,
    ChallengeResponse,
    CodeList,
    DecisionRequest,
    DeviceAuthorizationResponse,
    ErrorBody,
    EvidenceBatch,
    EvidenceBatchResponse,
    EvidenceResult,
    Health,
    OAuthErrorBody,
    OperationList,
    OperationRequest,
    OperationResponse,
    PasswordRequest,
    ServerInfo,
    TokenResponse,
    VerificationRequest,
    VerificationResponse,
    VoucherRequest,
    VoucherResponse,
)
from linkserver.service import VerificationService
from linkserver.tokens import ASSERTION_TYPE, MAX_ASSERTION_BYTES, SCOPES, AuthError, Caller

logger = logging.getLogger("linkserver.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_FORM_BYTES = 16 * 1024
STATIC = FilePath(__file__).with_name("static")
#: The operation's session key, for keep-alives, cancel and the password: a missing or wrong one
#: is 403 ``session_key_invalid``.
SessionKey = Annotated[str | None, Header(
    alias="Session-Key", max_length=128,
    description="The session_key from the answer that created the operation: only the kiosk session "
                "that asked may act on it")]


def _error(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    body: dict[str, object] = {"error": code, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/json")


ERROR_WORDS = {400: "Malformed request", 401: "Missing or invalid access token",
               403: "Refused (see the error code)", 404: "Not found", 409: "Conflict with the current state",
               413: "Request body too large", 422: "Invalid request (see the error code)",
               429: "Rate limited (see Retry-After)"}


def _documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": ERROR_WORDS[status]} for status in statuses}


def _documented_json(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Error bodies of a route whose own answers are not JSON (the model would take their media type)."""
    return {status: {"description": ERROR_WORDS[status], "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}} for status in statuses}


def _form_body(properties: dict[str, dict[str, Any]], required: list[str]) -> dict[str, Any]:
    # Unknown parameters are ignored (RFC 6749 §3.2); a repeated one is refused.
    return {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "properties": properties, "required": required,
        "additionalProperties": {"type": "string"},
    }}}}}


OAUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": OAuthErrorBody, "description": "OAuth error (RFC 6749 §5.2, RFC 8628 §3.5)"},
    401: {"model": OAuthErrorBody, "description": "Client authentication failed"},
    413: {"model": ErrorBody, "description": "Request body too large"},
    429: {"model": ErrorBody, "description": "Rate limited"},
}
_SCOPE_NAMES = "|".join(SCOPES)
CLIENT_AUTHENTICATION: dict[str, dict[str, Any]] = {
    "client_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "client_assertion_type": {"type": "string", "enum": [ASSERTION_TYPE]},
    "client_assertion": {"type": "string", "minLength": 5, "maxLength": MAX_ASSERTION_BYTES,
                         "pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
                         "description": "a JWT signed with the client's key (RFC 7523, private_key_jwt)"},
}
TOKEN_FORM = _form_body({
    "grant_type": {"type": "string", "enum": ["client_credentials", GRANT_TYPE]},
    "scope": {"type": "string", "maxLength": 200, "pattern": rf"^({_SCOPE_NAMES})( ({_SCOPE_NAMES}))*$"},
    "device_code": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[A-Za-z0-9_-]+$"},
    **CLIENT_AUTHENTICATION,
}, ["grant_type", "client_assertion_type", "client_assertion"])
DEVICE_AUTHORIZATION_FORM = _form_body({
    "scope": {"type": "string", "enum": ["account"]}, **CLIENT_AUTHENTICATION,
}, ["client_assertion_type", "client_assertion"])
#: The sign-in page's fields and their longest values; refusing needs only the user code.
SIGN_IN_FIELDS = {"user_code": 32, "account_id": 64, "password": 1024, "lang": 2}
SIGN_IN_ACTIONS = ("approve", "deny")
VOUCHER_FIELDS = {"code": 64, "account_id": 64, "new_password": 1024, "lang": 2}
VOUCHER_FORM = _form_body(
    {name: {"type": "string", "maxLength": limit} for name, limit in VOUCHER_FIELDS.items()}, ["code"])
VOUCHER_CODE = re.compile(r"[A-Za-z0-9-]{8,64}")
SIGN_IN_FORM = _form_body({
    **{name: {"type": "string", "maxLength": limit} for name, limit in SIGN_IN_FIELDS.items()},
    "action": {"type": "string", "enum": list(SIGN_IN_ACTIONS), "default": "approve"},
}, ["user_code"])


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await self._refuse(scope, receive, send)
                return
        seen = 0
        refused = False

        async def limited() -> Message:
            # Over the limit, answer 413 at once and tell the app the client went away; whatever
            # the app then tries to send is dropped (it may not parse half a body into a 400).
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    if not refused:
                        refused = True
                        await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, limited, guarded_send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error(413, "request_too_large", f"request bodies are limited to {self.limit} bytes")
        await response(scope, receive, send)


def _view(op: OperationView) -> OperationResponse:
    return OperationResponse(**asdict(op))


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise AuthError("invalid_request", "the body must be application/x-www-form-urlencoded", 400)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise AuthError("invalid_request", "the form is too large", 400)
    try:
        fields = parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise AuthError("invalid_request", "the form is not valid", 400) from None
    if any(len(values) > 1 for values in fields.values()):
        raise AuthError("invalid_request", "a form parameter is repeated", 400)
    return {key: values[0] for key, values in fields.items()}


def create_app(verification: VerificationService, operations: OperationService, device: DeviceGrant,
               offline: OfflineService, *, max_request_bytes: int = 64 * 1024,
               public_limiter: RateLimiter | None = None, docs: bool = False) -> FastAPI:
    parts = verification.parts
    public_limiter = public_limiter or RateLimiter(30, 60)
    app = FastAPI(
        title="My Number Card linkage server",
        version="1.0.0",
        description=(
            "The reference linkage server the help-desk kiosk verifies against: client "
            "authentication, challenges, JPKI card verification with claim-then-match, the account "
            "operations with staff approval, the device authorization grant for pre-link, and "
            "offline evidence. Every refusal carries a documented code (GET /v1/codes)."
        ),
        responses={413: {"model": ErrorBody, "description": "Request body too large"}},
        redirect_slashes=False,  # its redirects are absolute URLs built from the Host header
        docs_url="/docs" if docs else None,  # the UI's scripts come from a CDN: only when configured
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, limit=max_request_bytes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")  # the pages' styles and scripts
    bearer = HTTPBearer(auto_error=False, description="An access token from POST /oauth/token")

    def caller(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
        if credentials is None:
            raise AuthError("invalid_token", "an access token is required")
        return verification.caller(credentials.credentials)

    CallerDep = Annotated[Caller, Depends(caller)]

    # -- errors and logging -------------------------------------------------------------------

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, **exc.extra)

    @app.exception_handler(AuthError)
    async def _auth_error(request: Request, exc: AuthError) -> JSONResponse:
        if request.url.path.startswith("/oauth/"):
            return JSONResponse({"error": exc.code, "error_description": exc.description},
                                status_code=exc.status, headers={"Cache-Control": "no-store"})
        if exc.code == "invalid_token":
            return _error(401, "invalid_token", exc.description)
        return _error(exc.status, exc.code, exc.description)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # The routing layer's own refusals: no such path, a method the path does not have, or a
        # body that cannot be read at all.
        messages = {404: "there is no such resource", 405: f"this resource does not allow {request.method}",
                    400: "the request body could not be read"}
        message = messages.get(exc.status_code, str(exc.detail))
        if request.url.path.startswith("/oauth/"):
            response = JSONResponse({"error": "invalid_request", "error_description": message},
                                    status_code=exc.status_code, headers={"Cache-Control": "no-store"})
        else:
            response = _error(exc.status_code, "invalid_request", message)
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(_allowed_methods(app, request.scope))
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Name the fields, never echo their values: a password or a certificate may be among them.
        problems = sorted({".".join(str(p) for p in error.get("loc", ())[1:]) or "body"
                           for error in exc.errors()})
        return _error(422, "invalid_request", "the request does not match the API's schema",
                      problems=problems)

    @app.middleware("http")
    async def _log_requests(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            logger.exception("unhandled error in %s %s", printable(request.method),
                             printable(request.scope["path"]))
            response = _error(500, "internal", "the server failed; the request was not applied")
        route = request.scope.get("route")
        # An unrouted path is logged as sent, escaped: it must not forge or hide a log line.
        logger.info("%s %s %s %.1f ms", printable(request.method),
                    printable(getattr(route, "path", request.scope["path"])), response.status_code,
                    (time.perf_counter() - started) * 1000)
        return response

    # -- discovery ----------------------------------------------------------------------------

    @app.get("/health", response_model=Health, tags=["discovery"])
    def health() -> Health:
        with parts.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return Health(status="ok", database="ok")

    @app.get("/v1/server-info", response_model=ServerInfo, tags=["discovery"])
    def server_info() -> ServerInfo:
        base = parts.tokens.issuer.rstrip("/")
        return ServerInfo(
            issuer=parts.tokens.issuer, token_url=parts.tokens.token_url,
            device_authorization_url=base + "/oauth/device_authorization",
            jwks_url=base + "/.well-known/jwks.json", sealing_key=offline.sealing_public_jwk(),
            password_policy=parts.policy.password.describe(),
            account_id_pattern=parts.policy.account_id_pattern, server_time=parts.clock(),
        )

    @app.get("/.well-known/jwks.json", tags=["discovery"])
    def jwks() -> dict[str, Any]:
        return parts.tokens.public_jwks()

    @app.get("/v1/codes", response_model=CodeList, tags=["discovery"])
    def codes() -> CodeList:
        return CodeList(codes={**CODES, **API_CODES})

    # -- OAuth --------------------------------------------------------------------------------

    @app.post("/oauth/token", response_model=TokenResponse, responses=OAUTH_RESPONSES,
              openapi_extra=TOKEN_FORM, tags=["oauth"])
    async def token(request: Request) -> JSONResponse:
        form = await _form(request)
        grant = form.get("grant_type")
        if grant == "client_credentials":
            access, lifetime, scope = await _in_pool(
                verification.client_credentials, form.get("client_assertion", ""),
                form.get("client_assertion_type", ""), form.get("client_id"), form.get("scope"),
                _client_address(request))
        elif grant == GRANT_TYPE:
            access, lifetime = await _in_pool(_device_token, form, _client_address(request))
            scope = "account"
        else:
            raise AuthError("unsupported_grant_type",
                            "grant_type must be client_credentials or device_code", 400)
        return JSONResponse(TokenResponse(access_token=access, token_type="Bearer", expires_in=lifetime,
                                          scope=scope).model_dump(),
                            headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _client(form: dict[str, str], address: str) -> Any:
        """The client a token or device-authorization form proves (refusals audited and limited)."""
        assertion, kind = form.get("client_assertion", ""), form.get("client_assertion_type", "")
        return verification.authenticate(assertion, kind, form.get("client_id"), address)

    def _device_token(form: dict[str, str], address: str) -> tuple[str, int]:
        client = _client(form, address)
        parts.kiosk_limiter.take(client.client_id, "kiosk")
        with parts.db.transaction() as session:
            try:
                return device.poll(session, client.client_id, form.get("device_code", ""))
            except AuthError as exc:
                refusal = exc
        raise refusal  # raised after the commit, so slow_down's new interval is kept

    @app.post("/oauth/device_authorization", response_model=DeviceAuthorizationResponse,
              responses=OAUTH_RESPONSES, openapi_extra=DEVICE_AUTHORIZATION_FORM, tags=["oauth"])
    async def device_authorization(request: Request) -> JSONResponse:
        form = await _form(request)

        def run() -> DeviceAuthorizationResponse:
            client = _client(form, _client_address(request))
            parts.kiosk_limiter.take(client.client_id, "kiosk")
            code = device.authorize(client.client_id, form.get("scope"))
            return DeviceAuthorizationResponse(**asdict(code))

        answer = await _in_pool(run)
        return JSONResponse(answer.model_dump(), headers={"Cache-Control": "no-store"})

    async def page_form(request: Request) -> tuple[dict[str, str], str]:
        """A form posted from one of the user's pages (empty if unreadable), and the page's language."""
        public_limiter.take(_client_address(request), "address")
        try:
            form = await _form(request)
        except AuthError:
            form = {}
        return form, pick_language(form.get("lang"), request.headers.get("accept-language"))

    @app.get("/device", response_class=HTMLResponse, responses=_documented_json(413, 422, 429),
             tags=["account sign-in"])
    def device_page(request: Request, user_code: Annotated[str, Query(max_length=32)] = "",
                    lang: Annotated[str, Query(max_length=2)] = "") -> HTMLResponse:
        public_limiter.take(_client_address(request), "address")
        return HTMLResponse(sign_in_html(pick_language(lang, request.headers.get("accept-language")),
                                         user_code))

    @app.post("/device", response_class=HTMLResponse, openapi_extra=SIGN_IN_FORM,
              responses={400: {"description": "Malformed form", "content": {"text/html": {}}},
                         403: {"description": "Wrong account ID or password, or a code that is not valid",
                               "content": {"text/html": {}}},
                         **_documented_json(413, 429)}, tags=["account sign-in"])
    async def device_sign_in(request: Request) -> HTMLResponse:
        form, lang = await page_form(request)
        action = form.get("action", "approve")
        readable = action in SIGN_IN_ACTIONS and "user_code" in form and all(
            len(form.get(name, "")) <= limit for name, limit in SIGN_IN_FIELDS.items())
        if not readable:
            return HTMLResponse(sign_in_html(lang, "", "unreadable"), status_code=400)
        user_code = form["user_code"]
        if action == "deny":
            await _in_pool(device.deny, user_code)
            return HTMLResponse(done_html(lang, "denied"))
        outcome = await _in_pool(device.sign_in, user_code, form.get("account_id", ""),
                                 form.get("password", ""))
        if outcome == "approved":
            return HTMLResponse(done_html(lang, "approved"))
        return HTMLResponse(sign_in_html(lang, user_code, "wrong" if outcome == "wrong" else "expired"),
                            status_code=403)

    # -- the voucher page: the user finishes an operation approved while the kiosk was offline --

    @app.get("/voucher", response_class=HTMLResponse, responses=_documented_json(413, 422, 429),
             tags=["offline"])
    def voucher_page(request: Request, code: Annotated[str, Query(max_length=64)] = "",
                     lang: Annotated[str, Query(max_length=2)] = "") -> HTMLResponse:
        public_limiter.take(_client_address(request), "address")
        return HTMLResponse(voucher_html(pick_language(lang, request.headers.get("accept-language")), code))

    @app.post("/voucher", response_class=HTMLResponse, openapi_extra=VOUCHER_FORM,
              responses={400: {"description": "Malformed form", "content": {"text/html": {}}},
                         403: {"description": "A voucher that is not valid for this account",
                               "content": {"text/html": {}}},
                         422: {"description": "A new password is missing or breaks the policy",
                               "content": {"text/html": {}}},
                         **_documented_json(413, 429)}, tags=["offline"])
    async def voucher_redeem(request: Request) -> HTMLResponse:
        form, lang = await page_form(request)
        too_long = any(len(form.get(name, "")) > limit for name, limit in VOUCHER_FIELDS.items())
        if "code" not in form or too_long:
            return HTMLResponse(voucher_html(lang, "", "unreadable"), status_code=400)
        code = form["code"].strip()
        account_id = form.get("account_id", "").strip()
        if not VOUCHER_CODE.fullmatch(code) or not parts.policy.account_id_ok(account_id):
            return HTMLResponse(voucher_html(lang, code, "v_invalid"), status_code=403)
        try:
            result = await _in_pool(offline.redeem, code, account_id, form.get("new_password") or None)
        except ApiError as exc:
            if exc.code != "password_policy":
                return HTMLResponse(voucher_html(lang, code, "v_invalid"), status_code=403)
            problems = exc.extra.get("problems")
            missing = isinstance(problems, list) and "missing" in problems
            return HTMLResponse(voucher_html(lang, code, "v_needs_password" if missing else "v_weak"),
                                status_code=422)
        kind = str(result.pop("kind"))
        return HTMLResponse(voucher_done_html(lang, kind, result), headers={"Cache-Control": "no-store"})

    # -- verification ---------------------------------------------------------------------------

    @app.post("/v1/challenges", response_model=ChallengeResponse, status_code=201,
              responses=_documented(401, 403, 429), tags=["verification"])
    def new_challenge(who: CallerDep) -> ChallengeResponse:
        issued = verification.new_challenge(who)
        return ChallengeResponse(nonce=b64url(issued.nonce), expires_at=issued.expires_at)

    @app.post("/v1/verifications", response_model=VerificationResponse,
              responses=_documented(400, 401, 403, 422, 429), tags=["verification"])
    def verify(body: VerificationRequest, who: CallerDep) -> VerificationResponse:
        outcome = verification.verify(who, body.account_id, unb64url(body.nonce), unb64url(body.certificate),
                                      unb64url(body.signature))
        return VerificationResponse(**asdict(outcome))

    # -- operations -----------------------------------------------------------------------------

    @app.post("/v1/operations", response_model=OperationResponse, status_code=201,
              responses={200: {"model": OperationResponse, "description": "The same request was made before"},
                         **_documented(400, 401, 403, 404, 409, 422, 429)}, tags=["operations"])
    def create_operation(
        body: OperationRequest, who: CallerDep,
        idempotency_key: Annotated[str, Header(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")],
    ) -> JSONResponse:
        params = body.params.model_dump(exclude_none=True)
        view, created = operations.create(who, idempotency_key, body.kind, body.verification_id, params)
        return JSONResponse(_view(view).model_dump(mode="json"), status_code=201 if created else 200)

    operation_id_path = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

    @app.get("/v1/operations/{operation_id}", response_model=OperationResponse,
             responses=_documented(401, 403, 404, 422, 429), tags=["operations"])
    def get_operation(operation_id: operation_id_path, who: CallerDep) -> OperationResponse:
        return _view(operations.get(who, operation_id))

    @app.post("/v1/operations/{operation_id}/password", response_model=OperationResponse,
              responses=_documented(400, 401, 403, 404, 409, 422, 429), tags=["operations"])
    def set_password(operation_id: operation_id_path, body: PasswordRequest, who: CallerDep,
                     session_key: SessionKey = None) -> OperationResponse:
        """An approved password reset's new password, within the password window after approval."""
        return _view(operations.set_password(who, operation_id, body.new_password, session_key))

    @app.post("/v1/operations/{operation_id}/keepalive", response_model=OperationResponse,
              responses=_documented(401, 403, 404, 422, 429), tags=["operations"])
    def keep_alive(operation_id: operation_id_path, who: CallerDep,
                   session_key: SessionKey = None) -> OperationResponse:
        """The kiosk still waits; answers the operation (the kiosk's poll while staff decide).

        The first answer after completion carries the enrolment code or salvage ticket, which the
        server then forgets: no later answer (nor GET, nor the staff's) shows it.

        An operation awaiting staff expires (``kiosk_gone``) when no keep-alive came for
        ``lifetimes.keepalive_timeout_seconds``.
        """
        return _view(operations.keep_alive(who, operation_id, session_key))

    @app.post("/v1/operations/{operation_id}/cancel", response_model=OperationResponse,
              responses=_documented(401, 403, 404, 422, 429), tags=["operations"])
    def cancel_operation(operation_id: operation_id_path, who: CallerDep, session_key: SessionKey = None,
                         body: CancelRequest | None = None) -> OperationResponse:
        """The kiosk session gave up: an operation awaiting staff or the password is cancelled (audited).

        Idempotent: on an operation that already ended (cancelled, expired, refused, failed or
        completed) nothing changes or is recorded, and the answer is 200 with its status.
        """
        return _view(operations.cancel(who, operation_id, session_key, body.reason if body else None))

    @app.get("/v1/staff/operations", response_model=OperationList,
             responses=_documented(401, 403, 429), tags=["staff"])
    def pending_operations(who: CallerDep) -> OperationList:
        return OperationList(operations=[_view(op) for op in operations.pending(who)])

    @app.post("/v1/staff/operations/{operation_id}/decision", response_model=OperationResponse,
              responses=_documented(400, 401, 403, 404, 409, 422, 429), tags=["staff"])
    def decide(operation_id: operation_id_path, body: DecisionRequest, who: CallerDep) -> OperationResponse:
        return _view(operations.decide(who, operation_id, body.approve, body.staff_id, body.reason))

    # -- offline ----------------------------------------------------------------------------------

    @app.post("/v1/offline/evidence", response_model=EvidenceBatchResponse,
              responses=_documented(400, 401, 403, 422, 429), tags=["offline"])
    def upload_evidence(body: EvidenceBatch, who: CallerDep) -> EvidenceBatchResponse:
        fates = offline.accept_batch(who, [(b.idempotency_key, b.sealed, b.voucher_shown)
                                           for b in body.bundles])
        return EvidenceBatchResponse(results=[EvidenceResult(**asdict(f)) for f in fates])

    @app.post("/v1/vouchers/redeem", response_model=VoucherResponse,
              responses=_documented(400, 403, 422, 429), tags=["offline"])
    def redeem(body: VoucherRequest, request: Request) -> VoucherResponse:
        public_limiter.take(_client_address(request), "address")
        result = offline.redeem(body.voucher, body.account_id, body.new_password)
        kind = str(result.pop("kind"))
        return VoucherResponse(kind=kind, result=result)

    account_pattern = parts.policy.account_id_pattern
    if not (account_pattern.startswith("^") and account_pattern.endswith("$")):
        account_pattern = f"^(?:{account_pattern})$"
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        # The account ID format is a policy setting: the document states the configured one.
        first = app.openapi_schema is None
        document = build_openapi()
        if first:
            models = document["components"]["schemas"]
            for model in ("VerificationRequest", "VoucherRequest"):
                models[model]["properties"]["account_id"]["pattern"] = account_pattern
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def _in_pool(function: Callable[..., Any], *args: Any) -> Any:
    return await run_in_threadpool(function, *args)


def _allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route has for the request's path."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _child = route.matches(scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
