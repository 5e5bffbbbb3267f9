"""The kiosk's heartbeat: its health in, its offline roster out."""

from dataclasses import asdict

from fastapi import APIRouter

from linkserver.api.deps import CallerDep, ServicesDep
from linkserver.api.responses import documented
from linkserver.health import HeartbeatReport, record_heartbeat
from linkserver.schemas import HeartbeatRequest, HeartbeatResponse, RosterMember

router = APIRouter(tags=["kiosks"])


@router.post("/v1/kiosks/heartbeat", response_model=HeartbeatResponse,
             responses=documented(401, 403, 422, 429))
def heartbeat(body: HeartbeatRequest, who: CallerDep, found: ServicesDep) -> HeartbeatResponse:
    """The calling kiosk's health (kept as its latest report, for the console), answered with its
    offline roster: the enabled desk staff of its counter and the enabled supervisors who have an
    offline PIN, with the PIN's Argon2id hash. A kiosk without the ``offline`` scope gets an empty
    roster; a client with no kiosk scope is refused (403 ``insufficient_scope``)."""
    roster = record_heartbeat(found.parts, who, HeartbeatReport(**body.model_dump()))
    return HeartbeatResponse(issued_at=roster.issued_at,
                             roster=[RosterMember(**asdict(member)) for member in roster.members])
