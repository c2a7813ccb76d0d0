"""A migrated schema captured once and copied into each test's empty database.

SQLite: the template file is copied with SQLite's online backup API, which writes a
consistent copy of the database (its WAL included) into the test's own file.
PostgreSQL: `pg_dump` of the template schema (structure and rows, as plain INSERTs) is
replayed in the test's schema with the template's name replaced; the name is a random
token, so the replacement cannot touch anything else.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class MigratedTemplate:
    """What `fill` needs to rebuild the template in another empty database."""

    sqlite_path: str | None
    schema: str | None
    script: str | None

    @classmethod
    def capture(cls, engine: Engine) -> MigratedTemplate:
        """Record the migrated `engine` (SQLite file path, or PostgreSQL schema dump)."""
        if engine.dialect.name == "sqlite":
            return cls(sqlite_path=engine.url.database, schema=None, script=None)
        schema = _schema_of(engine)
        if shutil.which("pg_dump") is None:
            return cls(sqlite_path=None, schema=schema, script=None)
        url = engine.url.set(drivername="postgresql", query={})
        dumped = subprocess.run(
            ["pg_dump", "--schema", schema, "--inserts", "--no-owner", "--no-privileges"]
            + [url.render_as_string(hide_password=False)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        # psql meta-commands (`\restrict`) and the schema's own creation are not SQL to replay.
        lines = [line for line in dumped.splitlines() if not line.startswith("\\")]
        script = re.sub(rf"^CREATE SCHEMA {schema};$", "", "\n".join(lines), flags=re.M)
        return cls(sqlite_path=None, schema=schema, script=script)

    def fill(self, engine: Engine) -> None:
        """Give the empty database behind `engine` the template's schema and rows."""
        if self.sqlite_path is not None:
            assert engine.url.database is not None
            source = sqlite3.connect(self.sqlite_path)
            target = sqlite3.connect(engine.url.database)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            return
        if self.script is None:  # no pg_dump here: migrate for real
            from storage.migrate import upgrade

            upgrade(engine)
            return
        assert self.schema is not None
        script = self.script.replace(self.schema, _schema_of(engine))
        raw = engine.raw_connection()
        # The dump empties search_path for its session: this connection never goes back
        # to the pool.
        raw.detach()
        try:
            with raw.cursor() as cursor:
                cursor.execute(script)
            raw.commit()
        finally:
            raw.close()


def _schema_of(engine: Engine) -> str:
    """The schema a test URL's `options=-csearch_path=...` names."""
    options = make_url(engine.url).query.get("options", "")
    found = re.search(r"search_path=(\w+)", str(options))
    assert found, "test PostgreSQL URLs name their schema in options"
    return found.group(1)
