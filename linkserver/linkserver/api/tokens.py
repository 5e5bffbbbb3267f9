"""The OAuth token endpoint: client credentials for kiosks, the device code grant for pre-link."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from linkserver.api.deps import Services, ServicesDep, client_address, in_pool
from linkserver.api.forms import CLIENT_AUTHENTICATION, form_body, read_form
from linkserver.api.responses import OAUTH_RESPONSES
from linkserver.device import GRANT_TYPE
from linkserver.schemas import TokenResponse
from linkserver.tokens import SCOPES, AuthError

router = APIRouter(tags=["oauth"])

_SCOPE_NAMES = "|".join(SCOPES)
TOKEN_FORM = form_body({
    "grant_type": {"type": "string", "enum": ["client_credentials", GRANT_TYPE]},
    "scope": {"type": "string", "maxLength": 200, "pattern": rf"^({_SCOPE_NAMES})( ({_SCOPE_NAMES}))*$"},
    "device_code": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[A-Za-z0-9_-]+$"},
    **CLIENT_AUTHENTICATION,
}, ["grant_type", "client_assertion_type", "client_assertion"])


@router.post("/oauth/token", response_model=TokenResponse, responses=OAUTH_RESPONSES,
             openapi_extra=TOKEN_FORM)
async def token(request: Request, found: ServicesDep) -> JSONResponse:
    form = await read_form(request)
    grant = form.get("grant_type")
    if grant == "client_credentials":
        access, lifetime, scope = await in_pool(
            found.verification.client_credentials, form.get("client_assertion", ""),
            form.get("client_assertion_type", ""), form.get("client_id"), form.get("scope"),
            client_address(request))
    elif grant == GRANT_TYPE:
        access, lifetime = await in_pool(_device_token, found, form, client_address(request))
        scope = "account"
    else:
        raise AuthError("unsupported_grant_type", "grant_type must be client_credentials or device_code", 400)
    return JSONResponse(TokenResponse(access_token=access, token_type="Bearer", expires_in=lifetime,
                                      scope=scope).model_dump(),
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def client_of(found: Services, form: dict[str, str], address: str) -> str:
    """The ID of the client a token or device-authorization form proves (refusals audited and limited)."""
    assertion, kind = form.get("client_assertion", ""), form.get("client_assertion_type", "")
    return found.verification.authenticate(assertion, kind, form.get("client_id"), address).client_id


def _device_token(found: Services, form: dict[str, str], address: str) -> tuple[str, int]:
    return found.device.token(client_of(found, form, address), form.get("device_code", ""))
