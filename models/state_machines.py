"""What the project and department-year engines share in driving pytransitions: the proxy a
machine moves, guard conditions, and the machine's settings.

A machine keeps references to its models: build one per engine, never share it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from transitions import EventData, Machine


class HasState(Protocol):
    state: str


class StateProxy:
    """The object a machine moves: reads and writes the `state` of a pydantic model in place."""

    def __init__(self, target: HasState) -> None:
        self._target = target

    @property
    def state(self) -> str:
        return self._target.state

    @state.setter
    def state(self, value: str) -> None:
        self._target.state = value


def guard_holds(check: Callable[[Any], str | None]) -> Callable[[EventData], bool]:
    """A transition condition: `check` finds nothing missing in the event's `ctx` argument."""

    def holds(event: EventData) -> bool:
        return check(event.kwargs["ctx"]) is None

    return holds


def build_machine(states: Iterable[str], transitions: list[dict[str, Any]]) -> Machine:
    """A machine with only the named triggers (no `to_<state>`), passing each event's data to
    conditions; models are added later, each at its own state."""
    return Machine(
        model=[],
        states=list(states),
        transitions=transitions,
        auto_transitions=False,
        send_event=True,
        initial=None,
    )
