"""Excel in and out, in the layouts finance staff already use.

- The 绩效目标申报表 (goals sheet): a department fills in its requested amount and one row per
  L3 indicator; `read_goals` turns it into the `submit_goals` payload. Every problem names the
  cell: row number, column letter and the column's Chinese heading.
- The 绩效自评表 (self-evaluation sheet) of one project and year, from its recorded
  self-evaluation and score sheet.

openpyxl: reads and writes .xlsx without Excel or LibreOffice, and keeps data validation
(drop-down lists) in the template.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import ValidationError

from models.indicators import Indicator
from models.project_state import ProjectState
from models.vocabulary import GRADE_ZH, Level1, Level2, Operator

GOALS_SHEET = "绩效目标申报表"
SELF_EVALUATION_SHEET = "绩效自评表"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

LEVEL1_ZH = {
    Level1.OUTPUT: "产出指标",
    Level1.EFFECT: "效益指标",
    Level1.SATISFACTION: "满意度指标",
}
LEVEL2_ZH = {
    Level2.QUANTITY: "数量指标",
    Level2.QUALITY: "质量指标",
    Level2.TIMELINESS: "时效指标",
    Level2.COST: "成本指标",
    Level2.ECONOMIC: "经济效益指标",
    Level2.SOCIAL: "社会效益指标",
    Level2.ECOLOGICAL: "生态效益指标",
    Level2.SUSTAINABILITY: "可持续影响指标",
    Level2.SATISFACTION: "服务对象满意度指标",
}
OPERATOR_ZH = {
    Operator.GE: "≥",
    Operator.GT: ">",
    Operator.LE: "≤",
    Operator.LT: "<",
    Operator.EQ: "=",
    Operator.QUALITATIVE: "定性",
}
# What people type for each operator, besides the signs above.
_OPERATOR_ALIASES = {">=": Operator.GE, "<=": Operator.LE, "＞": Operator.GT, "＜": Operator.LT,
                     "＝": Operator.EQ, "qualitative": Operator.QUALITATIVE}  # fmt: skip

# Layout of the goals sheet: the amount in B3, the indicator table's headings on row 5.
AMOUNT_CELL = "B3"
HEADER_ROW = 5
FIRST_ROW = HEADER_ROW + 1
MAX_ROWS = 200  # the payload's limit
COLUMNS: tuple[tuple[str, str, int], ...] = (  # (payload field, heading, width)
    ("code", "指标编码", 12),
    ("level1", "一级指标", 14),
    ("level2", "二级指标", 20),
    ("name", "三级指标", 30),
    ("operator", "符号", 8),
    ("target", "指标值", 12),
    ("unit", "计量单位", 10),
    ("weight", "权重（分值）", 12),
)
_HEAD_FONT = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_THIN = Border(*(Side(style="thin"),) * 4)


@dataclass(frozen=True)
class CellError:
    row: int
    column: str  # letter
    heading: str
    reason: str

    def __str__(self) -> str:
        return f"第 {self.row} 行 {self.column} 列（{self.heading}）：{self.reason}"


class SheetError(ValueError):
    """The sheet cannot be read as goals; `errors` name every cell that is wrong."""

    def __init__(self, errors: list[CellError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def _new_book(title: str) -> tuple[Workbook, Worksheet]:
    book = Workbook()
    sheet = book.create_sheet(title, 0)
    del book[book.sheetnames[1]]  # the default empty sheet
    return book, sheet


def _save(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def goals_template(*, fiscal_year: int | None = None, example: bool = True) -> bytes:
    """An empty goals sheet with drop-down lists (and one example row to overwrite)."""
    book, sheet = _new_book(GOALS_SHEET)
    sheet["A1"] = "项目支出绩效目标申报表" + (f"（{fiscal_year} 年度）" if fiscal_year else "")
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    sheet["A3"] = "申请金额（元）"
    sheet["A3"].font = _HEAD_FONT
    sheet["C3"] = "说明：每行一个三级指标；权重为该指标在其一级指标中的相对分值。"
    for index, (_field, heading, width) in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=HEADER_ROW, column=index, value=heading)
        cell.font, cell.fill, cell.border = _HEAD_FONT, _HEAD_FILL, _THIN
        cell.alignment = Alignment(horizontal="center")
        sheet.column_dimensions[get_column_letter(index)].width = width
    last = FIRST_ROW + MAX_ROWS - 1
    for field, values in (
        ("level1", LEVEL1_ZH.values()),
        ("level2", LEVEL2_ZH.values()),
        ("operator", OPERATOR_ZH.values()),
    ):
        letter = get_column_letter(_column_index(field))
        choice = DataValidation(
            type="list", formula1='"' + ",".join(values) + '"', allow_blank=True
        )
        choice.add(f"{letter}{FIRST_ROW}:{letter}{last}")
        sheet.add_data_validation(choice)
    if example:
        sheet[AMOUNT_CELL] = 1000000
        row: tuple[str | int, ...] = (
            "O1",
            "产出指标",
            "数量指标",
            "改造道路里程",
            "≥",
            100,
            "公里",
            30,
        )
        for index, value in enumerate(row, start=1):
            sheet.cell(row=FIRST_ROW, column=index, value=value)
    sheet.freeze_panes = f"A{FIRST_ROW}"
    return _save(book)


def _column_index(field: str) -> int:
    return next(i for i, (f, _h, _w) in enumerate(COLUMNS, start=1) if f == field)


def _cell_error(row: int, field: str, reason: str) -> CellError:
    index = _column_index(field)
    return CellError(row, get_column_letter(index), COLUMNS[index - 1][1], reason)


def _lookup(
    value: str, names: dict[Any, str], field: str, row: int
) -> tuple[Any, CellError | None]:
    for key, name in names.items():
        if value in (name, name.removesuffix("指标"), key.value):
            return key, None
    allowed = "、".join(names.values())
    return None, _cell_error(row, field, f"“{value}”不是可选值（可选：{allowed}）")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_goals(data: bytes) -> tuple[Decimal, list[dict[str, Any]]]:
    """The requested amount and the indicators of a filled goals sheet; `SheetError` otherwise."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001  (openpyxl raises many kinds for a bad file)
        raise SheetError(
            [CellError(0, "-", "文件", f"不是有效的 Excel（.xlsx）文件：{type(error).__name__}")]
        ) from None
    sheet = book[GOALS_SHEET] if GOALS_SHEET in book.sheetnames else book.worksheets[0]
    errors: list[CellError] = []
    amount_text = _text(sheet[AMOUNT_CELL].value)
    amount = Decimal(0)
    try:
        amount = Decimal(amount_text)
        if amount <= 0:
            raise InvalidOperation
    except InvalidOperation:
        errors.append(
            CellError(3, "B", "申请金额（元）", f"须为大于 0 的金额，而不是“{amount_text}”")
        )
    indicators: list[dict[str, Any]] = []
    rows = sheet.iter_rows(
        min_row=FIRST_ROW, max_row=FIRST_ROW + MAX_ROWS, max_col=len(COLUMNS), values_only=True
    )
    for row_number, values in enumerate(rows, start=FIRST_ROW):
        cells = {field: _text(v) for (field, _h, _w), v in zip(COLUMNS, values, strict=False)}
        if not any(cells.values()):
            continue
        if row_number == FIRST_ROW + MAX_ROWS:
            errors.append(_cell_error(row_number, "code", f"最多 {MAX_ROWS} 个指标"))
            break
        indicator, row_errors = _indicator(row_number, cells)
        errors += row_errors
        if indicator is not None:
            indicators.append(indicator)
    book.close()
    if not indicators and not errors:
        errors.append(_cell_error(FIRST_ROW, "code", "至少填写一个三级指标"))
    if errors:
        raise SheetError(errors)
    return amount, indicators


def _indicator(row: int, cells: dict[str, str]) -> tuple[dict[str, Any] | None, list[CellError]]:
    errors: list[CellError] = []
    level1, error = _lookup(cells["level1"], LEVEL1_ZH, "level1", row)
    errors += [error] if error else []
    level2, error = _lookup(cells["level2"], LEVEL2_ZH, "level2", row)
    errors += [error] if error else []
    operator = _OPERATOR_ALIASES.get(cells["operator"]) or next(
        (o for o, sign in OPERATOR_ZH.items() if cells["operator"] in (sign, o.value)), None
    )
    if operator is None:
        errors.append(
            _cell_error(row, "operator", f"“{cells['operator']}”不是可选符号（≥ > ≤ < = 定性）")
        )
    if errors:
        return None, errors
    body: dict[str, Any] = {
        "code": cells["code"],
        "level1": level1.value,
        "level2": level2.value,
        "name": cells["name"],
        "operator": operator.value if operator else "",
        "target": cells["target"] or None,
        "unit": cells["unit"],
        "weight": cells["weight"],
    }
    try:
        Indicator.model_validate(body)
    except ValidationError as invalid:
        for problem in invalid.errors(include_input=False):
            field = str(problem["loc"][0]) if problem["loc"] else "level2"
            field = field if field in {f: h for f, h, _w in COLUMNS} else "level2"
            errors.append(_cell_error(row, field, _reason_zh(problem)))
        return None, errors
    return body, []


def _reason_zh(problem: Any) -> str:
    kind = problem.get("type", "")
    if kind == "missing" or kind == "string_too_short":
        return "不能为空"
    if kind.startswith("decimal") or kind.endswith("parsing"):
        return "须为数字"
    if kind == "string_pattern_mismatch":
        return "只能包含字母、数字、点、下划线和短横线"
    if kind == "string_too_long":
        return "内容过长"
    message = str(problem.get("msg", ""))
    if "level2" in message:
        return "二级指标不属于该一级指标"
    return message


# --- the self-evaluation sheet -------------------------------------------------------------


def self_evaluation_sheet(project: ProjectState, fiscal_year: int) -> bytes | None:
    """The 绩效自评表 of one year, or None when that year has no self-evaluation yet."""
    cycle = project.cycle(fiscal_year)
    if cycle is None or cycle.self_evaluation is None:
        return None
    info, evaluation = project.info, cycle.self_evaluation
    report = evaluation.report
    book, sheet = _new_book(SELF_EVALUATION_SHEET)
    sheet["A1"] = f"项目支出绩效自评表（{fiscal_year} 年度）"
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.merge_cells("A1:H1")
    available = cycle.approved_amount or Decimal(0)
    rate = (evaluation.executed_amount / available * 100) if available else None
    facts: tuple[tuple[str, str | float, str, str | float], ...] = (
        ("项目名称", f"{info.code} {info.name}", "主管部门", info.department),
        ("项目责任人", info.owner, "预算类型", info.budget_type.value),
        (
            "年度预算数（元）",
            float(available),
            "全年执行数（元）",
            float(evaluation.executed_amount),
        ),
        (
            "执行率",
            f"{rate:.2f}%" if rate is not None else "—",
            "预算执行得分",
            float(report.parts.budget_execution),
        ),
        ("自评得分", float(report.total), "自评等级", GRADE_ZH[report.grade]),
    )
    for offset, (k1, v1, k2, v2) in enumerate(facts):
        row = 3 + offset
        for column, value in zip((1, 2, 4, 5), (k1, v1, k2, v2), strict=True):
            cell = sheet.cell(row=row, column=column, value=value)
            cell.border = _THIN
            if column in (1, 4):
                cell.font, cell.fill = _HEAD_FONT, _HEAD_FILL
    head_row = 3 + len(facts) + 1
    headings = (
        "一级指标",
        "二级指标",
        "三级指标",
        "年度指标值",
        "实际完成值",
        "分值",
        "得分",
        "得分率",
    )
    for index, heading in enumerate(headings, start=1):
        cell = sheet.cell(row=head_row, column=index, value=heading)
        cell.font, cell.fill, cell.border = _HEAD_FONT, _HEAD_FILL, _THIN
    results = {r.code: r for r in evaluation.results}
    scores = {s.code: s for s in report.indicators}
    for offset, indicator in enumerate(cycle.indicators, start=1):
        result, score = results.get(indicator.code), scores.get(indicator.code)
        target = (
            f"{OPERATOR_ZH[indicator.operator]} {_text(indicator.target)} {indicator.unit}".strip()
        )
        if result is None:
            actual = "—"
        elif result.actual is not None:
            actual = f"{_text(result.actual)} {indicator.unit}".strip()
        else:
            actual = {"achieved": "达成", "partly": "部分达成", "not_achieved": "未达成"}[
                result.achievement.value if result.achievement else "not_achieved"
            ]
        row_values = (
            LEVEL1_ZH[indicator.level1],
            LEVEL2_ZH[indicator.level2],
            indicator.name,
            target,
            actual,
            float(score.max) if score else None,
            float(score.score) if score else None,
            f"{score.ratio * 100:.2f}%" if score else None,
        )
        for index, cell_value in enumerate(row_values, start=1):
            sheet.cell(row=head_row + offset, column=index, value=cell_value).border = _THIN
    for index, width in enumerate((14, 18, 28, 16, 16, 10, 10, 10), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    return _save(book)
