"""Challenges and verifications: a nonce for the card to sign, then the card's answer checked."""

from dataclasses import asdict

from fastapi import APIRouter

from linkserver.api.deps import CallerDep, ServicesDep
from linkserver.api.responses import documented
from linkserver.offline import b64url, unb64url
from linkserver.schemas import ChallengeResponse, VerificationRequest, VerificationResponse

router = APIRouter(tags=["verification"])


@router.post("/v1/challenges", response_model=ChallengeResponse, status_code=201,
             responses=documented(401, 403, 429))
def new_challenge(who: CallerDep, found: ServicesDep) -> ChallengeResponse:
    issued = found.verification.new_challenge(who)
    return ChallengeResponse(nonce=b64url(issued.nonce), expires_at=issued.expires_at)


@router.post("/v1/verifications", response_model=VerificationResponse,
             responses=documented(400, 401, 403, 422, 429))
def verify(body: VerificationRequest, who: CallerDep, found: ServicesDep) -> VerificationResponse:
    outcome = found.verification.verify(who, body.account_id, unb64url(body.nonce),
                                        unb64url(body.certificate), unb64url(body.signature))
    return VerificationResponse(**asdict(outcome))
