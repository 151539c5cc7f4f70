"""Excel in and out: the goals sheet reads back as a valid payload; errors name their cells."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from models.actions import SubmitGoals
from models.vocabulary import Grade
from service import excel
from tests.models.test_lifecycle import Driver


def _sheet(amount: Any, rows: list[tuple[Any, ...]]) -> bytes:
    book = load_workbook(io.BytesIO(excel.goals_template(example=False)))
    sheet = book[excel.GOALS_SHEET]
    sheet[excel.AMOUNT_CELL] = amount
    for offset, row in enumerate(rows):
        for column, value in enumerate(row, start=1):
            sheet.cell(row=excel.FIRST_ROW + offset, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_template_reads_back_as_goals() -> None:
    """The downloaded template, as it is, is a valid submit_goals payload."""
    amount, indicators = excel.read_goals(excel.goals_template())
    assert amount == Decimal(1000000)
    assert indicators == [
        {"code": "O1", "level1": "output", "level2": "quantity", "name": "改造道路里程",
         "operator": ">=", "target": "100", "unit": "公里", "weight": "30"},
    ]  # fmt: skip
    SubmitGoals.model_validate(
        {"fiscal_year": 2027, "requested_amount": amount, "indicators": indicators}
    )


def test_chinese_names_signs_and_blank_rows_are_understood() -> None:
    """Levels by their Chinese names (with or without 指标), ≤ and 定性; blank rows skipped."""
    _, indicators = excel.read_goals(
        _sheet(
            "2500000",
            [
                ("O1", "产出", "质量指标", "合格率", "≤", 5, "%", 2),
                (None,) * 8,
                ("E1", "效益指标", "社会效益", "群众满意", "定性", "明显改善", None, 1),
            ],
        )
    )
    assert [(i["level1"], i["level2"], i["operator"]) for i in indicators] == [
        ("output", "quality", "<="),
        ("effect", "social", "qualitative"),
    ]


def test_every_wrong_cell_is_named_by_row_column_and_heading() -> None:
    """All problems at once, each with its row, column letter and heading, in Chinese."""
    with pytest.raises(excel.SheetError) as invalid:
        excel.read_goals(
            _sheet(
                "很多",
                [
                    ("O1", "产出指标", "数量指标", "里程", "≥", 100, "公里", 1),
                    ("E1", "产出指标", "社会效益指标", "时间", "≥", 100, "%", 1),
                    ("E2", "效益指标", "社会效益指标", "时间", "约等于", 100, "%", 1),
                    ("E3", "效益指标", "社会效益指标", "时间", "≥", 100, "%", "一"),
                ],
            )
        )
    cells = [(e.row, e.column, e.heading) for e in invalid.value.errors]
    assert cells == [
        (3, "B", "申请金额（元）"),
        (7, "C", "二级指标"),
        (8, "E", "符号"),
        (9, "H", "权重（分值）"),
    ]
    assert "第 7 行 C 列（二级指标）" in str(invalid.value)


def test_a_file_that_is_not_excel_is_refused() -> None:
    with pytest.raises(excel.SheetError) as invalid:
        excel.read_goals(b"code,name\nO1,x\n")
    assert "不是有效的 Excel" in invalid.value.errors[0].reason


def test_an_empty_sheet_asks_for_an_indicator() -> None:
    with pytest.raises(excel.SheetError) as invalid:
        excel.read_goals(_sheet(1000, []))
    assert invalid.value.errors[0].reason == "至少填写一个三级指标"


def test_the_self_evaluation_sheet_carries_the_scores() -> None:
    """The 绩效自评表 of an evaluated year: facts, the total and one line per indicator."""
    d = Driver()
    d.do("submit")
    d.fund_year(2027)
    d.at(2027, 10)
    d.do("close_year", {"fiscal_year": 2027})
    d.do("submit_self_evaluation",
         {"fiscal_year": 2027, "executed_amount": 1_000_000,
          "results": [{"code": "O1", "actual": 100}, {"code": "E1", "actual": 60}]})  # fmt: skip
    assert excel.self_evaluation_sheet(d.state, 2028) is None
    data = excel.self_evaluation_sheet(d.state, 2027)
    assert data is not None
    sheet = load_workbook(io.BytesIO(data))[excel.SELF_EVALUATION_SHEET]
    values = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
    assert "项目支出绩效自评表（2027 年度）" in values
    assert 84.0 in values  # 10 + 50 + 24: the good grade of tests/factories
    assert "良" in values
    assert [v for v in values if v in ("改造道路里程", "通行时间缩短")] == [
        "改造道路里程",
        "通行时间缩短",
    ]
    assert Grade.GOOD.value not in values  # Chinese, not the wire value
