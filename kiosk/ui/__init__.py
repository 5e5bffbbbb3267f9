"""The kiosk's window (PySide6): the only package that imports Qt."""
