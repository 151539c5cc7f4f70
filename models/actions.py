"""The bodies of the actions people take on a project, validated at the edge (HTTP 422).

Each action has one payload model; `PAYLOADS` maps the action name to it. Everything that can be
checked without the project's state is checked here; what depends on the state is a guard.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.assessment import AssessmentScores
from models.control_number import ControlFacts
from models.indicators import Code, Indicator, IndicatorResult
from models.key_evaluation import EvaluatorDraw, KeyEvaluator, KeyScores, SelectionReason
from models.kinds import ProcurementMethod
from models.vocabulary import Achievement, Assessor, ExitReason, WarningDecision

FiscalYear = Annotated[int, Field(ge=2000, le=2200)]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
PositiveMoney = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
Text = Annotated[str, Field(max_length=4000)]
RequiredText = Annotated[str, Field(min_length=1, max_length=4000)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class YearPayload(Payload):
    """An action on one fiscal-year cycle of the project."""

    fiscal_year: FiscalYear


class Empty(Payload):
    pass


class SubmitAssessment(Payload):
    scores: AssessmentScores
    assessor: Assessor
    summary: Text = ""
    # The third-party institution that did the assessment (it may not key-evaluate the project).
    institution: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class ApproveAssessment(Payload):
    comment: Text = ""


class RejectAssessment(Payload):
    reason: RequiredText


class SubmitGoals(YearPayload):
    requested_amount: PositiveMoney
    indicators: Annotated[list[Indicator], Field(min_length=1, max_length=200)]


class ApproveGoals(YearPayload):
    pass


class ReturnGoals(YearPayload):
    comment: RequiredText


class ApproveBudget(YearPayload):
    amount: PositiveMoney
    # Set by the service, never by a caller (`service.projects` refuses it in a request body):
    # the reservation the department's year workflow granted or refused for this amount.
    # None: that department has no control number for the year (no ceiling).
    control: ControlFacts | None = None


class Progress(Payload):
    """Progress on one indicator: `actual` for a quantitative one, `achievement` (达成 / 部分达成
    / 未达成 so far) for a qualitative one, such as a debt project's "no new hidden debt"."""

    code: Code
    actual: Decimal | None = None
    achievement: Achievement | None = None

    @model_validator(mode="after")
    def _one_kind_of_progress(self) -> Self:
        if (self.actual is None) == (self.achievement is None):
            raise ValueError("give either 'actual' (quantitative) or 'achievement' (qualitative)")
        return self


class ReportMonitoring(YearPayload):
    period_end: date
    executed_amount: Money
    progress: Annotated[list[Progress], Field(max_length=200)] = []


class SuspendFunding(Payload):
    reason: RequiredText


class ResumeFunding(Payload):
    reason: RequiredText


class CloseYear(YearPayload):
    pass


class SubmitSelfEvaluation(YearPayload):
    executed_amount: Money
    results: Annotated[list[IndicatorResult], Field(min_length=1, max_length=200)]
    # Purchased services (guard `third_party_named`): the third-party evaluator and the
    # evaluation standard, both published with the result.
    third_party_evaluator: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    evaluation_standard: Annotated[str, Field(min_length=1, max_length=4000)] | None = None


class ReviewSelfEvaluation(YearPayload):
    adjusted_score: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] | None = None
    comment: Text = ""


class SubmitRectification(YearPayload):
    report: RequiredText


class AcceptRectification(YearPayload):
    comment: Text = ""


class RejectRectification(YearPayload):
    comment: RequiredText


class RespondToWarning(YearPayload):
    decision: WarningDecision
    comment: RequiredText


class SelectForKeyEvaluation(YearPayload):
    reasons: Annotated[list[SelectionReason], Field(min_length=1, max_length=5)]
    # The seed of the zone-wide draw this selection came from (None: selected by hand).
    seed: int | None = None
    note: Text = ""


class AssignEvaluators(YearPayload):
    """Composed by the service from the expert library (`service.key_evaluations`): the
    evaluators as the library knows them, the draw that chose them, joint departments."""

    evaluators: Annotated[list[KeyEvaluator], Field(min_length=1, max_length=20)]
    draw: EvaluatorDraw | None = None
    departments: Annotated[list[Code], Field(max_length=20)] = []


class SubmitKeyEvaluation(YearPayload):
    scores: KeyScores
    report: RequiredText


class RecordPerformancePayment(YearPayload):
    """Pay a period (a fiscal year) by its reviewed score through the contract's table."""

    comment: Text = ""


class RecordProcurement(YearPayload):
    method: ProcurementMethod
    supplier: Annotated[str, Field(min_length=1, max_length=200)]
    contract_amount: PositiveMoney
    # Why the one supplier (单一来源采购的理由): required for single-source procurement, the
    # one method without competition (guard `single_source_justified`); ignored otherwise.
    single_source_reason: Text = ""


class Exit(Payload):
    reason: ExitReason
    comment: Text = ""


class TransferToDiscipline(Payload):
    """移送纪检监察: a violation lead, why, and where its evidence is kept."""

    reason: RequiredText
    evidence: Annotated[str, Field(min_length=1, max_length=500)]
    fiscal_year: FiscalYear | None = None  # the year the lead concerns, if one


# Internal triggers fired by the workflow's clock, never by a person.
class YearStarts(YearPayload):
    pass


class YearEnds(YearPayload):
    pass


class Complete(Payload):
    pass


class AutoSuspend(Payload):
    reason: RequiredText


PAYLOADS: dict[str, type[Payload]] = {
    "submit": Empty,
    "submit_assessment": SubmitAssessment,
    "approve_assessment": ApproveAssessment,
    "reject_assessment": RejectAssessment,
    "submit_goals": SubmitGoals,
    "approve_goals": ApproveGoals,
    "return_goals": ReturnGoals,
    "approve_budget": ApproveBudget,
    "report_monitoring": ReportMonitoring,
    "suspend_funding": SuspendFunding,
    "resume_funding": ResumeFunding,
    "close_year": CloseYear,
    "submit_self_evaluation": SubmitSelfEvaluation,
    "review_self_evaluation": ReviewSelfEvaluation,
    "submit_rectification": SubmitRectification,
    "accept_rectification": AcceptRectification,
    "reject_rectification": RejectRectification,
    "respond_to_warning": RespondToWarning,
    "select_for_key_evaluation": SelectForKeyEvaluation,
    "assign_evaluators": AssignEvaluators,
    "submit_key_evaluation": SubmitKeyEvaluation,
    "exit": Exit,
    "record_performance_payment": RecordPerformancePayment,
    "record_procurement": RecordProcurement,
    "transfer_to_discipline": TransferToDiscipline,
    "start_year": YearStarts,
    "end_year": YearEnds,
    "complete": Complete,
    "auto_suspend": AutoSuspend,
}
