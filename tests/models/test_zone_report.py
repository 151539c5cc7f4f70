"""The zone's report of a fiscal year, from hand-built read-model rows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from models.tables import CycleRow, HistoryRow, ProjectRow
from models.zone_report import zone_report

NOW = datetime(2028, 5, 1, tzinfo=UTC)


def _project(code: str, department: str, budget_type: str, **extra: Any) -> ProjectRow:
    return ProjectRow(
        code=code,
        name=code,
        kind="project",
        budget_type=budget_type,
        department=department,
        major=False,
        owner="张三",
        start_year=2027,
        end_year=2029,
        total_amount=Decimal(10_000_000),
        state=extra.pop("state", "active"),
        warning="none",
        seq=1,
        updated_at=NOW,
        snapshot={},
        **extra,
    )


def _cycle(
    code: str, year: int, state: str, approved: int | None, executed: int | None, grade: str | None
) -> CycleRow:
    return CycleRow(
        code=code,
        fiscal_year=year,
        state=state,
        approved_amount=None if approved is None else Decimal(approved),
        executed_amount=None if executed is None else Decimal(executed),
        warning="none",
        grade=grade,
    )


def _history(
    code: str, seq: int, action: str, year: int | None, to: str, at: datetime, **detail: Any
) -> HistoryRow:
    return HistoryRow(
        code=code,
        seq=seq,
        at=at,
        actor="fin",
        role="finance",
        action=action,
        fiscal_year=year,
        from_state="self_evaluated",
        to_state=to,
        detail=detail,
        prev_hash="",
        hash="",
    )


def _review(
    code: str, seq: int, grade: str, cut: str, to: str, consequence: str, year: int = 2027
) -> HistoryRow:
    return _history(
        code,
        seq,
        "review_self_evaluation",
        year,
        to,
        NOW,
        grade=grade,
        cut_percent=cut,
        cut_applies_to=2029 if cut != "0" else None,
        consequence=consequence,
    )


def test_the_report_of_a_year_line_by_line() -> None:
    """Sums by department and budget type, grades, cuts, rectifications and exits of 2027."""
    projects = [
        _project("A", "D1", "general_public"),
        _project("B", "D1", "government_fund"),
        _project("C", "D2", "general_public", exit_proposed=True),
        _project("X", "D2", "general_public", state="exited"),
        _project("N", "D2", "general_public"),  # goals only: no budget in 2027
    ]
    cycles = [
        _cycle("A", 2027, "results_applied", 1_000_000, 900_000, "excellent"),
        _cycle("B", 2027, "rectification_submitted", 2_000_000, 1_000_000, "fair"),
        _cycle("C", 2027, "rectifying", 500_000, 100_000, "poor"),
        _cycle("X", 2027, "executing", 300_000, 0, None),
        _cycle("N", 2027, "goals_submitted", None, None, None),
        _cycle("A", 2026, "results_applied", 9_999_999, 9_999_999, "poor"),  # another year
    ]
    history = [
        _review("A", 10, "excellent", "0", "results_applied", "priority"),
        _review("B", 10, "fair", "10", "rectifying", "cut_and_rectify"),
        _history("B", 11, "reject_rectification", 2027, "rectifying", NOW),
        _review("C", 10, "poor", "50", "rectifying", "cut_rectify_and_notify"),
        # A's 2026 review belongs to another year: only the 2027 reviews count.
        _review("A", 5, "poor", "50", "rectifying", "cut_rectify_and_notify", year=2026),
        _history(
            "X",
            7,
            "exit",
            None,
            "exited",
            datetime(2027, 12, 31, 17, tzinfo=UTC),
            reason="ineffective",
        ),
    ]
    report = zone_report(2027, projects=projects, cycles=cycles, history=history)

    assert report.spending.cycles == 4
    assert report.spending.approved == Decimal(3_800_000)
    assert report.spending.executed == Decimal(2_000_000)
    assert report.spending.execution_pct == Decimal("52.63")
    assert report.grades == {"excellent": 1, "good": 0, "fair": 1, "poor": 1, "ungraded": 1}

    by_department = {b.key: b for b in report.by_department}
    assert set(by_department) == {"D1", "D2"}
    assert by_department["D1"].spending.approved == Decimal(3_000_000)
    assert by_department["D1"].spending.execution_pct == Decimal("63.33")
    assert by_department["D1"].grades["excellent"] == 1
    assert by_department["D1"].grades["fair"] == 1
    assert by_department["D2"].spending.approved == Decimal(800_000)
    assert by_department["D2"].grades == {
        "excellent": 0,
        "good": 0,
        "fair": 0,
        "poor": 1,
        "ungraded": 1,
    }
    by_type = {b.key: b for b in report.by_budget_type}
    assert by_type["government_fund"].spending.approved == Decimal(2_000_000)
    assert by_type["general_public"].spending.cycles == 3

    assert [(c.code, c.cut_percent, c.cut_applies_to) for c in report.cuts] == [
        ("B", Decimal(10), 2029),
        ("C", Decimal(50), 2029),
    ]
    assert [(r.code, r.status, r.rejections) for r in report.rectifications] == [
        ("B", "submitted", 1),
        ("C", "ordered", 0),
    ]
    # 31 December 17:00 UTC is already 1 January 2028 in the zone: not a 2027 exit.
    assert report.exits == []
    assert report.exit_proposed == ["C"]


def test_an_exit_counts_in_the_zone_year_it_happened() -> None:
    """An exit at 31 December 15:00 UTC (23:00 in the zone) is one of that year's."""
    projects = [_project("X", "D2", "general_public", state="exited")]
    exit_at = datetime(2027, 12, 31, 15, tzinfo=UTC)
    history = [_history("X", 7, "exit", None, "exited", exit_at, reason="ineffective")]
    report = zone_report(2027, projects=projects, cycles=[], history=history)
    assert [(e.code, e.reason, e.department) for e in report.exits] == [("X", "ineffective", "D2")]
    assert report.spending.execution_pct is None
    assert zone_report(2028, projects=projects, cycles=[], history=history).exits == []
