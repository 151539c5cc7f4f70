"""Every reason the rules wrote in a simulated scenario reads in Chinese (`models.reason_text`):
the escalations' 问责, the warnings, the flags, the exits, the automatic suspensions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from models.reason_text import reason_zh
from tests.simulator.conftest import SCENARIOS, Simulated

LATIN = re.compile(r"[A-Za-z]{3,}")  # a word left in English (numbers and dates are fine)


def _reasons(value: Any) -> Iterator[str]:
    """The `reason` and `reasons` strings anywhere inside a timeline item's detail."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("reason", "suspended_reason") and isinstance(inner, str):
                yield inner
            elif key == "reasons" and isinstance(inner, list):
                yield from (r for r in inner if isinstance(r, str))
            else:
                yield from _reasons(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _reasons(inner)


# One scenario per test: the time-skipping server's clock may only move so far in one test.
@pytest.mark.parametrize("scenario", sorted(p.stem for p in SCENARIOS.glob("*.json")))
async def test_every_reason_a_scenario_produces_reads_in_chinese(
    simulated: Simulated, scenario: str
) -> None:
    out = await simulated(scenario)
    seen = {r for item in out["timeline"] for r in _reasons(item.get("detail", {}))}
    untranslated = sorted(r for r in seen if LATIN.search(reason_zh(r)))
    assert untranslated == []


async def test_the_scenarios_reach_the_rules_wordings(simulated: Simulated) -> None:
    """A check of the above that found no wording of the rules would prove nothing."""
    out = await simulated("two_departments")
    seen = {r for item in out["timeline"] for r in _reasons(item.get("detail", {}))}
    assert any(r.endswith("days overdue") for r in seen), sorted(seen)
    assert any(r.startswith("execution ") for r in seen), sorted(seen)


def test_the_wordings_of_the_rules_in_chinese() -> None:
    assert reason_zh("goals 30 days overdue") == "申报绩效目标逾期30天"
    assert reason_zh("rectification 0 days overdue") == "提交整改报告逾期0天"
    assert reason_zh("monitoring -7 days overdue") == "报送年中绩效监控距截止日期7天"
    assert (
        reason_zh("red warning of 2027 not answered by 2027-08-13")
        == "2027年度红色预警未在2027-08-13前答复"
    )
    assert reason_zh("rectification overdue on a major project") == "重大项目整改逾期"
    assert (
        reason_zh("reviewed score 70.00 differs from self-evaluated 95.00")
        == "财政审核得分70.00与部门自评得分95.00差距过大"
    )
    assert reason_zh("idle_funds") == "资金闲置"
    assert reason_zh("finance_choice") == "财政指定"
    assert reason_zh("execution 30.00% is below the 40% expected by 2028-06-30") == (
        "预算执行率30.00%，低于2028-06-30应达到的40%"
    )
    # A person's own words stay as written, in whatever language.
    assert reason_zh("虚报工作量") == "虚报工作量"
    assert reason_zh("see the audit of May") == "see the audit of May"
