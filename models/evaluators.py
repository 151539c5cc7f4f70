"""Independence of evaluators (利益冲突回避) and the reproducible draw among eligible experts.

Pure: the service reads the library and the project, this module decides. The workflow runs
the same `conflicts_of` as a guard on the evaluators it is given, so a conflicted evaluator is
refused even if a caller bypassed the library.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from models.key_evaluation import EvaluatorDraw, KeyEvaluator
from models.project_state import ProjectState
from models.vocabulary import Role


@dataclass(frozen=True)
class ExpertFacts:
    """What the library knows of an expert or institution that bears on eligibility."""

    expert_id: int
    name: str
    kind: str  # expert | institution
    username: str | None
    department: str | None
    institution: str | None
    specialities: frozenset[str]
    suspended: bool

    def as_evaluator(self) -> KeyEvaluator:
        return KeyEvaluator(
            expert_id=self.expert_id,
            name=self.name,
            kind=self.kind,
            username=self.username,
            department=self.department,
            institution=self.institution,
        )


def involved_people(project: ProjectState) -> set[str]:
    """Everyone who took part in the project: its owner and every person in its history
    (an evaluator's own earlier key evaluation of it is not involvement in the project)."""
    people = {project.info.owner}
    people.update(e.actor for e in project.history if e.role not in (Role.SYSTEM, Role.EVALUATOR))
    return people


def conflicts_of(evaluator: KeyEvaluator, project: ProjectState) -> list[str]:
    """Why `evaluator` may not evaluate `project` (empty when independent)."""
    reasons: list[str] = []
    if evaluator.department is not None and evaluator.department == project.info.department:
        reasons.append(f"same department as the project ({evaluator.department}) 同一部门")
    people = involved_people(project)
    if evaluator.name in people or (evaluator.username and evaluator.username in people):
        reasons.append("involved in the project (owner or actor in its history) 参与过该项目")
    assessed_by = project.assessment.institution if project.assessment else None
    own = evaluator.institution or (evaluator.name if evaluator.kind == "institution" else None)
    if assessed_by and own and own == assessed_by:
        reasons.append(f"{own} assessed the project ex ante 承担过该项目事前绩效评估")
    return reasons


def exclusions(experts: Iterable[ExpertFacts], project: ProjectState) -> dict[int, list[str]]:
    """Every expert that may not evaluate `project`, with the reasons."""
    out: dict[int, list[str]] = {}
    for expert in experts:
        reasons = conflicts_of(expert.as_evaluator(), project)
        if expert.suspended:
            reasons.insert(0, "suspended from the library 已暂停")
        if reasons:
            out[expert.expert_id] = reasons
    return out


class NotEnoughEligibleError(ValueError):
    """Fewer eligible experts than asked for."""


def draw_evaluators(
    experts: Sequence[ExpertFacts],
    project: ProjectState,
    *,
    speciality: str | None,
    count: int,
    seed: int,
) -> EvaluatorDraw:
    """Draw `count` eligible experts (of `speciality`, when given) with `seed`.

    The eligible list is sorted by id before the draw, so the seed and that list reproduce it.
    """
    excluded = exclusions(experts, project)
    eligible = sorted(
        e.expert_id
        for e in experts
        if e.expert_id not in excluded and (speciality is None or speciality in e.specialities)
    )
    if len(eligible) < count:
        raise NotEnoughEligibleError(
            f"{len(eligible)} eligible expert(s)"
            + (f" with speciality {speciality!r}" if speciality else "")
            + f", {count} asked for"
        )
    drawn = random.Random(seed).sample(eligible, count)
    return EvaluatorDraw(
        seed=seed,
        speciality=speciality,
        eligible=eligible,
        excluded={str(k): v for k, v in sorted(excluded.items())},
        drawn=drawn,
    )
