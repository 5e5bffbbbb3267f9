"""A counter's every verification on PostgreSQL: statements that each do in one round trip what
takes several statements on SQLite (where a statement costs no round trip).

- ``CHALLENGE`` counts the kiosk's request and, unless it was refused, stores the nonce.
- ``CLAIM`` counts the kiosk's request; unless that was refused, uses the kiosk's own unused,
  unexpired nonce up; and only if it did, counts the attempt against the account.
- ``RECORD`` finds the card's link, stores the verification with whether it matched the claim,
  then locks and reads the audit chain's head (``audit_head``): the transaction's last lock, as
  ``audit.seal`` would take it, with only the entry (and the head moved to it) left to write. The
  head is read in a subquery that depends on the stored row, so it is locked after the insert;
  a row lock that waited, or that found the row changed since the statement began, returns the
  row as its last appender left it.
- ``CLAIM_AND_RECORD`` is ``CLAIM`` then ``RECORD`` in one round trip, for a card already checked:
  the verification is stored (and the head locked) only when the claim let it through, so a
  refused claim leaves what ``CLAIM`` alone would leave.

Each runs through psycopg itself (``db.on_driver``): it is the same few statements on every
pair, and SQLAlchemy's execution layers would cost about as much CPU again as the driver's.

Each part of a statement sees the same snapshot and the rows the others lock; a nonce raced by
two requests is updated by one (the other waits for its row lock, then finds it used).
"""

from __future__ import annotations

from sqlalchemy import text

from linkserver.db import DriverStatement
from linkserver.ratelimit import spend_sql

_ACCOUNT_ROWS = "SELECT :account_bucket, :account_capacity - 1, :account_now, false FROM used"

CHALLENGE = DriverStatement(text(f"""WITH counted AS ({spend_sql("postgresql", "kiosk_")}),
stored AS (
    INSERT INTO challenges (nonce, client_id, created_at, expires_at, used_at)
    SELECT :nonce, :client_id, :created_at, :expires_at, NULL FROM counted WHERE NOT counted.refused
)
SELECT tokens, refused FROM counted"""))

_CLAIM_PARTS = f"""kiosk AS ({spend_sql("postgresql", "kiosk_")}),
used AS (
    UPDATE challenges SET used_at = :at
    WHERE nonce = :nonce AND client_id = :owner AND used_at IS NULL AND expires_at > :at
      AND NOT (SELECT refused FROM kiosk)
    RETURNING nonce
),
account AS ({spend_sql("postgresql", "account_", _ACCOUNT_ROWS)})"""
_CLAIMED = """kiosk.tokens AS kiosk_tokens, kiosk.refused AS kiosk_refused,
       (SELECT count(*) FROM used) AS used,
       account.tokens AS account_tokens, account.refused AS account_refused"""


def _record_parts(rows_from: str) -> str:
    """The link and the stored verification, whose one row is made from ``rows_from``."""
    return f"""link AS (SELECT account_id, name_on_card FROM links WHERE ppid = :ppid),
stored AS (
    INSERT INTO verifications (verification_id, client_id, account_id, ppid, matched, certificate_serial,
                               certificate_not_after, created_at, expires_at, operation_id)
    SELECT CAST(:verification_id AS varchar), CAST(:client_id AS varchar), CAST(:account_id AS varchar),
           CAST(:ppid AS varchar), COALESCE((SELECT link.account_id FROM link) = CAST(:account_id AS varchar),
           false), CAST(:certificate_serial AS varchar), CAST(:certificate_not_after AS timestamptz),
           CAST(:created_at AS timestamptz), CAST(:expires_at AS timestamptz), NULL
    {rows_from}
    RETURNING matched
)"""


_RECORDED = "stored.matched, link.name_on_card, head.seq AS head_seq, head.entry_hash AS head_hash"
_HEAD = """LEFT JOIN LATERAL (SELECT seq, entry_hash FROM audit_head
                   WHERE id = 1 AND stored.matched IS NOT NULL FOR UPDATE) AS head ON true"""

CLAIM = DriverStatement(text(f"""WITH {_CLAIM_PARTS}
SELECT {_CLAIMED}
FROM kiosk LEFT JOIN account ON true"""))

RECORD = DriverStatement(text(f"""WITH {_record_parts("")}
SELECT {_RECORDED}
FROM stored LEFT JOIN link ON true
{_HEAD}"""))

CLAIM_AND_RECORD = DriverStatement(text(f"""WITH {_CLAIM_PARTS},
{_record_parts("FROM account WHERE NOT account.refused")}
SELECT {_CLAIMED}, {_RECORDED}
FROM kiosk LEFT JOIN account ON true LEFT JOIN stored ON true LEFT JOIN link ON true
{_HEAD}"""))

#: Why a nonce ``CLAIM`` could not use was unusable: whose it is and whether it was used.
NONCE = DriverStatement(text("SELECT client_id, used_at FROM challenges WHERE nonce = :nonce"))
