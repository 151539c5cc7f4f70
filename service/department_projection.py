"""The SQL read model of the department years, written from `DepartmentYearWorkflow` snapshots.

Idempotent and monotonic like `service.projection`: a snapshot only replaces a row that
reflects an older seq; history rows are inserted once by (department, year, seq) with their
audit-chain hashes; outbox rows are written in the same transaction as the entries that cause
them, keyed `department:<code>:<year>:<seq>:<recipient>` so a second projection adds none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from models.department_state import DepartmentYearState
from models.department_tables import DepartmentHistoryRow, DepartmentYearRow
from models.notification_tables import Recipient
from models.notify import Audience
from models.project_state import HistoryEntry
from service.audit import AuditReport, Record, chain, verify_chains
from service.notifications import PER_DEPARTMENT_DESKS, insert_outbox
from service.write_retry import commit_retrying_conflicts


def chain_key(department: str, fiscal_year: int) -> str:
    return f"department-{department}-{fiscal_year}"


def apply_department_snapshot(
    session: Session,
    *,
    year: DepartmentYearState,
    seq: int,
    entries: Sequence[HistoryEntry],
    notify: bool = True,
) -> bool:
    """Write `year` as of history `seq` and insert `entries`; True if the row moved forward.

    Commits. Safe to call twice, concurrently, or out of order.
    """
    return commit_retrying_conflicts(
        session, lambda: _apply(session, year=year, seq=seq, entries=entries, notify=notify)
    )


def _apply(
    session: Session,
    *,
    year: DepartmentYearState,
    seq: int,
    entries: Sequence[HistoryEntry],
    notify: bool,
) -> bool:
    info = year.info
    row = session.execute(
        select(DepartmentYearRow)
        .where(
            col(DepartmentYearRow.department) == info.department,
            col(DepartmentYearRow.fiscal_year) == info.fiscal_year,
        )
        .with_for_update()
    ).scalar_one_or_none()
    moved = row is None or row.seq < seq
    if moved:
        number = year.control_number
        values: dict[str, Any] = {
            "state": year.state,
            "budget_amount": year.budget_amount,
            "self_score": year.self_evaluation.score if year.self_evaluation else None,
            "score": year.review.final_score if year.review else None,
            "grade": year.grade.value if year.grade else None,
            "control_number": number.ceiling if number is not None else None,
            "reserved": year.reserved,
            "seq": seq,
            "updated_at": datetime.now(UTC),
            "snapshot": year.model_dump(mode="json", exclude={"history"}),
        }
        if row is None:
            session.add(
                DepartmentYearRow(
                    department=info.department, fiscal_year=info.fiscal_year, **values
                )
            )
        else:
            for key, value in values.items():
                setattr(row, key, value)
        session.flush()
    if entries:
        _insert_history(session, year, entries)
        if notify:  # a rebuild must not queue again what was sent long ago
            _enqueue(session, year, entries)
    return moved


def _insert_history(
    session: Session, year: DepartmentYearState, entries: Sequence[HistoryEntry]
) -> None:
    department, fiscal_year = year.info.department, year.info.fiscal_year

    def stored_hash(seq: int) -> str | None:
        return session.execute(
            select(col(DepartmentHistoryRow.hash)).where(
                col(DepartmentHistoryRow.department) == department,
                col(DepartmentHistoryRow.fiscal_year) == fiscal_year,
                col(DepartmentHistoryRow.seq) == seq,
            )
        ).scalar_one_or_none()

    chained = chain(chain_key(department, fiscal_year), entries, stored_hash)
    if not chained:
        return
    rows = [
        {
            "department": department,
            "fiscal_year": fiscal_year,
            "seq": r.seq,
            "at": r.at,
            "actor": r.actor,
            "role": r.role,
            "action": r.action,
            "from_state": r.from_state,
            "to_state": r.to_state,
            "detail": r.detail,
            "prev_hash": r.prev_hash,
            "hash": r.hash,
        }
        for r in chained
    ]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(DepartmentHistoryRow)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["department", "fiscal_year", "seq"])
    )


def _reaches(recipient: Recipient, audience: Audience, department: str, event: str) -> bool:
    if not recipient.active or recipient.desk != audience.desk.value:
        return False
    if recipient.events is not None and event not in recipient.events:
        return False
    if audience.desk in PER_DEPARTMENT_DESKS:
        wanted = audience.department or department
        return recipient.department is None or recipient.department == wanted
    return True


def _enqueue(session: Session, year: DepartmentYearState, entries: Sequence[HistoryEntry]) -> int:
    """Outbox rows for the entries that name audiences (the project outbox's rules); how many
    are new."""
    if not any(e.notify for e in entries):
        return 0
    department, fiscal_year = year.info.department, year.info.fiscal_year
    desks = {a.desk.value for e in entries for a in e.notify}
    directory = (
        session.execute(select(Recipient).where(col(Recipient.desk).in_(desks))).scalars().all()
    )
    now = datetime.now(UTC)
    rows: dict[str, dict[str, Any]] = {}
    for entry in entries:
        dumped = entry.model_dump(mode="json", include={"at", "detail"})
        for audience in entry.notify:
            for recipient in directory:
                if recipient.id is None or not _reaches(
                    recipient, audience, department, entry.action
                ):
                    continue
                key = f"department:{department}:{fiscal_year}:{entry.seq}:{recipient.id}"
                rows.setdefault(
                    key,
                    {
                        "key": key,
                        # The outbox's subject column: department notices go by the code.
                        "project_code": department,
                        "seq": entry.seq,
                        "event": entry.action,
                        "desk": audience.desk.value,
                        "recipient_id": recipient.id,
                        "channel": recipient.channel,
                        "address": recipient.address,
                        "payload": {
                            "project_code": department,
                            "name": f"{department} {fiscal_year}年部门整体绩效",
                            "department": department,
                            "event": entry.action,
                            "fiscal_year": fiscal_year,
                            "seq": entry.seq,
                            "desk": audience.desk.value,
                            "detail": dumped["detail"],
                            "at": dumped["at"],
                        },
                        "status": "pending",
                        "attempts": 0,
                        "created_at": now,
                    },
                )
    return insert_outbox(session.connection(), list(rows.values()))


def history_of(
    session: Session, *, department: str, fiscal_year: int
) -> list[DepartmentHistoryRow]:
    return list(
        session.execute(
            select(DepartmentHistoryRow)
            .where(
                col(DepartmentHistoryRow.department) == department,
                col(DepartmentHistoryRow.fiscal_year) == fiscal_year,
            )
            .order_by(col(DepartmentHistoryRow.seq))
        ).scalars()
    )


def verify_department_years(session: Session, *, department: str | None = None) -> AuditReport:
    """The audit chain of every department year (or one department's), as `service.audit`
    verifies the projects': the first broken link of each, named by its chain key."""
    years_query = select(
        col(DepartmentYearRow.department),
        col(DepartmentYearRow.fiscal_year),
        col(DepartmentYearRow.seq),
    )
    rows_query = select(DepartmentHistoryRow).order_by(
        col(DepartmentHistoryRow.department),
        col(DepartmentHistoryRow.fiscal_year),
        col(DepartmentHistoryRow.seq),
    )
    if department is not None:
        years_query = years_query.where(col(DepartmentYearRow.department) == department)
        rows_query = rows_query.where(col(DepartmentHistoryRow.department) == department)
    year_seqs = {
        chain_key(code, year): seq for code, year, seq in session.execute(years_query).all()
    }
    records = (
        Record(
            chain_key(r.department, r.fiscal_year),
            r.seq,
            r.at,
            r.actor,
            r.role,
            r.action,
            r.fiscal_year,
            r.from_state,
            r.to_state,
            r.detail,
            r.prev_hash,
            r.hash,
        )
        for r in session.execute(rows_query).scalars()
    )
    return verify_chains(records, year_seqs)
