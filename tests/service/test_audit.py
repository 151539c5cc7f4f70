"""The tamper-evident audit trail: hash chains over the history rows, and `audit verify`.

The chain tests run on SQLite and on PostgreSQL (the stored `at` and `detail` must give back the
hashed values on both); the end-to-end test runs the whole stack of `tests/api`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel, col, select

from models.project_state import HistoryEntry, ProjectInfo, ProjectState
from models.tables import HistoryRow
from models.vocabulary import Role
from service import audit, schema
from service.cli import main
from service.db import engine_for
from service.projection import apply_snapshot
from service.settings import get_settings
from tests.api.conftest import Api, api  # noqa: F401  (the whole-stack fixture)
from tests.factories import filing
from tests.factories import goals as goals_body

CODE = "AUD-1"
N = 6


def entry(seq: int, **changes: Any) -> HistoryEntry:
    values: dict[str, Any] = {
        "seq": seq,
        "at": datetime(2027, 3, 1, 2, 0, tzinfo=UTC) + timedelta(days=seq, microseconds=seq),
        "actor": "clerk" if seq % 2 else "fin",
        "role": Role.DEPARTMENT if seq % 2 else Role.FINANCE,
        "action": f"action_{seq}",
        "fiscal_year": 2027 if seq > 1 else None,
        "from_state": f"s{seq - 1}",
        "to_state": f"s{seq}",
        "detail": {"comment": "请审核", "amount": "1000000.00", "score": 85.5, "n": seq},
    }
    return HistoryEntry(**(values | changes))


ENTRIES = [entry(seq) for seq in range(1, N + 1)]


def project(code: str = CODE) -> ProjectState:
    info = ProjectInfo.model_validate({**filing(code), "department": "D1"})
    return ProjectState(info=info, state="active")


def full_chain(code: str = CODE, entries: list[HistoryEntry] = ENTRIES) -> list[audit.Record]:
    return audit.chain(code, entries, lambda seq: None)


def links(records: list[audit.Record]) -> list[tuple[int, str, str]]:
    return [(r.seq, r.prev_hash, r.hash) for r in records]


# --- the pure chain ---------------------------------------------------------------------------


class TestChain:
    def test_each_hash_covers_the_content_and_the_previous_hash(self) -> None:
        rows = full_chain()
        assert rows[0].prev_hash == audit.genesis(CODE)
        assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
        assert len({r.hash for r in rows}) == N
        for r, e in zip(rows, ENTRIES, strict=True):
            assert r.hash == audit.entry_hash(CODE, e, r.prev_hash)
        # Every audited field is in the hash, and the project code too.
        for change in (
            {"at": ENTRIES[2].at + timedelta(microseconds=1)},
            {"actor": "mallory"},
            {"role": Role.ADMIN},
            {"action": "approve_budget"},
            {"fiscal_year": 2028},
            {"from_state": "x"},
            {"to_state": "y"},
            {"detail": {**ENTRIES[2].detail, "score": 95.5}},
        ):
            assert audit.entry_hash(CODE, entry(3, **change), rows[1].hash) != rows[2].hash
        assert audit.entry_hash(CODE, ENTRIES[2], rows[0].hash) != rows[2].hash
        assert full_chain("AUD-2")[0].hash != rows[0].hash

    def test_the_same_instant_and_detail_in_any_form_hash_alike(self) -> None:
        """What the database gives back (naive UTC, JSON values) hashes as what was written."""
        written = entry(
            1, at=datetime(2027, 3, 1, 10, 0, tzinfo=UTC), detail={"a": Decimal("1.50")}
        )
        local = written.at.astimezone(timezone(timedelta(hours=8)))  # 18:00 in Beijing
        prev = audit.genesis(CODE)
        expected = audit.entry_hash(CODE, written, prev)
        assert audit.entry_hash(CODE, written.model_copy(update={"at": local}), prev) == expected
        stored = written.model_copy(
            update={"at": written.at.replace(tzinfo=None), "detail": {"a": "1.50"}}
        )
        assert audit.entry_hash(CODE, stored, prev) == expected

    def test_the_api_write_through_computes_what_the_activity_does(self) -> None:
        """The activity passes every unprojected entry; the API only those of one update,
        chained from the stored row before them: both give the same hashes, in any order."""
        activity = full_chain()
        stored = {r.seq: r.hash for r in activity[:3]}
        through = audit.chain(CODE, ENTRIES[3:5], stored.get)
        assert through == activity[3:5]
        # Given out of order and twice, a batch still chains in seq order, once per seq.
        assert audit.chain(CODE, [*reversed(ENTRIES), ENTRIES[0]], stored.get) == activity

    def test_a_batch_whose_predecessor_is_unknown_is_left_for_the_activity(self) -> None:
        stored = {r.seq: r.hash for r in full_chain()[:2]}  # #3 not stored yet
        assert audit.chain(CODE, ENTRIES[3:5], stored.get) == []
        # A run that can chain is written up to the first hole.
        rows = audit.chain(CODE, [ENTRIES[2], ENTRIES[4]], stored.get)
        assert [r.seq for r in rows] == [3]


# --- stored chains and tampering --------------------------------------------------------------


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = engine_for(database_url)
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def write(engine: Engine, entries: list[HistoryEntry], seq: int | None = None) -> None:
    with Session(engine) as session:
        last = seq if seq is not None else (entries[-1].seq if entries else 0)
        apply_snapshot(session, project=project(), seq=last, entries=entries, notify=False)


def stored(engine: Engine) -> list[audit.Record]:
    with Session(engine) as session:
        rows = session.exec(
            select(HistoryRow).where(HistoryRow.code == CODE).order_by(col(HistoryRow.seq))
        ).all()
        return [audit.Record(**r.model_dump(include=set(audit.Record._fields))) for r in rows]


def verify(engine: Engine) -> audit.AuditReport:
    with Session(engine) as session:
        return audit.verify(session)


def execute(engine: Engine, *statements: str, **params: Any) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), params)


def only_break(engine: Engine) -> audit.Break:
    report = verify(engine)
    assert not report.ok
    [broken] = report.breaks
    assert broken.code == CODE
    return broken


class TestVerify:
    def test_a_clean_chain_verifies(self, engine: Engine) -> None:
        write(engine, ENTRIES)
        assert links(stored(engine)) == links(full_chain())
        report = verify(engine)
        assert report.ok
        assert (report.projects, report.entries) == (1, N)

    def test_writers_in_any_order_store_the_chain_of_the_entries(self, engine: Engine) -> None:
        """The API's write-through of one update racing ahead of the projection activity."""
        write(engine, ENTRIES[:2])  # the API, at filing
        write(engine, ENTRIES[3:5])  # the API, an update: #3 is not stored yet → deferred
        assert [r.seq for r in stored(engine)] == [1, 2]
        assert only_break(engine).kind == "removed"  # the project row already says #5
        write(engine, ENTRIES[2:5])  # the activity: every entry after #2
        write(engine, ENTRIES[5:])  # the API: #6, chained from the stored #5
        write(engine, ENTRIES)  # a retried activity: nothing new
        assert links(stored(engine)) == links(full_chain())
        assert verify(engine).ok

    def test_a_rebuild_stores_the_same_hashes(self, engine: Engine) -> None:
        write(engine, ENTRIES[:3])
        write(engine, ENTRIES[3:])
        live = stored(engine)
        execute(engine, "DELETE FROM project_history", "DELETE FROM project")
        write(engine, ENTRIES)
        assert stored(engine) == live
        assert verify(engine).ok

    def test_an_altered_detail_is_named(self, engine: Engine) -> None:
        write(engine, ENTRIES)
        execute(
            engine,
            "UPDATE project_history SET detail = :detail WHERE code = :code AND seq = 3",
            detail='{"comment": "同意", "amount": "9000000.00", "score": 85.5, "n": 3}',
            code=CODE,
        )
        broken = only_break(engine)
        assert (broken.seq, broken.kind) == (3, "altered")
        assert str(broken) == f"{CODE} #3: altered: the row's content does not match its hash"

    def test_an_altered_row_with_its_hash_recomputed_breaks_the_next_link(
        self, engine: Engine
    ) -> None:
        write(engine, ENTRIES)
        forged = audit.entry_hash(CODE, entry(3, actor="mallory"), full_chain()[1].hash)
        execute(
            engine,
            "UPDATE project_history SET actor = 'mallory', hash = :hash "
            "WHERE code = :code AND seq = 3",
            hash=forged,
            code=CODE,
        )
        broken = only_break(engine)
        assert (broken.seq, broken.kind) == (4, "altered")
        assert "does not follow #3" in broken.message

    @pytest.mark.parametrize(("seq", "missing"), [(1, "#1"), (3, "#3"), (N, f"#{N}")])
    def test_a_removed_row_is_named(self, engine: Engine, seq: int, missing: str) -> None:
        write(engine, ENTRIES)
        execute(
            engine,
            "DELETE FROM project_history WHERE code = :code AND seq = :seq",
            code=CODE,
            seq=seq,
        )
        broken = only_break(engine)
        assert (broken.seq, broken.kind) == (seq, "removed")
        assert broken.message == f"removed: {missing} missing from the chain"

    def test_removed_rows_renumbered_are_named(self, engine: Engine) -> None:
        write(engine, ENTRIES)
        execute(
            engine,
            "DELETE FROM project_history WHERE code = :code AND seq = 3",
            *(
                f"UPDATE project_history SET seq = {s - 1} WHERE code = :code AND seq = {s}"
                for s in range(4, N + 1)
            ),
            code=CODE,
        )
        broken = only_break(engine)
        assert (broken.seq, broken.kind) == (3, "removed")
        assert "row #4 moved to #3" in broken.message

    def test_a_forged_row_appended_is_named_even_with_a_valid_hash(self, engine: Engine) -> None:
        write(engine, ENTRIES)
        forged = audit.chain(
            CODE, [*ENTRIES, entry(N + 1, action="approve_budget")], lambda s: None
        )
        insert_row(engine, forged[-1])
        broken = only_break(engine)
        assert (broken.seq, broken.kind) == (N + 1, "inserted")
        assert "last projected seq is #6" in broken.message

    def test_a_forged_row_inserted_in_the_middle_is_named(self, engine: Engine) -> None:
        write(engine, ENTRIES)
        execute(
            engine,
            *(
                f"UPDATE project_history SET seq = {s + 1} WHERE code = :code AND seq = {s}"
                for s in range(N, 2, -1)
            ),
            "UPDATE project SET seq = :top WHERE code = :code",  # the forger hides the end too
            code=CODE,
            top=N + 1,
        )
        # A well-informed forger: the new #3 chains from #2 with a correct hash.
        insert_row(
            engine, audit.chain(CODE, [*ENTRIES[:2], entry(3, actor="mallory")], lambda s: None)[-1]
        )
        broken = only_break(engine)
        assert (broken.seq, broken.kind) == (4, "inserted")
        assert broken.message == "this is row #3 moved to #4: 1 row(s) were inserted before it"

    def test_two_swapped_rows_are_named(self, engine: Engine) -> None:
        write(engine, ENTRIES)
        execute(
            engine,
            "UPDATE project_history SET seq = -1 WHERE code = :code AND seq = 2",
            "UPDATE project_history SET seq = 2 WHERE code = :code AND seq = 5",
            "UPDATE project_history SET seq = 5 WHERE code = :code AND seq = -1",
            code=CODE,
        )
        broken = only_break(engine)
        assert (broken.seq, broken.kind) == (2, "swapped")
        assert broken.message == "rows #2 and #5 were swapped"

    def test_each_broken_project_is_named_and_the_others_hold(self, engine: Engine) -> None:
        write(engine, ENTRIES)
        with Session(engine) as session:
            entries = [entry(s) for s in (1, 2)]
            apply_snapshot(session, project=project("AUD-2"), seq=2, entries=entries, notify=False)
        execute(engine, "UPDATE project_history SET actor = 'x' WHERE code = 'AUD-2' AND seq = 2")
        report = verify(engine)
        assert (report.projects, report.entries) == (2, N + 2)
        assert [(b.code, b.seq, b.kind) for b in report.breaks] == [("AUD-2", 2, "altered")]


def insert_row(engine: Engine, record: audit.Record) -> None:
    with Session(engine) as session:
        session.add(HistoryRow(**record._asdict()))
        session.commit()


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def configured(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("PERFBUDGET_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PERFBUDGET_LOG_FORMAT", "json")
    get_settings.cache_clear()
    engine = engine_for(sqlite_url)
    schema.upgrade(engine)  # the command checks the schema revision, not only the tables
    yield engine
    get_settings.cache_clear()
    engine.dispose()


def test_audit_verify_exits_0_when_every_chain_holds(
    configured: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    write(configured, ENTRIES)
    assert main(["audit", "verify"]) == 0
    assert (
        capsys.readouterr().out
        == f"audit verified: 1 projects, {N} history entries, every chain holds\n"
    )


def test_audit_verify_exits_1_naming_the_first_broken_link(
    configured: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    write(configured, ENTRIES)
    execute(configured, "UPDATE project_history SET to_state = 'x' WHERE seq IN (2, 4)")
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"broken chain: {CODE} #2: altered" in out
    assert "#4" not in out
    assert main(["audit", "verify", "--project", "NOPE"]) == 0


# --- end to end ---------------------------------------------------------------------------------


async def test_the_live_projection_stores_the_chain_of_the_workflow_history(api: Api) -> None:  # noqa: F811
    """Filing (the API's write-through) and actions (the projection activities) store the
    chain computed from the workflow's own history; a rebuild stores it again, verbatim."""
    from service.rebuild import rebuild_projection
    from workflows.project import ProjectWorkflow, workflow_id

    code = f"AUD{datetime.now(UTC).strftime('%H%M%S%f')}"
    year = datetime.now(UTC).astimezone(timezone(timedelta(hours=8))).year + 1  # goals may be filed
    response = await api.post("/api/projects", "clerk1", filing(code, start=year, end=year + 1))
    assert response.status_code == 201, response.text
    for action, as_, body in (
        ("submit", "clerk1", {}),
        ("submit_goals", "clerk1", goals_body(year)),
        ("return_goals", "fin", {"fiscal_year": year, "comment": "指标不够具体"}),
    ):
        response = await api.act(code, action, as_, body)
        assert response.status_code == 200, response.text
    engine = engine_for(api.settings.effective_database_url)
    client = api.app.state.temporal_client
    state = await client.get_workflow_handle(workflow_id(code)).query(ProjectWorkflow.snapshot)

    def rows() -> list[audit.Record]:
        with Session(engine) as session:
            found = session.exec(
                select(HistoryRow).where(HistoryRow.code == code).order_by(col(HistoryRow.seq))
            ).all()
            return [audit.Record(**r.model_dump(include=set(audit.Record._fields))) for r in found]

    live = rows()
    assert len(live) == len(state.history) >= 4
    assert links(live) == links(audit.chain(code, state.history, lambda seq: None))
    with Session(engine) as session:
        assert audit.verify(session, code=code).ok

    with Session(engine) as session:
        for table in ("project_history", "project_cycle", "project"):
            session.execute(text(f"DELETE FROM {table} WHERE code = :c"), {"c": code})
        session.commit()
    for _ in range(300):  # visibility is eventually consistent (slow on a loaded machine)
        report = await rebuild_projection(
            client=client, engine=engine, query=f'ProjectCode="{code}"'
        )
        if report.projects == 1:
            break
        await asyncio.sleep(0.1)
    assert links(rows()) == links(live)
    with Session(engine) as session:
        assert audit.verify(session, code=code).ok
