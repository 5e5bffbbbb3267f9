"""Administrative actions shared by the command line and the demo: clients, renewals, the audit check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from linkserver import audit
from linkserver.db import Database
from linkserver.models import KioskClient, Renewal
from linkserver.ppid import RenewalTable
from linkserver.tokens import DEFAULT_KIOSK_SCOPES, SCOPES, public_jwk_from_pem


def register_client(db: Database, client_id: str, public_key_pem: bytes,
                    scopes: Iterable[str] | None = None, *, replace: bool = False) -> KioskClient:
    """Register (or with ``replace``, re-key) a kiosk or staff client from its public key.

    ``scopes`` None: a new client gets the kiosk's default scopes, a re-keyed one keeps its own.
    """
    wanted = None if scopes is None else list(dict.fromkeys(scopes))
    unknown = [s for s in wanted or () if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}; known scopes: {', '.join(SCOPES)}")
    if not 1 <= len(client_id) <= 64 or not all(ch.isalnum() or ch in "-_." for ch in client_id):
        raise ValueError("a client ID is 1-64 letters, digits, '-', '_' or '.'")
    jwk = public_jwk_from_pem(public_key_pem)
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as session:
        client = session.get(KioskClient, client_id)
        if client is not None and not replace:
            raise ValueError(f"client {client_id!r} is already registered (use --replace to re-key it)")
        if client is None:
            client = KioskClient(client_id=client_id, created_at=now, offline_counter=0,
                                 scopes=" ".join(DEFAULT_KIOSK_SCOPES))
            session.add(client)
        if wanted is not None:
            client.scopes = " ".join(wanted)
        client.public_jwk, client.enabled = jwk, True
        audit.append(session, "client_registered", client_id=client_id,
                     details={"scopes": client.scopes.split(), "replaced": replace})
    return client


def list_clients(db: Database) -> list[KioskClient]:
    """Every registered client, by ID."""
    with db.transaction() as session:
        return list(session.scalars(select(KioskClient).order_by(KioskClient.client_id)))


def set_client_enabled(db: Database, client_id: str, enabled: bool, by: str) -> bool:
    """Revoke (``enabled`` False) or enable a client; its access tokens stop working within
    ``CLIENT_GATE_SECONDS``. Returns whether anything changed; LookupError for an unknown client."""
    with db.transaction() as session:
        client = session.get(KioskClient, client_id, with_for_update=True)
        if client is None:
            raise LookupError(f"no client {client_id!r} is registered (kiosk-linkserver clients list)")
        if client.enabled == enabled:
            return False
        client.enabled = enabled
        audit.append(session, "client_enabled" if enabled else "client_revoked", client_id=client_id,
                     details={"by": by})
    return True


def load_renewals(session: Session) -> RenewalTable:
    rows = session.execute(select(Renewal.old_serial, Renewal.new_serial)).all()
    return RenewalTable((int(old), int(new)) for old, new in rows)


def import_renewals(db: Database, table: RenewalTable) -> int:
    """Merge renewal pairs into the stored table; the merged table is checked as a whole first.

    Returns how many pairs were new. Nothing is stored if the merge would make a serial renew
    twice or a chain loop.
    """
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as session:
        existing = load_renewals(session)
        merged = RenewalTable([*existing.renewals.items(), *table.renewals.items()])
        new = {old: nxt for old, nxt in merged.renewals.items() if old not in existing.renewals}
        for old, nxt in new.items():
            session.add(Renewal(old_serial=str(old), new_serial=str(nxt), imported_at=now))
        audit.append(session, "renewals_imported", details={"pairs": len(new)})
    return len(new)


def check_audit(db: Database) -> audit.ChainReport:
    """The chain checked with the audit key and against its signed checkpoints."""
    from linkserver.anchor import check_anchored

    return check_anchored(db)
