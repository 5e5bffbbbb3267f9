"""The kiosk's operations: creation under an idempotency key, then, with the session key, the
keep-alives while staff decide, the password and cancelling."""

import asyncio
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from linkserver.api.deps import CallerDep, OperationId, ServicesDep, SessionKey
from linkserver.api.responses import documented
from linkserver.operations import OperationView
from linkserver.schemas import CancelRequest, OperationRequest, OperationResponse, PasswordRequest
from linkserver.wakeups import RECHECK
from linkserver.words import OperationKind, OperationStatus

router = APIRouter(tags=["operations"])
#: A keep-alive's long-poll: how long to hold the answer while staff have not decided.
LongPoll = Annotated[float, Query(ge=0, le=10, description="hold the answer up to this many seconds "
                                                          "while the operation awaits staff")]


def answer(op: OperationView) -> OperationResponse:
    return OperationResponse(**asdict(op))


@router.post("/v1/operations", response_model=OperationResponse, status_code=201,
             responses={200: {"model": OperationResponse, "description": "The same request was made before"},
                        **documented(400, 401, 403, 404, 409, 422, 429)})
def create_operation(
    body: OperationRequest, who: CallerDep, found: ServicesDep,
    idempotency_key: Annotated[str, Header(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")],
) -> JSONResponse:
    kind, params = OperationKind(body.kind), body.params.model_dump(exclude_none=True)
    view, created = found.operations.create(who, idempotency_key, kind, body.verification_id, params)
    if created:
        found.wakeups.notify()  # a console's live queue shows it
    return JSONResponse(answer(view).model_dump(mode="json"), status_code=201 if created else 200)


@router.get("/v1/operations/{operation_id}", response_model=OperationResponse,
            responses=documented(401, 403, 404, 422, 429))
def get_operation(operation_id: OperationId, who: CallerDep, found: ServicesDep) -> OperationResponse:
    return answer(found.operations.get(who, operation_id))


@router.post("/v1/operations/{operation_id}/password", response_model=OperationResponse,
             responses=documented(400, 401, 403, 404, 409, 422, 429))
def set_password(operation_id: OperationId, body: PasswordRequest, who: CallerDep, found: ServicesDep,
                 session_key: SessionKey = None) -> OperationResponse:
    """An approved password reset's new password, within the password window after approval."""
    return answer(found.operations.set_password(who, operation_id, body.new_password, session_key))


@router.post("/v1/operations/{operation_id}/keepalive", response_model=OperationResponse,
             responses=documented(401, 403, 404, 422, 429))
async def keep_alive(operation_id: OperationId, who: CallerDep, found: ServicesDep,
                     session_key: SessionKey = None, wait: LongPoll = 0) -> OperationResponse:
    """The kiosk still waits; answers the operation (the kiosk's poll while staff decide).

    With ``wait`` (seconds, at most 10) the answer is held until staff decided or the time is up
    (a long-poll): a decision reaches the kiosk at once, without polling every few seconds.

    The first answer after completion carries the enrolment code or salvage ticket, which the
    server then forgets: no later answer (nor GET, nor the staff's) shows it.

    An operation awaiting staff expires (``kiosk_gone``) when no keep-alive came for
    ``lifetimes.keepalive_timeout_seconds``.
    """
    # Each look is itself a keep-alive: a kiosk holding a long-poll open is still there.
    ops = found.operations
    view = await run_in_threadpool(ops.keep_alive, who, operation_id, session_key)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while view.status == OperationStatus.AWAITING_APPROVAL and (remaining := deadline - loop.time()) > 0:
        await found.wakeups.wait(min(RECHECK, remaining))
        view = await run_in_threadpool(ops.keep_alive, who, operation_id, session_key)
    return answer(view)


@router.post("/v1/operations/{operation_id}/cancel", response_model=OperationResponse,
             responses=documented(400, 401, 403, 404, 422, 429))
def cancel_operation(operation_id: OperationId, who: CallerDep, found: ServicesDep,
                     session_key: SessionKey = None, body: CancelRequest | None = None) -> OperationResponse:
    """The kiosk session gave up: an operation awaiting staff or the password is cancelled (audited).

    Idempotent: on an operation that already ended (cancelled, expired, refused, failed or
    completed) nothing changes or is recorded, and the answer is 200 with its status.
    """
    view = found.operations.cancel(who, operation_id, session_key, body.reason if body else None)
    found.wakeups.notify()  # it leaves a console's live queue
    return answer(view)
