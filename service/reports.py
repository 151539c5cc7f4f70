"""The zone's report of a fiscal year: rows from the read model, the sums from
`models.zone_report` (one pure function, tested on hand-built rows)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlmodel import Session, col

from models.tables import CycleRow, HistoryRow, ProjectRow
from models.zone_report import RESULT_ACTIONS, ZoneReport, zone_report

# The history the report reads: the year's results and rejected rectifications, every exit.
_YEAR_ACTIONS = (*RESULT_ACTIONS, "reject_rectification")


def zone_report_of(*, session: Session, fiscal_year: int, utc_offset_minutes: int) -> ZoneReport:
    cycles = list(
        session.execute(select(CycleRow).where(col(CycleRow.fiscal_year) == fiscal_year)).scalars()
    )
    history = list(
        session.execute(
            select(HistoryRow).where(
                or_(
                    (col(HistoryRow.fiscal_year) == fiscal_year)
                    & col(HistoryRow.action).in_(_YEAR_ACTIONS),
                    col(HistoryRow.action) == "exit",
                )
            )
        ).scalars()
    )
    codes = {c.code for c in cycles} | {h.code for h in history}
    proposed = select(col(ProjectRow.code)).where(col(ProjectRow.exit_proposed))
    projects = list(
        session.execute(
            select(ProjectRow).where(
                col(ProjectRow.code).in_(sorted(codes)) | col(ProjectRow.code).in_(proposed)
            )
        ).scalars()
    )
    return zone_report(
        fiscal_year,
        projects=projects,
        cycles=cycles,
        history=history,
        utc_offset_minutes=utc_offset_minutes,
    )
