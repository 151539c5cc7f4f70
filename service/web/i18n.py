"""The message catalogue of the workbench: Chinese by default, English by a switch.

Every domain term comes in its Chinese form from DOMAIN.md; the models' own Chinese names
(`STATE_ZH`, action labels, duty labels, `GRADE_ZH`) are reused rather than copied.
"""

from __future__ import annotations

from typing import Literal

from models.department_lifecycle import ACTIONS as DEPARTMENT_ACTIONS
from models.department_lifecycle import STATE_ZH as DEPARTMENT_STATE_ZH
from models.department_state import DIMENSION_ZH, Dimension
from models.duties import LABEL_ZH as DUTY_LABEL_ZH
from models.duties import DutyKind
from models.lifecycle import ACTIONS, STATE_ZH
from models.vocabulary import GRADE_ZH, Grade, WarningLevel
from service.web.charts import SETTLED

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"

# key → (Chinese, English)
MESSAGES: dict[str, tuple[str, str]] = {
    "app.title": ("预算绩效管理工作台", "Budget performance workbench"),
    "app.slogan": ("花钱必问效，无效必问责", "Every yuan must show its effect"),
    "lang.switch": ("English", "中文"),
    "login.title": ("登录", "Sign in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.failed": ("用户名或密码错误", "Wrong username or password"),
    "login.throttled": (
        "登录失败次数过多，请 {seconds} 秒后再试",
        "Too many failed sign-ins; try again in {seconds} s",
    ),
    "login.expired": ("页面已过期，请重新提交", "The page expired; please submit again"),
    "logout": ("退出登录", "Sign out"),
    "nav.dashboard": ("工作台", "Dashboard"),
    "nav.new_project": ("申报新项目", "File a project"),
    "nav.departments": ("部门整体绩效", "Department years"),
    "dy.title": ("部门整体绩效", "Department years"),
    "dy.year": ("部门整体绩效 {code} · {year} 年度", "Department year {code} · {year}"),
    "dy.years": ("各年度", "Years"),
    "dy.none": ("尚无年度", "No year yet"),
    "dy.open": ("开启 {year} 年度", "Open {year}"),
    "dy.not_found": ("找不到该部门或年度", "No such department or year"),
    "dy.bad_year": ("年度无效（2000–2200）", "Invalid fiscal year (2000–2200)"),
    "dy.lifecycle": ("年度流程", "Year's progress"),
    "dy.goals": ("部门整体绩效目标", "Overall goals"),
    "dy.dimension": ("维度", "Dimension"),
    "dy.budget": ("部门预算", "Department budget"),
    "dy.control": ("预算控制数", "Control number"),
    "dy.control_preview": ("（预览，财政尚未下达）", "(preview, not yet set by finance)"),
    "dy.reserved": ("已占用", "Reserved"),
    "dy.remaining": ("剩余", "Remaining"),
    "dy.reservations": ("控制数占用", "Reservations"),
    "dy.self_evaluation": ("部门整体绩效自评", "Overall self-evaluation"),
    "dy.review": ("财政审核", "Finance review"),
    "dy.score": ("得分", "Score"),
    "dy.grade": ("等级", "Grade"),
    "dy.assessment": ("{year} 年度考核排名", "Assessment ranking {year}"),
    "dy.rank": ("名次", "Rank"),
    "dy.total": ("总分", "Total"),
    "dy.laggard": ("排名靠后", "Laggard"),
    "dy.payload": ("内容（JSON）", "Payload (JSON)"),
    "dy.fiscal_year": ("年度", "Fiscal year"),
    "dy.show": ("查看", "Show"),
    "dy.line_kind": ("项目", "Line"),
    "dy.amount": ("金额", "Amount"),
    "nav.goals_template": ("绩效目标申报表模板", "Goals sheet template"),
    "role.admin": ("系统管理员", "Administrator"),
    "role.finance": ("区财政部门", "Finance bureau"),
    "role.department": ("部门、单位", "Department"),
    "role.evaluator": ("专家、第三方机构", "Evaluator"),
    "role.auditor": ("审计、纪检监察", "Audit"),
    "role.system": ("系统", "System"),
    "dash.by_state": ("按状态统计", "Projects by state"),
    "dash.warnings": ("预警", "Warnings"),
    "dash.overdue": ("逾期事项", "Overdue duties"),
    "dash.todo": ("待办事项（按紧迫程度排序）", "To-do (most urgent first)"),
    "dash.todo_empty": ("暂无待办事项", "Nothing to do"),
    "dash.overdue_empty": ("暂无逾期事项", "Nothing overdue"),
    "dash.projects": ("项目", "Projects"),
    "dash.grades": ("评价等级分布（按部门、年度）", "Grades by department and year"),
    "dash.cuts": ("压减预算", "Budget cuts"),
    "dash.cuts_empty": ("暂无压减", "No cuts"),
    "dash.execution": ("预算执行率与时间进度", "Execution rate against time progress"),
    "dash.assignments": ("我的评价任务", "My assignments"),
    "dash.assignments_empty": ("暂无委托的评价任务", "No evaluation is assigned to you"),
    "dash.all": ("全部", "All"),
    "filter.submit": ("筛选", "Filter"),
    "filter.department": ("部门", "Department"),
    "filter.state": ("状态", "State"),
    "filter.warning": ("预警", "Warning"),
    "filter.grade": ("等级", "Grade"),
    "filter.fiscal_year": ("年度", "Fiscal year"),
    "page.prev": ("上一页", "Previous"),
    "page.next": ("下一页", "Next"),
    "page.of": (
        "第 {page} 页，共 {pages} 页（{total} 个项目）",
        "Page {page} of {pages} ({total} projects)",
    ),
    "col.code": ("项目编码", "Code"),
    "col.name": ("项目名称", "Name"),
    "col.department": ("部门", "Department"),
    "col.kind": ("类别", "Kind"),
    "col.budget_type": ("预算类型", "Budget"),
    "col.state": ("状态", "State"),
    "col.warning": ("预警", "Warning"),
    "col.grade": ("等级", "Grade"),
    "col.owner": ("项目责任人", "Owner"),
    "col.years": ("实施年度", "Years"),
    "col.total": ("总金额（元）", "Total (yuan)"),
    "col.duty": ("事项", "Duty"),
    "col.due": ("截止日期", "Due"),
    "col.fiscal_year": ("年度", "Year"),
    "col.project": ("项目", "Project"),
    "col.count": ("数量", "Count"),
    "col.cut_percent": ("压减比例", "Cut"),
    "col.applies_to": ("适用年度", "Applies to"),
    "project.lifecycle": ("生命周期", "Lifecycle"),
    "project.cycles": ("年度绩效（全周期跟踪问效）", "Fiscal years"),
    "project.history": ("操作记录", "History"),
    "project.actions": ("可执行的操作", "What you may do now"),
    "project.no_actions": ("当前没有您可以执行的操作", "There is nothing you may do now"),
    "project.duties": ("待办事项", "Open duties"),
    "project.major": ("重大项目", "Major project"),
    "project.assessment": ("事前绩效评估", "Ex-ante assessment"),
    "project.accountability": ("绩效问责", "Accountability"),
    "project.suspended_reason": ("暂停拨款原因", "Suspension reason"),
    "project.rejected": ("操作未执行，原因如下：", "The action was not taken:"),
    "project.invalid": ("填写有误：", "Please correct:"),
    "project.done": ("已执行：{action}", "Done: {action}"),
    "project.report": ("绩效评价报告", "Evaluation report"),
    "project.export_self_eval": ("导出绩效自评表", "Export self-evaluation sheet"),
    "project.import_goals": ("从 Excel 导入绩效目标", "Import goals from Excel"),
    "cycle.requested": ("申请金额", "Requested"),
    "cycle.approved": ("批复金额", "Approved"),
    "cycle.executed": ("执行金额", "Executed"),
    "cycle.execution_rate": ("执行率", "Execution rate"),
    "cycle.score": ("得分", "Score"),
    "cycle.grade": ("等级", "Grade"),
    "cycle.goals": ("绩效目标", "Performance goals"),
    "cycle.monitoring": ("绩效运行监控", "Monitoring"),
    "cycle.review": ("财政审核", "Finance review"),
    "cycle.rectification": ("整改", "Rectification"),
    "cycle.key_evaluation": ("列入财政重点评价", "Flagged for key evaluation"),
    "record.procurement": ("政府采购", "Procurement"),
    "record.procurement_budget": ("采购预算", "Procurement budget"),
    "record.savings": ("节约资金", "Savings"),
    "record.savings_rate": ("资金节约率", "Savings rate"),
    "record.single_source": ("单一来源采购（无竞争）", "Single source (no competition)"),
    "record.single_source_reason": ("理由", "Reason"),
    "record.payment": ("按绩效付费", "Payment by performance"),
    "record.payment_base": ("当期金额", "Period amount"),
    "record.paid": ("支付", "Paid"),
    "record.withheld": ("扣减", "Withheld"),
    "record.fund": ("政府投资基金绩效结果应用", "Investment fund result"),
    "record.contribution": ("出资", "Contribution"),
    "record.exit_recommended": ("建议退出", "Exit recommended"),
    "record.manager_reward": ("管理人奖励", "Manager reward"),
    "contribution.continue": ("继续出资", "Continue"),
    "contribution.cut": ("减少出资", "Cut"),
    "chart.execution": ("执行率", "Execution"),
    "chart.time": ("时间进度", "Time progress"),
    "chart.settled": ("结果已应用", "Results applied"),
    "hist.at": ("时间", "When"),
    "hist.actor": ("操作人", "Who"),
    "hist.action": ("操作", "Action"),
    "hist.change": ("状态变化", "Change"),
    "ind.code": ("指标编码", "Code"),
    "ind.level1": ("一级指标", "Level 1"),
    "ind.level2": ("二级指标", "Level 2"),
    "ind.name": ("三级指标", "Indicator"),
    "ind.operator": ("符号", "Operator"),
    "ind.target": ("指标值", "Target"),
    "ind.unit": ("计量单位", "Unit"),
    "ind.weight": ("权重（分值）", "Weight"),
    "ind.actual": ("实际完成值", "Actual"),
    "ind.achievement": ("完成情况（定性）", "Achievement (qualitative)"),
    "form.fiscal_year": ("年度", "Fiscal year"),
    "form.submit": ("提交", "Submit"),
    "form.comment": ("意见", "Comment"),
    "form.reason": ("原因", "Reason"),
    "form.amount": ("批复金额（元）", "Amount (yuan)"),
    "form.requested_amount": ("申请金额（元）", "Requested amount (yuan)"),
    "form.executed_amount": ("累计执行金额（元）", "Executed so far (yuan)"),
    "form.period_end": ("监控截止日期", "Period end"),
    "form.report": ("整改报告", "Rectification report"),
    "form.decision": ("处理决定", "Decision"),
    "form.adjusted_score": ("调整后得分（可空）", "Adjusted score (optional)"),
    "form.summary": ("评估意见", "Summary"),
    "form.self_summary": ("自评总结", "Summary"),
    "form.reservation_id": ("控制数占用编号", "Reservation id"),
    "form.overall_indicators": (
        "整体绩效指标（每个维度至少一个，空行忽略）",
        "Indicators (at least one per dimension; blank rows are ignored)",
    ),
    "form.assessor": ("评估主体", "Assessor"),
    "form.indicators": (
        "绩效指标（每行一个三级指标，空行忽略）",
        "Indicators (one per row; blank rows are ignored)",
    ),
    "form.progress": ("指标完成进度", "Progress per indicator"),
    "form.results": ("指标完成情况", "Results per indicator"),
    "form.excel": ("Excel 文件（绩效目标申报表）", "Excel file (goals sheet)"),
    "form.import": ("导入并申报", "Import and submit"),
    "form.code": ("项目编码", "Code"),
    "form.name": ("项目名称", "Name"),
    "form.kind": ("类别", "Kind"),
    "form.budget_type": ("预算类型", "Budget type"),
    "form.start_year": ("起始年度", "First year"),
    "form.end_year": ("终止年度", "Last year"),
    "form.total_amount": ("项目总金额（元）", "Total amount (yuan)"),
    "form.major": ("重大项目（须事前绩效评估）", "Major (needs ex-ante assessment)"),
    "form.owner": ("项目责任人", "Owner"),
    "form.file": ("申报", "File"),
    "form.third_party_evaluator": (
        "第三方评价机构（仅政府购买服务，将公开）",
        "Third-party evaluator (purchased services only; published)",
    ),
    "form.evaluation_standard": (
        "评价标准（仅政府购买服务，将公开）",
        "Evaluation standard (purchased services only; published)",
    ),
    "form.kind_fields": ("特定类别须填写", "Only for some kinds"),
    "form.procurement_method": ("采购方式", "Procurement method"),
    "form.supplier": ("供应商", "Supplier"),
    "form.contract_amount": ("合同金额（元）", "Contract amount (yuan)"),
    "form.single_source_reason": (
        "单一来源采购理由（仅单一来源采购填写）",
        "Why a single source (single-source procurement only)",
    ),
    "form.management_fee": (
        "年度管理费（元，仅政府投资基金）",
        "Yearly management fee (yuan; government investment funds only)",
    ),
    "form.payment_table": (
        (
            "按效付费表（仅政府和社会资本合作、政府购买服务）：得分区间 [下限, 上限) 对应付费比例，"
            "须覆盖 0–100 分"
        ),
        (
            "Pay-by-performance table (PPP and purchased services only): score band [low, high) → "
            "payment percent, covering 0–100"
        ),
    ),
    "form.band_low": ("得分下限", "Score from"),
    "form.band_high": ("得分上限", "Score below"),
    "form.band_pct": ("付费比例（%）", "Payment (%)"),
    "assess.necessity": ("立项必要性", "Necessity"),
    "assess.economy": ("投入经济性", "Economy of inputs"),
    "assess.goal_reasonableness": ("绩效目标合理性", "Reasonableness of goals"),
    "assess.feasibility": ("实施方案可行性", "Feasibility"),
    "assess.financing_compliance": ("筹资合规性", "Financing compliance"),
    "assessor.self": ("部门自行评估", "The department"),
    "assessor.third_party": ("第三方机构", "A third party"),
    "decision.continue": ("继续实施", "Continue"),
    "decision.reallocate": ("调整用途", "Reallocate"),
    "decision.cancel": ("取消", "Cancel"),
    "exit.expired": ("到期", "Expired"),
    "exit.low_performance": ("绩效低下", "Low performance"),
    "exit.duplicated": ("重复交叉", "Duplicated"),
    "exit.ineffective": ("无效", "Ineffective"),
    "exit.idle_funds": ("资金长期闲置", "Idle funds"),
    "exit.cancelled": ("取消", "Cancelled"),
    "procurement.public_tender": ("公开招标", "Public tender"),
    "procurement.invited_tender": ("邀请招标", "Invited tender"),
    "procurement.competitive_negotiation": ("竞争性谈判", "Competitive negotiation"),
    "procurement.competitive_consultation": ("竞争性磋商", "Competitive consultation"),
    "procurement.inquiry": ("询价", "Request for quotations"),
    "procurement.single_source": ("单一来源", "Single source"),
    "achievement.achieved": ("达成", "Achieved"),
    "achievement.partly": ("部分达成", "Partly achieved"),
    "achievement.not_achieved": ("未达成", "Not achieved"),
    "conclusion.support": ("予以支持", "Support"),
    "conclusion.support_after_adjustment": ("调整后支持", "Support after adjustment"),
    "conclusion.reject": ("不予支持", "Reject"),
    "warning.none": ("无", "None"),
    "warning.yellow": ("黄色预警", "Yellow"),
    "warning.red": ("红色预警", "Red"),
    "kind.project": ("项目", "Project"),
    "kind.policy": ("政策", "Policy"),
    "kind.government_investment_fund": ("政府投资基金", "Government investment fund"),
    "kind.ppp": ("政府和社会资本合作（PPP）项目", "PPP project"),
    "kind.procurement": ("政府采购项目", "Government procurement"),
    "kind.purchased_service": ("政府购买服务项目", "Purchased service"),
    "kind.debt": ("政府债务项目", "Government debt project"),
    "budget.general_public": ("一般公共预算", "General public budget"),
    "budget.government_fund": ("政府性基金预算", "Government funds budget"),
    "budget.state_capital": ("国有资本经营预算", "State capital budget"),
    "budget.social_insurance": ("社会保险基金预算", "Social insurance funds budget"),
    "level1.output": ("产出指标", "Output"),
    "level1.effect": ("效益指标", "Effect"),
    "level1.satisfaction": ("满意度指标", "Satisfaction"),
    "level2.quantity": ("数量指标", "Quantity"),
    "level2.quality": ("质量指标", "Quality"),
    "level2.timeliness": ("时效指标", "Timeliness"),
    "level2.cost": ("成本指标", "Cost"),
    "level2.economic": ("经济效益指标", "Economic"),
    "level2.social": ("社会效益指标", "Social"),
    "level2.ecological": ("生态效益指标", "Ecological"),
    "level2.sustainability": ("可持续影响指标", "Sustainability"),
    "level2.satisfaction": ("服务对象满意度指标", "Beneficiary satisfaction"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "error.nul": ("表单含有不允许的空字符（U+0000）", "The form contains a NUL character (U+0000)"),
    "error.not_found": ("找不到该项目", "No such project"),
    "error.forbidden": ("您无权执行此操作", "You may not do this"),
    "error.unavailable": (
        "系统暂时无法处理，请稍后重试",
        "Temporarily unavailable; try again shortly",
    ),
}

_STATE_EN: dict[str, str] = {
    "filed": "Filed",
    "under_assessment": "Ex-ante assessment",
    "active": "Active",
    "suspended": "Funding suspended",
    "completed": "Completed",
    "exited": "Exited",
    "goals_drafted": "Goals drafted",
    "goals_submitted": "Goals submitted",
    "goals_approved": "Goals approved",
    "budget_approved": "Budget approved",
    "executing": "Executing",
    "closed": "Year closed",
    "self_evaluated": "Self-evaluated",
    "rectifying": "Rectifying",
    "rectification_submitted": "Rectification submitted",
    "results_applied": "Results applied",
}

_GRADE_EN = {
    Grade.EXCELLENT: "Excellent",
    Grade.GOOD: "Good",
    Grade.FAIR: "Fair",
    Grade.POOR: "Poor",
}

_DUTY_EN: dict[DutyKind, str] = {
    DutyKind.GOALS: "Submit performance goals",
    DutyKind.GOALS_REVIEW: "Review performance goals",
    DutyKind.MONITORING: "Report mid-year monitoring",
    DutyKind.SELF_EVALUATION: "Submit self-evaluation",
    DutyKind.REVIEW: "Review self-evaluation",
    DutyKind.RECTIFICATION: "Submit rectification report",
    DutyKind.RECTIFICATION_REVIEW: "Review rectification report",
    DutyKind.WARNING_RESPONSE: "Answer the red warning",
}

# Clock and ladder events are history entries too; people read them in the timeline.
_EVENT: dict[str, tuple[str, str]] = {
    "file": ("申报项目", "File"),
    "carry_over": ("存量项目导入（原系统）", "Carried over from the previous system"),
    "reminder": ("到期提醒", "Reminder"),
    "overdue": ("逾期通知", "Overdue notice"),
    "escalation": ("逐级督办", "Escalation"),
    "accountability": ("绩效问责", "Accountability"),
    "warning": ("预警", "Warning"),
    "flag": ("列入重点评价", "Flagged for key evaluation"),
    "idle_funds": ("资金闲置督办", "Idle funds"),
    "exit_proposed": ("建议清理退出", "Exit proposed"),
    "fiscal_notice": ("全区财年通知", "Fiscal-year notice"),
    # A department year's own events.
    "open": ("开启年度", "Year opened"),
    "assessment_notice": ("部门考核通报", "Assessment notice"),
    "reserve": ("占用预算控制数", "Control number reserved"),
    "reserve_refused": ("超出预算控制数，未予占用", "Reservation refused: over the control number"),
    "confirm_reservation": ("确认控制数占用", "Reservation confirmed"),
}


def pick(lang: Lang, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def message(key: str, lang: Lang, **values: object) -> str:
    """The text of `key`; an unknown key shows itself, so a gap is visible, not fatal."""
    pair = MESSAGES.get(key)
    text = key if pair is None else pick(lang, *pair)
    return text.format(**values) if values else text


def state_name(state: str, lang: Lang) -> str:
    english = _STATE_EN.get(state, state.replace("_", " ").capitalize())
    return pick(lang, STATE_ZH.get(state, state), english)


def action_name(action: str, lang: Lang) -> str:
    definition = ACTIONS.get(action)
    if definition is not None:
        return pick(lang, definition.label_zh, action.replace("_", " ").capitalize())
    zh, en = _EVENT.get(action, (action, action))
    return pick(lang, zh, en)


def warning_names(lang: Lang) -> dict[str, str]:
    """The legend's names of the bar colours other than green: yellow, red, settled."""
    return {
        WarningLevel.YELLOW.value: message("warning.yellow", lang),
        WarningLevel.RED.value: message("warning.red", lang),
        SETTLED: message("chart.settled", lang),
    }


def grade_name(grade: str | None, lang: Lang) -> str:
    if not grade:
        return "—"
    value = Grade(grade)
    return pick(lang, GRADE_ZH[value], _GRADE_EN[value])


def duty_name(kind: str, lang: Lang) -> str:
    value = DutyKind(kind)
    return pick(lang, DUTY_LABEL_ZH[value], _DUTY_EN[value])


def department_state_name(state: str, lang: Lang) -> str:
    return pick(lang, DEPARTMENT_STATE_ZH.get(state, state), state.replace("_", " ").capitalize())


def department_action_name(action: str, lang: Lang) -> str:
    definition = DEPARTMENT_ACTIONS.get(action)
    if definition is None:
        return action_name(action, lang)  # a notice or other history event
    return pick(lang, definition.label_zh, action.replace("_", " ").capitalize())


def dimension_name(dimension: str, lang: Lang) -> str:
    zh = (
        DIMENSION_ZH.get(Dimension(dimension), dimension)
        if dimension in set(Dimension)
        else dimension
    )
    return pick(lang, zh, dimension.replace("_", " ").capitalize())
