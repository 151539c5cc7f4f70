"""Alembic's environment: which metadata the migrations describe and how they connect.

Two callers: `service.schema` (the service's `perfbudget db upgrade`), which hands over an open
connection in `config.attributes["connection"]`; and Alembic's own command line (writing a new
revision with `make migration`), which connects to PERFBUDGET_DATABASE_URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

# service.db imports every table module; a new table module is imported there (and only there),
# so the migrations, `init_db` and the drift test all see the same tables.
import service.db  # noqa: F401
from service.db import engine_for
from service.settings import Settings

target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_for(Settings().effective_database_url)
    with engine.connect() as fresh:
        _run(fresh)


if context.is_offline_mode():
    msg = "offline (--sql) migrations are not supported; run them against a database"
    raise SystemExit(msg)
run_migrations_online()
