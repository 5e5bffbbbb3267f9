"""Alembic environment for the kiosk store: runs on the connection the store hands over.

``KioskStore`` migrates on open through ``kiosk.store.db.upgrade``, which passes its connection
(already holding the write lock) in ``config.attributes["connection"]``. Run from the command
line instead, the environment opens the file named by ``sqlalchemy.url`` with the same pragmas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.types import TypeDecorator

from kiosk.store.db import make_engine, writer
from kiosk.store.models import Base

config = context.config


def _render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # A migration must not depend on the models module as it is today: a decorated type is
    # written as the plain column type it stores.
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                      render_item=_render_item)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    database = make_url(config.get_main_option("sqlalchemy.url") or "").database
    if not database:
        raise SystemExit("sqlalchemy.url must name the kiosk's SQLite file")
    engine = make_engine(Path(database))
    with writer(engine).begin() as own_connection:
        _run(own_connection)
    engine.dispose()
