"""The stateless self-evaluation calculator: the same function that scores the workflow's years."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from models.indicators import Indicator, IndicatorResult
from models.scoring import BudgetFigures, ScoreReport, ScoringError, score_self_evaluation
from service.deps import CurrentUser
from service.problems import Problem

router = APIRouter(prefix="/api/scoring", tags=["scoring"])


class SelfEvaluationInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget: BudgetFigures
    indicators: Annotated[list[Indicator], Field(min_length=1, max_length=200)]
    results: Annotated[list[IndicatorResult], Field(max_length=200)]


@router.post("/self-evaluation")
def score(body: SelfEvaluationInput, _: CurrentUser) -> ScoreReport:
    """Score a self-evaluation (财预〔2020〕10号 practice) without recording anything."""
    try:
        return score_self_evaluation(
            budget=body.budget, indicators=body.indicators, results=body.results
        )
    except ScoringError as invalid:
        raise Problem(
            status=422,
            title="Results do not fit the indicators",
            detail=str(invalid),
            errors=[{"field": p.field, "reason": p.message} for p in invalid.problems],
        ) from None
