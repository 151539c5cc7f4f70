"""Budget control numbers (预算控制数): a department's ceiling on project budgets for a year.

The ceiling for year N+1 comes from year N (DOMAIN.md, result application: a fair or poor
result deducts "later years' project budget control numbers" of the department):

1. base: what was approved for the department's projects in year N;
2. less, for each project whose year-N result was applied with a cut (`Review.cut_percent`,
   the lifecycle's own 中 10 % / 差 50 % defaults), that percentage of its year-N budget;
3. moved by the department's own overall grade of year N (`ControlNumberRules`, defaults
   优 +5 %, 良 0, 中 −5 %, 差 −10 %), applied to what is left after the cuts.

Pure: the service gathers the facts from the read model and records the result in the
department's year workflow (`set_control_number`); the same function explains it line by line.
With nothing approved in year N (a department's first year) there is no basis: no ceiling.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from models.department_rules import ControlNumberRules
from models.vocabulary import GRADE_ZH, Grade

CENT = Decimal("0.01")

LineKind = Literal["base", "project_cut", "grade_adjustment", "result"]


class ProjectYearResult(BaseModel):
    """One project's year N as the control number needs it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    approved_amount: Decimal
    grade: Grade | None = None
    cut_percent: Decimal = Decimal(0)
    cut_applies_to: int | None = None


class Line(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: LineKind
    amount: Decimal  # signed: what this line adds to the ceiling (the base and result: totals)
    text: str
    text_zh: str
    project_code: str | None = None
    percent: Decimal | None = None


class ControlNumber(BaseModel):
    """The ceiling and how it was reached; `ceiling` None: no basis, no ceiling."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    department: str
    fiscal_year: int  # the year the ceiling applies to
    results_year: int  # the year whose results it comes from
    ceiling: Decimal | None
    lines: list[Line]


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def compute_control_number(
    *,
    department: str,
    fiscal_year: int,
    projects: list[ProjectYearResult],
    department_grade: Grade | None,
    rules: ControlNumberRules,
) -> ControlNumber:
    """The control number of `department` for `fiscal_year` from the results of the year before."""
    results_year = fiscal_year - 1
    base = _money(sum((p.approved_amount for p in projects), Decimal(0)))
    if base <= 0:
        return ControlNumber(
            department=department,
            fiscal_year=fiscal_year,
            results_year=results_year,
            ceiling=None,
            lines=[
                Line(
                    kind="base",
                    amount=Decimal(0),
                    text=f"no project budget of {department} was approved for {results_year}: "
                    "no basis, no ceiling",
                    text_zh=f"{results_year}年无已批复的项目预算，无控制数",
                )
            ],
        )
    lines = [
        Line(
            kind="base",
            amount=base,
            text=f"project budgets approved for {results_year}: {base}",
            text_zh=f"{results_year}年已批复项目预算合计 {base}",
        )
    ]
    subtotal = base
    for p in sorted(projects, key=lambda p: p.code):
        if p.cut_percent <= 0:
            continue
        cut = _money(p.approved_amount * p.cut_percent / 100)
        subtotal -= cut
        grade = f"graded {p.grade.value}, " if p.grade else ""
        grade_zh = f"评价等级{GRADE_ZH[p.grade]}，" if p.grade else ""
        lines.append(
            Line(
                kind="project_cut",
                amount=-cut,
                project_code=p.code,
                percent=p.cut_percent,
                text=f"project {p.code} {grade}cut {p.cut_percent} % of its {results_year} "
                f"budget {p.approved_amount}: −{cut}",
                text_zh=f"项目 {p.code} {grade_zh}按{results_year}年预算 {p.approved_amount} "
                f"压减 {p.cut_percent}%：−{cut}",
            )
        )
    if department_grade is None:
        lines.append(
            Line(
                kind="grade_adjustment",
                amount=Decimal(0),
                percent=Decimal(0),
                text=f"no reviewed overall grade of {department} for {results_year}: no adjustment",
                text_zh=f"{results_year}年部门整体绩效未评定等级，不调整",
            )
        )
        adjustment = Decimal(0)
    else:
        percent = rules.percent_for(department_grade)
        adjustment = _money(subtotal * percent / 100)
        lines.append(
            Line(
                kind="grade_adjustment",
                amount=adjustment,
                percent=percent,
                text=f"overall grade {department_grade.value} for {results_year}: "
                f"{percent:+} % of {subtotal} = {adjustment:+}",
                text_zh=f"{results_year}年部门整体绩效等级{GRADE_ZH[department_grade]}："
                f"{subtotal} × {percent:+}% = {adjustment:+}",
            )
        )
    ceiling = max(_money(subtotal + adjustment), Decimal(0))
    lines.append(
        Line(
            kind="result",
            amount=ceiling,
            text=f"control number of {department} for {fiscal_year}: {ceiling}",
            text_zh=f"{fiscal_year}年项目预算控制数 {ceiling}",
        )
    )
    return ControlNumber(
        department=department,
        fiscal_year=fiscal_year,
        results_year=results_year,
        ceiling=ceiling,
        lines=lines,
    )


class ControlFacts(BaseModel):
    """What the department's year workflow answered when an approval reserved its amount.

    The service reserves the amount in `DepartmentYearWorkflow` first (an update: the workflow
    applies updates one at a time, so two approvals cannot both take the last headroom), then
    passes these facts in the project's `approve_budget` payload. The project's guard
    `within_control_number` judges them deterministically, without reading anything else.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    department: str
    fiscal_year: int
    reservation_id: str
    amount: Decimal
    ceiling: Decimal | None  # None: no control number set for that department and year
    reserved_before: Decimal  # held or confirmed by other approvals when this one asked
    granted: bool

    @property
    def total(self) -> Decimal:
        return self.reserved_before + self.amount


def reservation_refusal(facts: ControlFacts) -> str | None:
    """Why an approval exceeds the control number, or None when it fits (or there is none)."""
    if facts.ceiling is None:
        return None
    if facts.granted and facts.total <= facts.ceiling:
        return None
    return (
        f"approving {facts.amount} would bring {facts.department}'s project budgets for "
        f"{facts.fiscal_year} to {facts.total}, above its control number {facts.ceiling} "
        f"({facts.reserved_before} already approved or reserved)"
    )
