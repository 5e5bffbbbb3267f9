"""A backend that did not answer, written where staff look: the audit log, with the operation.

When the account directory (or the MFA server) is down, the operation's own transaction is rolled
back, so nothing of it is kept: the user's attempt would leave no trace, and staff could not see
why a counter's request did not go through. This records one ``backend_unavailable`` entry, in a
transaction of its own, naming the backend, the operation and its account; the operation itself
is untouched and can be retried.
"""

from __future__ import annotations

import logging

from linkserver import audit
from linkserver.db import Database
from linkserver.errors import ApiError
from linkserver.models import Operation

logger = logging.getLogger(__name__)

#: The answer codes that mean a backend did not answer, and the backend each names.
BACKEND_OF_CODE = {"directory_unavailable": "directory", "mfa_unavailable": "mfa"}


class BackendDown(Exception):
    """A backend cannot be used, found by ``check-backends``; the message says why, in words."""


def backend_down(exc: ApiError) -> str | None:
    """The backend an error says was unreachable, or None for any other error."""
    return BACKEND_OF_CODE.get(str(exc.code))


def record(db: Database, exc: ApiError, operation_id: str | None, client_id: str | None,
           staff: str | None = None) -> bool:
    """Write the outage to the audit log if ``exc`` is one; True when it was written.

    Never raises: the user's answer (the 503) matters more than this record, and a database that
    is down as well has nothing to write to.
    """
    backend = backend_down(exc)
    if backend is None:
        return False
    logger.warning("%s unavailable during operation %s", backend, operation_id or "-")
    try:
        with db.transaction() as session:
            op = session.get(Operation, operation_id) if operation_id else None
            audit.append(session, "backend_unavailable", client_id=client_id,
                         account_id=op.account_id if op else None,
                         details={"backend": backend, "code": str(exc.code),
                                  "operation_id": op.operation_id if op else "",
                                  **({"staff": staff} if staff else {})})
    except Exception:  # the outage was already logged above
        logger.exception("the %s outage could not be written to the audit log", backend)
        return False
    return True
