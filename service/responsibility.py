"""The responsibility register (责任清单): who decided what, who answers for what.

- decisions: every lifecycle decision from the audit trail — who (user and role), what, when,
  and the reason or comment given;
- accountability: the 问责 records the escalation ladders and warnings made;
- lifelong: for each major project, its owner's record for life (绩效终身责任追究): the
  project's years, grades and warnings, and every accountability record and transfer;
- discipline transfers: leads transferred to discipline inspection (移送纪检监察), with who
  transferred them — by the project's workflow while it was open, or recorded by the service
  after it was completed or exited (`models.discipline_tables`).

Read from the SQL read model: history rows for decisions, the projects' snapshots for records.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, func, or_, select
from sqlmodel import Session, col

from models.discipline_tables import ClosedProjectTransfer
from models.lifecycle import ACTIONS
from models.project_state import ProjectState
from models.tables import HistoryRow, ProjectRow

# The decisions of the register: every lifecycle action, and the filing that began it all.
DECISIONS = ("file", *ACTIONS)


class Decision(BaseModel):
    code: str
    department: str
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    label_zh: str
    fiscal_year: int | None
    from_state: str
    to_state: str
    reason: str | None  # the reason or comment given with it, if any


class AccountabilityView(BaseModel):
    code: str
    department: str
    at: datetime
    fiscal_year: int | None
    subject: str
    reason: str
    lifelong: bool


class TransferView(BaseModel):
    code: str
    department: str
    # The history entry that records it; for a finished project, the last entry it follows.
    seq: int
    at: datetime
    fiscal_year: int | None
    reason: str
    evidence: str
    transferred_by: str | None  # from the audit trail (None if its entry is not projected yet)
    # Set when recorded after the project ended: the state it had (completed or exited).
    after_close: str | None = None


class YearRecord(BaseModel):
    fiscal_year: int
    state: str
    grade: str | None
    warning: str


class LifelongRecord(BaseModel):
    owner: str
    code: str
    name: str
    department: str
    start_year: int
    end_year: int
    state: str
    years: list[YearRecord]
    accountability: list[AccountabilityView]
    discipline_transfers: list[TransferView]


class Register(BaseModel):
    decisions: list[Decision]
    decisions_total: int
    page: int
    page_size: int
    accountability: list[AccountabilityView]
    lifelong: list[LifelongRecord]
    discipline_transfers: list[TransferView]


def _reason(detail: dict[str, Any]) -> str | None:
    for key in ("reason", "comment"):
        value = detail.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _subject_matches(subject: str | None, text: str) -> bool:
    """`subject` is a user name, a person's name or a record's subject (`owner:张三`)."""
    return subject is None or text == subject or text.endswith(f":{subject}")


def register(
    *,
    session: Session,
    department: str | None = None,
    subject: str | None = None,
    year: int | None = None,
    utc_offset_minutes: int = 480,
    page: int = 1,
    page_size: int = 100,
) -> Register:
    zone = timezone(timedelta(minutes=utc_offset_minutes))
    decisions = (
        select(HistoryRow, col(ProjectRow.department))
        .join(ProjectRow, col(ProjectRow.code) == col(HistoryRow.code))
        .where(col(HistoryRow.action).in_(DECISIONS))
    )
    if department is not None:
        decisions = decisions.where(col(ProjectRow.department) == department)
    if subject is not None:
        decisions = decisions.where(col(HistoryRow.actor) == subject)
    if year is not None:
        start = datetime(year, 1, 1, tzinfo=zone)
        end = datetime(year + 1, 1, 1, tzinfo=zone)
        decisions = decisions.where(
            or_(
                col(HistoryRow.fiscal_year) == year,
                and_(
                    col(HistoryRow.fiscal_year).is_(None),
                    col(HistoryRow.at) >= start,
                    col(HistoryRow.at) < end,
                ),
            )
        )
    total = session.execute(select(func.count()).select_from(decisions.subquery())).scalar_one()
    rows = session.execute(
        decisions.order_by(col(HistoryRow.at), col(HistoryRow.code), col(HistoryRow.seq))
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    found = [
        Decision(
            code=h.code,
            department=dept,
            seq=h.seq,
            at=h.at,
            actor=h.actor,
            role=h.role,
            action=h.action,
            label_zh=ACTIONS[h.action].label_zh if h.action in ACTIONS else "申报项目",
            fiscal_year=h.fiscal_year,
            from_state=h.from_state,
            to_state=h.to_state,
            reason=_reason(h.detail),
        )
        for h, dept in rows
    ]

    projects = select(ProjectRow).order_by(col(ProjectRow.code))
    if department is not None:
        projects = projects.where(col(ProjectRow.department) == department)
    accountability: list[AccountabilityView] = []
    transfers: list[TransferView] = []
    lifelong: list[LifelongRecord] = []
    # Few and rare (leads on finished projects): all of them at once, not one query per project.
    after_close: dict[str, list[ClosedProjectTransfer]] = {}
    for c in session.execute(
        select(ClosedProjectTransfer).order_by(col(ClosedProjectTransfer.id))
    ).scalars():
        after_close.setdefault(c.code, []).append(c)
    for row in session.execute(projects).scalars():
        state = ProjectState.model_validate(row.snapshot)
        records = [
            AccountabilityView(code=row.code, department=row.department, **r.model_dump())
            for r in state.accountability
            if _in_year(r.fiscal_year, r.at, year, zone)
        ]
        moved = _transfers(session, row, state, year, zone, after_close.get(row.code, []))
        accountability.extend(r for r in records if _subject_matches(subject, r.subject))
        transfers.extend(t for t in moved if subject is None or t.transferred_by == subject)
        info = state.info
        spans = year is None or info.start_year <= year <= info.end_year
        if info.major and spans and (subject is None or info.owner == subject):
            lifelong.append(
                LifelongRecord(
                    owner=info.owner,
                    code=row.code,
                    name=info.name,
                    department=row.department,
                    start_year=info.start_year,
                    end_year=info.end_year,
                    state=state.state,
                    years=[
                        YearRecord(
                            fiscal_year=c.fiscal_year,
                            state=c.state,
                            grade=c.grade.value if c.grade else None,
                            warning=c.warning.value,
                        )
                        for c in state.cycles
                    ],
                    accountability=records,
                    discipline_transfers=moved,
                )
            )
    return Register(
        decisions=found,
        decisions_total=total,
        page=page,
        page_size=page_size,
        accountability=accountability,
        lifelong=lifelong,
        discipline_transfers=transfers,
    )


def _in_year(fiscal_year: int | None, at: datetime, year: int | None, zone: timezone) -> bool:
    if year is None:
        return True
    if fiscal_year is not None:
        return fiscal_year == year
    return at.astimezone(zone).year == year


def _transfers(
    session: Session,
    row: ProjectRow,
    state: ProjectState,
    year: int | None,
    zone: timezone,
    later: list[ClosedProjectTransfer],
) -> list[TransferView]:
    found = []
    for t in state.discipline_transfers:
        if not _in_year(t.fiscal_year, t.at, year, zone):
            continue
        entry = session.get(HistoryRow, (row.code, t.seq))
        found.append(
            TransferView(
                code=row.code,
                department=row.department,
                **t.model_dump(),
                transferred_by=entry.actor if entry is not None else None,
            )
        )
    found.extend(
        TransferView(
            code=row.code,
            department=row.department,
            seq=row.seq,
            at=c.at,
            fiscal_year=c.fiscal_year,
            reason=c.reason,
            evidence=c.evidence,
            transferred_by=c.actor,
            after_close=c.project_state,
        )
        for c in later
        if _in_year(c.fiscal_year, c.at, year, zone)
    )
    return found
