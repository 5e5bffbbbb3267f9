"""The HTTP API's request and response bodies: strict, closed models that are the OpenAPI contract."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

#: Unpadded base64url: any length but one more than a multiple of four, which no bytes encode to.
B64URL = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$"
#: Identifier-like strings: the account ID format itself is a policy setting, checked by the server
#: (the app's OpenAPI document states the configured pattern).
ACCOUNT = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]
#: The start of an ISO 8601 date and time (lenient parsing would take a number for a Unix time).
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
OPAQUE_ID = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorBody(BaseModel):
    """Every refusal: a documented code (see ``GET /v1/codes``) and words for people."""

    error: str
    message: str
    problems: list[str] | None = None
    retry_after: int | None = None
    policy: dict[str, object] | None = None


class OAuthErrorBody(BaseModel):
    error: str
    error_description: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str


class DeviceAuthorizationResponse(BaseModel):
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class ChallengeResponse(BaseModel):
    nonce: str = Field(description="base64url, 32 random bytes, single use")
    expires_at: dt.datetime


class VerificationRequest(Strict):
    account_id: ACCOUNT
    nonce: Annotated[str, Field(min_length=22, max_length=64, pattern=B64URL)]
    certificate: Annotated[str, Field(min_length=4, max_length=22_000, pattern=B64URL,
                                      description="base64url DER of the card's authentication certificate")]
    signature: Annotated[str, Field(min_length=4, max_length=1400, pattern=B64URL,
                                    description="base64url PKCS#1 v1.5 signature by the card")]


class VerificationResponse(BaseModel):
    """Claim-then-match: the same fields whether or not the account exists."""

    verification_id: str
    match: bool
    name_on_record: str | None
    certificate_not_after: dt.datetime
    expires_at: dt.datetime


class OperationParams(Strict):
    mode: Literal["backup", "forwarding"] | None = None
    account_token: Annotated[str, Field(max_length=4096)] | None = None
    name_on_card: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class OperationRequest(Strict):
    kind: Literal["prelink", "link_status", "unlink", "password_reset", "mfa_reset", "salvage"]
    verification_id: OPAQUE_ID
    params: OperationParams = Field(default_factory=OperationParams)


class OperationResponse(BaseModel):
    operation_id: str
    kind: str
    status: Literal["awaiting_approval", "approved", "refused", "completed", "failed", "cancelled",
                    "expired"]
    account_id: str
    created_at: dt.datetime
    updated_at: dt.datetime
    result: dict[str, object]
    error_code: str | None
    approved_by: str | None
    session_key: str | None = Field(
        None, description="Only in the answer to POST /v1/operations (a new one on a replay, replacing "
                          "the previous): base64url of 32 random bytes, for the Session-Key header of "
                          "keep-alives, cancel and the password; the server keeps only its SHA-256.")


class CancelRequest(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z_]+$",
                                 description="why the kiosk gave up, e.g. user_cancelled, card_removed, "
                                             "approval_timeout, idle_timeout, interrupted")] | None = None


class OperationList(BaseModel):
    operations: list[OperationResponse]


class PasswordRequest(Strict):
    new_password: Annotated[str, Field(min_length=1, max_length=1024)]


class DecisionRequest(Strict):
    approve: bool
    staff_id: Annotated[str | None, Field(
        default=None, min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$", deprecated=True,
        description="ignored: a decision through this API is recorded as the calling client's; named "
        "staff decide at the console (/console/), in their own name")]
    reason: Annotated[str, Field(max_length=500)] | None = None


class EvidenceBundle(Strict):
    idempotency_key: Annotated[str, Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
    sealed: Annotated[str, Field(min_length=1, max_length=32 * 1024, pattern=r"^[A-Za-z0-9_.-]+$")]
    voucher_shown: bool | None = Field(
        default=None, description="false: the kiosk never showed the user this evidence's voucher (it "
        "stopped between recording the evidence and showing it), so no one can redeem it; kept with "
        "the evidence and in its audit entry for staff")


class EvidenceBatch(Strict):
    bundles: Annotated[list[EvidenceBundle], Field(min_length=1, max_length=50)]


class EvidenceResult(BaseModel):
    """A bundle's fate. ``retry``: nothing was recorded (the revocation status could not be
    established just now); send the same bundle again later."""

    idempotency_key: str
    evidence_id: str | None
    fate: Literal["accepted", "refused", "retry"]
    error_code: str | None
    duplicate: bool


class EvidenceBatchResponse(BaseModel):
    results: list[EvidenceResult]


class VoucherRequest(Strict):
    voucher: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
    account_id: ACCOUNT
    new_password: Annotated[str, Field(min_length=1, max_length=1024)] | None = None


class VoucherResponse(BaseModel):
    kind: str
    result: dict[str, object]


class ServerInfo(BaseModel):
    issuer: str
    token_url: str
    device_authorization_url: str
    jwks_url: str
    sealing_key: dict[str, object] = Field(description="JWK the kiosk seals offline evidence to")
    password_policy: dict[str, object]
    account_id_pattern: str
    server_time: dt.datetime


class HeartbeatRequest(Strict):
    """What a kiosk reports of itself while online."""

    version: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$",
                                  description="the kiosk's software version")]
    reader_state: Literal["present", "absent", "error"] = Field(
        description="present: the card reader is there; absent: no reader; error: the PC/SC service failed")
    reader_name: Annotated[str, Field(min_length=1, max_length=200,
                                      pattern=r"^[^\x00-\x1f\x7f]+$")] | None = None
    outbox_depth: Annotated[int, Field(ge=0, le=1_000_000, description="items waiting in the outbox")]
    last_sync_at: Annotated[AwareDatetime | None, Field(
        strict=False, description="when the kiosk last sent its whole outbox (ISO 8601 with a zone)")] = None

    @field_validator("outbox_depth", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> object:
        # JSON has one kind of number: 3.0 is the integer 3 (strict mode would take only 3).
        return int(value) if isinstance(value, float) and value.is_integer() else value

    @field_validator("last_sync_at", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        # Parsed leniently (strict mode takes no text for a time), but only from ISO 8601 text.
        if value is not None and not (isinstance(value, str) and ISO_MOMENT.match(value)):
            raise ValueError("not an ISO 8601 date and time")
        return value


class RosterMember(BaseModel):
    staff_id: str
    display_name: str
    role: Literal["desk", "supervisor"]
    offline_pin_hash: str = Field(description="Argon2id hash of the member's offline PIN")


class HeartbeatResponse(BaseModel):
    """The kiosk's offline roster: who may approve at it while the server is away."""

    issued_at: dt.datetime
    roster: list[RosterMember]


class CodeList(BaseModel):
    codes: dict[str, str]


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
