"""Help-desk kiosk for identity verification with the My Number Card."""

__version__ = "0.1.0"
