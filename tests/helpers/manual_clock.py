"""A monotonic clock that moves only when the test says, for the window's countdowns and clocks."""

from __future__ import annotations


class ManualClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
