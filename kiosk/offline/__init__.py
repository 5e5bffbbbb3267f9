"""Verifying a card in person while the linkage server is out of reach, and sealing the evidence for it.

``LocalValidator`` checks the certificate against cached trust anchors and CRLs and the card's
signature over a kiosk-made challenge (``offline_challenge``); ``Evidence`` and ``seal`` turn the
result, with the staff approval and the hash of the user's voucher, into the sealed bundle the
server accepts at ``POST /v1/offline/evidence``. Nothing here touches the network, a database or
the screen.
"""

from __future__ import annotations

from kiosk.offline.evidence import (
    OFFLINE_OPERATIONS,
    SALVAGE_MODES,
    Evidence,
    new_voucher,
    normalise_voucher,
    offline_challenge,
    seal,
    voucher_hash,
)
from kiosk.offline.validate import (
    REVOCATION_GOOD,
    REVOCATION_NO_CRL,
    REVOCATION_STALE_CRL,
    CrlAge,
    LocalIdentity,
    LocalValidator,
    OfflineRefused,
    utc_now,
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
    "utc_now",
    "voucher_hash",
]
