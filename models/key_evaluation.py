"""Finance key evaluation (财政重点评价): who is selected, how it is scored, what it records.

Pure: the selection is a function of the candidates and a seed, so anyone can redraw it and get
the same sample; the score is a function of the four part scores and the weights in force.

Scoring (DOMAIN.md, stage 4): four parts — 决策 decision, 过程 process, 产出 output, 效益 effect —
each scored between 0 and its weight (`KeyEvaluationRules`, default 20/20/30/30, output +
effect ≥ 60); the total is their sum out of 100 and takes the usual grade (优 ≥ 90, 良 ≥ 80,
中 ≥ 60, 差 < 60). Its grade, not the self-evaluation's, decides the result application.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from models.rules import KeyEvaluationRules
from models.scoring import ScoringRules, grade_for, round_half_up
from models.vocabulary import Grade, ResultConsequence

PartScore = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]


class SelectionReason(StrEnum):
    """Why finance put a project on the key-evaluation list."""

    MAJOR = "major"  # 重大项目
    SCORE_GAP = "score_gap"  # 财政审核分与自评分差距过大
    RED_WARNING = "red_warning"  # 红色预警
    SAMPLE = "sample"  # 随机抽取
    FINANCE_CHOICE = "finance_choice"  # 财政指定


REASON_ZH: dict[SelectionReason, str] = {
    SelectionReason.MAJOR: "重大项目",
    SelectionReason.SCORE_GAP: "财政审核分与自评分差距过大",
    SelectionReason.RED_WARNING: "红色预警",
    SelectionReason.SAMPLE: "随机抽取",
    SelectionReason.FINANCE_CHOICE: "财政指定",
}


class KeyScores(BaseModel):
    """The four part scores of a key evaluation, each out of its weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: PartScore  # 决策
    process: PartScore  # 过程
    output: PartScore  # 产出
    effect: PartScore  # 效益


PART_ZH = {"decision": "决策", "process": "过程", "output": "产出", "effect": "效益"}


def score_problems(scores: KeyScores, rules: KeyEvaluationRules) -> list[str]:
    """Each part above its weight, as a sentence naming the part; empty when all fit."""
    return [
        f"{part} ({PART_ZH[part]}) scored {getattr(scores, part)}, above its weight {weight}"
        for part, weight in rules.weights().items()
        if getattr(scores, part) > weight
    ]


def key_total(scores: KeyScores) -> Decimal:
    return round_half_up(scores.decision + scores.process + scores.output + scores.effect)


def key_grade(scores: KeyScores, scoring: ScoringRules) -> Grade:
    return grade_for(key_total(scores), scoring)


class KeyEvaluator(BaseModel):
    """An expert or institution from the library assigned to one key evaluation, as it was
    at assignment (the library may change later; the record must not)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expert_id: Annotated[int, Field(ge=1)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Annotated[str, Field(max_length=16)]  # expert | institution
    username: Annotated[str, Field(max_length=64)] | None = None
    department: Annotated[str, Field(max_length=32)] | None = None
    institution: Annotated[str, Field(max_length=200)] | None = None


class EvaluatorDraw(BaseModel):
    """A reproducible draw: the same seed over the same eligible list gives the same experts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int
    speciality: Annotated[str, Field(max_length=100)] | None = None
    eligible: list[int]  # expert ids, in the order the draw used
    excluded: dict[str, list[str]] = {}  # expert id → why not eligible (conflict, suspension)
    drawn: list[int]


class KeyEvaluation(BaseModel):
    """One key evaluation of one fiscal year: selection, evaluators, scores, result."""

    selected_at: datetime
    selected_by: str
    reasons: list[SelectionReason]
    selection_seed: int | None = None
    note: str = ""
    # The state the year was in when selected (a review may already have applied a result).
    selected_from: str
    evaluators: list[KeyEvaluator] = []
    draw: EvaluatorDraw | None = None
    departments: list[str] = []  # joint evaluation (联合评价) by several departments
    assigned_at: datetime | None = None
    scores: KeyScores | None = None
    total: Decimal | None = None
    grade: Grade | None = None
    report: str = ""
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    consequence: ResultConsequence | None = None
    cut_percent: Decimal = Decimal(0)
    cut_applies_to: int | None = None
    public_notice: bool = False

    @property
    def submitted(self) -> bool:
        return self.submitted_at is not None

    def usernames(self) -> set[str]:
        return {e.username for e in self.evaluators if e.username}


# --- selection ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A project whose year N can be key-evaluated (its self-evaluation is in)."""

    code: str
    major: bool
    score_gap: bool  # `Cycle.key_evaluation`: finance's score differs from the self-evaluation
    red_warning: bool


@dataclass(frozen=True)
class Selected:
    code: str
    reasons: tuple[SelectionReason, ...]


@dataclass(frozen=True)
class Selection:
    seed: int
    sample_percent: Decimal
    sample_pool: tuple[str, ...]  # the unflagged candidates the sample was drawn from, sorted
    selected: tuple[Selected, ...]


def select_for_key_evaluation(
    candidates: Iterable[Candidate], *, seed: int, sample_percent: Decimal
) -> Selection:
    """Major and flagged projects always; from the rest, ⌈pool × percent⌉ drawn with `seed`.

    The pool is sorted by code before the draw, so the result does not depend on the order the
    candidates were read in: recording the seed is enough to reproduce it.
    """
    chosen: dict[str, list[SelectionReason]] = {}
    pool: list[str] = []
    for c in sorted(candidates, key=lambda c: c.code):
        reasons = [
            reason
            for reason, holds in (
                (SelectionReason.MAJOR, c.major),
                (SelectionReason.SCORE_GAP, c.score_gap),
                (SelectionReason.RED_WARNING, c.red_warning),
            )
            if holds
        ]
        if reasons:
            chosen[c.code] = reasons
        else:
            pool.append(c.code)
    size = math.ceil(len(pool) * sample_percent / 100)
    for code in random.Random(seed).sample(pool, size):
        chosen[code] = [SelectionReason.SAMPLE]
    return Selection(
        seed=seed,
        sample_percent=sample_percent,
        sample_pool=tuple(pool),
        selected=tuple(Selected(code, tuple(chosen[code])) for code in sorted(chosen)),
    )
