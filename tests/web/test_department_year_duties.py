"""A department year's duties reach the to-do lists: finance's review of an overall
self-evaluation on finance's, linked to the year's page; nothing of it on a department's."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from models.department_state import DepartmentYearInfo, DepartmentYearState
from models.project_state import HistoryEntry
from models.vocabulary import Role
from service.department_projection import apply_department_snapshot
from tests.security.conftest import LightApp
from tests.web.conftest import light_app
from tests.web.test_reasons_on_the_project_page import _sign_in

__all__ = ["light_app"]


async def test_finance_sees_the_overall_self_evaluation_it_must_review(
    light_app: LightApp,
) -> None:
    evaluated_at = datetime(2027, 3, 10, tzinfo=UTC)
    year = DepartmentYearState(
        info=DepartmentYearInfo(department="D1", fiscal_year=2026),
        state="self_evaluated",
        entered={"self_evaluated": evaluated_at},
        opened_at=datetime(2025, 10, 1, tzinfo=UTC),
        history=[
            HistoryEntry(
                seq=1,
                at=evaluated_at,
                actor="clerk1",
                role=Role.DEPARTMENT,
                action="open",
                fiscal_year=2026,
                from_state="",
                to_state="goals_drafted",
            )
        ],
    )
    async with light_app() as (app, http):
        with Session(app.state.engine) as session:
            apply_department_snapshot(
                session, year=year, seq=year.seq, entries=year.history, notify=False
            )
        await _sign_in(http, "fin")
        finance = (await http.get("/")).text
        await _sign_in(http, "clerk1")
        department = (await http.get("/")).text

    assert 'href="/departments/D1/years/2026"' in finance
    assert "审核绩效自评" in finance  # the review duty, due on the review date of N+1
    assert "2027-06-30" in finance
    assert 'href="/departments/D1/years/2026"' not in department
