"""What may be done while the linkage server is out of reach (no cryptography needed to know it)."""

from __future__ import annotations

#: The operations a staff member may approve at the counter while the kiosk is offline.
OFFLINE_OPERATIONS = ("password_reset", "mfa_reset", "salvage")
#: What a salvage asks for: a backup of the cloud data, or its forwarding.
SALVAGE_MODES = ("backup", "forwarding")
