"""The SQL read model of the projects: written from workflow snapshots, read by the API.

Writes are idempotent and monotonic: a snapshot only replaces a row that reflects an older
history seq, and history entries are inserted once by (code, seq). So the workflow's activity,
a retried activity and the API's write-through can all write the same snapshot in any order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from models.evaluator_tables import EvaluatorAssignmentRow
from models.project_state import Cycle, HistoryEntry, ProjectState
from models.tables import CycleRow, HistoryRow, ProjectRow
from service.audit import chain
from service.notifications import enqueue
from service.write_retry import commit_retrying_conflicts

log = structlog.get_logger(__name__)


def apply_snapshot(
    session: Session,
    *,
    project: ProjectState,
    seq: int,
    entries: Sequence[HistoryEntry],
    notify: bool = True,
) -> bool:
    """Write `project` as of history `seq` and insert `entries`; True if the row moved forward.

    Commits. Safe to call twice, concurrently, or out of order.
    """
    return commit_retrying_conflicts(
        session, lambda: _apply(session, project=project, seq=seq, entries=entries, notify=notify)
    )


def _apply(
    session: Session,
    *,
    project: ProjectState,
    seq: int,
    entries: Sequence[HistoryEntry],
    notify: bool,
) -> bool:
    # Prebuilt Core statements on the session's connection, not ORM objects: a write-through
    # runs on every action, and the unit of work, the ORM's bulk-delete bookkeeping, per-row
    # INSERTs and building each statement anew cost it more than the database does. A
    # prebuilt statement is compiled once and keeps its cache key; rows go as executemany.
    info = project.info
    code = info.code
    db = session.connection()
    head = db.execute(_STORED_HEAD, {"code": code}).first()
    stored = head.seq if head is not None else None
    moved = stored is None or stored < seq
    if moved:
        values: dict[str, Any] = {
            "name": info.name,
            "kind": info.kind.value,
            "budget_type": info.budget_type.value,
            "department": info.department,
            "major": info.major,
            "owner": info.owner,
            "start_year": info.start_year,
            "end_year": info.end_year,
            "total_amount": info.total_amount,
            "state": project.state,
            "warning": project.warning.value,
            "grade": project.latest_grade.value if project.latest_grade else None,
            "exit_proposed": project.exit_proposed,
            "seq": seq,
            "updated_at": datetime.now(UTC),
            "snapshot": project.model_dump(mode="json", exclude={"history"}),
        }
        # A concurrent writer inserting the same new code first makes the INSERT raise
        # IntegrityError; `commit_retrying_conflicts` then runs this again, which finds its row.
        if stored is None:
            db.execute(_INSERT_PROJECT, {"code": code, **values})
        else:
            db.execute(_UPDATE_PROJECT, {"where_code": code, **values})
        # The workflow's state is the whole truth: its cycles and assignments replace ours.
        # A project's fiscal years are only ever added, so its cycles are upserted; its
        # evaluators may be replaced, so its assignments are rewritten, but only once it has
        # a key evaluation at all (a record, once commissioned, stays: before, none was stored).
        if project.cycles:
            db.execute(
                _UPSERT_CYCLE[db.dialect.name], [_cycle_values(code, c) for c in project.cycles]
            )
        if any(c.key_evaluation_record is not None for c in project.cycles):
            db.execute(_DELETE_ASSIGNMENTS, {"code": code})
            if assignments := _assignments(project):
                db.execute(_INSERT_ASSIGNMENT, assignments)
    if not entries:
        return moved
    last = max(e.seq for e in entries)
    if not moved and db.execute(_STORED_HASH, {"code": code, "seq": last}).first():
        # All written already, most often by the API's write-through, which the workflow's
        # projection activity then only confirms: a stored entry's predecessors are all
        # stored (see `_insert_history`), and their outbox rows were committed with them.
        return False
    # The stored head's hash, read with the row, spares the chain a query for its link.
    known = {head.seq: head.hash} if head is not None and head.hash is not None else {}
    _insert_history(session, code, entries, known=known)
    if notify:  # a rebuild must not queue again what was sent long ago
        enqueue(session, project=project, entries=entries)
    return moved


_PROJECT: Table = ProjectRow.__table__  # type: ignore[attr-defined]
_CYCLE: Table = CycleRow.__table__  # type: ignore[attr-defined]
_ASSIGNMENT: Table = EvaluatorAssignmentRow.__table__  # type: ignore[attr-defined]
_HISTORY: Table = HistoryRow.__table__  # type: ignore[attr-defined]
# What a project's projection writes (a rebuild refreshes their planner statistics).
PROJECT_TABLES: tuple[Table, ...] = (_PROJECT, _CYCLE, _ASSIGNMENT, _HISTORY)

# The row's seq and the hash of its last history entry, in one statement (the entry is
# missing only where its history was deferred, see `_insert_history`); the row is locked
# on PostgreSQL (SQLite writers take the database lock) so concurrent writers go in turn.
_STORED_HEAD = (
    select(_PROJECT.c.seq, _HISTORY.c.hash)
    .select_from(
        _PROJECT.outerjoin(
            _HISTORY, (_HISTORY.c.code == _PROJECT.c.code) & (_HISTORY.c.seq == _PROJECT.c.seq)
        )
    )
    .where(_PROJECT.c.code == bindparam("code"))
    .with_for_update(of=_PROJECT)
)
_INSERT_PROJECT = insert(_PROJECT)
# The SET clause is every column passed (all but the key, which the WHERE names under a name
# of its own: a parameter named like a column would be set too).
_UPDATE_PROJECT = update(_PROJECT).where(_PROJECT.c.code == bindparam("where_code"))


def _upsert_cycle(insert_for: Any) -> Any:
    statement = insert_for(_CYCLE)
    keys = {"code", "fiscal_year"}
    return statement.on_conflict_do_update(
        index_elements=sorted(keys),
        set_={c.name: statement.excluded[c.name] for c in _CYCLE.columns if c.name not in keys},
    )


_UPSERT_CYCLE = {"postgresql": _upsert_cycle(pg_insert), "sqlite": _upsert_cycle(sqlite_insert)}
_DELETE_ASSIGNMENTS = delete(_ASSIGNMENT).where(_ASSIGNMENT.c.code == bindparam("code"))
_INSERT_ASSIGNMENT = insert(_ASSIGNMENT)
# Whichever writer inserts a seq first wins; the others' rows are the same (see above).
_INSERT_HISTORY = {
    "postgresql": pg_insert(_HISTORY).on_conflict_do_nothing(index_elements=["code", "seq"]),
    "sqlite": sqlite_insert(_HISTORY).on_conflict_do_nothing(index_elements=["code", "seq"]),
}
_STORED_HASH = select(_HISTORY.c.hash).where(
    _HISTORY.c.code == bindparam("code"), _HISTORY.c.seq == bindparam("seq")
)


def _cycle_values(code: str, c: Cycle) -> dict[str, Any]:
    return {
        "code": code,
        "fiscal_year": c.fiscal_year,
        "state": c.state,
        "requested_amount": c.requested_amount,
        "approved_amount": c.approved_amount,
        "executed_amount": c.executed_amount,
        "warning": c.warning.value,
        "score": c.score,
        "grade": c.grade.value if c.grade else None,
    }


def _assignments(project: ProjectState) -> list[dict[str, Any]]:
    """The evaluators commissioned for the project's key evaluations, as the workflow has them."""
    return [
        {
            "code": project.info.code,
            "fiscal_year": c.fiscal_year,
            "expert_id": evaluator.expert_id,
            "username": evaluator.username,
            "submitted": record.submitted,
        }
        for c in project.cycles
        if (record := c.key_evaluation_record) is not None
        for evaluator in record.evaluators
    ]


def _insert_history(
    session: Session, code: str, entries: Sequence[HistoryEntry], *, known: dict[int, str]
) -> None:
    """Insert `entries` not stored yet, each with its audit chain hashes (`service.audit`).

    The hashes are a pure function of the entries and the stored predecessor, so whichever
    writer inserts a seq first writes the same row. Entries whose predecessor is neither given
    nor stored are left out: the projection activity, which carries every entry after the
    last seq it projected, writes them (see `service.audit`). `known`: stored hashes by seq
    read already.
    """

    db = session.connection()

    def stored_hash(seq: int) -> str | None:
        if seq in known:
            return known[seq]
        stored: str | None = db.execute(_STORED_HASH, {"code": code, "seq": seq}).scalar()
        return stored

    chained = chain(code, entries, stored_hash)
    left = sorted({e.seq for e in entries} - {r.seq for r in chained})
    if left:
        log.info("history_deferred", project_code=code, first_seq=left[0], last_seq=left[-1])
    if not chained:
        return
    rows = [
        {
            "code": code,
            "seq": r.seq,
            "at": r.at,
            "actor": r.actor,
            "role": r.role,
            "action": r.action,
            "fiscal_year": r.fiscal_year,
            "from_state": r.from_state,
            "to_state": r.to_state,
            "detail": r.detail,
            "prev_hash": r.prev_hash,
            "hash": r.hash,
        }
        for r in chained
    ]
    dialect = db.dialect.name
    db.execute(_INSERT_HISTORY["postgresql" if dialect == "postgresql" else "sqlite"], rows)
