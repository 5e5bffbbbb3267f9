"""The server's logging: the HTTP client's own request lines (whose URLs carry an MFA server's query,
with the account ID) are kept out unless the level is debug."""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterator

import pytest

from linkserver.logsafe import log_config


@pytest.fixture
def restored() -> Iterator[None]:
    loggers = {name: logging.getLogger(name).level for name in ("", "httpx2", "httpcore2")}
    handlers = list(logging.getLogger().handlers)
    yield
    for name, level in loggers.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger().handlers[:] = handlers


@pytest.mark.parametrize(("level", "shown"), [("info", False), ("warning", False), ("debug", True)])
def test_the_http_clients_request_lines_only_at_debug(restored: None, level: str, shown: bool) -> None:
    logging.config.dictConfig(log_config(level))
    assert logging.getLogger("httpx2").isEnabledFor(logging.INFO) is shown
    assert logging.getLogger("httpcore2").isEnabledFor(logging.DEBUG) is shown
    assert logging.getLogger("linkserver").isEnabledFor(logging.INFO) is (level != "warning")
