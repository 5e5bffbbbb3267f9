"""The account directory on an LDAP server: OpenLDAP, or Active Directory.

Accounts are found by a configured attribute under a base DN, as a service account that may read
them and set their passwords; every connection is TLS (LDAPS or StartTLS) against one pinned CA
file. Names, mail and the date a member left come from configured attributes. Passwords are set by
the Password Modify extended operation (RFC 3062) on OpenLDAP, or by replacing ``unicodePwd`` on
Active Directory.

Second factors stay in the server's own ``accounts`` table: each account found in the directory
keeps a row there (its names and state copied from the directory), which holds its MFA state and
which links point to.

A directory that does not answer in time fails the call with ``directory_unavailable`` (HTTP 503):
the operation's transaction is rolled back, nothing is changed, and the same call may be retried.
A password the directory refuses fails with ``password_policy`` and the directory's reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import ldap
from ldap.controls import DecodeControlTuples
from ldap.controls.ppolicy import PasswordPolicyControl
from ldap.filter import escape_filter_chars
from sqlalchemy.orm import Session

from linkserver.config import PASSWORD_MODES, LdapSettings
from linkserver.directory import AccountInfo, SqlDirectory
from linkserver.errors import ApiError, ErrorCode
from linkserver.models import Account
from linkserver.outages import BackendDown
from linkserver.passwords import PasswordPolicy

logger = logging.getLogger(__name__)

#: The password policy control's error numbers (draft-behera-ldap-password-policy), as problem codes.
PPOLICY_PROBLEMS = {5: "too_weak", 6: "too_short", 7: "too_young", 8: "in_history"}
#: A refusal the directory gives without a policy control.
DIRECTORY_REFUSED = "directory_refused"
#: The failures that mean the directory cannot be reached or did not answer in time.
UNREACHABLE = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR, ldap.UNAVAILABLE, ldap.BUSY)


class DirectoryUnavailable(ApiError):
    """The directory did not answer (down, unreachable, TLS refused, or too slow): nothing changed."""

    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.DIRECTORY_UNAVAILABLE, 503)
        self.detail = detail


def unicode_pwd_change(password: str) -> list[tuple[int, str, list[bytes]]]:
    """Active Directory's password reset: ``unicodePwd`` replaced by the quoted password in UTF-16LE."""
    return [(ldap.MOD_REPLACE, "unicodePwd", [f'"{password}"'.encode("utf-16-le")])]


def parse_generalized_time(value: str) -> dt.datetime:
    """An LDAP GeneralizedTime (``20250401000000Z``, AD's ``20250401000000.0Z``) as an aware UTC time."""
    text = value.strip().removesuffix("Z").split(".")[0]
    return dt.datetime.strptime(text.ljust(14, "0"), "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)


def refusal_problems(exc: ldap.LDAPError) -> tuple[list[str], str]:
    """The problem codes and the directory's own words for a refused password change."""
    fields: dict[str, Any] = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    reason = str(fields.get("info") or fields.get("desc") or "")
    problems: list[str] = []
    try:
        controls = DecodeControlTuples(fields.get("ctrls") or [])
    except ldap.LDAPError:
        controls = []
    for control in controls:
        if isinstance(control, PasswordPolicyControl) and control.error is not None:
            problems.append(PPOLICY_PROBLEMS.get(control.error, DIRECTORY_REFUSED))
    return problems or [DIRECTORY_REFUSED], reason


class ConnectionPool:
    """A few bound service-account connections, checked before each use and replaced when dead."""

    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        self._password = settings.bind_password_file.read_text("utf-8").strip()
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(settings.pool_size)

    def open(self, dn: str | None = None, password: str | None = None) -> Any:
        """A new TLS connection bound as ``dn`` (the service account by default)."""
        s = self.settings
        conn = ldap.initialize(s.url)
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, float(s.timeout_seconds))
        conn.set_option(ldap.OPT_CONNECT_ASYNC, ldap.OPT_ON)
        conn.set_option(ldap.OPT_TIMEOUT, float(s.timeout_seconds))
        conn.timeout = s.timeout_seconds  # python-ldap's wait for each synchronous call's answer
        conn.set_option(ldap.OPT_X_TLS_CACERTFILE, str(s.ca_file))
        conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
        conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: applies the TLS options above
        try:
            if s.start_tls:
                conn.start_tls_s()
            conn.simple_bind_s(dn or s.bind_dn, self._password if dn is None else password)
        except BaseException:
            conn.unbind_s()
            raise
        return conn

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A live service connection; one that failed is dropped, so the next call reconnects."""
        if not self._slots.acquire(timeout=self.settings.timeout_seconds):
            raise DirectoryUnavailable("every directory connection is busy")
        conn = None
        try:
            conn = self._live()
            yield conn
        except UNREACHABLE as exc:
            self._drop(conn)
            conn = None
            raise DirectoryUnavailable(_words(exc)) from None
        except BaseException:
            self._drop(conn)
            conn = None
            raise
        finally:
            if conn is not None:
                self._idle.put(conn)
            self._slots.release()

    def _live(self) -> Any:
        """An idle connection that still answers (a directory restart kills them all), or a new one."""
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return self.open()
            try:
                conn.whoami_s()
                return conn
            except ldap.LDAPError:
                self._drop(conn)

    @staticmethod
    def _drop(conn: Any) -> None:
        if conn is not None:
            with suppress(ldap.LDAPError):
                conn.unbind_s()

    def close(self) -> None:
        while not self._idle.empty():
            self._drop(self._idle.get_nowait())


def _words(exc: ldap.LDAPError) -> str:
    fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return " ".join(str(fields.get(key, "")) for key in ("desc", "info")).strip() or type(exc).__name__


class LdapDirectory:
    """``AccountDirectory`` on an LDAP server, with MFA state in the server's ``accounts`` table."""

    def __init__(self, settings: LdapSettings, password_policy: PasswordPolicy | None = None,
                 pool: ConnectionPool | None = None) -> None:
        if settings.password_mode not in PASSWORD_MODES:
            raise ValueError(f"password_mode must be one of {PASSWORD_MODES}")
        self.settings = settings
        self.pool = pool or ConnectionPool(settings)
        self._mfa = SqlDirectory()
        #: Described beside a refusal, as the server's own policy check does.
        self.password_policy = password_policy or PasswordPolicy()

    def check(self) -> str:
        """Bind as the service account on a connection of its own and read the base DN: one line
        saying what was found; raises ``BackendDown`` with the reason in words."""
        s = self.settings
        try:
            conn = self.pool.open()
        except ldap.INVALID_CREDENTIALS:
            raise BackendDown(f"{s.url}: the directory refused the service account {s.bind_dn} "
                              f"(check directory.bind_password_file)") from None
        except ldap.LDAPError as exc:
            raise BackendDown(f"{s.url}: {_words(exc)}") from None
        try:
            conn.search_ext_s(s.base_dn, ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"],
                              timeout=s.timeout_seconds)
        except ldap.NO_SUCH_OBJECT:
            raise BackendDown(f"{s.url}: there is no {s.base_dn} (check directory.base_dn)") from None
        except ldap.LDAPError as exc:
            raise BackendDown(f"{s.url}: reading {s.base_dn}: {_words(exc)}") from None
        finally:
            conn.unbind_s()
        how = "StartTLS" if s.start_tls else "LDAPS"
        return f"LDAP at {s.url} over {how}: bound as {s.bind_dn}, {s.base_dn} found"

    def _attributes(self) -> list[str]:
        s = self.settings
        return [s.account_attribute, s.name_ja_attribute, s.name_en_attribute, s.mail_attribute,
                s.left_at_attribute]

    def _entry(self, account_id: str) -> tuple[str, dict[str, list[bytes]]] | None:
        """The account's DN and attributes, or None when the directory has no such account."""
        s = self.settings
        query = f"({s.account_attribute}={escape_filter_chars(account_id)})"
        with self.pool.connection() as conn:
            found = conn.search_ext_s(s.base_dn, ldap.SCOPE_SUBTREE, query, self._attributes(),
                                      timeout=s.timeout_seconds, sizelimit=2)
        entries = [(dn, attrs) for dn, attrs in found if dn]  # drops search references
        if len(entries) != 1:
            if entries:
                logger.warning("directory: %d entries have %s=%s", len(entries), s.account_attribute,
                               account_id)
            return None
        return entries[0]

    def _value(self, attrs: dict[str, list[bytes]], name: str) -> str | None:
        for key, values in attrs.items():
            if key.lower() == name.lower() and values:
                return bytes(values[0]).decode("utf-8")
        return None

    def info(self, account_id: str, attrs: dict[str, list[bytes]]) -> AccountInfo:
        """What the server needs of an entry: names, mail, and whether (and when) the member left."""
        s = self.settings
        name_en = self._value(attrs, s.name_en_attribute)
        name_ja = self._value(attrs, s.name_ja_attribute)
        left = self._value(attrs, s.left_at_attribute)
        left_at = parse_generalized_time(left) if left else None
        return AccountInfo(account_id, name_ja or name_en or account_id, self._value(attrs, s.mail_attribute)
                           or "", "left" if left_at else "active", left_at, 0, display_name_en=name_en)

    def find(self, session: Session, account_id: str) -> AccountInfo | None:
        entry = self._entry(account_id)
        if entry is None:
            return None
        found = self.info(account_id, entry[1])
        row = self._mirror(session, found)
        return AccountInfo(found.account_id, found.display_name, found.email, found.status, found.left_at,
                           row.mfa_methods, display_name_en=found.display_name_en)

    @staticmethod
    def _mirror(session: Session, found: AccountInfo) -> Account:
        """The account's row in the server's table, kept as the directory says (for MFA and links)."""
        row = session.get(Account, found.account_id)
        if row is None:
            row = Account(account_id=found.account_id, mfa_methods=0)
            session.add(row)
        row.display_name, row.email = found.display_name[:200], found.email[:254]
        row.status, row.left_at = found.status, found.left_at
        session.flush()
        return row

    def check_password(self, session: Session, account_id: str, password: str) -> bool:
        """A bind as the account with ``password``; an empty password is never tried (it would be
        an anonymous bind, which succeeds)."""
        entry = self._entry(account_id)
        if entry is None or not password:
            return False
        try:
            ConnectionPool._drop(self.pool.open(entry[0], password))
        except ldap.INVALID_CREDENTIALS:
            return False
        except UNREACHABLE as exc:
            raise DirectoryUnavailable(_words(exc)) from None
        return True

    def prepare_password(self, password: str) -> None:
        """Nothing: the LDAP server hashes the password itself."""

    def set_password(self, session: Session, account_id: str, password: str, at: dt.datetime, *,
                     prepared: str | None = None) -> None:
        entry = self._entry(account_id)
        if entry is None:
            raise LookupError("no such account")
        dn = entry[0]
        try:
            with self.pool.connection() as conn:
                if self.settings.password_mode == "unicode_pwd":
                    conn.modify_ext_s(dn, unicode_pwd_change(password))
                else:
                    conn.passwd_s(dn, None, password, serverctrls=[PasswordPolicyControl()])
        except (ldap.CONSTRAINT_VIOLATION, ldap.UNWILLING_TO_PERFORM) as exc:
            problems, reason = refusal_problems(exc)
            raise ApiError(ErrorCode.PASSWORD_POLICY, 422, extra={
                "problems": problems, "policy": self.password_policy.describe(), "reason": reason}) from None
        row = session.get(Account, account_id)
        if row is not None:
            row.password_changed_at = at

    def reset_mfa(self, session: Session, account_id: str, enrolment_code: str,
                  expires_at: dt.datetime) -> int:
        """As the SQL directory: the methods live in the account's row, which ``find`` created."""
        return self._mfa.reset_mfa(session, account_id, enrolment_code, expires_at)
