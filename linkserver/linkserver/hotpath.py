"""A counter's every verification on PostgreSQL: statements that each do in one round trip what
takes several statements on SQLite (where a statement costs no round trip).

- ``CHALLENGE`` counts the kiosk's request and, unless it was refused, stores the nonce.
- ``CLAIM`` counts the kiosk's request; unless that was refused, uses the kiosk's own unused,
  unexpired nonce up; and only if it did, counts the attempt against the account.

Each part of a statement sees the same snapshot and the rows the others lock; a nonce raced by
two requests is updated by one (the other waits for its row lock, then finds it used).
"""

from __future__ import annotations

from sqlalchemy import text

from linkserver.ratelimit import spend_sql

_ACCOUNT_ROWS = "SELECT :account_bucket, :account_capacity - 1, :account_now, false FROM used"

CHALLENGE = text(f"""WITH counted AS ({spend_sql("postgresql", "kiosk_")}),
stored AS (
    INSERT INTO challenges (nonce, client_id, created_at, expires_at, used_at)
    SELECT :nonce, :client_id, :created_at, :expires_at, NULL FROM counted WHERE NOT counted.refused
)
SELECT tokens, refused FROM counted""")

CLAIM = text(f"""WITH kiosk AS ({spend_sql("postgresql", "kiosk_")}),
used AS (
    UPDATE challenges SET used_at = :at
    WHERE nonce = :nonce AND client_id = :owner AND used_at IS NULL AND expires_at > :at
      AND NOT (SELECT refused FROM kiosk)
    RETURNING nonce
),
account AS ({spend_sql("postgresql", "account_", _ACCOUNT_ROWS)})
SELECT kiosk.tokens AS kiosk_tokens, kiosk.refused AS kiosk_refused,
       (SELECT count(*) FROM used) AS used,
       account.tokens AS account_tokens, account.refused AS account_refused
FROM kiosk LEFT JOIN account ON true""")
