"""Action forms: which fields each action asks for, and the payload a posted form makes.

The payload goes through the same validation as the JSON API (`service.projects.take_action`
→ `parse_payload`), so a form can be no more lenient than the API; this module only maps
flat form fields to the payload's shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models.kinds import ProcurementMethod
from models.vocabulary import Achievement, Assessor, ExitReason, WarningDecision

MAX_INDICATOR_ROWS = 8  # blank rows offered by the goals form (Excel import for more)
ASSESSMENT_DIMENSIONS = (
    "necessity",
    "economy",
    "goal_reasonableness",
    "feasibility",
    "financing_compliance",
)


@dataclass(frozen=True)
class Field:
    name: str
    label: str  # catalogue key
    kind: str = "text"  # text | textarea | number | date | select
    options: tuple[tuple[str, str], ...] = ()  # (value, catalogue key)
    required: bool = False


@dataclass(frozen=True)
class FormSpec:
    fields: tuple[Field, ...] = ()
    indicators: bool = False  # submit_goals: indicator rows
    progress: bool = False  # report_monitoring: actual per indicator of the year
    results: bool = False  # submit_self_evaluation: result per indicator of the year
    scores: bool = False  # submit_assessment: the five dimensions
    # A department year's submit_goals: indicator rows, each under one of the six dimensions.
    dimension_indicators: bool = False
    # An action without its own form yet: its payload typed as JSON, checked like the API's.
    json: bool = False


def _options(prefix: str, values: Any) -> tuple[tuple[str, str], ...]:
    return tuple((v.value, f"{prefix}.{v.value}") for v in values)


_COMMENT = Field("comment", "form.comment", "textarea")
_COMMENT_REQUIRED = Field("comment", "form.comment", "textarea", required=True)
_REASON = Field("reason", "form.reason", "textarea", required=True)

FORMS: dict[str, FormSpec] = {
    "submit": FormSpec(),
    "submit_assessment": FormSpec(
        fields=(
            Field(
                "assessor", "form.assessor", "select", _options("assessor", Assessor), required=True
            ),
            Field("summary", "form.summary", "textarea"),
        ),
        scores=True,
    ),
    "approve_assessment": FormSpec(fields=(_COMMENT,)),
    "reject_assessment": FormSpec(fields=(_REASON,)),
    "submit_goals": FormSpec(
        fields=(Field("requested_amount", "form.requested_amount", "number", required=True),),
        indicators=True,
    ),
    "approve_goals": FormSpec(),
    "return_goals": FormSpec(fields=(_COMMENT_REQUIRED,)),
    "approve_budget": FormSpec(fields=(Field("amount", "form.amount", "number", required=True),)),
    "report_monitoring": FormSpec(
        fields=(
            Field("period_end", "form.period_end", "date", required=True),
            Field("executed_amount", "form.executed_amount", "number", required=True),
        ),
        progress=True,
    ),
    "suspend_funding": FormSpec(fields=(_REASON,)),
    "resume_funding": FormSpec(fields=(_REASON,)),
    "close_year": FormSpec(),
    "submit_self_evaluation": FormSpec(
        fields=(
            Field("executed_amount", "form.executed_amount", "number", required=True),
            # Purchased services only (guard `third_party_named`); left out when empty.
            Field("third_party_evaluator", "form.third_party_evaluator"),
            Field("evaluation_standard", "form.evaluation_standard", "textarea"),
        ),
        results=True,
    ),
    "review_self_evaluation": FormSpec(
        fields=(Field("adjusted_score", "form.adjusted_score", "number"), _COMMENT)
    ),
    "submit_rectification": FormSpec(
        fields=(Field("report", "form.report", "textarea", required=True),)
    ),
    "accept_rectification": FormSpec(fields=(_COMMENT,)),
    "reject_rectification": FormSpec(fields=(_COMMENT_REQUIRED,)),
    "respond_to_warning": FormSpec(
        fields=(
            Field(
                "decision",
                "form.decision",
                "select",
                _options("decision", WarningDecision),
                required=True,
            ),
            _COMMENT_REQUIRED,
        )
    ),
    "exit": FormSpec(
        fields=(
            Field("reason", "form.reason", "select", _options("exit", ExitReason), required=True),
            _COMMENT,
        )
    ),
    "record_procurement": FormSpec(
        fields=(
            Field(
                "method",
                "form.procurement_method",
                "select",
                _options("procurement", ProcurementMethod),
                required=True,
            ),
            Field("supplier", "form.supplier", required=True),
            Field("contract_amount", "form.contract_amount", "number", required=True),
            # Single-source only (guard `single_source_justified`); left out when empty.
            Field("single_source_reason", "form.single_source_reason", "textarea"),
        )
    ),
}

# What an action the workbench has no form for yet gets: the API's JSON body in a text box.
JSON_FORM = FormSpec(json=True)


def form_for(action: str) -> FormSpec:
    return FORMS.get(action, JSON_FORM)


# The actions on a department's fiscal year (部门整体绩效), by the names
# `models.department_actions` gives them.
DEPARTMENT_FORMS: dict[str, FormSpec] = {
    "submit_goals": FormSpec(dimension_indicators=True),
    "approve_goals": FormSpec(fields=(_COMMENT,)),
    "return_goals": FormSpec(fields=(_COMMENT_REQUIRED,)),
    "approve_department_budget": FormSpec(
        fields=(Field("amount", "form.amount", "number", required=True),)
    ),
    "submit_self_evaluation": FormSpec(
        fields=(Field("summary", "form.self_summary", "textarea"),), results=True
    ),
    "review_self_evaluation": FormSpec(
        fields=(Field("adjusted_score", "form.adjusted_score", "number"), _COMMENT)
    ),
    "set_control_number": FormSpec(),  # computed by the service from the read model
    "release_reservation": FormSpec(
        fields=(Field("reservation_id", "form.reservation_id", required=True), _REASON)
    ),
}
MAX_DIMENSION_ROWS = 12  # two blank rows per dimension


def department_form_for(action: str) -> FormSpec:
    return DEPARTMENT_FORMS.get(action, JSON_FORM)


ACHIEVEMENTS = _options("achievement", Achievement)
INDICATOR_COLUMNS = ("code", "level1", "level2", "name", "operator", "target", "unit", "weight")


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


class FormError(ValueError):
    """A field the form itself cannot read (the payload's own checks come after)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def payload_from_form(action: str, form: Mapping[str, Any], *, codes: list[str]) -> dict[str, Any]:
    """The JSON body the API would get for `action`, from a posted form.

    `codes` are the indicator codes of the year concerned (for monitoring progress and
    self-evaluation results). Empty optional fields are left out, so the payload model's own
    defaults and messages apply.
    """
    spec = form_for(action)
    body = _common_payload(spec, form)
    year = _text(form, "fiscal_year")
    if year:
        body["fiscal_year"] = year
    if spec.scores:
        body["scores"] = {d: _text(form, f"score_{d}") for d in ASSESSMENT_DIMENSIONS}
    if spec.indicators:
        body["indicators"] = indicator_rows(form)
    if spec.progress:
        body["progress"] = _progress(form, codes)
    if spec.results:
        body["results"] = _results(form, codes)
    return body


def department_payload_from_form(action: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body the department-year API would get for `action`, from a posted form.

    Self-evaluation results are read for every indicator the form offered (its `actual_…` and
    `achievement_…` fields, in the form's order): the workflow checks them against the year's
    goals, as it does the API's.
    """
    spec = department_form_for(action)
    body = _common_payload(spec, form)
    if spec.dimension_indicators:
        body["indicators"] = dimension_indicator_rows(form)
    if spec.results:
        offered = (name.split("_", 1)[1] for name in form if name.startswith(_RESULT_FIELDS))
        body["results"] = _results(form, list(dict.fromkeys(offered)))
    return body


_RESULT_FIELDS = ("actual_", "achievement_")


def _common_payload(spec: FormSpec, form: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON box (an action without a form of its own) and the plain fields."""
    body: dict[str, Any] = json_payload(form) if spec.json else {}
    for f in spec.fields:
        value = _text(form, f.name)
        if value or f.required:
            body[f.name] = value
    return body


def _progress(form: Mapping[str, Any], codes: list[str]) -> list[dict[str, Any]]:
    """Monitoring progress, optional per indicator: a number for a quantitative one, an
    achievement chosen for a qualitative one (`progress_achievement_…`)."""
    progress: list[dict[str, Any]] = []
    for c in codes:
        if actual := _text(form, f"progress_{c}"):
            progress.append({"code": c, "actual": actual})
        elif achievement := _text(form, f"progress_achievement_{c}"):
            progress.append({"code": c, "achievement": achievement})
    return progress


def _results(form: Mapping[str, Any], codes: list[str]) -> list[dict[str, Any]]:
    results = []
    for c in codes:
        actual, achievement = _text(form, f"actual_{c}"), _text(form, f"achievement_{c}")
        entry: dict[str, Any] = {"code": c}
        if actual:
            entry["actual"] = actual
        if achievement:
            entry["achievement"] = achievement
        results.append(entry)
    return results


def json_payload(form: Mapping[str, Any]) -> dict[str, Any]:
    """The payload typed in the form's JSON box (`payload_json`); empty is `{}`."""
    try:
        typed = json.loads(_text(form, "payload_json") or "{}")
    except json.JSONDecodeError as invalid:
        raise FormError("payload_json", f"不是有效的 JSON：{invalid.msg}") from None
    if not isinstance(typed, dict):
        raise FormError("payload_json", "须为 JSON 对象")
    return typed


def indicator_rows(form: Mapping[str, Any]) -> list[dict[str, Any]]:
    return _rows(form, INDICATOR_COLUMNS, MAX_INDICATOR_ROWS)


DIMENSION_INDICATOR_COLUMNS = ("code", "dimension", "name", "operator", "target", "unit", "weight")


def dimension_indicator_rows(form: Mapping[str, Any]) -> list[dict[str, Any]]:
    return _rows(form, DIMENSION_INDICATOR_COLUMNS, MAX_DIMENSION_ROWS)


def _rows(form: Mapping[str, Any], columns: tuple[str, ...], most: int) -> list[dict[str, Any]]:
    """The filled rows of an indicator table (`ind_<i>_<column>`); a row with nothing typed in
    (its selects keep their first option) is left out. An empty target or unit is left out, so
    the model's own default and messages apply."""
    rows = []
    for i in range(most):
        row = {c: _text(form, f"ind_{i}_{c}") for c in columns}
        if not any(row[c] for c in ("code", "name", "target", "weight")):
            continue
        rows.append({k: v for k, v in row.items() if v or k not in ("target", "unit")})
    return rows
