"""Performance indicators (绩效指标) and the results reported against them."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.vocabulary import LEVEL2_UNDER, Achievement, Level1, Level2, Operator

Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$")]


class Indicator(BaseModel):
    """One L3 indicator: what is measured, the target, and how much it weighs in its group."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Code
    level1: Level1
    level2: Level2
    name: Annotated[str, Field(min_length=1, max_length=200)]
    operator: Operator
    # Quantitative indicators carry a number; a qualitative one a description (or nothing).
    # left_to_right: a number, even sent as the string "100", is a number (JSON round trips
    # turn Decimals into strings); only what is not a number stays text.
    target: Annotated[Decimal | str | None, Field(union_mode="left_to_right")] = None
    unit: Annotated[str, Field(max_length=32)] = ""
    weight: Decimal

    @model_validator(mode="after")
    def _level2_belongs_to_level1(self) -> Self:
        if self.level2 not in LEVEL2_UNDER[self.level1]:
            allowed = ", ".join(sorted(LEVEL2_UNDER[self.level1]))
            raise ValueError(
                f"level2 '{self.level2}' is not under '{self.level1}' (allowed: {allowed})"
            )
        return self

    @property
    def quantitative(self) -> bool:
        return self.operator is not Operator.QUALITATIVE

    @property
    def numeric_target(self) -> Decimal | None:
        return self.target if isinstance(self.target, Decimal) else None


class IndicatorResult(BaseModel):
    """What was achieved for one indicator: `actual` for quantitative, `achievement` otherwise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Code
    actual: Decimal | None = None
    achievement: Achievement | None = None
    # The share of the weight granted to a qualitative result; must lie in its achievement's band.
    ratio: Annotated[Decimal, Field(ge=0, le=1)] | None = None

    @model_validator(mode="after")
    def _one_kind_of_result(self) -> Self:
        if (self.actual is None) == (self.achievement is None):
            raise ValueError("give either 'actual' (quantitative) or 'achievement' (qualitative)")
        if self.ratio is not None and self.achievement is None:
            raise ValueError("'ratio' only goes with 'achievement'")
        return self
