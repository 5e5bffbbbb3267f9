"""``kiosk doctor``: every part the kiosk depends on, each a line saying OK or what to do.

The doctor only looks: it writes nothing to the kiosk's store (no audit entry, no roster, no
sealing key) and never creates it; a store that is not there yet is reported as such.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

from kiosk.linkage import LinkageError
from kiosk.linkage.config import tls_context
from kiosk.nfc.errors import CardError
from kiosk.services.core import KioskCore
from kiosk.services.outbox import SEALING_KEY_CACHE, age_words

#: More than this between the kiosk's clock and the server's, and certificates and tokens misbehave.
MAX_SKEW = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


#: The readers connected; and of some readers, the first with a card on it (None: no card).
ListReaders = Callable[[], list[str]]
FindCard = Callable[[list[str]], str | None]


def run_checks(core: KioskCore, list_readers: ListReaders, find_card: FindCard, *,
               store_missing: Path | None = None) -> list[Check]:
    """Every check; ``store_missing`` names the kiosk's store when it does not exist yet (``core``
    then holds an empty scratch store, so that nothing is created where the kiosk keeps its own)."""
    return [*_reader_checks(core, list_readers, find_card), *_checks(core),
            *_store_checks(core, store_missing)]


def _reader_checks(core: KioskCore, list_readers: ListReaders, find_card: FindCard) -> Iterator[Check]:
    try:
        readers = list_readers()
    except CardError as exc:
        yield Check("reader", False,
                    f"PC/SC is not available ({exc.code}): start pcscd and connect the reader")
        return
    wanted = core.settings.reader.name
    if not readers:
        yield Check("reader", False, "no card reader: connect the NFC reader (and check pcscd is running)")
        return
    if wanted and wanted not in readers:
        yield Check("reader", False, f"reader {wanted!r} is not connected; connected: {', '.join(readers)}")
        return
    yield Check("reader", True, ", ".join(readers))
    try:
        holder = find_card([wanted] if wanted else readers)
    except CardError as exc:
        yield Check("card", False, f"the readers cannot be watched ({exc.code})")
    else:
        yield Check("card", True, f"a card is on {holder}" if holder else
                    "no card on " + (wanted if wanted else "any reader"))


def _checks(core: KioskCore) -> Iterator[Check]:
    settings = core.settings

    now = core.clock()
    tls = tls_problem(core)
    if tls:
        yield Check("server", False, tls)
        yield from _offline_checks(core, now)
        return
    try:
        info = core.linkage.server_info()
    except LinkageError as exc:
        meanwhile = ("the kiosk works offline meanwhile" if settings.offline.enabled else
                     "offline verification is switched off, so the kiosk cannot verify meanwhile")
        yield Check("server", False, f"{settings.server.url} cannot be used ({exc.code}): check the network, "
                                     f"server.url and server.ca_file; {meanwhile}")
    else:
        scheme = "TLS" if settings.server.url.startswith("https://") else "loopback, no TLS"
        yield Check("server", True, f"{settings.server.url} ({scheme})")
        yield clock_check(info.server_time - now)
        try:
            core.linkage.challenge()
        except LinkageError as exc:
            yield Check("kiosk client", False, f"{settings.kiosk_id} is refused ({exc.code}): register the "
                                               "kiosk's public key with the server")
        else:
            yield Check("kiosk client", True, f"{settings.kiosk_id} authenticated")
            yield _heartbeat(core)
    yield from _offline_checks(core, now)


def tls_problem(core: KioskCore) -> str:
    """What is wrong with the server's TLS certificate as this kiosk sees it, or "" (also when the
    server cannot be reached at all: the API call says so). One handshake, never retried: a
    certificate the CA file does not trust is not a network fault."""
    url = core.settings.server.url
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return ""
    ca_file = core.settings.server.ca_file
    trusted_by = f"server.ca_file ({ca_file})" if ca_file else "the system's trust store (no server.ca_file)"
    todo = ("set server.ca_file to the CA certificate that issued the server's certificate" if ca_file is None
            else "server.ca_file must name the CA certificate that issued the server's certificate")
    try:
        with socket.create_connection((parts.hostname, parts.port or 443),
                                      timeout=core.settings.server.connect_timeout_seconds) as sock, \
                tls_context(core.linkage.config).wrap_socket(sock, server_hostname=parts.hostname):
            return ""
    except ssl.SSLCertVerificationError as exc:
        return (f"{url}: TLS certificate problem: {trusted_by} does not trust the server's certificate "
                f"({exc.verify_message}); {todo}")
    except ssl.SSLError as exc:
        return f"{url}: TLS certificate problem: the handshake failed ({exc.reason or exc}); {todo}"
    except OSError:
        return ""


def clock_check(offset: dt.timedelta) -> Check:
    """The kiosk's clock against the server's (``offset``: server time minus kiosk time)."""
    seconds = offset.total_seconds()
    ok = abs(offset) <= MAX_SKEW
    if abs(seconds) < 0.05:
        words = "the same as the server's"
    else:
        words = f"{abs(seconds):.1f} s {'behind' if seconds > 0 else 'ahead of'} the server's"
    return Check("clock", ok, f"the kiosk's clock is {words}" + ("" if ok else ": set the clock (NTP)"))


def _offline_checks(core: KioskCore, now: dt.datetime) -> Iterator[Check]:
    settings = core.settings
    if core.validator is None:
        yield Check("offline", True, "offline verification is switched off")
    else:
        for path in settings.offline.trust_anchors:
            cert = x509.load_pem_x509_certificate(path.read_bytes()) if path.read_bytes().startswith(
                b"-----") else x509.load_der_x509_certificate(path.read_bytes())
            left = cert.not_valid_after_utc - now
            yield Check(f"trust anchor {path.name}", left > dt.timedelta(days=30),
                        f"valid until {cert.not_valid_after_utc:%Y-%m-%d}"
                        + ("" if left > dt.timedelta(days=30) else ": install the new root"))
        ages = core.validator.crl_ages(now)
        if not ages:
            yield Check("CRL", not settings.offline.require_crl,
                        "no CRL: offline verification " + ("is refused" if settings.offline.require_crl
                                                           else "goes without revocation"))
        for age in ages:
            hours = age.age.total_seconds() / 3600
            yield Check(f"CRL {Path(age.source).name}", age.fresh,
                        f"{hours:.1f} h old" + ("" if age.fresh else ": past its next update, refresh it"))
        known = core.store.get_cache(SEALING_KEY_CACHE) is not None
        yield Check("sealing key", known, "the server's key for offline evidence is known" if known
                    else "unknown until the kiosk reaches the server once")
        yield _roster_age(core)


def _heartbeat(core: KioskCore) -> Check:
    """A heartbeat now: the server hears of the kiosk (the roster answered is not kept here)."""
    try:
        roster = core.linkage.heartbeat(core.heartbeat.report())
    except LinkageError as exc:
        return Check("heartbeat", False, f"refused ({exc.code}); the staff roster is not renewed")
    return Check("heartbeat", True, f"answered; {len(roster.members)} staff member(s) may approve offline")


def _roster_age(core: KioskCore) -> Check:
    age = core.roster.age()
    if age is None:
        return Check("staff roster", False, "none yet: nobody can approve offline until the kiosk reaches "
                                            "the server once")
    fresh = age <= core.roster.max_age
    return Check("staff roster", fresh, f"{age.total_seconds() / 3600:.1f} h old"
                 + ("" if fresh else ": too old for offline approval; bring the kiosk online"))


def _store_checks(core: KioskCore, missing: Path | None) -> Iterator[Check]:
    if missing is not None:
        yield Check("database", True, f"{missing} does not exist yet: the kiosk creates it when it "
                                      "first starts (kiosk run)")
        return
    path = core.settings.store_path
    if not (os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)):
        yield Check("database", False, f"{path} is not writable by this user: give the kiosk's user "
                                       "write access to it and its folder")
    else:
        yield Check("database", True, str(path))
    depth = core.store.outbox_depth()
    oldest = core.store.oldest_waiting()
    if not depth or oldest is None:
        yield Check("outbox", True, "empty")
    else:
        oldest_age = age_words(core.clock() - oldest.created_at)
        yield Check("outbox", True, f"{depth} item(s) waiting for the server, the oldest {oldest_age} old, "
                    f"last error {oldest.last_error or 'none'} (kiosk outbox list / sync)")
