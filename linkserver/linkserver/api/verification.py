"""Challenges and verifications: a nonce for the card to sign, then the card's answer checked.

These two routes are every pair a counter makes, so they run on the event loop itself: their
work is a few short statements and two RSA checks, and a hop to the worker pool and back costs
more CPU than the work. A verification whose revocation check asks an OCSP responder waits on
the network, so then it runs on the worker pool.
"""

from dataclasses import fields

from fastapi import APIRouter

from linkserver.api.deps import ServicesDep, UncountedCallerDep, in_pool
from linkserver.api.responses import documented
from linkserver.offline import b64url, unb64url
from linkserver.schemas import ChallengeResponse, VerificationRequest, VerificationResponse

router = APIRouter(tags=["verification"])


@router.post("/v1/challenges", response_model=ChallengeResponse, status_code=201,
             responses=documented(401, 403, 429))
async def new_challenge(who: UncountedCallerDep, found: ServicesDep) -> ChallengeResponse:
    issued = found.verification.new_challenge(who)
    return ChallengeResponse(nonce=b64url(issued.nonce), expires_at=issued.expires_at)


@router.post("/v1/verifications", response_model=VerificationResponse,
             responses=documented(400, 401, 403, 422, 429))
async def verify(body: VerificationRequest, who: UncountedCallerDep,
                 found: ServicesDep) -> VerificationResponse:
    service = found.verification
    claim = (who, body.account_id, unb64url(body.nonce), unb64url(body.certificate),
             unb64url(body.signature))
    if service.parts.verifier.local:
        outcome = service.verify(*claim)
    else:
        outcome = await in_pool(service.verify, *claim)
    # Field by field, not ``asdict``: its deep copy of each value is a cost every pair would pay.
    return VerificationResponse(**{field.name: getattr(outcome, field.name) for field in fields(outcome)})
