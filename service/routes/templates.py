"""Goals templates of the four budgets and the special instruments, with their rule data.

Read by the web workbench (to lay out a goals form) and by the Excel import (to check a sheet
before it is submitted); the same data the guards enforce (`models.kinds`).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from models.kinds import (
    FundRule,
    GoalsTemplate,
    QualitativeWarning,
    ThresholdWarning,
    all_templates,
)
from models.vocabulary import BudgetType, Grade, ProjectKind
from service.deps import CurrentUser, SettingsDep

router = APIRouter(prefix="/api/templates", tags=["templates"])


class TemplateView(GoalsTemplate):
    # Monitoring thresholds on this template's indicators (warnings as data, configurable).
    thresholds: tuple[ThresholdWarning, ...]
    # Warnings on qualitative progress (a debt project's new hidden debt), configurable too.
    qualitative: tuple[QualitativeWarning, ...]
    # Government investment funds: what each grade means for contribution, exit and reward.
    fund_rules: dict[Grade, FundRule] | None


class TemplatePage(BaseModel):
    items: list[TemplateView]


@router.get("")
def list_templates(
    _: CurrentUser,
    settings: SettingsDep,
    budget_type: BudgetType | None = None,
    kind: ProjectKind | None = None,
) -> TemplatePage:
    """Each budget type × kind: the indicators its goals must contain, its filing fields, its
    own actions and rules. Filter with `budget_type` and `kind`."""
    rules = settings.rules.kinds
    return TemplatePage(
        items=[
            TemplateView(
                **t.model_dump(),
                thresholds=tuple(
                    r for r in rules.thresholds if r.applies_to(t.budget_type, t.kind)
                ),
                qualitative=tuple(
                    r for r in rules.qualitative if r.applies_to(t.budget_type, t.kind)
                ),
                fund_rules=(
                    dict(rules.fund) if t.kind is ProjectKind.GOVERNMENT_INVESTMENT_FUND else None
                ),
            )
            for t in all_templates()
            if budget_type in (None, t.budget_type) and kind in (None, t.kind)
        ]
    )
