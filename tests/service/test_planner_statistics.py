"""`refresh_statistics` gives the query planner statistics after a bulk load (SQLite and
PostgreSQL): without them a freshly loaded PostgreSQL plans a filtered list as if its tables
held a handful of rows."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlmodel import Session

from service.db import init_db, refresh_statistics
from service.projection import PROJECT_TABLES, apply_snapshot
from service.settings import Settings
from tests.service.test_projection import project


def has_statistics(engine: Engine) -> bool:
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            stat = connection.execute(
                text("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
            ).first()
            return stat is not None and (
                connection.execute(
                    text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'project'")
                ).scalar_one()
                > 0
            )
        analyzed = connection.execute(
            text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'project'")
        ).scalar_one()
        return analyzed is not None


def test_statistics_are_refreshed_after_a_load(database_url: str) -> None:
    engine = init_db(Settings(environment="test", database_url=database_url))
    with Session(engine) as session:
        apply_snapshot(session, project=project(), seq=0, entries=[], notify=False)
    assert not has_statistics(engine)
    refresh_statistics(engine, PROJECT_TABLES)
    assert has_statistics(engine)
