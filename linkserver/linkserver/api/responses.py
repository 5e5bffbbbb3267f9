"""Error bodies, and the documentation of the statuses each route may answer with."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from linkserver.schemas import ErrorBody, OAuthErrorBody

ERROR_WORDS = {400: "Malformed request", 401: "Missing or invalid access token",
               403: "Refused (see the error code)", 404: "Not found", 409: "Conflict with the current state",
               413: "Request body too large", 422: "Invalid request (see the error code)",
               429: "Rate limited (see Retry-After)"}

OAUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": OAuthErrorBody, "description": "OAuth error (RFC 6749 §5.2, RFC 8628 §3.5)"},
    401: {"model": OAuthErrorBody, "description": "Client authentication failed"},
    413: {"model": ErrorBody, "description": "Request body too large"},
    429: {"model": ErrorBody, "description": "Rate limited"},
}


def error_response(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    """An ``ErrorBody`` answer; ``retry_after`` becomes Retry-After, a 401 says WWW-Authenticate."""
    body: dict[str, object] = {"error": code, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/json")


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": ERROR_WORDS[status]} for status in statuses}


def documented_json(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Error bodies of a route whose own answers are not JSON (the model would take their media type)."""
    return {status: {"description": ERROR_WORDS[status], "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}} for status in statuses}
