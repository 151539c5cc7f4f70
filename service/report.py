"""The evaluation report of one project and year, after the outline of 财预〔2020〕10号.

The outline of a 绩效评价报告 (附件 of 财预〔2020〕10号): 一、基本情况; 二、绩效评价工作开展情况;
三、综合评价情况及评价结论; 四、绩效指标分析; 五、主要经验及做法、存在的问题及原因分析;
六、有关建议. Everything in it is taken from the project's recorded state (goals, monitoring,
self-evaluation, finance review, rectification); nothing is invented, so a section with nothing
recorded says so.

The same `Report` renders as HTML (a Jinja2 template of the workbench) and as PDF (fpdf2, pure
Python, with a CJK TrueType font of the system embedded; `.ci/run` installs Debian's
fonts-wqy-microhei).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from models.kinds import KIND_ZH
from models.project_state import Cycle, ProjectState
from models.vocabulary import GRADE_ZH, Grade, ResultConsequence
from service.excel import LEVEL1_ZH, LEVEL2_ZH, OPERATOR_ZH

# Fonts with Chinese glyphs, in order of preference (Debian package in the comment).
CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),  # fonts-wqy-microhei
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),  # fonts-noto-cjk
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),  # fonts-wqy-zenhei
)

BUDGET_ZH = {
    "general_public": "一般公共预算",
    "government_fund": "政府性基金预算",
    "state_capital": "国有资本经营预算",
    "social_insurance": "社会保险基金预算",
}
CONSEQUENCE_ZH = {
    ResultConsequence.PRIORITY: "评价结果为优，下一年度预算安排中优先保障。",
    ResultConsequence.KEEP: "评价结果为良，保持现有支持力度，并针对失分指标加以改进。",
    ResultConsequence.CUT_AND_RECTIFY: "评价结果为中，压减以后年度项目预算并限期整改。",
    ResultConsequence.CUT_RECTIFY_AND_NOTIFY: "评价结果为差，大幅压减或取消以后年度项目预算，限期整改并予以公开通报。",
}


class NoEvaluationError(LookupError):
    """The year has no self-evaluation yet: there is nothing to report."""


class NoCjkFontError(RuntimeError):
    """No font with Chinese glyphs is installed: a PDF would show empty boxes."""


@dataclass(frozen=True)
class IndicatorLine:
    level1: str
    level2: str
    name: str
    target: str
    actual: str
    max: Decimal
    score: Decimal
    ratio_pct: Decimal


@dataclass
class Report:
    title: str
    facts: list[tuple[str, str]]
    goals: list[str]
    process: list[str]
    score: Decimal
    grade: str
    parts: list[tuple[str, Decimal]]
    conclusion: str
    indicators: list[IndicatorLine]
    problems: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    generated_at: str = ""


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f} 元"


def _day(value: datetime | None) -> str:
    return value.date().isoformat() if value else "—"


def plain(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return "" if value is None else str(value)


def build_report(project: ProjectState, fiscal_year: int, *, now: datetime) -> Report:
    cycle = project.cycle(fiscal_year)
    if cycle is None or cycle.self_evaluation is None:
        raise NoEvaluationError(f"{project.info.code} has no self-evaluation for {fiscal_year}")
    info, evaluation = project.info, cycle.self_evaluation
    sheet = evaluation.report
    review = cycle.review
    score = review.final_score if review else sheet.total
    grade = review.grade if review else sheet.grade
    available = cycle.approved_amount
    rate = evaluation.executed_amount / available * 100 if available else None
    facts = [
        ("项目名称", f"{info.name}（{info.code}）"),
        ("主管部门", info.department),
        ("项目责任人", info.owner + ("（重大项目，绩效终身责任追究）" if info.major else "")),
        ("项目类别", f"{KIND_ZH[info.kind]}，{BUDGET_ZH[info.budget_type.value]}"),
        ("实施期", f"{info.start_year}—{info.end_year} 年，总金额 {_money(info.total_amount)}"),
        ("评价年度", str(fiscal_year)),
        ("年度预算", f"申请 {_money(cycle.requested_amount)}，批复 {_money(available)}"),
        ("年度执行", f"{_money(evaluation.executed_amount)}，执行率 {rate:.2f}%" if rate is not None else _money(evaluation.executed_amount)),
    ]  # fmt: skip
    goals = [
        f"{LEVEL1_ZH[i.level1]} / {LEVEL2_ZH[i.level2]}：{i.name} "
        f"{OPERATOR_ZH[i.operator] if i.quantitative else ''} {plain(i.target)} {i.unit}".strip()
        for i in cycle.indicators
    ]
    basis = (
        "评价依据：《项目支出绩效评价管理办法》（财预〔2020〕10号）；评分满分 100 分，"
        "预算执行率之外按产出、效益、满意度指标逐项计分；等级：优 ≥ 90，良 ≥ 80，中 ≥ 60，差 < 60。"
    )
    self_evaluated = (
        f"单位自评：{info.department} 于 {_day(evaluation.submitted_at)} 提交绩效自评，"
        f"自评得分 {plain(sheet.total)} 分（{sheet.grade_zh}）。"
    )
    process = [basis, self_evaluated]
    if cycle.monitoring:
        process.append(
            f"绩效运行监控：共报送 {len(cycle.monitoring)} 次，"
            + "；".join(
                f"截至 {r.period_end} 执行率 {r.execution_pct:.1f}%" for r in cycle.monitoring
            )
            + "。"
        )
    if review is not None:
        adjusted = (
            f"，调整后得分 {plain(review.adjusted_score)} 分"
            if review.adjusted_score is not None
            else ""
        )
        process.append(
            f"财政审核：区财政部门于 {_day(review.reviewed_at)} 审核自评结果{adjusted}。"
        )
        if cycle.key_evaluation:
            process.append("财政审核得分与自评得分差异较大，列入财政重点评价。")
    else:
        process.append("财政审核：尚未审核，以下结论以单位自评为准。")
    names = {
        "budget_execution": "预算执行率",
        "output": "产出指标",
        "effect": "效益指标",
        "satisfaction": "满意度指标",
    }
    parts = [(names[k], v) for k, v in sheet.parts.model_dump().items()]
    conclusion = f"{fiscal_year} 年度该{KIND_ZH[info.kind]}绩效评价得分 {plain(score)} 分，等级为“{GRADE_ZH[grade]}”。"
    if review is not None:
        conclusion += CONSEQUENCE_ZH[review.consequence]
        if review.cut_percent:
            conclusion += (
                f"压减比例 {plain(review.cut_percent)}%，适用于 {review.cut_applies_to} 年度预算。"
            )
    results = {r.code: r for r in evaluation.results}
    scores = {s.code: s for s in sheet.indicators}
    lines: list[IndicatorLine] = []
    problems: list[str] = []
    for indicator in cycle.indicators:
        result, line_score = results.get(indicator.code), scores.get(indicator.code)
        if line_score is None:
            continue
        if result is not None and result.actual is not None:
            actual = f"{plain(result.actual)} {indicator.unit}".strip()
        elif result is not None and result.achievement is not None:
            actual = {"achieved": "达成", "partly": "部分达成", "not_achieved": "未达成"}[
                result.achievement.value
            ]
        else:
            actual = "—"
        target = f"{OPERATOR_ZH[indicator.operator] if indicator.quantitative else ''} {plain(indicator.target)} {indicator.unit}".strip()
        lines.append(IndicatorLine(LEVEL1_ZH[indicator.level1], LEVEL2_ZH[indicator.level2], indicator.name,
                                   target, actual, line_score.max, line_score.score, line_score.ratio * 100))  # fmt: skip
        if line_score.ratio < 1:
            problems.append(f"“{indicator.name}”目标值 {target}，实际完成 {actual}，"
                            f"得 {plain(line_score.score)} 分（满分 {plain(line_score.max)} 分），未完全实现绩效目标。")  # fmt: skip
    problems += _money_problems(cycle, rate)
    suggestions = _suggestions(cycle, grade, problems)
    return Report(
        title=f"{info.name} {fiscal_year} 年度绩效评价报告",
        facts=facts,
        goals=goals,
        process=process,
        score=score,
        grade=GRADE_ZH[grade],
        parts=parts,
        conclusion=conclusion,
        indicators=lines,
        problems=problems or ["未发现明显问题。"],
        suggestions=suggestions,
        generated_at=now.strftime("%Y-%m-%d %H:%M"),
    )


def _money_problems(cycle: Cycle, rate: Decimal | None) -> list[str]:
    problems = []
    if rate is not None and rate < 100:
        problems.append(f"预算执行率 {rate:.2f}%，资金未全部执行。")
    for report in cycle.monitoring:
        if report.warning.value != "none":
            level = "红色" if report.warning.value == "red" else "黄色"
            problems.append(
                f"绩效运行监控截至 {report.period_end} 执行率 {report.execution_pct:.1f}%，触发{level}预警。"
            )
    if cycle.warning_response is not None:
        problems.append(
            f"针对预警，部门决定：{ {'continue': '继续实施', 'reallocate': '调整用途', 'cancel': '取消'}[cycle.warning_response.decision.value] }（{cycle.warning_response.comment}）。"
        )
    return problems


def _suggestions(cycle: Cycle, grade: Grade, problems: list[str]) -> list[str]:
    suggestions = []
    if grade in (Grade.FAIR, Grade.POOR):
        suggestions.append(
            "针对失分指标和存在的问题制定整改方案，明确责任人和完成时限，按期报送整改报告。"
        )
    if any("预警" in p for p in problems):
        suggestions.append("加强预算执行管理，按时间进度拨付和使用资金，提高资金使用效益。")
    if any("未完全实现" in p for p in problems):
        suggestions.append("进一步细化量化绩效目标，加强绩效运行监控，确保产出和效益目标按期实现。")
    if cycle.rectification is not None and cycle.rectification.accepted_at is not None:
        suggestions.append("整改已验收通过，巩固整改成果，防止问题反弹。")
    if grade is Grade.EXCELLENT:
        suggestions.append("总结经验做法，在同类项目中推广。")
    return suggestions or ["保持现有管理做法，持续跟踪绩效目标实现情况。"]


# --- PDF --------------------------------------------------------------------------------------


def cjk_font() -> Path:
    for path in CJK_FONTS:
        if path.exists():
            return path
    raise NoCjkFontError("no CJK font installed (apt-get install fonts-wqy-microhei)")


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("cjk", size=8)
        self.cell(0, 8, f"第 {self.page_no()} 页", align="C")


def report_pdf(report: Report) -> bytes:
    """The report as PDF with the system's CJK font embedded (subset)."""
    pdf = _Pdf(format="A4")
    pdf.set_auto_page_break(auto=True, margin=16)
    font = str(cjk_font())
    pdf.add_font("cjk", fname=font)
    # Table headings are bold; the CJK fonts ship one weight, used for both.
    pdf.add_font("cjk", style="B", fname=font)
    pdf.add_page()
    pdf.set_title(report.title)
    pdf.set_font("cjk", size=16)
    pdf.multi_cell(0, 10, report.title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=9)
    pdf.cell(
        0, 6, f"生成时间：{report.generated_at}", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )

    def heading(text: str) -> None:
        pdf.ln(3)
        pdf.set_font("cjk", size=13)
        pdf.multi_cell(0, 8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("cjk", size=10.5)

    def para(text: str) -> None:
        pdf.multi_cell(0, 6.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    heading("一、基本情况")
    for key, value in report.facts:
        para(f"{key}：{value}")
    para("年度绩效目标：")
    for goal in report.goals:
        para(f"  · {goal}")
    heading("二、绩效评价工作开展情况")
    for line in report.process:
        para(line)
    heading("三、综合评价情况及评价结论")
    para(report.conclusion)
    para("；".join(f"{name} {plain(points)} 分" for name, points in report.parts) + "。")
    heading("四、绩效指标分析")
    widths = (22, 28, 42, 26, 26, 14, 14, 18)
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=6) as table:
        table.row(
            ("一级指标", "二级指标", "三级指标", "指标值", "实际完成", "分值", "得分", "得分率")
        )
        for item in report.indicators:
            table.row((item.level1, item.level2, item.name, item.target, item.actual,
                       plain(item.max), plain(item.score), f"{item.ratio_pct:.1f}%"))  # fmt: skip
    heading("五、存在的问题及原因分析")
    for number, problem in enumerate(report.problems, start=1):
        para(f"{number}. {problem}")
    heading("六、有关建议")
    for number, suggestion in enumerate(report.suggestions, start=1):
        para(f"{number}. {suggestion}")
    return bytes(pdf.output())
