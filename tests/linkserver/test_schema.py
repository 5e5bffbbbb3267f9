"""The server against its own OpenAPI document: every operation, with and without an access token.

Schemathesis generates requests from ``/openapi.json`` (its examples, coverage and fuzzing phases)
and checks each answer with all its default checks: no server error, only documented status codes
and content types, bodies that match their schema, schema-valid requests accepted and invalid ones
refused. The app is served in process, over the demo data on SQLite, with rate limits high enough
that generated traffic is not throttled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transport import Response
from schemathesis.schemas import BaseSchema

from kiosk.nfc.sim import TestHierarchy
from linkserver.config import Limits
from linkserver.demo import DemoSetup, prepare_demo
from linkserver.server import LinkServer, build_server
from linkserver.tokens import SCOPES

GENEROUS = 1_000_000
#: Fixed, so that every run sends the same requests.
SEED = 20261125
#: Schemathesis' default expectations plus 413: every operation documents it, and a body within
#: the schema's limits can still exceed the server's configured request size.
CONFIG: dict[str, Any] = {
    "seed": SEED,
    "checks": {
        "positive_data_acceptance": {"expected-statuses": [
            "2xx", "3xx", "401", "403", "404", "409", "413", "429", "5xx"]},
        "negative_data_rejection": {"expected-statuses": [
            "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]},
    },
}
GENERATION = settings(max_examples=20, deadline=None, database=None, derandomize=True,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                             HealthCheck.data_too_large])


@dataclasses.dataclass(frozen=True)
class Served:
    setup: DemoSetup
    server: LinkServer
    app: FastAPI


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, hierarchy: TestHierarchy) -> Iterator[Served]:
    """The demo server with its limits raised, so that generated traffic is not throttled."""
    state = tmp_path_factory.mktemp("schema")
    setup = prepare_demo(state, hierarchy.path, issuer="http://testserver",
                         database_url=f"sqlite:///{state / 'linkserver.db'}")
    limits = Limits(kiosk_requests_per_minute=GENEROUS, account_verifications_per_hour=GENEROUS,
                    public_requests_per_minute=GENEROUS)
    server = build_server(dataclasses.replace(setup.settings, limits=limits))
    yield Served(setup, server, server.app)
    server.parts.db.dispose()


@pytest.fixture(scope="module")
def bearer_token(served: Served) -> str:
    """An access token for the demo kiosk with every scope, so that the staff routes are reached too."""
    token, _lifetime = served.server.parts.tokens.issue(served.setup.kiosk_id, sorted(SCOPES))
    return token


def _schema(served: Served) -> BaseSchema:
    config = SchemathesisConfig.from_dict(CONFIG)
    return schemathesis.openapi.from_asgi("/openapi.json", served.app, config=config)


@pytest.fixture(scope="module")
def anonymous_schema(served: Served) -> BaseSchema:
    return _schema(served)


@pytest.fixture(scope="module")
def authenticated_schema(served: Served, bearer_token: str) -> BaseSchema:
    schema = _schema(served)

    class Bearer:
        def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
            return bearer_token

        def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    schema.auth(refresh_interval=None)(Bearer)
    return schema


@pytest.fixture(autouse=True)
def _writable_node_id(request: pytest.FixtureRequest) -> None:
    # Lazily loaded schemas name each operation's subtest by rewriting the node's ``_nodeid``,
    # an attribute pytest 9 nodes no longer have.
    request.node._nodeid = request.node.nodeid


def _check_access(served: Served, case: schemathesis.Case, response: Response, token: str | None) -> None:
    """An operation that needs a token refuses a request without a valid one, and takes one with it."""
    path = served.app.openapi()["paths"][case.operation.path]
    if not path[case.operation.method.lower()].get("security"):
        return
    if token is not None and response.request.headers.get("Authorization") == f"Bearer {token}":
        assert response.status_code != 401, "a valid access token was refused"
    else:
        assert not 200 <= response.status_code < 300, "answered without a valid access token"


anonymous = schemathesis.pytest.from_fixture("anonymous_schema")
authenticated = schemathesis.pytest.from_fixture("authenticated_schema")


@anonymous.parametrize()
@GENERATION
def test_every_operation_without_a_token(case: schemathesis.Case, served: Served) -> None:
    response = case.call_and_validate()
    _check_access(served, case, response, None)


@authenticated.parametrize()
@GENERATION
def test_every_operation_with_a_token(case: schemathesis.Case, served: Served, bearer_token: str) -> None:
    response = case.call_and_validate()
    # Only requests made to test a missing or broken Authorization header go without the token.
    sent = response.request.headers.get("Authorization")
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    assert sent == f"Bearer {bearer_token}" or negative
    _check_access(served, case, response, bearer_token)
