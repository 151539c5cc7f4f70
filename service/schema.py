"""The application database's schema: Alembic migrations, and the check that start-up makes.

The migrations live in `service/migrations` (a package, so they ship in the wheel and the image).
`perfbudget db upgrade` applies them; the API, the worker and the other commands only *check*
that the database is at the revision this code was written for (`require_head`) and refuse to
start otherwise, because code running against a schema it does not know writes wrong rows or
fails on the first query of a path nobody tested. The embedded `perfbudget up` upgrades its own
SQLite database itself, so a fresh machine still starts with one command.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

# The revision that describes the schema `SQLModel.metadata.create_all` made before migrations
# existed; a database holding such tables but no version is adopted by it (see `upgrade`).
BASELINE = "0001"
# A table of the baseline that every database of perfbudget has.
_BASELINE_TABLE = "project_history"
# The PostgreSQL advisory lock that serialises concurrent upgrades ("perfbudg" in ASCII).
_LOCK_KEY = 0x7065726662756467


log = structlog.get_logger(__name__)


class SchemaError(RuntimeError):
    """The database is not at the schema revision this code needs; the message says what to do."""


def alembic_config() -> Config:
    """Alembic's configuration for the packaged migrations (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(files("service") / "migrations"))
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision this code knows; exactly one (a second head is a merge to write)."""
    heads = _scripts().get_heads()
    if len(heads) != 1:
        msg = (
            f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}); "
            "join them with `.venv/bin/alembic merge heads -m 'merge'`"
        )
        raise SchemaError(msg)
    return heads[0]


def revisions() -> list[str]:
    """Every known revision, oldest first."""
    return [script.revision for script in reversed(list(_scripts().walk_revisions()))]


def current(engine: Engine) -> str | None:
    """The revision the database is at; None for a database that has never been migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@dataclass(frozen=True)
class UpgradeReport:
    before: str | None
    after: str
    adopted: bool  # an unversioned database made by create_all was taken over with its data


def upgrade(engine: Engine, target: str = "head") -> UpgradeReport:
    """Apply every migration up to `target` (idempotent: at head it does nothing).

    A database created by `create_all` before migrations existed (tables, but no
    `alembic_version`) is adopted: the baseline adds the tables its version lacked and keeps the
    others with their data.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Every API and worker pod runs `db upgrade` in its init container: one at a time
            # (held until this transaction ends); the others then find the schema at head.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        before = MigrationContext.configure(connection).get_current_revision()
        config = alembic_config()
        config.attributes["connection"] = connection
        # The baseline creates only the tables such a database lacks (see its upgrade()).
        adopted = before is None and inspect(connection).has_table(_BASELINE_TABLE)
        command.upgrade(config, target)
    after = current(engine)
    assert after is not None  # noqa: S101  (just upgraded)
    if after != before:
        log.info("schema_upgraded", before=before, after=after, adopted=adopted)
    return UpgradeReport(before=before, after=after, adopted=adopted)


def require_head(engine: Engine) -> None:
    """Raise `SchemaError`, saying what to do, unless the database is at this code's head."""
    at = current(engine)
    wanted = head()
    if at == wanted:
        return
    where = engine.url.render_as_string(hide_password=True)
    if at is None:
        msg = (
            f"the database {where} has no perfbudget schema (or one made before migrations); "
            "run `perfbudget db upgrade` first"
        )
    elif at not in revisions():
        msg = (
            f"the database {where} is at schema revision {at}, which this version of perfbudget "
            f"does not know (it knows up to {wanted}): a newer version migrated it. Run that "
            "version, or restore the database from before the upgrade"
        )
    else:
        msg = (
            f"the database {where} is at schema revision {at}, this version needs {wanted}: "
            "run `perfbudget db upgrade`"
        )
    raise SchemaError(msg)
