"""Evidence a kiosk recorded while offline, and the voucher API that finishes what it authorised."""

from dataclasses import asdict

from fastapi import APIRouter

from linkserver.api.deps import PUBLIC_LIMIT, CallerDep, ServicesDep
from linkserver.api.responses import documented
from linkserver.schemas import (
    EvidenceBatch,
    EvidenceBatchResponse,
    EvidenceResult,
    VoucherRequest,
    VoucherResponse,
)

router = APIRouter(tags=["offline"])


@router.post("/v1/offline/evidence", response_model=EvidenceBatchResponse,
             responses=documented(400, 401, 403, 422, 429))
def upload_evidence(body: EvidenceBatch, who: CallerDep, found: ServicesDep) -> EvidenceBatchResponse:
    fates = found.offline.accept_batch(who, [(b.idempotency_key, b.sealed, b.voucher_shown)
                                             for b in body.bundles])
    return EvidenceBatchResponse(results=[EvidenceResult(**asdict(f)) for f in fates])


@router.post("/v1/vouchers/redeem", response_model=VoucherResponse,
             responses=documented(400, 403, 422, 429), dependencies=[PUBLIC_LIMIT])
def redeem(body: VoucherRequest, found: ServicesDep) -> VoucherResponse:
    result = found.offline.redeem(body.voucher, body.account_id, body.new_password)
    kind = str(result.pop("kind"))
    return VoucherResponse(kind=kind, result=result)
