"""The services' tests' fixtures: a clock the test sets and the stand-in linkage port on it."""

from __future__ import annotations

import pytest

from tests.services.service_parts import Clock, FakeLinkage


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def linkage(clock: Clock) -> FakeLinkage:
    return FakeLinkage(clock)
