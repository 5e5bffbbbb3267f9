"""The fast tier: the flow over a fake backend, with no pcscd, no server and no Qt.

Every case of ``tests.fast.cases`` runs here; ``test_flow_table`` checks that together they take
every transition of the flow's table, and nothing else.
"""

from __future__ import annotations

import pytest

from tests.fast.cases import CASES


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(name: str) -> None:
    CASES[name]()
