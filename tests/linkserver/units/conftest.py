"""Fixtures of the server's unit tests: its modules over its own database in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.linkserver.units.operations_parts import Desk, make_desk
from tests.linkserver.units.token_parts import Bench, make_bench


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    """The operation service on a fresh database, its clock pinned at ``T0``."""
    made = make_desk(tmp_path)
    yield made
    made.parts.db.dispose()


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    """The token service on a fresh database, its clock pinned at ``T0``."""
    made = make_bench(tmp_path)
    yield made
    made.db.dispose()
