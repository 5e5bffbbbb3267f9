"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from kiosk.nfc.sim import TestHierarchy
from linkserver.db import MIGRATIONS, Database, alembic_config, schema_is_current
from linkserver.demo import prepare_demo
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


def newest_revision() -> str:
    """The migration no other one builds on, read from the files themselves."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text("utf-8")
        revisions.add(re.search(r"^revision = ['\"](\w+)['\"]", source, re.MULTILINE)[1])  # type: ignore[index]
        parent = re.search(r"^down_revision = ['\"](\w+)['\"]", source, re.MULTILINE)
        if parent:
            parents.add(parent[1])
    [head] = revisions - parents
    return head


def test_the_migrate_command_brings_an_empty_database_to_the_head_and_can_run_again(
        database_url: str, tmp_path: Path, hierarchy: TestHierarchy) -> None:
    config = prepare_demo(tmp_path / "state", hierarchy.path).config_path  # the demo's own SQLite ...
    settings = config.read_text("utf-8")
    settings, replaced = re.subn(r"^database_url = .*$", f"database_url = {json.dumps(database_url)}",
                                 settings, flags=re.MULTILINE)
    assert replaced == 1
    config.write_text(settings, "utf-8")  # ... replaced by the empty test database
    db = Database(database_url)
    try:
        assert inspect(db.engine).get_table_names() == []
        migrate = [sys.executable, "-m", "linkserver.cli", "migrate", "--config", str(config)]
        for _run in range(2):
            result = subprocess.run(migrate, capture_output=True, text=True, timeout=120, check=False)
            assert result.returncode == 0, result.stdout + result.stderr
            assert result.stdout == "the database schema is up to date\n", result.stdout
            with db.engine.connect() as connection:
                versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
                assert versions == [newest_revision()]
                assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        db.dispose()
