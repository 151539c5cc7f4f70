"""Builders of realistic inputs shared by the model, workflow and API tests.

The self-evaluation results are chosen so the grade is known: with one output indicator (O1,
target ≥ 100) and one effect indicator (E1, target ≥ 100), no satisfaction indicator (effect is
worth 40) and the budget fully executed (10 points), total = 10 + 0.5·O1 + 0.4·E1.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from models.vocabulary import Grade

GRADE_RESULTS: dict[Grade, tuple[int, int]] = {
    Grade.EXCELLENT: (100, 100),  # 10 + 50 + 40 = 100
    Grade.GOOD: (100, 60),  # 10 + 50 + 24 = 84
    Grade.FAIR: (100, 25),  # 10 + 50 + 10 = 70
    Grade.POOR: (50, 50),  # 10 + 25 + 20 = 55
}
GRADE_SCORE: dict[Grade, Decimal] = {
    Grade.EXCELLENT: Decimal(100),
    Grade.GOOD: Decimal(84),
    Grade.FAIR: Decimal(70),
    Grade.POOR: Decimal(55),
}


def filing(
    code: str = "P001",
    *,
    major: bool = False,
    start: int = 2027,
    end: int = 2029,
    total: int = 10_000_000,
) -> dict[str, Any]:
    return {
        "code": code,
        "name": f"项目 {code}",
        "kind": "project",
        "budget_type": "general_public",
        "start_year": start,
        "end_year": end,
        "total_amount": total,
        "major": major,
        "owner": "张三",
    }


def indicators() -> list[dict[str, Any]]:
    return [
        {
            "code": "O1",
            "level1": "output",
            "level2": "quantity",
            "name": "改造道路里程",
            "operator": ">=",
            "target": 100,
            "unit": "km",
            "weight": 1,
        },
        {
            "code": "E1",
            "level1": "effect",
            "level2": "social",
            "name": "通行时间缩短",
            "operator": ">=",
            "target": 100,
            "unit": "%",
            "weight": 1,
        },
    ]


def goals(year: int, amount: int = 1_000_000) -> dict[str, Any]:
    return {"fiscal_year": year, "requested_amount": amount, "indicators": indicators()}


def self_evaluation(year: int, grade: Grade, executed: int = 1_000_000) -> dict[str, Any]:
    output, effect = GRADE_RESULTS[grade]
    return {
        "fiscal_year": year,
        "executed_amount": executed,
        "results": [{"code": "O1", "actual": output}, {"code": "E1", "actual": effect}],
    }


def assessment(total_each: int = 18) -> dict[str, Any]:
    return {
        "scores": {
            "necessity": total_each,
            "economy": total_each,
            "goal_reasonableness": total_each,
            "feasibility": total_each,
            "financing_compliance": total_each,
        },
        "assessor": "third_party",
        "summary": "必要且可行",
    }
