"""Builders of department-year inputs (部门整体绩效) shared by the model, workflow and API tests.

Six indicators, one per dimension, weights 10, 10, 20, 20, 20, 20 (total 100), every target
≥ 100; the results below are chosen so the overall score is known.
"""

from __future__ import annotations

from typing import Any

DIMENSIONS = (
    ("C1", "operating_cost", 10),
    ("M1", "management_efficiency", 10),
    ("D1", "duty_performance", 20),
    ("S1", "social_effect", 20),
    ("SU1", "sustainability", 20),
    ("SA1", "satisfaction", 20),
)


def indicators(*, without: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "code": code,
            "dimension": dimension,
            "name": f"指标 {code}",
            "operator": ">=",
            "target": 100,
            "unit": "%",
            "weight": weight,
        }
        for code, dimension, weight in DIMENSIONS
        if dimension != without
    ]


def goals_form(*, without: str | None = None) -> dict[str, str]:
    """The same indicators as the workbench's goals table posts them (`ind_<row>_<column>`)."""
    return {
        f"ind_{row}_{column}": str(value)
        for row, indicator in enumerate(indicators(without=without))
        for column, value in indicator.items()
    }


def goals(*, without: str | None = None) -> dict[str, Any]:
    return {"indicators": indicators(without=without)}


def results(actual: int = 100, *, first: int | None = None) -> dict[str, Any]:
    """Every indicator at `actual` (of target 100); `first` overrides the 10-point one (C1).

    Score = (weight-share of each ratio) × 100: all at 100 → 100; all at 50 → 50;
    C1 at 0 and the rest at 100 → 90.
    """
    return {
        "results": [
            {"code": code, "actual": first if first is not None and i == 0 else actual}
            for i, (code, _dimension, _weight) in enumerate(DIMENSIONS)
        ],
        "summary": "总体完成年度目标",
    }
