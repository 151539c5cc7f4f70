"""The evaluation report follows the outline of 财预〔2020〕10号 and comes out as PDF."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from models.vocabulary import Grade
from service import report
from tests import factories as f
from tests.models.test_lifecycle import Driver
from tests.support.browser import missing

NOW = datetime(2028, 5, 1, tzinfo=UTC)


def _evaluated(grade: Grade) -> Driver:
    d = Driver()
    d.do("submit")
    d.fund_year(2027)
    d.at(2027, 10)
    d.do("close_year", {"fiscal_year": 2027})
    d.do("submit_self_evaluation", f.self_evaluation(2027, grade))
    return d


def test_a_report_needs_a_self_evaluation() -> None:
    d = Driver()
    d.do("submit")
    with pytest.raises(report.NoEvaluationError):
        report.build_report(d.state, 2027, now=NOW)


def test_a_fair_year_reported_after_review() -> None:
    """Conclusion with the cut, a line per indicator, the problems and a rectification advice."""
    d = _evaluated(Grade.FAIR)
    d.do("review_self_evaluation", {"fiscal_year": 2027, "comment": "审核"})
    built = report.build_report(d.state, 2027, now=NOW)
    assert built.title == "项目 P001 2027 年度绩效评价报告"
    assert built.grade == "中"
    assert "压减比例 10%，适用于 2028 年度预算" in built.conclusion
    assert [(i.name, i.score, i.max) for i in built.indicators] == [
        ("改造道路里程", Decimal(50), Decimal(50)),
        ("通行时间缩短", Decimal(10), Decimal(40)),
    ]
    assert any("通行时间缩短" in p and "未完全实现" in p for p in built.problems)
    assert any("整改" in s for s in built.suggestions)
    assert any("财政审核" in p for p in built.process)


def test_an_unreviewed_year_says_so() -> None:
    d = _evaluated(Grade.EXCELLENT)
    built = report.build_report(d.state, 2027, now=NOW)
    assert "尚未审核" in " ".join(built.process)
    assert built.problems == ["未发现明显问题。"]


def test_the_pdf_embeds_a_chinese_font() -> None:
    """A PDF whose text needs no font on the reader's machine (skipped without a CJK font)."""
    try:
        report.cjk_font()
    except report.NoCjkFontError as absent:
        missing(str(absent))
    d = _evaluated(Grade.GOOD)
    data = report.report_pdf(report.build_report(d.state, 2027, now=NOW))
    assert data.startswith(b"%PDF")
    assert b"/FontFile2" in data  # the TrueType font program is embedded
