"""The project page shows each year's kind record: a procurement's contract and savings (a
single-source one flagged, with its reason), a PPP period's payment by performance, an
investment fund's result (contribution, exit, the manager's reward)."""

from __future__ import annotations

import re

from sqlmodel import Session

from models.project_state import ProjectState
from models.vocabulary import BudgetType, ProjectKind
from service.projection import apply_snapshot
from tests import factories_kinds as fk
from tests.models.test_kinds import Driver, executing_procurement, procured
from tests.security.conftest import LightApp
from tests.web.conftest import light_app
from tests.web.test_reasons_on_the_project_page import _sign_in

__all__ = ["light_app"]

K = ProjectKind
GP = BudgetType.GENERAL_PUBLIC
REASON = "专利技术，仅此一家供应商"


def _coded(d: Driver, code: str) -> ProjectState:
    return d.state.model_copy(update={"info": d.state.info.model_copy(update={"code": code})})


def _procurement(method: str, code: str) -> ProjectState:
    d = executing_procurement()
    procured(d, method, contract_amount="873450.50", single_source_reason=REASON)
    return _coded(d, code)


def _ppp() -> ProjectState:
    d = Driver(K.PPP)
    d.fund(2027, 1_200_000)
    d.at(2028, 3)
    d.do("submit_self_evaluation", fk.self_evaluation(2027, GP, K.PPP, executed=1_200_000))
    d.do("review_self_evaluation", fk.review(2027, "75"))
    d.do("record_performance_payment", {"fiscal_year": 2027, "comment": "运营补贴"})
    return _coded(d, "KR-PPP")


def _fund() -> ProjectState:
    d = Driver(K.GOVERNMENT_INVESTMENT_FUND)
    d.fund(2027)
    d.at(2028, 3)
    d.evaluate(2027, "55")
    return _coded(d, "KR-FUND")


def _section(page: str, record: str) -> str:
    found = re.search(rf'<table class="record" data-record="{record}">(.*?)</table>', page, re.S)
    assert found is not None, f"no {record} record on the page"
    return re.sub(r"\s+", " ", found[1])


async def test_each_kind_record_is_shown_in_its_year(light_app: LightApp) -> None:
    projects = [
        _procurement("single_source", "KR-SINGLE"),
        _procurement("public_tender", "KR-TENDER"),
        _ppp(),
        _fund(),
    ]
    async with light_app() as (app, http):
        with Session(app.state.engine) as session:
            for p in projects:
                apply_snapshot(session, project=p, seq=p.seq, entries=p.history, notify=False)
        await _sign_in(http, "fin")
        pages = {p.info.code: (await http.get(f"/projects/{p.info.code}")).text for p in projects}

    single = pages["KR-SINGLE"]
    assert 'data-flag="single-source"' in single
    procurement = _section(single, "procurement")
    for shown in ("单一来源", "某专利权人", "1,000,000.00", "873,450.50", "126,549.50", "12.7%"):
        assert shown in procurement
    assert REASON in procurement
    tender = pages["KR-TENDER"]
    assert 'data-flag="single-source"' not in tender
    assert "公开招标" in _section(tender, "procurement")
    assert REASON not in tender  # a competitive method keeps no single-source reason

    payment = _section(pages["KR-PPP"], "payment")
    for shown in ("75", "1,200,000.00", "840,000.00", "360,000.00"):
        assert shown in payment
    fund = _section(pages["KR-FUND"], "fund")
    for shown in ("减少出资", "50.0%", "是", "0.00"):
        assert shown in fund
    for code in ("KR-PPP", "KR-FUND"):
        assert 'data-record="procurement"' not in pages[code]
