"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from linkserver.db import Database, alembic_config, schema_is_current
from linkserver.models import Base


def test_the_migrations_match_the_models(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert not schema_is_current(db.engine)
        db.migrate()
        assert schema_is_current(db.engine)
        with db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
        db.migrate()  # a second run is a no-op
        assert schema_is_current(db.engine)
    finally:
        db.dispose()


def test_downgrade_removes_every_table(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.migrate()
        config = alembic_config(db.engine.url.render_as_string(hide_password=False))
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
    finally:
        db.dispose()
