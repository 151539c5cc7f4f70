"""Who owes the next move in each year state: finance's to-do finds its projects through
`FINANCE_WAITING_STATES`, which must name exactly the states in which a duty of finance's
arises."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from models.calendar import FiscalCalendar
from models.duties import FINANCE_WAITING_STATES, open_duties
from models.lifecycle import CYCLE_STATES
from models.project_state import Cycle, ProjectInfo, ProjectState
from models.vocabulary import Role
from tests import factories as f


@pytest.mark.parametrize("state", CYCLE_STATES)
def test_finance_owes_a_move_exactly_in_its_waiting_states(state: str) -> None:
    info = ProjectInfo(**f.filing(start=2027, end=2028), department="D1")
    entered = datetime(2027, 3, 1, tzinfo=UTC)
    cycle = Cycle(fiscal_year=2027, state=state, entered={state: entered})
    project = ProjectState(info=info, state="active", entered={"active": entered}, cycles=[cycle])
    owners = {
        d.owner
        for d in open_duties(project, FiscalCalendar(), date(2027, 4, 1))
        if d.fiscal_year == 2027
    }
    assert (Role.FINANCE in owners) is (state in FINANCE_WAITING_STATES)
