"""Builders for projects of the other budgets and the special instruments (`models.kinds`).

Goals are the common pair of `tests.factories` (O1, E1) plus every indicator the template
requires, each quantitative one with target 100 (or as given) and weight 1.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from models.kinds import template_for
from models.vocabulary import BudgetType, ProjectKind
from tests import factories as f

# A contract's table: below 60 nothing, 60–80 pays 70 %, 80–90 pays 90 %, 90–100 pays in full.
PAYMENT_TABLE: dict[str, Any] = {
    "bands": [
        {"low": 0, "high": 60, "payment_pct": 0},
        {"low": 60, "high": 80, "payment_pct": 70},
        {"low": 80, "high": 90, "payment_pct": 90},
        {"low": 90, "high": 100, "payment_pct": 100},
    ]
}


def filing(
    code: str,
    kind: ProjectKind,
    budget_type: BudgetType = BudgetType.GENERAL_PUBLIC,
    **extra: Any,
) -> dict[str, Any]:
    """A filing of `kind`, with the kind's own fields unless given (or given as None: left out)."""
    body = {**f.filing(code), "kind": kind.value, "budget_type": budget_type.value}
    if kind in (ProjectKind.PPP, ProjectKind.PURCHASED_SERVICE):
        body["payment_table"] = PAYMENT_TABLE
    if kind is ProjectKind.GOVERNMENT_INVESTMENT_FUND:
        body["management_fee"] = 2_000_000
    for key, value in extra.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def indicators(
    budget_type: BudgetType, kind: ProjectKind, targets: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    targets = targets or {}
    special = [
        {
            "code": need.code,
            "level1": need.level1.value,
            "level2": need.level2.value,
            "name": need.name_zh,
            "operator": ">=" if need.quantitative else "qualitative",
            "target": targets.get(need.code, 100) if need.quantitative else "达成",
            "unit": need.unit,
            "weight": 1,
        }
        for need in template_for(budget_type, kind).required
    ]
    return f.indicators() + special


def goals(
    year: int,
    budget_type: BudgetType,
    kind: ProjectKind,
    amount: int = 1_000_000,
    targets: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "fiscal_year": year,
        "requested_amount": amount,
        "indicators": indicators(budget_type, kind, targets),
    }


def results(budget_type: BudgetType, kind: ProjectKind) -> list[dict[str, Any]]:
    """Every indicator fully achieved (the total is then 100)."""
    out: list[dict[str, Any]] = []
    for ind in indicators(budget_type, kind):
        if ind["operator"] == "qualitative":
            out.append({"code": ind["code"], "achievement": "achieved", "ratio": "1"})
        else:
            out.append({"code": ind["code"], "actual": ind["target"]})
    return out


def self_evaluation(
    year: int,
    budget_type: BudgetType,
    kind: ProjectKind,
    executed: int = 1_000_000,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "fiscal_year": year,
        "executed_amount": executed,
        "results": results(budget_type, kind),
        **extra,
    }


def review(year: int, score: str | Decimal) -> dict[str, Any]:
    """Finance's review with an adjusted score: the period's score is exactly `score`."""
    return {"fiscal_year": year, "adjusted_score": str(score), "comment": "财政审核"}
