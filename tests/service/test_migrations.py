"""Schema migrations: every path to head works, they agree with the tables, start-up checks them.

`test_migrations_match_the_tables` is the guard for later table changes: a table or column added
to a SQLModel module without a revision fails it, naming the difference (write the revision with
`make migration MESSAGE="..."`).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, MetaData, String, Table, create_engine, inspect, text
from sqlmodel import Session, SQLModel

import models.evaluator_tables
from models.discipline_tables import ClosedProjectTransfer
from models.tables import Department
from service import audit, cli, schema
from service.db import engine_for, init_db, open_db
from service.projection import apply_snapshot
from service.projects import project_history
from service.settings import Settings, get_settings
from tests.models.test_lifecycle import Driver
from tests.support.databases import fresh_postgres_database, postgres_base_url, sqlite_file_url


def _differences(engine: Engine, metadata: MetaData = SQLModel.metadata) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def _shape(engine: Engine) -> dict[str, Any]:
    """Everything about the tables that a query can tell apart, from reflection."""
    inspector = inspect(engine)
    shape: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        shape[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted(
                (tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
            ),
        }
    return shape


def test_the_migrations_have_one_head() -> None:
    assert schema.head() == schema.revisions()[-1]
    assert schema.revisions()[0] == schema.BASELINE


@pytest.mark.parametrize("start", [None, *schema.revisions()[:-1]], ids=lambda r: r or "empty")
def test_upgrade_reaches_head_from_every_earlier_revision(
    database_url: str, start: str | None
) -> None:
    engine = create_engine(database_url)
    try:
        if start is not None:
            schema.upgrade(engine, start)
            assert schema.current(engine) == start
        report = schema.upgrade(engine)
        assert (report.before, report.after) == (start, schema.head())
        assert _differences(engine) == []
        # Idempotent: a second upgrade (every replica's init container runs one) changes nothing.
        again = schema.upgrade(engine)
        assert (again.before, again.after, again.adopted) == (schema.head(), schema.head(), False)
    finally:
        engine.dispose()


def test_migrations_match_the_tables(database_url: str) -> None:
    """Fails when a SQLModel table differs from what the migrations build: write a revision."""
    engine = create_engine(database_url)
    try:
        schema.upgrade(engine)
        differences = _differences(engine)
    finally:
        engine.dispose()
    assert differences == [], (
        "the SQLModel tables and the migrations disagree; write a revision with "
        f'`make migration MESSAGE="..."`: {differences}'
    )


def test_the_drift_check_sees_a_table_without_a_migration(sqlite_url: str) -> None:
    """What the test above would say if a helper added a table and forgot its revision."""
    metadata = MetaData()
    for table in SQLModel.metadata.tables.values():
        table.to_metadata(metadata)
    Table("kind", metadata, Column("code", String(32), primary_key=True))
    engine = create_engine(sqlite_url)
    try:
        schema.upgrade(engine)
        differences = _differences(engine, metadata)
    finally:
        engine.dispose()
    assert [(d[0], d[1].name) for d in differences] == [("add_table", "kind")]


def test_create_all_makes_the_same_schema_as_the_migrations(
    database_url: str, tmp_path: Path
) -> None:
    """Test fixtures and the simulator may use create_all on throwaway databases because of this."""
    migrated = create_engine(database_url)
    # The second database on the same kind of server: another SQLite file, or a second
    # PostgreSQL schema in the same throwaway database.
    created: Engine | None = None
    try:
        schema.upgrade(migrated)
        if migrated.dialect.name == "sqlite":
            (tmp_path / "created").mkdir()
            created = create_engine(sqlite_file_url(tmp_path / "created"))
        else:
            with migrated.begin() as connection:
                connection.execute(text("CREATE SCHEMA created"))
            created = create_engine(
                database_url, connect_args={"options": "-c search_path=created"}
            )
        SQLModel.metadata.create_all(created)
        assert _shape(created) == _shape(migrated)
    finally:
        migrated.dispose()
        if created is not None:
            created.dispose()


def _tables_of(module: ModuleType) -> set[str]:
    return {
        cls.__table__.name
        for cls in vars(module).values()
        if isinstance(cls, type) and cls.__module__ == module.__name__ and hasattr(cls, "__table__")
    }


@pytest.mark.parametrize("version", ["newest", "older"])
def test_a_database_made_before_migrations_is_adopted_with_its_data(
    database_url: str, version: str
) -> None:
    """create_all of today's tables, or of an older version's (no expert library yet)."""
    later = _tables_of(models.evaluator_tables) if version == "older" else set()
    assert version == "newest" or later, "the older version lacks some tables"
    engine = create_engine(database_url)
    try:
        tables = [t for t in SQLModel.metadata.sorted_tables if t.name not in later]
        SQLModel.metadata.create_all(engine, tables=tables)
        with Session(engine) as session:
            session.add(Department(code="D1", name="一局", created_at=datetime.now(UTC)))
            session.commit()
        report = schema.upgrade(engine)
        assert report.adopted
        assert (report.before, report.after) == (None, schema.head())
        with Session(engine) as session:
            assert session.get(Department, "D1") is not None
        assert _differences(engine) == []  # the missing tables were added
    finally:
        engine.dispose()


def _settings(url: str) -> Settings:
    return Settings(environment="test", database_url=url)


def test_start_up_refuses_an_empty_database(sqlite_url: str) -> None:
    with pytest.raises(schema.SchemaError, match="run `perfbudget db upgrade` first"):
        open_db(_settings(sqlite_url))


def test_start_up_refuses_a_database_behind_or_ahead_of_the_code(sqlite_url: str) -> None:
    settings = _settings(sqlite_url)
    engine = init_db(settings)
    assert open_db(settings) is engine
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    with pytest.raises(schema.SchemaError, match="f00dfeed, which this version of perfbudget"):
        open_db(settings)


@pytest.fixture
def environment_settings(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Iterator[str]:
    """`perfbudget` reads its settings from the environment: point it at a fresh database."""
    monkeypatch.setenv("PERFBUDGET_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PERFBUDGET_ENVIRONMENT", "test")
    # Nothing listens there: a command that got past the schema check would fail differently.
    monkeypatch.setenv("PERFBUDGET_TEMPORAL_ADDRESS", "127.0.0.1:9")
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "command", [["up"], ["worker"], ["api"], ["projection", "rebuild"], ["audit", "verify"]]
)
def test_commands_refuse_an_unmigrated_database(
    environment_settings: str, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(command) == 1
    assert "run `perfbudget db upgrade` first" in capsys.readouterr().err


def test_db_upgrade_and_current(
    environment_settings: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["db", "current"]) == 1
    assert "at no revision" in capsys.readouterr().out
    assert cli.main(["db", "upgrade"]) == 0
    assert f"upgraded from empty to {schema.head()}" in capsys.readouterr().out
    assert cli.main(["db", "upgrade"]) == 0
    assert f"already at {schema.head()}" in capsys.readouterr().out
    assert cli.main(["db", "current"]) == 0
    assert "(up to date)" in capsys.readouterr().out
    assert schema.current(engine_for(environment_settings)) == schema.head()


@pytest.mark.postgresql
def test_concurrent_upgrades_take_turns_on_postgresql() -> None:
    """Every pod's init container upgrades at once on a rollout: all succeed, one migrates.

    PostgreSQL only: SQLite is the embedded stack's, upgraded by its one `perfbudget up`.
    """
    with fresh_postgres_database(postgres_base_url()) as url:
        _upgrade_concurrently(url)


def _upgrade_concurrently(url: str) -> None:
    engines = [create_engine(url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            reports = list(pool.map(schema.upgrade, engines))
        assert {report.after for report in reports} == {schema.head()}
        # Serialised by the advisory lock: exactly one of them found the database empty.
        assert sorted(report.before or "" for report in reports) == ["", *[schema.head()] * 3]
    finally:
        for engine in engines:
            engine.dispose()


def test_leads_on_closed_projects_recorded_before_0003_are_chained(database_url: str) -> None:
    """0003 appends each lead kept only in `closed_project_transfer` to its project's history,
    oldest first, so that `audit verify` covers it; a second upgrade adds nothing."""
    engine = create_engine(database_url)
    try:
        schema.upgrade(engine, "0002")
        d = Driver()
        d.do("submit")
        code, seq = d.state.info.code, d.state.seq
        leads = [("虚列支出", "审计移送函〔2031〕2号"), ("重复申报", "审计移送函〔2032〕5号")]
        with Session(engine) as session:
            apply_snapshot(
                session,
                project=d.state.model_copy(update={"history": []}),
                seq=seq,
                entries=d.state.history,
                notify=False,
            )
            for n, (reason, evidence) in enumerate(leads):
                session.add(
                    ClosedProjectTransfer(
                        code=code, key=f"{code}:lead-{n}", at=datetime(2031, 5, n + 1, tzinfo=UTC),
                        actor="fin", role="finance", project_state="exited", fiscal_year=2027,
                        reason=reason, evidence=evidence,
                    )
                )  # fmt: skip
            session.commit()
        schema.upgrade(engine)
        schema.upgrade(engine)
        with Session(engine) as session:
            history = project_history(session=session, code=code)
            assert [(h.seq, h.action, h.detail.get("reason")) for h in history[-2:]] == [
                (seq + 1, "transfer_to_discipline", "虚列支出"),
                (seq + 2, "transfer_to_discipline", "重复申报"),
            ]
            assert len(history) == seq + 2
            report = audit.verify(session, code=code)
            assert report.ok, report.breaks
            assert report.entries == seq + 2
    finally:
        engine.dispose()
