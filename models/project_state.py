"""The whole state of one project: what its workflow carries across continue-as-new.

Everything a project has lived through is here, so the SQL projection can be rebuilt from the
workflows alone and nothing is lost at a fiscal-year boundary.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from models.assessment import AssessmentScores
from models.indicators import Code, Indicator, IndicatorResult
from models.key_evaluation import KeyEvaluation
from models.kinds import (
    KIND_FILING_FIELDS,
    KIND_ZH,
    FundDecision,
    PaymentBand,
    PaymentTable,
    ProcurementMethod,
)
from models.lifecycle import CYCLE_OPEN_STATES
from models.notify import Audience
from models.scoring import ScoreReport
from models.vocabulary import (
    Achievement,
    AssessmentConclusion,
    Assessor,
    BudgetType,
    ExitReason,
    Grade,
    ProjectKind,
    ResultConsequence,
    Role,
    WarningDecision,
    WarningLevel,
)


class ProjectFiling(BaseModel):
    """What a department files (`POST /api/projects`); its department is the filer's own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: ProjectKind
    budget_type: BudgetType
    start_year: Annotated[int, Field(ge=2000, le=2200)]
    end_year: Annotated[int, Field(ge=2000, le=2200)]
    total_amount: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
    major: bool
    owner: Annotated[str, Field(min_length=1, max_length=100)]
    # Kind-specific (see `models.kinds`): required for the kinds that need them, refused for
    # the others, so a field sent by mistake is said to be wrong rather than ignored.
    # PPP and purchased services: the contract's score → payment table (按效付费).
    payment_table: Annotated[PaymentTable | None, Field(validate_default=True)] = None
    # Government investment funds: the manager's yearly management fee, the base of its reward.
    management_fee: Annotated[
        Decimal | None, Field(ge=0, max_digits=18, decimal_places=2, validate_default=True)
    ] = None

    @field_validator("payment_table", "management_fee", mode="after")
    @classmethod
    def _kind_needs_it(cls, value: object, info: ValidationInfo) -> object:
        kind = info.data.get("kind")
        if kind is None or info.field_name is None:
            return value  # the kind itself is invalid and reported as such
        needed = info.field_name in KIND_FILING_FIELDS.get(kind, ())
        if needed and value is None:
            raise ValueError(f"required for kind {kind.value} ({KIND_ZH[kind]})")
        if not needed and value is not None:
            raise ValueError(f"only for the kinds that need it, not for kind {kind.value}")
        return value

    @model_validator(mode="after")
    def _years_in_order(self) -> Self:
        if self.end_year < self.start_year:
            raise ValueError("end_year must not be before start_year")
        if self.end_year - self.start_year > 30:
            raise ValueError("a project spans at most 30 fiscal years")
        return self


WARNING_ORDER = (WarningLevel.NONE, WarningLevel.YELLOW, WarningLevel.RED)


class ProjectInfo(ProjectFiling):
    """The filing plus the department that owns the project: fixed for the life of the project."""

    department: Code


class Actor(BaseModel):
    """Who takes an action: every decision carries who took it (and, in history, when and why)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    role: Role
    department: str | None = None


SYSTEM_ACTOR = Actor(username="system", role=Role.SYSTEM)


class Assessment(BaseModel):
    scores: AssessmentScores
    assessor: Assessor
    summary: str
    # The third-party institution that assessed it, if any: it may not key-evaluate it later.
    institution: str | None = None
    total: Decimal
    conclusion: AssessmentConclusion
    passed: bool
    decided: bool = False  # finance approved it (rejected ones are cleared)
    submitted_at: datetime


class MonitoringReport(BaseModel):
    period_end: date
    executed_amount: Decimal
    progress: dict[str, Decimal]
    # Qualitative indicators' progress (reports before it was taken have none).
    achievements: dict[str, Achievement] = {}
    execution_pct: Decimal
    threshold_pct: Decimal | None
    goal_achievement_pct: Decimal | None
    warning: WarningLevel
    reasons: list[str]
    reported_at: datetime


class ThirdPartyEvaluation(BaseModel):
    """A purchased service's evaluation: who evaluated, by which standard; both are published
    with the result (公开评价机构、评价标准和评价结果)."""

    evaluator: str
    standard: str
    publish: bool = True


class SelfEvaluation(BaseModel):
    executed_amount: Decimal
    results: list[IndicatorResult]
    report: ScoreReport
    submitted_at: datetime
    third_party: ThirdPartyEvaluation | None = None


class PerformancePayment(BaseModel):
    """A period's payment by performance (PPP operating subsidy, purchased service fee)."""

    score: Decimal  # the period's applied score: a key evaluation's, else finance's review
    band: PaymentBand
    base_amount: Decimal  # the period's approved amount
    amount: Decimal
    withheld: Decimal
    comment: str = ""
    recorded_at: datetime


class ProcurementRecord(BaseModel):
    """A year's procurement: the contract against the procurement budget, and the savings."""

    method: ProcurementMethod
    supplier: str
    budget: Decimal  # the year's approved amount
    contract_amount: Decimal
    savings: Decimal
    savings_rate_pct: Decimal
    recorded_at: datetime
    single_source_reason: str = ""  # why the one supplier, for a single-source procurement

    @property
    def competitive(self) -> bool:
        return self.method.competitive


class Review(BaseModel):
    adjusted_score: Decimal | None
    final_score: Decimal
    grade: Grade
    comment: str
    consequence: ResultConsequence
    cut_percent: Decimal
    cut_applies_to: int | None  # the fiscal year whose approvable amount is cut
    public_notice: bool
    reviewed_at: datetime


class Rectification(BaseModel):
    ordered_at: datetime
    report: str | None = None
    submitted_at: datetime | None = None
    rejections: int = 0
    accepted_at: datetime | None = None


class WarningResponse(BaseModel):
    decision: WarningDecision
    comment: str
    at: datetime


class Cycle(BaseModel):
    """One fiscal year of the project: goals, budget, execution, evaluation, results."""

    fiscal_year: int
    state: str
    # When the cycle last entered each state: the start of relative deadlines.
    entered: dict[str, datetime] = {}
    requested_amount: Decimal | None = None
    indicators: list[Indicator] = []
    goals_comment: str = ""
    approved_amount: Decimal | None = None
    executed_amount: Decimal | None = None
    monitoring: list[MonitoringReport] = []
    warning: WarningLevel = WarningLevel.NONE
    self_evaluation: SelfEvaluation | None = None
    review: Review | None = None
    rectification: Rectification | None = None
    # A red warning must be answered (continue / reallocate / cancel) by this business date.
    warning_response_due: date | None = None
    warning_response: WarningResponse | None = None
    # Finance's score differs from the self-evaluation by more than the allowed gap.
    key_evaluation: bool = False
    # 财政重点评价 of this year, once finance selected it; its grade overrides the review's.
    key_evaluation_record: KeyEvaluation | None = None
    # Kind-specific records (`models.kinds`).
    performance_payment: PerformancePayment | None = None
    procurement: ProcurementRecord | None = None
    fund_decision: FundDecision | None = None

    @property
    def key_result(self) -> KeyEvaluation | None:
        """The submitted key evaluation, if any: the result that applies to this year."""
        record = self.key_evaluation_record
        return record if record is not None and record.submitted else None

    @property
    def score(self) -> Decimal | None:
        if (key := self.key_result) is not None:
            return key.total
        if self.review is not None:
            return self.review.final_score
        if self.self_evaluation is not None:
            return self.self_evaluation.report.total
        return None

    @property
    def applied_score(self) -> Decimal | None:
        """The score result application used (None before finance's review or a key
        evaluation): what a period is paid by (`models.kinds`)."""
        if (key := self.key_result) is not None:
            return key.total
        return self.review.final_score if self.review is not None else None

    @property
    def applied_grade(self) -> Grade | None:
        """The grade result application used: the key evaluation's, else finance's review."""
        if (key := self.key_result) is not None:
            return key.grade
        return self.review.grade if self.review is not None else None

    @property
    def grade(self) -> Grade | None:
        if (key := self.key_result) is not None:
            return key.grade
        if self.review is not None:
            return self.review.grade
        if self.self_evaluation is not None:
            return self.self_evaluation.report.grade
        return None


def entries_after(history: list[HistoryEntry], seq: int) -> list[HistoryEntry]:
    """The entries of `history` after `seq`, in order.

    Walked back from the end (a history is in seq order): an action asks for its last entry
    or two, and a long-lived project's history runs to hundreds.
    """
    start = len(history)
    while start and history[start - 1].seq > seq:
        start -= 1
    return history[start:]


class HistoryEntry(BaseModel):
    """One accepted action or clock event, as the audit trail keeps it."""

    seq: int
    at: datetime
    actor: str
    role: Role
    action: str
    fiscal_year: int | None
    from_state: str
    to_state: str
    detail: dict[str, Any] = {}
    # Who must hear of it: the projection writes one outbox row per audience in the same
    # transaction as this entry (`service.notifications`).
    notify: list[Audience] = []


class AccountabilityRecord(BaseModel):
    """问责: who answers for what; lifelong for major projects (绩效终身责任追究)."""

    at: datetime
    fiscal_year: int | None
    subject: str  # e.g. "owner:张三" or "department_head:D1"
    reason: str
    lifelong: bool


class DisciplineTransfer(BaseModel):
    """A violation lead transferred to discipline inspection (移送纪检监察) by finance.

    Who transferred it is the history entry at `seq` (every decision carries who took it).
    """

    seq: int
    at: datetime
    fiscal_year: int | None
    reason: str
    evidence: str  # a reference to the evidence (document number, file), not the evidence


class ProjectState(BaseModel):
    """The state object of `ProjectWorkflow`, and its continue-as-new input."""

    info: ProjectInfo
    state: str = "filed"
    # When the project first entered each state (activation starts the duty calendar).
    entered: dict[str, datetime] = {}
    assessment: Assessment | None = None
    cycles: list[Cycle] = []
    suspended_reason: str | None = None
    exit_reason: ExitReason | None = None
    exit_proposed: bool = False
    # Escalation ladders already climbed: duty key → rung offsets fired (each fires once).
    escalations: dict[str, list[int]] = {}
    accountability: list[AccountabilityRecord] = []
    # Leads transferred to discipline inspection (移送纪检监察), each with its own record.
    discipline_transfers: list[DisciplineTransfer] = []
    # The zone's fiscal-year calls received (`phase:fiscal_year`): a call delivered twice (a
    # fan-out batch retried) is recorded once.
    fiscal_notices: list[str] = []
    history: list[HistoryEntry] = []

    @classmethod
    def filed(cls, info: ProjectInfo, *, actor: Actor, at: datetime) -> ProjectState:
        """A newly filed project: state `filed`, its filing as the first history entry."""
        return cls(
            info=info,
            history=[
                HistoryEntry(
                    seq=1,
                    at=at,
                    actor=actor.username,
                    role=actor.role,
                    action="file",
                    fiscal_year=None,
                    from_state="",
                    to_state="filed",
                    # Kind-specific fields only where the kind has them.
                    detail=info.model_dump(mode="json", exclude={"department"}, exclude_none=True),
                )
            ],
        )

    @property
    def warning(self) -> WarningLevel:
        """The highest warning among the years still open (a closed year's warning is history)."""
        return max(
            (c.warning for c in self.cycles if c.state in CYCLE_OPEN_STATES),
            key=WARNING_ORDER.index,
            default=WarningLevel.NONE,
        )

    @property
    def latest_grade(self) -> Grade | None:
        graded = [c.grade for c in self.cycles if c.grade is not None]
        return graded[-1] if graded else None

    @property
    def seq(self) -> int:
        return self.history[-1].seq if self.history else 0

    def cycle(self, fiscal_year: int) -> Cycle | None:
        for c in self.cycles:
            if c.fiscal_year == fiscal_year:
                return c
        return None
