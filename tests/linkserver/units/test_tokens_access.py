"""Access tokens: what the server signs into one, and what ``check`` takes as a caller: its key and
algorithm, issuer and audience, type, the exact second it expires or starts (the clock pinned)
and its size."""

from __future__ import annotations

import datetime as dt

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from linkserver.tokens import MAX_ASSERTION_BYTES, AuthError, Caller
from tests.linkserver.units.operations_parts import ISSUER, KIOSK, T0
from tests.linkserver.units.token_parts import DROP, NOW, Bench, claims_of, ec_key, header_of

INVALID = "the access token is invalid or expired"


def refused_token(bench: Bench, token: str, words: str = INVALID) -> None:
    with pytest.raises(AuthError, match=f"^{words}$") as caught:
        bench.tokens.check(token)
    assert (caught.value.code, caught.value.status, caught.value.description) == ("invalid_token", 401, words)


def access_claims(**changes: object) -> dict[str, object]:
    """The claims of a token the server issued at ``T0``, with ``changes`` (``DROP`` leaves one out)."""
    claims: dict[str, object] = {"iss": ISSUER, "aud": ISSUER, "sub": KIOSK, "scope": "verify",
                                 "iat": NOW, "nbf": NOW, "exp": NOW + 300, "jti": "a-token-id"}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not DROP}


AT_JWT = {"typ": "at+jwt"}


def test_an_issued_token_carries_the_caller_and_is_signed_with_the_servers_key(bench: Bench) -> None:
    token, lifetime = bench.tokens.issue(KIOSK, ["verify", "operate"])
    assert lifetime == 300
    claims = claims_of(token)
    assert len(str(claims.pop("jti"))) == 22  # 16 random bytes
    assert claims == {"iss": ISSUER, "aud": ISSUER, "sub": KIOSK, "scope": "verify operate", "iat": NOW,
                      "nbf": NOW, "exp": NOW + 300}
    assert header_of(token) == {"alg": "ES256", "kid": bench.tokens.key_id, "typ": "at+jwt"}
    public = ECKey.import_key(bench.signing_key.as_dict(private=False))
    assert jwt.decode(token, public, algorithms=["ES256"]).claims["sub"] == KIOSK
    assert bench.tokens.check(token) == Caller(KIOSK, frozenset({"verify", "operate"}))
    assert claims_of(bench.tokens.issue(KIOSK, ["verify"])[0])["jti"] != claims_of(token)["jti"]


def test_an_account_token_names_the_account_and_may_be_shorter(bench: Bench) -> None:
    token, lifetime = bench.tokens.issue(KIOSK, ["account"], account_id="2024000002", seconds=60)
    assert (lifetime, claims_of(token)["exp"], claims_of(token)["account"]) == (60, NOW + 60, "2024000002")
    assert bench.tokens.check(token) == Caller(KIOSK, frozenset({"account"}), "2024000002")


def test_a_token_lives_to_the_second_its_leeway_ends(bench: Bench) -> None:
    token, _ = bench.tokens.issue(KIOSK, ["verify"])
    bench.clock.now = T0 + dt.timedelta(seconds=304)
    assert bench.tokens.check(token).client_id == KIOSK
    bench.clock.now = T0 + dt.timedelta(seconds=305)
    refused_token(bench, token)


def test_a_token_is_good_from_the_leeway_before_its_start(bench: Bench) -> None:
    token, _ = bench.tokens.issue(KIOSK, ["verify"])
    bench.clock.now = T0 - dt.timedelta(seconds=5)
    assert bench.tokens.check(token).client_id == KIOSK
    bench.clock.now = T0 - dt.timedelta(seconds=6)
    refused_token(bench, token)


@pytest.mark.parametrize("changes", [{"iss": "https://other.example"}, {"aud": "https://other.example"},
                                     {"aud": ISSUER + "/oauth/token"}, {"sub": DROP}, {"exp": DROP},
                                     {"iss": DROP}, {"aud": DROP}],
                         ids=["issuer", "audience", "token url", "no sub", "no exp", "no iss", "no aud"])
def test_a_token_for_another_issuer_or_audience_or_without_its_claims_is_refused(
        bench: Bench, changes: dict[str, object]) -> None:
    refused_token(bench, bench.signed(access_claims(**changes), AT_JWT))


@pytest.mark.parametrize("header", [{}, {"typ": "JWT"}], ids=["no type", "plain jwt"])
def test_only_an_access_token_is_taken(bench: Bench, header: dict[str, object]) -> None:
    """An ID token or client assertion signed by the same key is not an access token."""
    refused_token(bench, bench.signed(access_claims(), header), "not an access token")


def test_a_token_signed_otherwise_is_refused(bench: Bench) -> None:
    refused_token(bench, bench.signed(access_claims(), AT_JWT, ECKey.import_key(ec_key("impostor"))))
    refused_token(bench, bench.signed(access_claims(), AT_JWT, OctKey.import_key(b"k" * 32)))
    refused_token(bench, "not-a-token")


def test_what_the_caller_is_comes_from_the_claims(bench: Bench) -> None:
    no_scope = bench.signed(access_claims(scope=DROP, account=7), AT_JWT)
    assert bench.tokens.check(no_scope) == Caller(KIOSK, frozenset(), None)
    spaced = bench.signed(access_claims(scope=" verify  staff "), AT_JWT)
    assert bench.tokens.check(spaced).scopes == frozenset({"verify", "staff"})


def token_of_length(bench: Bench, length: int) -> str:
    """A valid token exactly ``length`` characters long (its subject padded to fit)."""
    for size in range(length * 3 // 4 - 400, length * 3 // 4):  # base64 takes 4 characters per 3 bytes
        token = bench.tokens.issue("k" * size, ["verify"])[0]
        if len(token) == length:
            return token
    raise AssertionError(f"no token of {length} characters")


def test_a_token_over_the_size_limit_is_refused_unread(bench: Bench) -> None:
    largest = token_of_length(bench, MAX_ASSERTION_BYTES)
    assert bench.tokens.check(largest).client_id.startswith("kkk")
    refused_token(bench, largest + "A", "the access token is too large")


def test_a_checked_token_is_remembered_by_its_exact_bytes_only(bench: Bench,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    token, _ = bench.tokens.issue(KIOSK, ["verify"])
    assert bench.tokens.check(token) == Caller(KIOSK, frozenset({"verify"}))
    header, _body, signature = token.split(".")
    wider = jwt.encode(header_of(token), {**claims_of(token), "scope": "verify operate"}, bench.signing_key,
                       algorithms=["ES256"]).split(".")[1]
    refused_token(bench, f"{header}.{wider}.{signature}")  # the claims changed under the signature

    def decoded_again(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a remembered token was decoded again")

    monkeypatch.setattr("linkserver.tokens.jwt.decode", decoded_again)
    assert bench.tokens.check(token) == Caller(KIOSK, frozenset({"verify"}))
    with pytest.raises(AssertionError, match="decoded again"):
        bench.tokens.check(bench.tokens.issue(KIOSK, ["verify"])[0])
