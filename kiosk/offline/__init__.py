"""Verifying a card in person while the linkage server is out of reach, and sealing the evidence for it.

``LocalValidator`` checks the certificate against cached trust anchors and CRLs and the card's
signature over a kiosk-made challenge (``offline_challenge``); ``Evidence`` and ``seal`` turn the
result, with the staff approval and the hash of the user's voucher, into the sealed bundle the
server accepts at ``POST /v1/offline/evidence``. Nothing here touches the network, a database or
the screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kiosk.offline.kinds import OFFLINE_OPERATIONS, SALVAGE_MODES
from kiosk.offline.validate import (
    REVOCATION_GOOD,
    REVOCATION_NO_CRL,
    REVOCATION_STALE_CRL,
    CrlAge,
    LocalIdentity,
    LocalValidator,
    OfflineRefused,
)

if TYPE_CHECKING:
    from kiosk.offline.evidence import (
        Evidence,
        new_voucher,
        normalise_voucher,
        offline_challenge,
        seal,
        voucher_hash,
    )

__all__ = [
    "OFFLINE_OPERATIONS",
    "REVOCATION_GOOD",
    "REVOCATION_NO_CRL",
    "REVOCATION_STALE_CRL",
    "SALVAGE_MODES",
    "CrlAge",
    "Evidence",
    "LocalIdentity",
    "LocalValidator",
    "OfflineRefused",
    "new_voucher",
    "normalise_voucher",
    "offline_challenge",
    "seal",
    "voucher_hash",
]

_EVIDENCE = frozenset({"Evidence", "new_voucher", "normalise_voucher", "offline_challenge", "seal",
                       "voucher_hash"})


def __getattr__(name: str) -> Any:
    # Sealing evidence (joserfc) is loaded when first asked for: only an offline session needs it.
    if name in _EVIDENCE:
        from kiosk.offline import evidence

        return getattr(evidence, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
