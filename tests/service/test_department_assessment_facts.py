"""The assessment's facts from the read model: a department year's own late duties count."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, SQLModel

from models.department_tables import DepartmentHistoryRow
from models.tables import Department
from service.db import engine_for
from service.department_years import _facts

NOW = datetime(2028, 4, 15, tzinfo=UTC)


def _entry(department: str, seq: int, action: str, **detail: Any) -> DepartmentHistoryRow:
    return DepartmentHistoryRow(
        department=department,
        fiscal_year=2027,
        seq=seq,
        at=NOW,
        actor="system",
        role="system",
        action=action,
        from_state="closed",
        to_state="closed",
        detail=detail,
        prev_hash="0" * 64,
        hash=f"{seq:064d}",
    )


def test_a_department_years_own_ladder_counts_against_it(sqlite_url: str) -> None:
    """D1 missed its overall self-evaluation (overdue, escalation, accountability of its head);
    finance's late review of D2 is finance's doing and counts against no department."""
    engine = engine_for(sqlite_url)
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        for code in ("D1", "D2"):
            session.add(Department(code=code, name=code, created_at=NOW))
        session.add_all(
            [
                _entry("D1", 1, "overdue", owner="department"),
                _entry("D1", 2, "escalation", owner="department"),
                _entry("D1", 3, "accountability", subject="department_head:D1"),
                _entry("D2", 1, "overdue", owner="finance"),
                _entry("D2", 2, "reminder", owner="department"),
            ]
        )
        session.commit()
        facts = {f.department: f for f in _facts(session, 2027)}
    assert (facts["D1"].late_duties, facts["D1"].accountability) == (2, 1)
    assert (facts["D2"].late_duties, facts["D2"].accountability) == (0, 0)
