"""The zone's report of a fiscal year, aggregated from the read model's rows (pure).

Spending (approved vs executed), grades by department and by budget type, the budget cuts and
rectifications the year's evaluations ordered, and the projects that left (清理退出). The
caller passes the rows; this module reads no database and no clock.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from pydantic import BaseModel

from models.tables import CycleRow, HistoryRow, ProjectRow
from models.vocabulary import Grade

UNGRADED = "ungraded"
# The actions that apply a year's result: finance's review, and a key evaluation (财政重点评价)
# whose grade replaces the review's.
RESULT_ACTIONS = ("review_self_evaluation", "submit_key_evaluation")
RECTIFICATION_STATUS = {
    "rectifying": "ordered",  # 整改中
    "rectification_submitted": "submitted",  # 整改报告待审核
    "results_applied": "accepted",  # 整改验收通过
}


class Spending(BaseModel):
    cycles: int  # fiscal-year cycles with an approved budget
    approved: Decimal
    executed: Decimal
    execution_pct: Decimal | None  # executed / approved × 100; None without a budget


class Breakdown(BaseModel):
    key: str  # a department code or a budget type
    spending: Spending
    grades: dict[str, int]  # excellent/good/fair/poor/ungraded → cycles


class CutLine(BaseModel):
    code: str
    department: str
    budget_type: str
    grade: str
    cut_percent: Decimal
    cut_applies_to: int | None
    consequence: str
    key_evaluation: bool  # the result of a key evaluation, not of the review


class RectificationLine(BaseModel):
    code: str
    department: str
    grade: str
    status: str  # ordered / submitted / accepted
    rejections: int  # reports finance sent back


class ExitLine(BaseModel):
    code: str
    department: str
    budget_type: str
    reason: str
    at: datetime


class ZoneReport(BaseModel):
    fiscal_year: int
    spending: Spending
    grades: dict[str, int]
    by_department: list[Breakdown]
    by_budget_type: list[Breakdown]
    cuts: list[CutLine]
    rectifications: list[RectificationLine]
    exits: list[ExitLine]  # projects that exited during the year
    exit_proposed: list[str]  # open projects proposed for exit (two poor years in a row)


def _spending(cycles: list[CycleRow]) -> Spending:
    budgeted = [c for c in cycles if c.approved_amount is not None]
    approved = sum((c.approved_amount or Decimal(0) for c in budgeted), Decimal(0))
    executed = sum((c.executed_amount or Decimal(0) for c in budgeted), Decimal(0))
    pct = (executed / approved * 100).quantize(Decimal("0.01")) if approved else None
    return Spending(cycles=len(budgeted), approved=approved, executed=executed, execution_pct=pct)


def _grades(cycles: Iterable[CycleRow]) -> dict[str, int]:
    counts = Counter(c.grade or UNGRADED for c in cycles if c.approved_amount is not None)
    return {key: counts.get(key, 0) for key in [*(g.value for g in Grade), UNGRADED]}


def _breakdown(cycles: list[CycleRow], key_of: dict[str, str]) -> list[Breakdown]:
    groups: dict[str, list[CycleRow]] = defaultdict(list)
    for c in cycles:
        groups[key_of[c.code]].append(c)
    return [
        Breakdown(key=key, spending=_spending(group), grades=_grades(group))
        for key, group in sorted(groups.items())
    ]


def zone_report(
    fiscal_year: int,
    *,
    projects: Iterable[ProjectRow],
    cycles: Iterable[CycleRow],
    history: Iterable[HistoryRow],
    utc_offset_minutes: int = 480,
) -> ZoneReport:
    """The report of `fiscal_year` from the rows given (others years' rows are ignored).

    `history` needs the rows of `review_self_evaluation`, `submit_key_evaluation` and
    `reject_rectification` of the year and of every `exit`; the exits counted are those taken during the calendar year in
    the zone's time.
    """
    by_code = {p.code: p for p in projects}
    year_cycles = [c for c in cycles if c.fiscal_year == fiscal_year and c.code in by_code]
    department = {code: p.department for code, p in by_code.items()}
    budget_type = {code: p.budget_type for code, p in by_code.items()}
    state_of = {c.code: c.state for c in year_cycles}
    zone = timezone(timedelta(minutes=utc_offset_minutes))

    reviews: dict[str, HistoryRow] = {}
    rejections: Counter[str] = Counter()
    exits: list[ExitLine] = []
    for h in sorted(history, key=lambda r: (r.code, r.seq)):
        if h.code not in by_code:
            continue
        if h.action in RESULT_ACTIONS and h.fiscal_year == fiscal_year:
            reviews[h.code] = h  # the last result of the year stands (a key evaluation's)
        elif h.action == "reject_rectification" and h.fiscal_year == fiscal_year:
            rejections[h.code] += 1
        elif h.action == "exit" and h.at.astimezone(zone).year == fiscal_year:
            exits.append(
                ExitLine(
                    code=h.code,
                    department=department[h.code],
                    budget_type=budget_type[h.code],
                    reason=str(h.detail.get("reason", "")),
                    at=h.at,
                )
            )

    cuts: list[CutLine] = []
    rectifications: list[RectificationLine] = []
    for code, h in sorted(reviews.items()):
        cut = Decimal(str(h.detail.get("cut_percent", "0")))
        grade = str(h.detail.get("grade", ""))
        if cut > 0:
            cuts.append(
                CutLine(
                    code=code,
                    department=department[code],
                    budget_type=budget_type[code],
                    grade=grade,
                    cut_percent=cut,
                    cut_applies_to=h.detail.get("cut_applies_to"),
                    consequence=str(h.detail.get("consequence", "")),
                    key_evaluation=h.action == "submit_key_evaluation",
                )
            )
        status = RECTIFICATION_STATUS.get(state_of.get(code, ""))
        if h.to_state == "rectifying" and status is not None:
            rectifications.append(
                RectificationLine(
                    code=code,
                    department=department[code],
                    grade=grade,
                    status=status,
                    rejections=rejections[code],
                )
            )

    return ZoneReport(
        fiscal_year=fiscal_year,
        spending=_spending(year_cycles),
        grades=_grades(year_cycles),
        by_department=_breakdown(year_cycles, department),
        by_budget_type=_breakdown(year_cycles, budget_type),
        cuts=cuts,
        rectifications=rectifications,
        exits=exits,
        exit_proposed=sorted(
            p.code for p in by_code.values() if p.exit_proposed and p.state != "exited"
        ),
    )
