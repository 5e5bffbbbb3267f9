"""The kiosk's services, with no Qt: verification, operations, the offline outbox, doctor, flows.

``core.KioskCore`` builds them from the settings; the window (and ``kiosk flow``) drive them.
"""
