"""The lifecycle drawn as Mermaid state diagrams, from the same tables the engine runs on."""

from __future__ import annotations

from typing import Any

from transitions.extensions import GraphMachine

from models.lifecycle import Level, actions_of, states_of
from models.project_state import ProjectState


def _mermaid(level: Level, current: str, title: str) -> str:
    class _Model:
        pass

    transitions: list[dict[str, Any]] = [
        {"trigger": action.name, "source": list(t.source), "dest": t.dest}
        for action in actions_of(level)
        for t in action.transitions
    ]
    model = _Model()
    GraphMachine(
        model=model,
        states=list(states_of(level)),
        transitions=transitions,
        initial=current,  # drawn highlighted: the machine is "in" the project's current state
        auto_transitions=False,
        graph_engine="mermaid",
        show_state_attributes=False,
        title=title,
    )
    graph: Any = model.get_graph()  # type: ignore[attr-defined]
    return str(graph.draw(None))


def project_diagrams(project: ProjectState) -> dict[str, Any]:
    """One diagram for the project as a whole and one per fiscal-year cycle."""
    info = project.info
    return {
        "format": "mermaid",
        "project": _mermaid(Level.PROJECT, project.state, f"{info.code} {info.name}"),
        "cycles": [
            {
                "fiscal_year": c.fiscal_year,
                "diagram": _mermaid(Level.CYCLE, c.state, f"{info.code} {c.fiscal_year}"),
            }
            for c in project.cycles
        ],
    }
