"""The ``privacyidea`` MFA backend: an account's second factor reset through privacyIDEA's REST API.

The server signs in to privacyIDEA as a configured admin (``POST /auth``; the JWT is kept until a
minute before it expires, and fetched again when privacyIDEA answers 401). A reset lists the
user's tokens in the configured realm, deletes each, and enrols a new TOTP token whose secret
privacyIDEA generates; its ``otpauth://`` URI (privacyIDEA's ``googleurl``) is the enrolment the
kiosk shows once.

Every failure is an ``MfaUnavailable`` in words: privacyIDEA unreachable, not answering within the
timeout, an HTTP error, or an answer whose ``result.status`` is false (with privacyIDEA's own
message). One failure changes something: when the old tokens were deleted and the enrolment then
failed, the user has no second factor left until a retry enrols one; that is ``MfaPartlyReset``,
which says so. Neither the URI, nor the JWT, nor the admin password is ever logged or put in an
error's words.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx2
from sqlalchemy.orm import Session

from linkserver.directory import AccountInfo
from linkserver.logsafe import printable
from linkserver.mfa import Enrolment, MfaUnavailable

log = logging.getLogger(__name__)

#: How long the new token's enrolment may wait for its first use, by default.
FIRST_USE_WINDOW = dt.timedelta(hours=24)
#: The JWT is fetched again this long before it expires.
TOKEN_MARGIN_SECONDS = 60.0
#: How many tokens one page of ``GET /token/`` holds.
PAGE_SIZE = 100
#: The longest message of privacyIDEA's quoted in an error.
MESSAGE_LIMIT = 300


class PrivacyIdeaConnection(Protocol):
    """The ``[mfa.privacyidea]`` settings this backend reads."""

    @property
    def url(self) -> str: ...
    @property
    def ca_file(self) -> Path | None: ...
    @property
    def admin_user(self) -> str: ...
    @property
    def admin_password_file(self) -> Path: ...
    @property
    def realm(self) -> str: ...
    @property
    def timeout_seconds(self) -> int: ...


class MfaPartlyReset(MfaUnavailable):
    """The user's old tokens were deleted but no new one was enrolled: the account has no second
    factor until a retry of the reset, which enrols one."""

    def __init__(self, message: str, cleared: int) -> None:
        super().__init__(message)
        self.cleared = cleared


class _Refused(Exception):
    """privacyIDEA answered a call with an error: its HTTP status and its message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _message(response: httpx2.Response) -> str:
    """privacyIDEA's error message from an answer (bounded, on one line), or the HTTP status."""
    try:
        error = response.json()["result"]["error"]
        text = str(error.get("message") or error)
    except (ValueError, KeyError, TypeError, AttributeError):
        text = f"HTTP {response.status_code}"
    return printable(text[:MESSAGE_LIMIT])


def _lifetime(jwt: str) -> float:
    """Seconds the JWT stays valid, from its ``exp`` and ``iat`` claims (read, not verified: the
    token is privacyIDEA's to check); a minute when they cannot be read."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) - float(claims.get("iat", time.time()))
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        return TOKEN_MARGIN_SECONDS


class PrivacyIdeaMfa:
    """Resets second factors held by privacyIDEA; one HTTP client, made on first use."""

    def __init__(self, settings: PrivacyIdeaConnection, first_use: dt.timedelta = FIRST_USE_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.first_use = first_use
        self._clock = clock
        self._client: httpx2.Client | None = None
        self._jwt: str | None = None
        self._jwt_until = 0.0

    @property
    def where(self) -> str:
        return f"privacyIDEA at {self.settings.url}"

    def client(self) -> httpx2.Client:
        if self._client is None:
            verify: ssl.SSLContext | bool = True
            if self.settings.ca_file is not None:
                verify = ssl.create_default_context(cafile=str(self.settings.ca_file))
            self._client = httpx2.Client(
                base_url=self.settings.url.rstrip("/"), verify=verify, trust_env=False,
                timeout=httpx2.Timeout(float(self.settings.timeout_seconds)), follow_redirects=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _send(self, method: str, path: str, headers: dict[str, str] | None = None,
              **kwargs: Any) -> httpx2.Response:
        """One request; an unreachable or silent privacyIDEA is MfaUnavailable in words."""
        try:
            return self.client().request(method, path, headers=headers, **kwargs)
        except httpx2.TimeoutException:
            raise MfaUnavailable(f"{self.where} did not answer within "
                                 f"{self.settings.timeout_seconds} s") from None
        except httpx2.TransportError as exc:
            raise MfaUnavailable(f"{self.where} could not be reached: "
                                 f"{printable(exc) or type(exc).__name__}") from None

    def _login(self) -> str:
        """The admin's JWT, cached until shortly before it expires."""
        if self._jwt is not None and self._clock() < self._jwt_until:
            return self._jwt
        try:
            password = self.settings.admin_password_file.read_text("utf-8").strip()
        except OSError as exc:
            raise MfaUnavailable(f"the privacyIDEA admin password file {self.settings.admin_password_file} "
                                 f"cannot be read: {exc.strerror}") from None
        response = self._send("POST", "/auth", data={"username": self.settings.admin_user,
                                                     "password": password})
        try:
            jwt = str(response.json()["result"]["value"]["token"])
        except (ValueError, KeyError, TypeError):
            raise MfaUnavailable(f"{self.where} refused the admin login of '{self.settings.admin_user}': "
                                 f"{_message(response)}") from None
        self._jwt = jwt
        self._jwt_until = self._clock() + _lifetime(jwt) - TOKEN_MARGIN_SECONDS
        return jwt

    def _authorised(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        """One request as the admin; signs in again once when privacyIDEA refuses the JWT (401)."""
        response = self._send(method, path, headers={"Authorization": self._login()}, **kwargs)
        if response.status_code == 401:
            self._jwt = None
            response = self._send(method, path, headers={"Authorization": self._login()}, **kwargs)
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One admin call; its ``result.value``. Raises _Refused for privacyIDEA's error answers,
        MfaUnavailable when it cannot be asked."""
        response = self._authorised(method, path, **kwargs)
        try:
            result = response.json()["result"]
        except (ValueError, KeyError, TypeError):
            raise _Refused(response.status_code, _message(response)) from None
        if response.status_code >= 400 or not result.get("status"):
            raise _Refused(response.status_code, _message(response))
        return result.get("value")

    def check(self) -> str:
        """Signs in as the admin and finds the realm; one line of words, or MfaUnavailable."""
        try:
            realms = self.call("GET", "/realm/")
        except _Refused as exc:
            raise MfaUnavailable(f"{self.where} refused to list the realms: {exc.message}") from None
        realm = self.settings.realm
        if not isinstance(realms, dict) or realm not in realms:
            raise MfaUnavailable(f"{self.where}: realm '{realm}' not found")
        resolvers = ", ".join(str(r.get("name")) for r in realms[realm].get("resolver", []))
        return (f"{self.where}: signed in as admin '{self.settings.admin_user}', realm '{realm}' "
                f"found (resolvers: {resolvers or 'none'})")

    def user_tokens(self, user: str) -> list[str]:
        """The serial numbers of every token the user holds in the realm, page by page."""
        serials: list[str] = []
        page: int | None = 1
        while page:
            value = self.call("GET", "/token/", params={"user": user, "realm": self.settings.realm,
                                                       "page": page, "pagesize": PAGE_SIZE})
            serials += [str(token["serial"]) for token in value["tokens"]]
            page = value.get("next")
        return serials

    def reset(self, session: Session, account: AccountInfo, now: dt.datetime) -> Enrolment:
        """Deletes the user's tokens and enrols a new TOTP token; its URI is the enrolment."""
        user = account.account_id
        try:
            serials = self.user_tokens(user)
        except _Refused as exc:
            raise MfaUnavailable(f"{self.where} refused to list the tokens of '{user}': "
                                 f"{exc.message}; nothing was changed") from None
        cleared = self._delete(user, serials)
        try:
            detail = self._enrol(user)
        except MfaUnavailable as exc:
            if not cleared:
                raise
            raise MfaPartlyReset(f"{exc}; the user's {cleared} old token(s) were already deleted, so "
                                 "the account has no second factor until the reset is tried again",
                                 cleared) from None
        log.info("privacyIDEA reset: %d token(s) deleted, token %s enrolled", cleared,
                 printable(detail.get("serial", "?")))
        return Enrolment(uri=str(detail["googleurl"]["value"]), code=None,
                         expires_at=now + self.first_use, cleared=cleared)

    def _delete(self, user: str, serials: list[str]) -> int:
        """Deletes each token; counts them. A failure part way says how many went."""
        for done, serial in enumerate(serials):
            try:
                self.call("DELETE", f"/token/{serial}")
            except (_Refused, MfaUnavailable) as exc:
                message = str(exc)
                if isinstance(exc, _Refused):
                    message = f"{self.where} refused to delete token {printable(serial)} of '{user}': {exc}"
                if not done:
                    raise MfaUnavailable(f"{message}; nothing was changed") from None
                raise MfaPartlyReset(f"{message}; {done} of the user's {len(serials)} tokens were "
                                     "already deleted and no new one enrolled; a retry finishes the reset",
                                     done) from None
        return len(serials)

    def _enrol(self, user: str) -> dict[str, Any]:
        """``POST /token/init``: a new TOTP token with a secret privacyIDEA generates. Returns the
        answer's ``detail``, whose ``googleurl`` is the URI (read here, never logged or quoted)."""
        form = {"type": "totp", "genkey": "1", "user": user, "realm": self.settings.realm,
                "description": "reset at the help-desk kiosk"}
        response = self._authorised("POST", "/token/init", data=form)
        refused = f"{self.where} refused to enrol a TOTP token for '{user}'"
        try:
            body = response.json()
            ok = response.status_code < 400 and bool(body["result"]["status"])
            detail = body.get("detail") if ok else None
            uri = detail["googleurl"]["value"] if isinstance(detail, dict) else None
        except (ValueError, KeyError, TypeError):
            raise MfaUnavailable(f"{refused}: {_message(response)}") from None
        if not ok:
            raise MfaUnavailable(f"{refused}: {_message(response)}")
        if not isinstance(uri, str) or not uri.startswith("otpauth://totp/"):
            raise MfaUnavailable(f"{self.where} enrolled a token for '{user}' but its answer holds no "
                                 "otpauth URI")
        return dict(detail)  # type: ignore[arg-type]
