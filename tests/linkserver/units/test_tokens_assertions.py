"""A kiosk's client assertion (``private_key_jwt``): what proves a client, every refusal by its
code, status and words, the lifetimes at their exact second (the clock pinned) and the ``jti``
used once."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from linkserver.models import KioskClient
from linkserver.tokens import MAX_ASSERTION_BYTES, AuthError
from tests.linkserver.units.operations_parts import KIOSK, OTHER_KIOSK
from tests.linkserver.units.token_parts import DROP, NOW, TOKEN_URL, Bench, ec_key, rsa_key, unsigned


def refused_client(bench: Bench, assertion: str, words: str, *, client_id: str | None = None,
                   assertion_type: str | None = None) -> None:
    """The assertion is refused as ``invalid_client`` (401) with ``words``, and not recorded as used."""
    before = bench.used()
    kwargs = {} if assertion_type is None else {"assertion_type": assertion_type}
    with pytest.raises(AuthError, match=f"^{re.escape(words)}$") as caught:
        bench.authenticate(assertion, client_id, **kwargs)
    refusal = caught.value
    assert (refusal.code, refusal.status, refusal.description) == ("invalid_client", 401, words)
    assert bench.used() == before


def not_acceptable(what: str) -> str:
    return f"the client assertion is not acceptable ({what})"


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256"])
def test_a_valid_assertion_proves_its_client_once(bench: Bench, alg: str) -> None:
    key = ec_key() if alg == "ES256" else rsa_key()
    bench.register(KIOSK, key)
    assertion = bench.assertion(key, alg=alg, jti="jti-" + alg)
    client = bench.authenticate(assertion, KIOSK)
    assert (client.client_id, client.scopes) == (KIOSK, "verify operate offline")
    expiry = dt.datetime.fromtimestamp(NOW + 60 + 30, dt.UTC)
    assert bench.used() == [(KIOSK, "jti-" + alg, expiry)]
    refused_client(bench, assertion, "the client assertion was already used", client_id=KIOSK)


def test_the_client_id_may_be_left_out(bench: Bench) -> None:
    bench.register()
    assert bench.authenticate(bench.assertion(), None).client_id == KIOSK


def test_a_jti_is_the_clients_own(bench: Bench) -> None:
    """Two kiosks may happen to pick the same jti: each is used once per client."""
    bench.register(KIOSK)
    bench.register(OTHER_KIOSK, ec_key("other"))
    bench.authenticate(bench.assertion(jti="same-jti-1"))
    bench.authenticate(bench.assertion(ec_key("other"), OTHER_KIOSK, jti="same-jti-1"))
    assert sorted(client for client, _, _ in bench.used()) == [KIOSK, OTHER_KIOSK]


def test_only_the_jwt_bearer_assertion_type_is_taken(bench: Bench) -> None:
    bench.register()
    refused_client(bench, bench.assertion(), "client_assertion_type must be jwt-bearer",
                   assertion_type="urn:ietf:params:oauth:client-assertion-type:saml2-bearer")


def test_an_assertion_over_the_size_limit_is_refused_unread(bench: Bench) -> None:
    refused_client(bench, "x" * (MAX_ASSERTION_BYTES + 1), "the client assertion is too large")
    refused_client(bench, "x" * MAX_ASSERTION_BYTES, "the client assertion is not a JWT")


def test_what_is_no_jwt_is_refused(bench: Bench) -> None:
    refused_client(bench, "not-a-jwt", "the client assertion is not a JWT")


@pytest.mark.parametrize("claims", [{"sub": KIOSK}, {"iss": 7, "sub": KIOSK}], ids=["no iss", "number"])
def test_an_assertion_naming_no_client_is_refused(bench: Bench, claims: dict[str, object]) -> None:
    refused_client(bench, unsigned({"alg": "ES256"}, claims), "the client assertion names no matching client")


def test_an_assertion_of_another_client_than_the_one_named_is_refused(bench: Bench) -> None:
    bench.register()
    refused_client(bench, bench.assertion(), "the client assertion names no matching client",
                   client_id=OTHER_KIOSK)


def test_an_unknown_or_disabled_client_is_refused(bench: Bench) -> None:
    refused_client(bench, bench.assertion(), "unknown or disabled client")
    bench.register()
    bench.disable(KIOSK)
    refused_client(bench, bench.assertion(), "unknown or disabled client")


@pytest.mark.parametrize("how", ["other key", "hmac", "none", "rs512", "bad stored key"])
def test_an_assertion_that_does_not_verify_is_refused(bench: Bench, how: str) -> None:
    words = "the client assertion's signature does not verify"
    if how == "rs512":  # a key the client has, an algorithm outside the list
        bench.register(KIOSK, rsa_key())
        refused_client(bench, bench.assertion(rsa_key(), alg="RS512"), words)
        return
    bench.register()
    claims = {"iss": KIOSK, "sub": KIOSK, "aud": TOKEN_URL, "exp": NOW + 60, "jti": "jti-12345"}
    if how == "other key":
        assertion = bench.assertion(ec_key("impostor"))
    elif how == "hmac":
        assertion = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(b"k" * 32), algorithms=["HS256"])
    elif how == "none":
        assertion = unsigned({"alg": "none"}, claims)
    else:
        with bench.db.transaction() as session:
            client = session.get(KioskClient, KIOSK)
            assert client is not None
            client.public_jwk = {"kty": "EC", "crv": "P-256"}
        assertion = bench.assertion()
    refused_client(bench, assertion, words)


@pytest.mark.parametrize(("claim", "error"), [("sub", "missing_claim"), ("aud", "missing_claim"),
                                              ("exp", "missing_claim"), ("jti", "missing_claim")])
def test_each_essential_claim_is_needed(bench: Bench, claim: str, error: str) -> None:
    bench.register()
    refused_client(bench, bench.assertion(**{claim: DROP}), not_acceptable(error))


@pytest.mark.parametrize("changes", [{"sub": OTHER_KIOSK}, {"aud": "https://other.example/oauth/token"},
                                     {"aud": "https://link.example.ac.jp"}],
                         ids=["subject", "audience", "issuer as audience"])
def test_an_assertion_for_another_subject_or_audience_is_refused(bench: Bench,
                                                                 changes: dict[str, object]) -> None:
    bench.register()
    refused_client(bench, bench.assertion(**changes), not_acceptable("invalid_claim"))


def test_an_assertion_expires_at_its_second_past_the_leeway(bench: Bench) -> None:
    bench.register()
    refused_client(bench, bench.assertion(iat=NOW - 90, exp=NOW - 30), not_acceptable("expired_token"))
    bench.authenticate(bench.assertion(iat=NOW - 89, exp=NOW - 29))


def test_an_assertion_issued_in_the_future_is_refused_past_the_leeway(bench: Bench) -> None:
    bench.register()
    refused_client(bench, bench.assertion(iat=NOW + 31, exp=NOW + 90), not_acceptable("invalid_claim"))
    bench.authenticate(bench.assertion(iat=NOW + 30, exp=NOW + 90))


def test_an_assertion_may_live_the_longest_lifetime_and_no_longer(bench: Bench) -> None:
    bench.register()
    words = "client assertions may live at most 300 s"
    refused_client(bench, bench.assertion(iat=NOW - 10, exp=NOW - 10 + 301), words)
    bench.authenticate(bench.assertion(iat=NOW - 10, exp=NOW - 10 + 300))
    # Without iat, the lifetime counts from now.
    refused_client(bench, bench.assertion(iat=DROP, exp=NOW + 301), words)
    bench.authenticate(bench.assertion(iat=DROP, exp=NOW + 300))
    # An iat after now does not lengthen the life left: that counts from now as well.
    refused_client(bench, bench.assertion(iat=NOW + 20, exp=NOW + 301), words)


@pytest.mark.parametrize("changes", [{"exp": NOW + 60.5}, {"iat": NOW - 0.5}], ids=["exp", "iat"])
def test_times_that_are_not_whole_seconds_are_refused(bench: Bench, changes: dict[str, object]) -> None:
    bench.register()
    refused_client(bench, bench.assertion(**changes), "client assertions may live at most 300 s")


@pytest.mark.parametrize("jti", ["1234567", "j" * 129, 12345678], ids=["short", "long", "number"])
def test_a_jti_outside_its_bounds_is_refused(bench: Bench, jti: object) -> None:
    bench.register()
    words = "the client assertion's jti is not acceptable"
    if isinstance(jti, int):
        words = not_acceptable("invalid_claim")
    refused_client(bench, bench.assertion(jti=jti), words)


def test_a_jti_of_eight_and_of_128_characters_is_taken(bench: Bench) -> None:
    bench.register()
    for jti in ("12345678", "j" * 128):
        bench.authenticate(bench.assertion(jti=jti))
    assert sorted(jti for _, jti, _ in bench.used()) == ["12345678", "j" * 128]
