"""`apply_snapshot` writes the workflow's state into the read model: newer snapshots replace a
project's cycles and evaluator assignments, older ones change nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlmodel import Session, SQLModel, col, select

from models.evaluator_tables import EvaluatorAssignmentRow
from models.key_evaluation import KeyEvaluation, KeyEvaluator, SelectionReason
from models.project_state import Cycle, ProjectInfo, ProjectState
from models.tables import CycleRow, ProjectRow
from service.db import engine_for
from service.projection import apply_snapshot
from tests.factories import filing

AT = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)


def project(*cycles: Cycle) -> ProjectState:
    info = ProjectInfo.model_validate({**filing("P001"), "department": "D1"})
    return ProjectState(info=info, state="active", cycles=list(cycles))


def evaluator(expert_id: int, username: str) -> KeyEvaluator:
    return KeyEvaluator(expert_id=expert_id, name=f"专家{expert_id}", kind="expert",
                        username=username)  # fmt: skip


def key_evaluation(*evaluators: KeyEvaluator) -> KeyEvaluation:
    return KeyEvaluation(
        selected_at=AT,
        selected_by="fin",
        reasons=[SelectionReason.MAJOR],
        selected_from="self_evaluated",
        evaluators=list(evaluators),
    )


def cycles(session: Session) -> list[tuple[int, str, Decimal | None]]:
    rows = session.exec(select(CycleRow).order_by(col(CycleRow.fiscal_year))).all()
    return [(r.fiscal_year, r.state, r.approved_amount) for r in rows]


def assignments(session: Session) -> list[tuple[int, int, str | None]]:
    rows = session.exec(
        select(EvaluatorAssignmentRow).order_by(col(EvaluatorAssignmentRow.expert_id))
    ).all()
    return [(r.fiscal_year, r.expert_id, r.username) for r in rows]


def test_newer_snapshots_replace_cycles_and_older_ones_change_nothing(database_url: str) -> None:
    engine = engine_for(database_url)
    SQLModel.metadata.create_all(engine)
    try:
        with Session(engine) as session:
            apply_snapshot(session, project=project(Cycle(fiscal_year=2027, state="goals_draft")),
                           seq=1, entries=[])  # fmt: skip
            approved = Cycle(fiscal_year=2027, state="budget_approved", approved_amount=Decimal(5))
            later = Cycle(fiscal_year=2028, state="goals_draft")
            assert apply_snapshot(session, project=project(approved, later), seq=3, entries=[])
            assert cycles(session) == [
                (2027, "budget_approved", Decimal("5.00")),
                (2028, "goals_draft", None),
            ]
            # A snapshot older than the stored one (a late retry) is ignored.
            stale = project(Cycle(fiscal_year=2027, state="goals_submitted"))
            assert not apply_snapshot(session, project=stale, seq=2, entries=[])
            assert cycles(session)[0] == (2027, "budget_approved", Decimal("5.00"))
            assert session.get(ProjectRow, "P001").seq == 3  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_evaluators_replaced_in_the_workflow_are_replaced_in_the_read_model(
    database_url: str,
) -> None:
    engine = engine_for(database_url)
    SQLModel.metadata.create_all(engine)
    try:
        with Session(engine) as session:
            year = Cycle(fiscal_year=2027, state="self_evaluated")
            apply_snapshot(session, project=project(year), seq=1, entries=[])
            assert assignments(session) == []
            first = year.model_copy(
                update={
                    "key_evaluation_record": key_evaluation(evaluator(1, "e1"), evaluator(2, "e2"))
                }
            )
            apply_snapshot(session, project=project(first), seq=2, entries=[])
            assert assignments(session) == [(2027, 1, "e1"), (2027, 2, "e2")]
            # Expert 2 declared a conflict of interest and was replaced by expert 3.
            replaced = year.model_copy(
                update={
                    "key_evaluation_record": key_evaluation(evaluator(1, "e1"), evaluator(3, "e3"))
                }
            )
            apply_snapshot(session, project=project(replaced), seq=3, entries=[])
            assert assignments(session) == [(2027, 1, "e1"), (2027, 3, "e3")]
    finally:
        engine.dispose()
