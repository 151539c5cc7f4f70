"""Scenarios of several years run on the real workflow in virtual time: timeline and final states."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from models.notify import EventKind
from tests.simulator.conftest import Simulated

CST = "+08:00"


def _transitions(out: dict[str, Any], project: str) -> list[tuple[str, str, int | None, str]]:
    return [
        (i["at"], i["action"], i.get("fiscal_year"), i["to"])
        for i in out["timeline"]
        if i["type"] == "transition" and i["project"] == project
    ]


def _of_type(out: dict[str, Any], kind: str, project: str | None = None) -> list[dict[str, Any]]:
    return [
        i
        for i in out["timeline"]
        if i["type"] == kind and (project is None or i["project"] == project)
    ]


def _fund(day: str, year: int) -> list[tuple[str, str, int | None, str]]:
    at = f"{day}T09:00:00{CST}"
    return [
        (at, "submit_goals", year, "goals_submitted"),
        (at, "approve_goals", year, "goals_approved"),
        (at, "approve_budget", year, "budget_approved"),
    ]


def _evaluate(day: str, year: int, result: str) -> list[tuple[str, str, int | None, str]]:
    at = f"{day}T09:00:00{CST}"
    return [
        (at, "submit_self_evaluation", year, "self_evaluated"),
        (at, "review_self_evaluation", year, result),
    ]


def _new_year(year: int, *moves: tuple[str, int, str]) -> list[tuple[str, str, int | None, str]]:
    return [(f"{year}-01-01T00:00:00{CST}", action, y, to) for action, y, to in moves]


async def test_three_year_project_completes(simulated: Simulated) -> None:
    """Filing to completion over three fiscal years: every move at its virtual time, in order."""
    out = await simulated("three_year_completes")

    assert out["final"] == {
        "P1": {
            "state": "completed",
            "cycles": [
                {
                    "fiscal_year": 2027,
                    "state": "results_applied",
                    "score": 70,
                    "grade": "fair",
                    "approved_amount": 1_000_000,
                },
                {
                    "fiscal_year": 2028,
                    "state": "results_applied",
                    "score": 84,
                    "grade": "good",
                    "approved_amount": 1_000_000,
                },
                {
                    "fiscal_year": 2029,
                    "state": "results_applied",
                    "score": 100,
                    "grade": "excellent",
                    "approved_amount": 900_000,  # the fair year's 10 % cut
                },
            ],
            "runs": 5,  # one per fiscal year from filing to completion
        }
    }
    assert _transitions(out, "P1") == [
        (f"2026-09-01T00:00:00{CST}", "file", None, "filed"),
        (f"2026-09-10T09:00:00{CST}", "submit", None, "active"),
        *_fund("2026-10-15", 2027),
        *_new_year(2027, ("start_year", 2027, "executing")),
        (f"2027-08-20T09:00:00{CST}", "report_monitoring", 2027, "executing"),
        *_fund("2027-10-15", 2028),
        *_new_year(2028, ("end_year", 2027, "closed"), ("start_year", 2028, "executing")),
        *_evaluate("2028-03-15", 2027, "rectifying"),
        (f"2028-04-20T09:00:00{CST}", "submit_rectification", 2027, "rectification_submitted"),
        (f"2028-04-20T09:00:00{CST}", "accept_rectification", 2027, "results_applied"),
        (f"2028-08-20T09:00:00{CST}", "report_monitoring", 2028, "executing"),
        *_fund("2028-10-15", 2029),
        *_new_year(2029, ("end_year", 2028, "closed"), ("start_year", 2029, "executing")),
        *_evaluate("2029-03-15", 2028, "results_applied"),
        (f"2029-08-20T09:00:00{CST}", "report_monitoring", 2029, "executing"),
        *_new_year(2030, ("end_year", 2029, "closed")),
        *_evaluate("2030-03-15", 2029, "results_applied"),
        (f"2030-03-15T09:00:00{CST}", "complete", None, "completed"),
    ]
    boundaries = _of_type(out, "continued_as_new")
    assert [(i["at"], i["detail"]) for i in boundaries] == [
        (f"{year}-01-01T00:00:00{CST}", {"from_run": run, "to_run": run + 1})
        for run, year in enumerate(range(2027, 2031), start=1)
    ]
    assert not _of_type(out, "rejected")


async def test_timeline_is_ordered_and_traceable(simulated: Simulated) -> None:
    """Sorted by time, project and seq; history seqs complete; each step's moves name the step."""
    out = await simulated("two_departments")
    timeline = out["timeline"]
    keys = [(i["at"], i["project"], i["seq"]) for i in timeline]
    assert keys == sorted(keys)
    for project in ("A1", "B1"):
        seqs = [
            i["seq"]
            for i in timeline
            if i["project"] == project and i["type"] not in ("notification", "rejected")
            if i["type"] != "continued_as_new"
        ]
        assert seqs == list(range(1, len(seqs) + 1))  # every history entry, once
    first_submit = next(i for i in timeline if i.get("action") == "submit" and i["project"] == "B1")
    assert first_submit["step"] == 1
    assert first_submit["actor"] == "department-D2"  # the default name of a department actor
    review = next(
        i
        for i in timeline
        if i.get("action") == "review_self_evaluation" and i["type"] == "transition"
    )
    assert review["actor"] == "finance"
    assert review["detail"]["grade"] == "good"


async def test_rejected_steps_are_recorded_and_the_scenario_goes_on(simulated: Simulated) -> None:
    """A refused step lists every unmet guard, changes nothing, and later steps still run."""
    out = await simulated("rejected_steps")

    rejected = [
        (i["at"], i["action"], i["step"], i["seq"], {u["guard"] for u in i["detail"]["unmet"]})
        for i in _of_type(out, "rejected")
    ]
    assert rejected == [
        # Budget before approved goals: refused, with the state and the missing guard.
        (f"2026-10-15T09:00:00{CST}", "approve_budget", 2, 3, {"state", "goals_approved"}),
        # A department may not approve its own goals.
        (f"2026-10-16T09:00:00{CST}", "approve_goals", 3, 3, {"role"}),
        # The same budget approved twice.
        (f"2026-11-02T09:00:00{CST}", "approve_budget", 6, 5, {"state"}),
    ]
    assert _transitions(out, "R1")[3:] == [
        (f"2026-10-16T10:30:00{CST}", "approve_goals", 2027, "goals_approved"),
        (f"2026-10-16T10:30:00{CST}", "approve_budget", 2027, "budget_approved"),
        (f"2027-01-01T00:00:00{CST}", "start_year", 2027, "executing"),
    ]
    # The refusal sits after the move it followed and before the next one.
    types = [(i["type"], i.get("action")) for i in out["timeline"] if i["type"] != "notification"]
    assert types[2:5] == [
        ("transition", "submit_goals"),
        ("rejected", "approve_budget"),
        ("rejected", "approve_goals"),
    ]
    assert out["final"]["R1"] == {
        "state": "active",
        "cycles": [
            {
                "fiscal_year": 2027,
                "state": "executing",
                "score": None,
                "grade": None,
                "approved_amount": 1_000_000,
            }
        ],
        "runs": 2,
    }


async def test_two_projects_in_two_departments(simulated: Simulated) -> None:
    """One project completes while the other, poor twice, is exited; a later step is refused."""
    out = await simulated("two_departments")

    assert out["final"]["A1"]["state"] == "completed"
    assert [c["grade"] for c in out["final"]["A1"]["cycles"]] == ["good", "excellent"]
    b1 = out["final"]["B1"]
    assert b1["state"] == "exited"
    assert [(c["grade"], c["score"]) for c in b1["cycles"]] == [("poor", 55), ("poor", 50)]
    assert b1["runs"] == 4

    reviews = [
        i["detail"]
        for i in _of_type(out, "transition", "B1")
        if i["action"] == "review_self_evaluation"
    ]
    assert [(r["consequence"], r["exit_proposed"]) for r in reviews] == [
        ("cut_rectify_and_notify", False),
        ("cut_rectify_and_notify", True),
    ]
    (late,) = _of_type(out, "rejected", "B1")
    assert late["at"] == f"2029-04-01T09:00:00{CST}"
    assert late["action"] == "submit_rectification"
    assert late["detail"]["state"] == "exited"
    assert "ended" in late["detail"]["unmet"][0]["message"]

    # Both projects move at the same instants; at each, A1's moves come before B1's.
    same_day = [
        i["project"]
        for i in out["timeline"]
        if i["at"] == f"2026-10-15T09:00:00{CST}" and i["type"] == "transition"
    ]
    assert same_day == ["A1"] * 3 + ["B1"] * 3


async def test_settings_override_the_fair_cut(simulated: Simulated) -> None:
    """`settings` merges over the default rules: a 15 % cut makes 900 000 too much, 850 000 fits."""
    out = await simulated("fair_cut_15_percent")

    review = next(
        i
        for i in _of_type(out, "transition", "F1")
        if i["action"] == "review_self_evaluation" and i["fiscal_year"] == 2027
    )
    assert review["detail"]["cut_percent"] == "15"
    assert review["detail"]["cut_applies_to"] == 2029
    (refused,) = _of_type(out, "rejected", "F1")
    assert refused["action"] == "approve_budget"
    assert refused["fiscal_year"] == 2029
    assert [u["guard"] for u in refused["detail"]["unmet"]] == ["amount_within_request"]
    assert "850000" in refused["detail"]["unmet"][0]["message"]
    assert out["final"]["F1"]["state"] == "completed"
    assert out["final"]["F1"]["cycles"][2]["approved_amount"] == 850_000


async def test_each_audience_is_notified_through_the_captured_outbox(
    simulated: Simulated,
) -> None:
    """Every audience of every history entry gets a notification, captured, never sent."""
    out = await simulated("two_departments")
    history = [
        i
        for i in out["timeline"]
        if i["type"] not in ("notification", "rejected", "continued_as_new")
    ]
    notes = _of_type(out, "notification")
    assert notes
    assert all(n["detail"] == {"status": "captured"} for n in notes)
    for note in notes:
        (whom,) = note["to_whom"]
        assert whom["recipient"].endswith("@simulation.invalid")
        entry = next(
            i for i in history if (i["project"], i["seq"]) == (note["project"], note["seq"])
        )
        assert (note["at"], note["action"]) == (entry["at"], entry["action"])
    # The poor review of B1's first year reaches its department and its owner.
    review = next(
        i for i in history if i["project"] == "B1" and i["action"] == "review_self_evaluation"
    )
    assert [
        n["to_whom"][0] for n in notes if (n["project"], n["seq"]) == ("B1", review["seq"])
    ] == [
        {
            "desk": "department",
            "department": "D2",
            "recipient": "department.d2@simulation.invalid",
        },
        {
            "desk": "project_owner",
            "department": "D2",
            "recipient": "project_owner.b1@simulation.invalid",
        },
    ]
    # Events (reminders, warnings, ...) name their audience; one notification per desk follows.
    for event in (i for i in history if i["type"] in {k.value for k in EventKind}):
        following = [
            n["to_whom"][0]["desk"]
            for n in notes
            if (n["project"], n["seq"]) == (event["project"], event["seq"])
        ]
        assert following == [w["desk"] for w in event["to_whom"]]


async def test_a_missed_deadline_climbs_the_ladder(simulated: Simulated) -> None:
    """B1 never files its goals for its last year: reminder, overdue, escalations, 问责."""
    out = await simulated("two_departments")
    rungs = [
        (i["type"], i["fiscal_year"])
        for i in out["timeline"]
        if i["project"] == "B1" and i["type"] in ("reminder", "overdue", "escalation")
    ]
    assert ("reminder", 2029) in rungs
    assert ("overdue", 2029) in rungs
    assert ("escalation", 2029) in rungs
    assert _of_type(out, "accountability", "B1")
    warning = next(iter(_of_type(out, "warning", "B1")))
    assert warning["level"] == "yellow"


async def test_settings_change_the_ladder(simulated: Simulated) -> None:
    """A ladder from `settings`: reminder 3 days ahead, overdue to the head and finance, no more."""
    out = await simulated("ladder_override")
    events = [i for i in out["timeline"] if i["type"] in {k.value for k in EventKind}]
    assert [(i["type"], i["detail"]["offset_days"]) for i in events] == [
        ("reminder", -3),
        ("overdue", 0),
    ]
    reminder, overdue = (datetime.fromisoformat(i["at"]) for i in events)
    assert overdue - reminder == timedelta(days=3)
    assert overdue.time() == time(0)  # a rung fires at the business midnight
    assert events[1]["to_whom"] == [
        {"desk": "department_head", "department": "D3"},
        {"desk": "finance"},
    ]
    assert [n["to_whom"][0]["recipient"] for n in _of_type(out, "notification")] == [
        "department.d3@simulation.invalid",
        "department_head.d3@simulation.invalid",
        "finance@simulation.invalid",
    ]
    assert out["final"]["L1"] == {"state": "active", "cycles": [], "runs": 1}
