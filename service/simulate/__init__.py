"""`perfbudget simulate SCENARIO.json`: several projects over several years, in virtual time.

A scenario names projects and the steps people take on them, each on a date. The simulator runs
it with the real `ProjectWorkflow` and the real worker (projection on SQLite in a temporary
directory, notifications captured, not sent) on the time-skipping test server, whose clock jumps
from one step to the next while the workflows' own timers (year ends, deadlines, escalation
ladders) fire in between. What comes out is a timeline and the final state of every project.

A scenario may also drive department years (`DepartmentYearWorkflow`), control numbers, the
expert library and key evaluations. Those steps, and every `approve_budget` once a department
year is open, are taken by the API's own service functions (`service.department_years`,
`service.projects.take_action` with its reservation protocol, `service.key_evaluations`) on the
simulation's read model, so the simulator computes nothing the API computes differently.

Business time is the test server's clock plus a fixed offset (`clock_offset_seconds` of the
workflow input), so a scenario may be dated in the past although the server's clock starts at
the real now and only moves forward.

    scenario = load_scenario(json.loads(text))       # ScenarioError: what is wrong, where
    result = await simulate(scenario)                # or simulate(scenario, env=shared_env)
    print(json.dumps(result.output()))
"""

from service.simulate.results import (
    FinalCycle,
    FinalDepartmentYear,
    FinalProject,
    Simulation,
    TimelineItem,
)
from service.simulate.scenario import (
    ASSIGN_EVALUATORS,
    DEPARTMENT_ACTIONS,
    OPEN_YEAR,
    STEP_HOUR,
    ZONE_SELECTION,
    Scenario,
    ScenarioError,
    Step,
    load_scenario,
    read_scenario,
    rules_with,
)
from service.simulate.stack import simulate, time_skipping_environment

__all__ = [
    "ASSIGN_EVALUATORS",
    "DEPARTMENT_ACTIONS",
    "OPEN_YEAR",
    "STEP_HOUR",
    "ZONE_SELECTION",
    "FinalCycle",
    "FinalDepartmentYear",
    "FinalProject",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "Step",
    "TimelineItem",
    "load_scenario",
    "read_scenario",
    "rules_with",
    "simulate",
    "time_skipping_environment",
]
