"""Every entry a history can hold reads as words in both languages on the timelines: the
lifecycle's actions, the clock's and the ladder's events, and a department year's own."""

from __future__ import annotations

import pytest

from models.department_lifecycle import ACTIONS as DEPARTMENT_ACTIONS
from models.lifecycle import ACTIONS
from models.notify import EventKind
from service.closed_transfers import ACTION as TRANSFER_AFTER_CLOSE
from service.web.i18n import action_name, department_action_name

# Entries written outside the two action tables: filing and carrying over a project, a lead
# transferred after a project closed, and a department year's opening, reservations against
# its control number and finance's assessment notice.
OTHER_ENTRIES = (
    "file",
    "carry_over",
    TRANSFER_AFTER_CLOSE,
    "open",
    "reserve",
    "reserve_refused",
    "confirm_reservation",
    "assessment_notice",
)
PROJECT_ENTRIES = sorted({*ACTIONS, *(k.value for k in EventKind), *OTHER_ENTRIES})
DEPARTMENT_ENTRIES = sorted({*DEPARTMENT_ACTIONS, *(k.value for k in EventKind), *OTHER_ENTRIES})


@pytest.mark.parametrize("action", PROJECT_ENTRIES)
def test_a_project_timeline_names_each_entry(action: str) -> None:
    assert action_name(action, "zh") != action
    assert action_name(action, "en") != action


@pytest.mark.parametrize("action", DEPARTMENT_ENTRIES)
def test_a_department_timeline_names_each_entry(action: str) -> None:
    assert department_action_name(action, "zh") != action
    assert department_action_name(action, "en") != action
