"""The kiosk's screens; importing this package registers each of them for its flow states."""

from kiosk.ui.screens import entry, outcome  # noqa: F401
