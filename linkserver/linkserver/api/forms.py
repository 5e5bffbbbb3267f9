"""Form-encoded bodies (the OAuth endpoints' and the user's pages'): reading them, and their schemas.

FastAPI does not read these bodies: the routes do, with ``read_form``, and state their shape in
the OpenAPI document with ``form_body``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import Request

from linkserver.tokens import ASSERTION_TYPE, MAX_ASSERTION_BYTES, AuthError

MAX_FORM_BYTES = 16 * 1024

#: The fields of a client's ``private_key_jwt`` authentication.
CLIENT_AUTHENTICATION: dict[str, dict[str, Any]] = {
    "client_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "client_assertion_type": {"type": "string", "enum": [ASSERTION_TYPE]},
    "client_assertion": {"type": "string", "minLength": 5, "maxLength": MAX_ASSERTION_BYTES,
                         "pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
                         "description": "a JWT signed with the client's key (RFC 7523, private_key_jwt)"},
}


def form_body(properties: dict[str, dict[str, Any]], required: list[str]) -> dict[str, Any]:
    """A route's ``openapi_extra`` stating its form body."""
    # Unknown parameters are ignored (RFC 6749 §3.2); a repeated one is refused.
    return {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "properties": properties, "required": required,
        "additionalProperties": {"type": "string"},
    }}}}}


async def read_form(request: Request) -> dict[str, str]:
    """The request's form fields; an unreadable form is the OAuth ``invalid_request``."""
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
