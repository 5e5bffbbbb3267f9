"""What the linkage server answers, as frozen values, and the strict readers that build them.

Every field is checked for type, length and format before a value is made, so the rest of the
kiosk can trust what it gets; anything off is a ``ServerProtocolError`` naming the field (never
its value, which might be a secret). Unknown extra fields are ignored, so a newer server can add
some without breaking older kiosks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, cast

from kiosk.linkage.errors import ServerProtocolError
from kiosk.linkage.protocol import unb64url


class OperationKind(StrEnum):
    """What an operation does: the ``kind`` the server's API takes and answers (in the order the
    kiosk's start screen offers them)."""

    PASSWORD_RESET = "password_reset"
    """Set a new password for a forgotten one: staff approve, then the user types the new password."""
    MFA_RESET = "mfa_reset"
    """Clear the registered sign-in methods: staff approve, the user takes away an enrolment code,
    or scans an authenticator app's enrolment QR code (``enrolment_uri``)."""
    SALVAGE = "salvage"
    """A former member's access to their cloud data: staff approve, the user takes away a ticket."""
    PRELINK = "prelink"
    """Link the card to an account proven by signing in on the user's phone; staff approve."""
    LINK_STATUS = "link_status"
    """Whether (and since when) the card is linked to the account: answered at once, no staff."""
    UNLINK = "unlink"
    """Delete the link between the card and the account; staff approve."""


class OperationStatus(StrEnum):
    """Where an operation stands on the server."""

    AWAITING_APPROVAL = "awaiting_approval"
    """Waiting for a staff decision (kept alive by the kiosk's keep-alives)."""
    APPROVED = "approved"
    """Staff approved; a password reset now waits for the user's new password."""
    REFUSED = "refused"
    """Staff refused; nothing was changed."""
    COMPLETED = "completed"
    """Done; ``result`` holds what the user takes away."""
    FAILED = "failed"
    """The server could not complete it (``error_code`` says why); nothing was changed."""
    CANCELLED = "cancelled"
    """The kiosk session withdrew it; nothing was changed."""
    EXPIRED = "expired"
    """It waited too long (for keep-alives, staff or the password); nothing was changed."""


OPERATION_STATUSES: tuple[str, ...] = tuple(OperationStatus)
OPERATION_KINDS: tuple[str, ...] = tuple(OperationKind)
#: ``retry``: the server recorded nothing (a passing problem on its side); send it again later.
EvidenceFateName = Literal["accepted", "refused", "retry"]
DevicePollStatus = Literal["pending", "slow_down", "done"]

#: Opaque identifiers the server hands out (verification, operation, evidence IDs).
OPAQUE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Account IDs as the API carries them; the institution's own format is a server setting.
ACCOUNT_ID = re.compile(r"[\x21-\x7e]{1,64}")
#: Idempotency keys, as the server accepts them.
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{8,128}")
#: Documented error codes are lower-case words joined by underscores.
ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
DEVICE_CODE = re.compile(r"[A-Za-z0-9_-]{1,128}")
#: An operation's session key: base64url, handed out with the operation's creation.
SESSION_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")
STAFF_ID = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
#: An Argon2id hash in its PHC form; its cost is bounded below (``MAX_PIN_HASH_*``) so that a
#: roster cannot make the kiosk spend more than a moment, or much memory, on one check.
#: An authenticator app's enrolment URI (the Key URI format), as an MFA reset's result carries it.
ENROLMENT_URI = re.compile(r"otpauth://totp/[\x21-\x7e]{1,1000}")
PIN_HASH = re.compile(r"\$argon2id\$v=19\$m=([0-9]{1,7}),t=([0-9]{1,3}),p=([0-9]{1,2})"
                      r"\$[A-Za-z0-9+/]{11,64}\$[A-Za-z0-9+/]{16,128}")
MAX_PIN_HASH_MEMORY_KIB = 64 * 1024
MAX_PIN_HASH_PASSES = 10
MAX_PIN_HASH_LANES = 4
MAX_ROSTER = 500
READER_STATES = ("present", "absent", "error")
ROSTER_ROLES = ("desk", "supervisor")
#: Anything a person may read on screen: printable, no control characters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_URL = 2048
MAX_TOKEN = 8 * 1024
MIN_NONCE_BYTES = 16
MAX_NONCE_BYTES = 48


@dataclass(frozen=True)
class ServerInfo:
    """The server's discovery document: endpoints, its sealing key and its policies."""

    issuer: str
    token_url: str
    device_authorization_url: str
    jwks_url: str
    sealing_key: dict[str, object]
    password_policy: dict[str, object]
    account_id_pattern: str
    server_time: dt.datetime


@dataclass(frozen=True)
class Challenge:
    """A single-use nonce the card signs, bound to this kiosk, and when it stops being accepted."""

    nonce: bytes = field(repr=False)
    expires_at: dt.datetime


@dataclass(frozen=True)
class VerificationResult:
    """The server's answer to a card verification: match or no match for the claimed account."""

    verification_id: str
    match: bool
    name_on_record: str | None = field(repr=False)
    certificate_not_after: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True)
class Operation:
    """An operation as this kiosk sees it; ``result`` may hold codes shown once to the user.

    ``session_key`` comes with the creation: only this kiosk session may keep the operation
    alive, cancel it or send its password. It lives in memory only and is never shown or logged.
    """

    operation_id: str
    kind: OperationKind
    status: OperationStatus
    account_id: str
    result: dict[str, object] = field(repr=False)
    error_code: str | None
    approved_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    session_key: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class DeviceAuthorization:
    """An RFC 8628 device authorization: the code to show the user and the one to poll with."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


@dataclass(frozen=True)
class DevicePoll:
    """One poll of the device grant: still pending, asked to slow down, or done with the token."""

    status: DevicePollStatus
    interval: int
    account_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class EvidenceFate:
    """What the server decided for one offline evidence bundle."""

    idempotency_key: str
    evidence_id: str | None
    fate: EvidenceFateName
    error_code: str | None
    duplicate: bool


@dataclass(frozen=True)
class HealthReport:
    """What the kiosk tells the server of itself in a heartbeat."""

    version: str
    #: present, absent or error (``READER_STATES``).
    reader_state: str
    reader_name: str | None
    outbox_depth: int
    last_sync_at: dt.datetime | None


@dataclass(frozen=True)
class RosterMember:
    """A member of staff who may approve offline at this kiosk."""

    staff_id: str
    display_name: str
    role: str
    offline_pin_hash: str = field(repr=False)


@dataclass(frozen=True)
class Roster:
    """The heartbeat's answer: who may approve offline here, as of ``issued_at``."""

    issued_at: dt.datetime
    members: tuple[RosterMember, ...]


def _bad(what: str, name: str, why: str) -> ServerProtocolError:
    return ServerProtocolError(f"the server's {what} has an unacceptable {name!r}: {why}")


class Reader:
    """Reads the fields of one JSON object strictly, naming the field (not its value) on failure."""

    def __init__(self, data: object, what: str) -> None:
        if not isinstance(data, dict):
            raise ServerProtocolError(f"the server's {what} is not a JSON object")
        self._data = cast(dict[str, object], data)
        self.what = what

    def value(self, name: str) -> object:
        if name not in self._data:
            raise _bad(self.what, name, "missing")
        return self._data[name]

    def text(self, name: str, *, max_length: int, pattern: re.Pattern[str] | None = None,
             min_length: int = 1) -> str:
        value = self.value(name)
        if not isinstance(value, str):
            raise _bad(self.what, name, "not a string")
        if not min_length <= len(value) <= max_length:
            raise _bad(self.what, name, f"length outside {min_length}..{max_length}")
        if pattern is not None and pattern.fullmatch(value) is None:
            raise _bad(self.what, name, "wrong format")
        if pattern is None and _CONTROL.search(value):
            raise _bad(self.what, name, "control characters")
        return value

    def optional_text(self, name: str, *, max_length: int,
                      pattern: re.Pattern[str] | None = None) -> str | None:
        if self._data.get(name) is None:
            return None
        return self.text(name, max_length=max_length, pattern=pattern)

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        value = self.value(name)
        if not isinstance(value, str) or value not in allowed:
            raise _bad(self.what, name, "not one of the known values")
        return value

    def url(self, name: str) -> str:
        value = self.text(name, max_length=MAX_URL)
        if not (value.startswith("https://") or value.startswith("http://")) or any(
                ch.isspace() for ch in value):
            raise _bad(self.what, name, "not an http(s) URL")
        return value

    def integer(self, name: str, *, minimum: int, maximum: int) -> int:
        value = self.value(name)
        # bool is an int in Python, but true is not a number in JSON.
        if not isinstance(value, int) or isinstance(value, bool):
            raise _bad(self.what, name, "not an integer")
        if not minimum <= value <= maximum:
            raise _bad(self.what, name, f"outside {minimum}..{maximum}")
        return value

    def flag(self, name: str) -> bool:
        value = self.value(name)
        if not isinstance(value, bool):
            raise _bad(self.what, name, "not a boolean")
        return value

    def moment(self, name: str) -> dt.datetime:
        value = self.value(name)
        if not isinstance(value, str) or not 10 <= len(value) <= 40:
            raise _bad(self.what, name, "not an ISO 8601 date and time")
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _bad(self.what, name, "not an ISO 8601 date and time") from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise _bad(self.what, name, "no time zone")
        return parsed.astimezone(dt.UTC)

    def mapping(self, name: str) -> dict[str, object]:
        value = self.value(name)
        if not isinstance(value, dict):
            raise _bad(self.what, name, "not a JSON object")
        return dict(cast(Mapping[str, object], value))

    def b64(self, name: str, *, min_bytes: int, max_bytes: int) -> bytes:
        value = self.text(name, max_length=(max_bytes * 4 + 2) // 3, pattern=re.compile(r"[A-Za-z0-9_-]+"))
        try:
            data = unb64url(value)
        except ValueError:
            raise _bad(self.what, name, "not base64url") from None
        if not min_bytes <= len(data) <= max_bytes:
            raise _bad(self.what, name, f"not {min_bytes}..{max_bytes} bytes")
        return data


# -- the readers of each answer -----------------------------------------------------------------


def parse_server_info(data: object) -> ServerInfo:
    r = Reader(data, "server info")
    pattern = r.text("account_id_pattern", max_length=500)
    try:
        re.compile(pattern)
    except re.error:
        raise _bad(r.what, "account_id_pattern", "not a regular expression") from None
    return ServerInfo(
        issuer=r.url("issuer"), token_url=r.url("token_url"),
        device_authorization_url=r.url("device_authorization_url"), jwks_url=r.url("jwks_url"),
        sealing_key=r.mapping("sealing_key"), password_policy=r.mapping("password_policy"),
        account_id_pattern=pattern, server_time=r.moment("server_time"),
    )


def parse_health(data: object) -> bool:
    """Whether a health answer says the server and its database are fine; any other shape is not."""
    return isinstance(data, dict) and data.get("status") == "ok" and data.get("database", "ok") == "ok"


def parse_challenge(data: object) -> Challenge:
    r = Reader(data, "challenge")
    return Challenge(nonce=r.b64("nonce", min_bytes=MIN_NONCE_BYTES, max_bytes=MAX_NONCE_BYTES),
                     expires_at=r.moment("expires_at"))


def parse_verification(data: object) -> VerificationResult:
    r = Reader(data, "verification")
    return VerificationResult(
        verification_id=r.text("verification_id", max_length=64, pattern=OPAQUE_ID),
        match=r.flag("match"),
        name_on_record=r.optional_text("name_on_record", max_length=200),
        certificate_not_after=r.moment("certificate_not_after"),
        expires_at=r.moment("expires_at"),
    )


def _operation_result(r: Reader) -> dict[str, object]:
    """The result, with an enrolment URI (which becomes a QR code on screen) checked for its form."""
    result = r.mapping("result")
    uri = result.get("enrolment_uri")
    if uri is not None and not (isinstance(uri, str) and ENROLMENT_URI.fullmatch(uri)):
        raise _bad(r.what, "result.enrolment_uri", "not an otpauth://totp/ URI")
    return result


def parse_operation(data: object) -> Operation:
    r = Reader(data, "operation")
    return Operation(
        operation_id=r.text("operation_id", max_length=64, pattern=OPAQUE_ID),
        kind=OperationKind(r.choice("kind", OPERATION_KINDS)),
        status=OperationStatus(r.choice("status", OPERATION_STATUSES)),
        account_id=r.text("account_id", max_length=64, pattern=ACCOUNT_ID),
        result=_operation_result(r),
        error_code=r.optional_text("error_code", max_length=64, pattern=ERROR_CODE),
        approved_by=r.optional_text("approved_by", max_length=64, pattern=ACCOUNT_ID),
        created_at=r.moment("created_at"),
        updated_at=r.moment("updated_at"),
        session_key=r.optional_text("session_key", max_length=128, pattern=SESSION_KEY),
    )


def parse_device_authorization(data: object) -> DeviceAuthorization:
    r = Reader(data, "device authorization")
    return DeviceAuthorization(
        device_code=r.text("device_code", max_length=128, pattern=DEVICE_CODE),
        user_code=r.text("user_code", max_length=32),
        verification_uri=r.url("verification_uri"),
        verification_uri_complete=r.url("verification_uri_complete"),
        expires_in=r.integer("expires_in", minimum=1, maximum=86_400),
        interval=r.integer("interval", minimum=1, maximum=600),
    )


def parse_token(data: object, what: str = "token answer") -> tuple[str, int]:
    """The access token and its lifetime in seconds from an OAuth token answer (Bearer only)."""
    r = Reader(data, what)
    token = r.text("access_token", max_length=MAX_TOKEN, pattern=re.compile(r"[\x21-\x7e]+"))
    if r.text("token_type", max_length=16).lower() != "bearer":
        raise _bad(what, "token_type", "not Bearer")
    return token, r.integer("expires_in", minimum=1, maximum=86_400)


def parse_evidence_fates(data: object, keys: list[str]) -> list[EvidenceFate]:
    """The fate of each bundle, which must answer the batch's keys one for one, in order."""
    r = Reader(data, "evidence answer")
    results = r.value("results")
    if not isinstance(results, list) or len(results) != len(keys):
        raise _bad(r.what, "results", "not one result per bundle")
    fates = []
    for index, (item, key) in enumerate(zip(results, keys, strict=True)):
        f = Reader(item, f"evidence result {index}")
        fate = EvidenceFate(
            idempotency_key=f.text("idempotency_key", max_length=128, pattern=IDEMPOTENCY_KEY),
            evidence_id=f.optional_text("evidence_id", max_length=64, pattern=OPAQUE_ID),
            fate=cast(EvidenceFateName, f.choice("fate", ("accepted", "refused", "retry"))),
            error_code=f.optional_text("error_code", max_length=64, pattern=ERROR_CODE),
            duplicate=f.flag("duplicate"),
        )
        if fate.idempotency_key != key:
            raise _bad(f.what, "idempotency_key", "not the key sent in that place")
        # A refusal says why and an acceptance has nothing to say; a retry may name what passed.
        if (fate.fate == "refused" and fate.error_code is None) or (
                fate.fate == "accepted" and fate.error_code is not None):
            raise _bad(f.what, "error_code", "does not agree with the fate")
        fates.append(fate)
    return fates


def parse_roster(data: object) -> Roster:
    """The heartbeat's answer: distinct staff IDs, deciding roles, Argon2id hashes of bounded cost."""
    r = Reader(data, "heartbeat answer")
    items = r.value("roster")
    if not isinstance(items, list) or len(items) > MAX_ROSTER:
        raise _bad(r.what, "roster", f"not a list of at most {MAX_ROSTER} members")
    members: list[RosterMember] = []
    for index, item in enumerate(items):
        m = Reader(item, f"roster member {index}")
        member = RosterMember(
            staff_id=m.text("staff_id", max_length=64, pattern=STAFF_ID),
            display_name=m.text("display_name", max_length=200),
            role=m.choice("role", ROSTER_ROLES),
            offline_pin_hash=m.text("offline_pin_hash", max_length=200, pattern=PIN_HASH),
        )
        cost = PIN_HASH.fullmatch(member.offline_pin_hash)
        assert cost is not None
        memory, passes, lanes = (int(group) for group in cost.groups())
        if not (8 * lanes <= memory <= MAX_PIN_HASH_MEMORY_KIB and 1 <= passes <= MAX_PIN_HASH_PASSES
                and 1 <= lanes <= MAX_PIN_HASH_LANES):
            raise _bad(m.what, "offline_pin_hash", "its cost is out of bounds")
        if any(known.staff_id == member.staff_id for known in members):
            raise _bad(m.what, "staff_id", "appears twice")
        members.append(member)
    return Roster(issued_at=r.moment("issued_at"), members=tuple(members))
