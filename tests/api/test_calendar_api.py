"""The fiscal calendar through the API: read, replace, and running projects re-timed."""

from __future__ import annotations

import asyncio

from models.calendar import FiscalCalendar
from tests.api.conftest import Api
from tests.api.test_projects_api import _active, _year
from workflows.project import ProjectWorkflow


async def test_calendar_change_reaches_running_projects_and_new_ones(api: Api) -> None:
    """An admin's new calendar is stored, signalled to running workflows, used by new ones."""
    code = await _active(api)
    detail = (await api.get(f"/api/projects/{code}", "clerk1")).json()
    goals = [d for d in detail["duties"] if d["kind"] == "goals"]
    assert goals
    assert goals[0]["label_zh"] == "申报绩效目标"

    calendar = (await api.get("/api/calendar", "clerk1")).json()
    assert calendar["self_evaluation_due"] == {"month": 3, "day": 31}
    changed = {
        **calendar,
        "self_evaluation_due": {"month": 3, "day": 15},
        "holidays": [f"{_year()}-10-01"],
    }
    assert (
        await api.http.put("/api/calendar", json=changed, headers=api.auth("fin"))
    ).status_code == 403
    response = await api.http.put("/api/calendar", json=changed, headers=api.auth("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["signalled"] >= 1
    assert (await api.get("/api/calendar", "audit")).json()["self_evaluation_due"]["day"] == 15

    client = api.app.state.temporal_client
    handle = client.get_workflow_handle_for(ProjectWorkflow.run, f"project-{code}")
    for _ in range(400):  # the signal is asynchronous (up to 20 s on a loaded machine)
        if (await handle.query(ProjectWorkflow.calendar)).self_evaluation_due.day == 15:
            break
        await asyncio.sleep(0.05)
    running: FiscalCalendar = await handle.query(ProjectWorkflow.calendar)
    assert running.self_evaluation_due.day == 15

    newer = await _active(api)
    fresh = client.get_workflow_handle_for(ProjectWorkflow.run, f"project-{newer}")
    assert (await fresh.query(ProjectWorkflow.calendar)).self_evaluation_due.day == 15


async def test_bad_calendar_is_422_and_changes_nothing(api: Api) -> None:
    """An impossible date is refused with the field named; the calendar in force stays."""
    before = (await api.get("/api/calendar", "admin")).json()
    bad = {**before, "review_due": {"month": 2, "day": 30}}
    response = await api.http.put("/api/calendar", json=bad, headers=api.auth("admin"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("body.review_due")
    assert (await api.get("/api/calendar", "admin")).json() == before
