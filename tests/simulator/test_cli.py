"""`perfbudget simulate` from the command line: JSON on stdout, exit 2 on a malformed scenario."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from service.cli import EXIT_USAGE, main
from service.simulate import ScenarioError, load_scenario
from tests.simulator.conftest import SCENARIOS, scenario_data


def _broken(change: dict[str, Any]) -> dict[str, Any]:
    """The three-year scenario with values replaced at dotted paths (`steps.3.payload.amount`)."""
    data = copy.deepcopy(scenario_data("three_year_completes"))
    for path, value in change.items():
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        elif value is _DELETE:
            del target[last]
        else:
            target[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"steps.2.at": "2026-02-30"},
            'steps[2].at: expected a date YYYY-MM-DD or a date-time YYYY-MM-DDTHH:MM[+08:00] (got "2026-02-30")',
        ),
        (
            {"steps.1.action": "approve_everything"},
            "steps[1].action: unknown action 'approve_everything'",
        ),
        (
            {"steps.3.payload.amount": -5},
            "steps[3].payload.amount: Input should be greater than 0 (got -5)",
        ),
        (
            {"steps.4.project": "P9"},
            "steps[4].project: unknown project 'P9' (known: P1)",
        ),
        (
            {"steps.5.payload.fiscal_year": "next"},
            'steps[5].payload.fiscal_year: Input should be a valid integer, unable to parse string as an integer (got "next")',
        ),
        (
            {"steps.6.actor.role": "mayor"},
            "steps[6].actor.role: Input should be 'admin', 'finance', 'department', 'evaluator', 'auditor' or 'system' (got \"mayor\")",
        ),
        (
            {"steps.0.at": "2026-08-31"},
            "steps[0].at: 2026-08-31T09:00:00+08:00 is outside the scenario [2026-09-01T00:00:00+08:00, 2030-07-01T00:00:00+08:00)",
        ),
        (
            {"settings": {"results": {"fair_cut_percent": 150}}},
            "settings.results.fair_cut_percent: Input should be less than or equal to 100 (got 150)",
        ),
        (
            {"settings": {"results": {"fair_cut": 15}}},
            "settings.results.fair_cut: Extra inputs are not permitted",
        ),
        (
            {"start": "2026-13-01"},
            'start: Input should be a valid date or datetime, month value is outside expected range of 1-12 (got "2026-13-01")',
        ),
        ({"projects.0.owner": _DELETE}, "projects[0].owner: Field required"),
        ({"until": "2026-08-01"}, "until: must be after start"),
    ],
)
def test_malformed_scenario_exits_2_naming_the_bad_value(
    change: dict[str, Any], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each problem is reported with where it is (`steps[3].payload.amount`) and what was given."""
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(_broken(change)), encoding="utf-8")

    assert main(["simulate", str(path)]) == EXIT_USAGE

    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"perfbudget simulate: {path}: invalid scenario:" in captured.err
    assert message in captured.err


def test_every_problem_is_reported_at_once() -> None:
    """Several bad steps: one message per problem, in file order."""
    with pytest.raises(ScenarioError) as raised:
        load_scenario(_broken({"steps.1.action": "nope", "steps.4.project": "P9"}))
    assert [p.split(":")[0] for p in raised.value.problems] == [
        "steps[1].action",
        "steps[4].project",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON: Expecting property name enclosed in double quotes at line 1"),
        ("[]", "scenario: Input should be a valid dictionary"),
    ],
)
def test_unreadable_scenario_exits_2(
    text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(text, encoding="utf-8")
    assert main(["simulate", str(path)]) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(tmp_path / "absent.json")]) == EXIT_USAGE
    assert "cannot read" in capsys.readouterr().err


def test_simulate_prints_the_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    """End to end: its own test server, the JSON timeline on stdout, the timing on stderr."""
    assert main(["simulate", str(SCENARIOS / "rejected_steps.json"), "--timing"]) == 0

    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert set(out) == {"timeline", "final"}
    assert out["final"]["R1"]["state"] == "active"
    assert out["final"]["R1"]["runs"] == 2
    assert [i["action"] for i in out["timeline"] if i["type"] == "rejected"] == [
        "approve_budget",
        "approve_goals",
        "approve_budget",
    ]
    first = out["timeline"][0]
    filing = first.pop("detail")  # what was filed, as the API records it
    assert filing["code"] == "R1"
    assert "department" not in filing  # the filer's own, not part of the filing
    assert first == {
        "at": "2026-09-01T00:00:00+08:00",
        "project": "R1",
        "type": "transition",
        "action": "file",
        "from": "",
        "to": "filed",
        "actor": "department-D1",
        "seq": 1,
    }
    assert "virtual years per second" in captured.err


def _with_steps(*steps: dict[str, Any]) -> dict[str, Any]:
    data = _broken({})
    data["steps"] = list(steps)
    return data


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            {"department": "D1", "actor": {"role": "finance"}, "action": "open"},
            "steps[0].fiscal_year: required",
        ),
        (
            {"department": "D1", "fiscal_year": 2027, "actor": {"role": "finance"}, "action": "x"},
            "steps[0].action: unknown department action 'x' (known: open, submit_goals,",
        ),
        (
            {
                "department": "D1",
                "fiscal_year": 2027,
                "actor": {"role": "finance"},
                "action": "set_control_number",
                "payload": {"ceiling": 1},
            },
            "steps[0].payload: set_control_number takes no payload",
        ),
        (
            {
                "department": "D1",
                "fiscal_year": 2027,
                "actor": {"role": "finance"},
                "action": "approve_department_budget",
                "payload": {"amount": -1},
            },
            "steps[0].payload.amount: Input should be greater than 0 (got -1)",
        ),
        (
            {"actor": {"role": "finance"}, "action": "approve_budget"},
            "steps[0].project: required (or department and fiscal_year",
        ),
        (
            {
                "fiscal_year": 2027,
                "actor": {"role": "finance"},
                "action": "select_for_key_evaluation",
                "payload": {"sample_percent": 101},
            },
            "steps[0].payload.sample_percent: Input should be less than or equal to 100",
        ),
        (
            {
                "project": "P1",
                "actor": {"role": "finance"},
                "action": "assign_evaluators",
                "payload": {"fiscal_year": 2027, "evaluators": []},
            },
            "steps[0].payload.evaluators: Extra inputs are not permitted",
        ),
        (
            {
                "project": "P1",
                "department": "D1",
                "actor": {"role": "finance"},
                "action": "approve_budget",
                "payload": {"fiscal_year": 2027, "amount": 1},
            },
            "steps[0]: a project's step names no department or fiscal_year",
        ),
    ],
)
def test_department_and_zone_steps_are_checked_before_running(
    step: dict[str, Any], message: str
) -> None:
    """A department year's step, the zone's selection and the library's assignment each have
    their own shape; what is wrong is named before anything runs."""
    with pytest.raises(ScenarioError) as raised:
        load_scenario(_with_steps({"at": "2026-10-01", **step}))
    assert any(p.startswith(message) for p in raised.value.problems), raised.value.problems
