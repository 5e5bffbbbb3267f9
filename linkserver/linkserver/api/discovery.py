"""Discovery: health, the server's settings a kiosk needs, its keys and the documented error codes."""

from typing import Any

from fastapi import APIRouter

from linkserver.api.deps import ServicesDep
from linkserver.errors import ErrorCode
from linkserver.schemas import CodeList, Health, ServerInfo

router = APIRouter(tags=["discovery"])


@router.get("/health", response_model=Health)
def health(found: ServicesDep) -> Health:
    found.parts.db.ping()
    return Health(status="ok", database="ok")


@router.get("/v1/server-info", response_model=ServerInfo)
def server_info(found: ServicesDep) -> ServerInfo:
    parts = found.parts
    base = parts.tokens.issuer.rstrip("/")
    return ServerInfo(
        issuer=parts.tokens.issuer, token_url=parts.tokens.token_url,
        device_authorization_url=base + "/oauth/device_authorization",
        jwks_url=base + "/.well-known/jwks.json", sealing_key=found.offline.sealing_public_jwk(),
        password_policy=parts.policy.password.describe(),
        account_id_pattern=parts.policy.account_id_pattern, server_time=parts.clock(),
    )


@router.get("/.well-known/jwks.json")
def jwks(found: ServicesDep) -> dict[str, Any]:
    return found.parts.tokens.public_jwks()


@router.get("/v1/codes", response_model=CodeList)
def codes() -> CodeList:
    return CodeList(codes={code.value: code.meaning for code in ErrorCode})
