"""Alembic driven from code: `triage db upgrade`, and the start-up check refusing an old schema."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from storage.database import describe_url
from storage.errors import SchemaNotCurrent

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that reuses `engine` instead of reading alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to `revision`."""
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo migrations down to `revision` (a revision id, or `-1` for one step)."""
    command.downgrade(alembic_config(engine), revision)


def history() -> list[tuple[str, str | None, str]]:
    """(revision, the revision it follows, its one-line description), newest first."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return [
        (rev.revision, _single(rev.down_revision), (rev.doc or "").strip())
        for rev in script.walk_revisions()
    ]


def known_revision(revision: str) -> bool:
    """Whether `revision` names a migration this code has."""
    return any(rev == revision for rev, _, _ in history())


def _single(down: str | Sequence[str] | None) -> str | None:
    if down is not None and not isinstance(down, str):
        return ",".join(down)
    return down


def head_revision() -> str | None:
    """The newest migration this code knows."""
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def ensure_current(engine: Engine) -> None:
    """Refuse to run on a database whose schema is not the one this code expects."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    where = describe_url(engine)
    if current is None:
        raise SchemaNotCurrent(
            f"The database {where} has no schema yet. Run `triage db upgrade` to create it."
        )
    raise SchemaNotCurrent(
        f"The database {where} is at migration {current}, this code needs {head}. "
        "Run `triage db upgrade`."
    )
