"""The device authorization grant's first step: a device code for the kiosk, a user code to show."""

from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from linkserver.api.deps import ServicesDep, client_address, in_pool
from linkserver.api.forms import CLIENT_AUTHENTICATION, form_body, read_form
from linkserver.api.responses import OAUTH_RESPONSES
from linkserver.api.tokens import client_of
from linkserver.schemas import DeviceAuthorizationResponse

router = APIRouter(tags=["oauth"])

DEVICE_AUTHORIZATION_FORM = form_body({
    "scope": {"type": "string", "enum": ["account"]}, **CLIENT_AUTHENTICATION,
}, ["client_assertion_type", "client_assertion"])


@router.post("/oauth/device_authorization", response_model=DeviceAuthorizationResponse,
             responses=OAUTH_RESPONSES, openapi_extra=DEVICE_AUTHORIZATION_FORM)
async def device_authorization(request: Request, found: ServicesDep) -> JSONResponse:
    form = await read_form(request)
    address = client_address(request)

    def run() -> DeviceAuthorizationResponse:
        code = found.device.authorize(client_of(found, form, address), form.get("scope"))
        return DeviceAuthorizationResponse(**asdict(code))

    answer = await in_pool(run)
    return JSONResponse(answer.model_dump(), headers={"Cache-Control": "no-store"})
