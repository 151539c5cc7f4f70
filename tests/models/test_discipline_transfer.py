"""移送纪检监察: finance transfers a violation lead, with its own record, in any open state."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.actions import TransferToDiscipline
from models.notify import Audience, Desk
from models.vocabulary import Role
from tests.models.test_lifecycle import Driver

LEAD = {"reason": "虚报工作量套取资金", "evidence": "审计报告 〔2027〕12号", "fiscal_year": 2027}


def _transfer(d: Driver) -> None:
    d.do("transfer_to_discipline", LEAD)


@pytest.mark.parametrize("state", ["filed", "under_assessment", "active", "suspended"])
def test_finance_transfers_a_lead_in_any_open_state(state: str) -> None:
    """The state does not move; the record keeps reason, evidence and the entry of who did it."""
    d = Driver(major=state == "under_assessment")
    if state != "filed":
        d.do("submit")
    if state == "suspended":
        d.do("suspend_funding", {"reason": "资金使用不规范"})
    assert d.state.state == state
    _transfer(d)
    assert d.state.state == state
    (record,) = d.state.discipline_transfers
    entry = d.state.history[-1]
    assert record.seq == entry.seq
    assert (record.reason, record.evidence, record.fiscal_year) == (
        LEAD["reason"],
        LEAD["evidence"],
        2027,
    )
    assert (entry.action, entry.actor, entry.role) == (
        "transfer_to_discipline",
        "officer",
        Role.FINANCE,
    )
    assert entry.detail == {"reason": LEAD["reason"], "evidence": LEAD["evidence"]}
    assert entry.notify == [Audience(desk=Desk.DISCIPLINE)]


def test_only_finance_may_transfer_and_not_after_the_end() -> None:
    """A department may not; an exited project takes no more actions."""
    d = Driver()
    d.do("submit")
    assert d.unmet("transfer_to_discipline", LEAD, role=Role.DEPARTMENT) == ["role"]
    d.do("exit", {"reason": "cancelled"})
    assert d.unmet("transfer_to_discipline", LEAD) == ["state"]


@pytest.mark.parametrize(
    ("field", "value"), [("reason", ""), ("evidence", ""), ("evidence", "x" * 501)]
)
def test_a_lead_needs_a_reason_and_an_evidence_reference(field: str, value: str) -> None:
    """Both are required text; the evidence reference is short (a reference, not a file)."""
    with pytest.raises(ValidationError) as invalid:
        TransferToDiscipline.model_validate({**LEAD, field: value})
    assert invalid.value.errors()[0]["loc"] == (field,)
