"""Action forms: flat form fields become the payload the API would get."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.actions import PAYLOADS
from models.department_actions import DEPARTMENT_PAYLOADS
from models.lifecycle import PERSON_ACTIONS
from models.project_state import ProjectFiling
from service.web.forms import (
    DEPARTMENT_FORMS,
    FORMS,
    FormError,
    department_payload_from_form,
    form_for,
    payload_from_form,
)
from service.web.i18n import MESSAGES, action_name
from service.web.routes import kind_fields
from tests import department_factories as df


def test_every_person_action_has_a_form_and_a_chinese_name() -> None:
    """Each action has a Chinese name and a form: its own (every label in the catalogue) or,
    for one newer than the workbench, the JSON one."""
    assert set(FORMS) <= set(PERSON_ACTIONS)
    for action in PERSON_ACTIONS:
        assert action_name(action, "zh") != action
        assert form_for(action).json is (action not in FORMS)
    for spec in FORMS.values():
        for field in spec.fields:
            assert field.label in MESSAGES
            assert all(key in MESSAGES for _value, key in field.options)


def test_goals_rows_become_indicators_and_blank_rows_are_ignored() -> None:
    form = {
        "fiscal_year": "2027",
        "requested_amount": "1000000",
        "ind_0_code": "O1", "ind_0_level1": "output", "ind_0_level2": "quantity",
        "ind_0_name": "里程", "ind_0_operator": ">=", "ind_0_target": "100", "ind_0_weight": "1",
        "ind_1_level1": "output", "ind_1_level2": "quantity", "ind_1_operator": ">=",
    }  # fmt: skip
    body = payload_from_form("submit_goals", form, codes=[])
    assert body["indicators"] == [
        {"code": "O1", "level1": "output", "level2": "quantity", "name": "里程",
         "operator": ">=", "target": "100", "weight": "1"},
    ]  # fmt: skip
    PAYLOADS["submit_goals"].model_validate(body)  # what the API would accept as well


def test_results_take_actuals_or_achievements_per_indicator_of_the_year() -> None:
    form = {
        "fiscal_year": "2027",
        "executed_amount": "5",
        "actual_O1": "90",
        "achievement_E1": "partly",
    }
    body = payload_from_form("submit_self_evaluation", form, codes=["O1", "E1"])
    assert body == {
        "fiscal_year": "2027",
        "executed_amount": "5",
        "results": [{"code": "O1", "actual": "90"}, {"code": "E1", "achievement": "partly"}],
    }
    PAYLOADS["submit_self_evaluation"].model_validate(body)


def test_monitoring_progress_takes_numbers_and_achievements_left_out_when_blank() -> None:
    form = {
        "fiscal_year": "2027",
        "period_end": "2027-06-30",
        "executed_amount": "5",
        "progress_DEBT-USE": "40",
        "progress_achievement_DEBT-HIDDEN": "not_achieved",
        "progress_achievement_E1": "",
    }
    body = payload_from_form("report_monitoring", form, codes=["DEBT-USE", "DEBT-HIDDEN", "E1"])
    assert body["progress"] == [
        {"code": "DEBT-USE", "actual": "40"},
        {"code": "DEBT-HIDDEN", "achievement": "not_achieved"},
    ]
    PAYLOADS["report_monitoring"].model_validate(body)


def test_the_procurement_form_takes_method_supplier_amount_and_a_single_source_reason() -> None:
    form = {
        "fiscal_year": "2027",
        "method": "single_source",
        "supplier": " 某专利权人 ",
        "contract_amount": "990000",
        "single_source_reason": "专利技术，唯一供应商",
    }
    body = payload_from_form("record_procurement", form, codes=[])
    assert body == {
        "fiscal_year": "2027",
        "method": "single_source",
        "supplier": "某专利权人",
        "contract_amount": "990000",
        "single_source_reason": "专利技术，唯一供应商",
    }
    PAYLOADS["record_procurement"].model_validate(body)
    competitive = payload_from_form(
        "record_procurement", {**form, "method": "inquiry", "single_source_reason": ""}, codes=[]
    )
    assert "single_source_reason" not in competitive
    PAYLOADS["record_procurement"].model_validate(competitive)


def test_an_action_without_a_form_takes_its_payload_as_json() -> None:
    """New actions slot in before their form is designed: the API's JSON body, checked alike."""
    assert form_for("a_future_action").json
    body = payload_from_form(
        "a_future_action", {"fiscal_year": "2027", "payload_json": '{"x": 1}'}, codes=[]
    )
    assert body == {"fiscal_year": "2027", "x": 1}
    with pytest.raises(FormError, match="JSON"):
        payload_from_form("a_future_action", {"payload_json": "{nope"}, codes=[])
    with pytest.raises(FormError, match="对象"):
        payload_from_form("a_future_action", {"payload_json": "[1]"}, codes=[])


def _filing(kind: str, **form: str) -> dict[str, object]:
    base = {"code": "K1", "name": "项目", "kind": kind, "budget_type": "general_public",
            "start_year": 2027, "end_year": 2027, "total_amount": "1000000", "major": False,
            "owner": "张三"}  # fmt: skip
    return {**base, **kind_fields(form)}


def _invalid_fields(body: dict[str, object]) -> list[str]:
    with pytest.raises(ValidationError) as invalid:
        ProjectFiling.model_validate(body)
    return [str(e["loc"][0]) for e in invalid.value.errors()]


def test_the_filing_form_takes_a_payment_table_or_a_management_fee() -> None:
    """The filled band rows become the payment table (blank rows ignored), the fee a fee; a
    kind that needs one and lacks it, or has one it may not, is refused naming the field."""
    bands = {"band_0_low": "0", "band_0_high": "60", "band_0_pct": "0",
             "band_2_low": "60", "band_2_high": "100", "band_2_pct": "100"}  # fmt: skip
    ppp = ProjectFiling.model_validate(_filing("ppp", **bands))
    assert ppp.payment_table is not None
    assert [(int(b.low), int(b.high), int(b.payment_pct)) for b in ppp.payment_table.bands] == [
        (0, 60, 0),
        (60, 100, 100),
    ]
    fund = ProjectFiling.model_validate(
        _filing("government_investment_fund", management_fee="2000000")
    )
    assert fund.management_fee == 2_000_000
    assert _invalid_fields(_filing("purchased_service")) == ["payment_table"]
    assert _invalid_fields(_filing("project", management_fee="5")) == ["management_fee"]
    assert "payment_table" in _invalid_fields(
        _filing("ppp", band_0_low="0", band_0_high="50", band_0_pct="10")  # does not reach 100
    )


def test_a_purchased_service_self_evaluation_names_its_evaluator_and_standard() -> None:
    """The optional fields reach the payload when filled and are left out when empty."""
    form = {"fiscal_year": "2027", "executed_amount": "900000", "actual_O1": "100",
            "third_party_evaluator": "某某评估公司", "evaluation_standard": "服务合同考核细则"}  # fmt: skip
    body = payload_from_form("submit_self_evaluation", form, codes=["O1"])
    payload = PAYLOADS["submit_self_evaluation"].model_validate(body)
    assert (payload.third_party_evaluator, payload.evaluation_standard) == (  # type: ignore[attr-defined]
        "某某评估公司",
        "服务合同考核细则",
    )
    plain = payload_from_form(
        "submit_self_evaluation", {**form, "third_party_evaluator": "", "evaluation_standard": ""},
        codes=["O1"],
    )  # fmt: skip
    assert "third_party_evaluator" not in plain
    assert "evaluation_standard" not in plain


def test_every_department_action_has_a_form_whose_payload_the_api_accepts() -> None:
    """Each action on a department year has its own form (no JSON to type); what each form
    posts is a payload the API's own model accepts."""
    assert set(DEPARTMENT_FORMS) == set(DEPARTMENT_PAYLOADS)
    for spec in DEPARTMENT_FORMS.values():
        assert not spec.json
        for field in spec.fields:
            assert field.label in MESSAGES
    filled: dict[str, dict[str, str]] = {
        "submit_goals": {**df.goals_form(), "ind_11_dimension": "satisfaction"},
        "approve_goals": {"comment": "同意"},
        "return_goals": {"comment": "指标不完整"},
        "approve_department_budget": {"amount": "4500000"},
        "submit_self_evaluation": {
            "actual_C1": "90",
            "achievement_SA1": "achieved",
            "summary": "总体完成年度目标",
        },
        "review_self_evaluation": {"adjusted_score": "85.5", "comment": "审核"},
        "release_reservation": {"reservation_id": "P001:2028:abc", "reason": "审批未完成"},
    }
    for action, form in filled.items():
        body = department_payload_from_form(action, form)
        DEPARTMENT_PAYLOADS[action].model_validate(body)
    goals = department_payload_from_form("submit_goals", filled["submit_goals"])
    # Six typed rows (the seventh, its dimension chosen and nothing typed, is left out).
    assert goals["indicators"] == [
        {k: str(v) for k, v in indicator.items()} for indicator in df.indicators()
    ]
    results = department_payload_from_form(
        "submit_self_evaluation", filled["submit_self_evaluation"]
    )
    assert results["results"] == [
        {"code": "C1", "actual": "90"},
        {"code": "SA1", "achievement": "achieved"},
    ]
    assert department_payload_from_form("review_self_evaluation", {}) == {}
    with pytest.raises(ValidationError):  # the comment a return needs is still required
        DEPARTMENT_PAYLOADS["return_goals"].model_validate(
            department_payload_from_form("return_goals", {"comment": " "})
        )
