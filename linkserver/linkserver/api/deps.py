"""What the routes depend on: the services, the calling kiosk, the per-address limit, and the
parameters several routes share.

The services are the application's (``app.state.services``, set by ``create_app``); the database
and the kiosks' and accounts' limits are theirs, so no route opens a transaction or spends a
kiosk's token itself.
"""

# No ``from __future__ import annotations``: FastAPI reads these aliases at run time.

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from linkserver.device import DeviceGrant
from linkserver.offline import OfflineService
from linkserver.operations import OperationService
from linkserver.ratelimit import RateLimiter
from linkserver.service import ServerParts, VerificationService
from linkserver.tokens import AuthError, Caller
from linkserver.wakeups import Wakeups


@dataclass(frozen=True)
class Services:
    """The services behind the routes, and the limit on requests from one address to the public pages."""

    verification: VerificationService
    operations: OperationService
    device: DeviceGrant
    offline: OfflineService
    public_limiter: RateLimiter
    #: Wakes the long-polls and live queues when an operation is created or decided here.
    wakeups: Wakeups = field(default_factory=Wakeups)

    @property
    def parts(self) -> ServerParts:
        return self.verification.parts


async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]

bearer = HTTPBearer(auto_error=False, description="An access token from POST /oauth/token")


async def uncounted_caller(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                           found: ServicesDep) -> Caller:
    """The kiosk (or staff console) the access token names, unless it was revoked. Checked on the
    event loop (a signature check, or the cache of checked tokens), except when the set of revoked
    clients must be read again: that reads the database, on the worker pool."""
    if credentials is None:
        raise AuthError("invalid_token", "an access token is required")
    verification = found.verification
    if verification.gate.fresh():
        return verification.caller(credentials.credentials)
    checked: Caller = await run_in_threadpool(verification.caller, credentials.credentials)
    return checked


def caller(who: Annotated[Caller, Depends(uncounted_caller)], found: ServicesDep) -> Caller:
    """The calling kiosk, its request counted against its limit (in a transaction of its own)."""
    found.verification.count(who)
    return who


CallerDep = Annotated[Caller, Depends(caller)]
#: For the routes whose service counts the request in the transaction that does its work.
UncountedCallerDep = Annotated[Caller, Depends(uncounted_caller)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def public_limit(request: Request, found: ServicesDep) -> None:
    """Counts a request to a public page or the voucher API against its address's limit (in the
    database, so on the worker pool)."""
    found.public_limiter.take(client_address(request), "address")


#: For the routes anyone may call (``dependencies=[PUBLIC_LIMIT]``).
PUBLIC_LIMIT = Depends(public_limit)

#: The operation's session key, for keep-alives, cancel and the password: a missing or wrong one
#: is 403 ``session_key_invalid``.
SessionKey = Annotated[str | None, Header(
    alias="Session-Key", max_length=128,
    description="The session_key from the answer that created the operation: only the kiosk session "
                "that asked may act on it")]
OperationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


async def in_pool(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` on the worker pool: the services block on the database and on RSA."""
    return await run_in_threadpool(function, *args)
