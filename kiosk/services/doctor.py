"""``kiosk doctor``: every part the kiosk depends on, each a line saying OK or what to do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from kiosk.linkage import LinkageError
from kiosk.nfc.errors import CardError
from kiosk.services.core import KioskCore
from kiosk.services.outbox import SEALING_KEY_CACHE, age_words, keep_sealing_key

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


def run_checks(core: KioskCore, list_readers: ListReaders, find_card: FindCard) -> list[Check]:
    return [*_reader_checks(core, list_readers, find_card), *_checks(core)]


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
    try:
        info = core.linkage.server_info()
    except LinkageError as exc:
        yield Check("server", False, f"{settings.server.url} cannot be used ({exc.code}): check the network, "
                                     "server.url and server.ca_file; the kiosk works offline meanwhile")
    else:
        keep_sealing_key(core.store, info.sealing_key)  # the server is here: refresh what offline needs
        scheme = "TLS" if settings.server.url.startswith("https://") else "loopback, no TLS"
        yield Check("server", True, f"{settings.server.url} ({scheme})")
        skew = abs(info.server_time - now)
        yield Check("clock", skew <= MAX_SKEW,
                    f"{skew.total_seconds():.1f} s from the server's clock"
                    + ("" if skew <= MAX_SKEW else ": set the clock (NTP)"))
        try:
            core.linkage.challenge()
        except LinkageError as exc:
            yield Check("kiosk client", False, f"{settings.kiosk_id} is refused ({exc.code}): register the "
                                               "kiosk's public key with the server")
        else:
            yield Check("kiosk client", True, f"{settings.kiosk_id} authenticated")
            yield _heartbeat(core)

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

    yield from _store_checks(core)


def _heartbeat(core: KioskCore) -> Check:
    """A heartbeat now: the server hears of the kiosk, and the staff roster is brought up to date."""
    try:
        roster = core.heartbeat.beat_once()
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


def _store_checks(core: KioskCore) -> Iterator[Check]:
    settings = core.settings
    try:
        core.store.audit("doctor")
    except Exception as exc:  # any failure to write is what this check is for
        yield Check("database", False, f"{settings.store_path} is not writable ({type(exc).__name__})")
    else:
        yield Check("database", True, str(settings.store_path))
    depth = core.store.outbox_depth()
    oldest = core.store.oldest_waiting()
    if not depth or oldest is None:
        yield Check("outbox", True, "empty")
    else:
        oldest_age = age_words(core.clock() - oldest.created_at)
        yield Check("outbox", True, f"{depth} item(s) waiting for the server, the oldest {oldest_age} old, "
                    f"last error {oldest.last_error or 'none'} (kiosk outbox list / sync)")
