"""What staff see and decide: the operations awaiting them, and their approval or refusal."""

from fastapi import APIRouter

from linkserver.api.deps import CallerDep, OperationId, ServicesDep
from linkserver.api.operations import answer
from linkserver.api.responses import documented
from linkserver.schemas import DecisionRequest, OperationList, OperationResponse

router = APIRouter(tags=["staff"])


@router.get("/v1/staff/operations", response_model=OperationList, responses=documented(401, 403, 429))
def pending_operations(who: CallerDep, found: ServicesDep) -> OperationList:
    return OperationList(operations=[answer(op) for op in found.operations.pending(who)])


@router.post("/v1/staff/operations/{operation_id}/decision", response_model=OperationResponse,
             responses=documented(400, 401, 403, 404, 409, 422, 429))
def decide(operation_id: OperationId, body: DecisionRequest, who: CallerDep,
           found: ServicesDep) -> OperationResponse:
    # The decision is the calling client's: a body's ``staff_id`` names whoever the caller claims to
    # be, so it is not believed. Named staff decide at the console, in their own name.
    view = found.operations.decide(who, operation_id, body.approve, who.client_id, body.reason)
    found.wakeups.notify()  # the waiting kiosk's long-poll answers now
    return answer(view)
