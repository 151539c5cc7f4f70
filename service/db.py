"""The application database: one engine per URL, its schema checked or migrated, short sessions.

Every table module is imported here, and only here: the migrations' environment
(`service/migrations/env.py`) and the drift test take their metadata from this import, so a new
table module added below is also one `make migration MESSAGE=...` away from a revision.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

import models.department_tables  # registers the department-year read model
import models.discipline_tables  # registers the transfers on finished projects
import models.disclosure_tables  # registers the published fiscal years
import models.evaluator_tables  # registers the expert library and the assignments
import models.notification_tables  # registers the outbox and directory on SQLModel.metadata
import models.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from service import schema
from service.settings import Settings

# One engine (and its connection pool) per URL, the least recently used dropped past this many:
# a process talks to one database; the test suite makes hundreds.
_MAX_ENGINES = 16
_engines: OrderedDict[str, Engine] = OrderedDict()
_engines_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """The process's engine for `url`, created on first use."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is not None:
            _engines.move_to_end(url)
            return engine
        engine = _engines[url] = _create_engine(url)
        if len(_engines) > _MAX_ENGINES:
            # Close the pool's connections now: an engine merely forgotten closes them when it
            # is garbage-collected, and psycopg warns of connections deleted while still open.
            _, evicted = _engines.popitem(last=False)
            evicted.dispose()
        return engine


def forget_engine(url: str) -> None:
    """Close the pooled connections to `url` and drop its engine (before dropping a database)."""
    with _engines_lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # No pre-ping: a file does not drop connections, and the ping is a statement more on
        # every checkout. A pool as large as PostgreSQL's: the API's threads and the worker's
        # activities share it in the embedded stack.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=10,
            max_overflow=20,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the API read while the worker writes; foreign keys are off by default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def open_db(settings: Settings) -> Engine:
    """The engine for the configured database, refusing one whose schema is not this code's.

    What the API, the worker and the CLI use: they never change the schema themselves (with
    several replicas starting at once, none of them should); `perfbudget db upgrade` does.
    Raises `service.schema.SchemaError`.
    """
    engine = engine_for(settings.effective_database_url)
    schema.require_head(engine)
    return engine


def init_db(settings: Settings) -> Engine:
    """The engine for the configured database, migrated to the newest schema first.

    For the embedded stack (`perfbudget up` owns its SQLite file) and for tests.
    """
    engine = engine_for(settings.effective_database_url)
    schema.upgrade(engine)
    return engine


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    with Session(engine_for(settings.effective_database_url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# SQLite's ANALYZE reads every index in full unless told how many rows to sample per index; a
# few hundred give its planner what it needs (SQLite's own advice for `PRAGMA optimize`).
_SQLITE_ANALYSIS_LIMIT = 1000


def refresh_statistics(engine: Engine, tables: Iterable[Table]) -> None:
    """Refresh the query planner's statistics of `tables`, after a bulk load into them (a
    projection rebuild).

    Without them a freshly loaded PostgreSQL plans the list filters as if each table held a
    handful of rows, until autovacuum's next pass (up to a minute later): 10,000 index lookups
    where one hash join would do, 28 ms instead of 4 for a filtered list's count.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text(f"PRAGMA analysis_limit={_SQLITE_ANALYSIS_LIMIT}"))
        quote = connection.dialect.identifier_preparer.quote
        for table in tables:
            connection.execute(text(f"ANALYZE {quote(table.name)}"))
