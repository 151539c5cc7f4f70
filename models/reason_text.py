"""The reasons the rules write into history (escalations, 问责, flags, warnings, exits, the
key-evaluation list), in Chinese.

The workflow stores them in English, as `models.engine`, `models.effects` and
`models.monitoring` word them; they are shown in Chinese by matching those wordings, so that
stored histories stay as they are and keep replaying. A wording changed there must be changed
here too: the tests translate every wording the rules produce.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from models.duties import LABEL_ZH as DUTY_LABEL_ZH
from models.duties import DutyKind
from models.key_evaluation import REASON_ZH as SELECTION_REASON_ZH
from models.key_evaluation import SelectionReason
from models.monitoring import reason_zh as monitoring_reason_zh
from models.vocabulary import ExitReason

_NUMBER = r"-?\d+(?:\.\d+)?"
_DAY = r"\d{4}-\d{2}-\d{2}"

EXIT_REASON_ZH: dict[ExitReason, str] = {
    ExitReason.EXPIRED: "实施期满",
    ExitReason.LOW_PERFORMANCE: "绩效低下",
    ExitReason.DUPLICATED: "重复设置",
    ExitReason.INEFFECTIVE: "未达到预期效果",
    ExitReason.IDLE_FUNDS: "资金闲置",
    ExitReason.CANCELLED: "取消",
}


def _duty_zh(kind: str) -> str:
    try:
        return DUTY_LABEL_ZH[DutyKind(kind)]
    except ValueError:
        return kind


def _overdue_zh(duty: str, days: str) -> str:
    if days.startswith("-"):  # a rung before the deadline
        return f"{_duty_zh(duty)}距截止日期{days[1:]}天"
    return f"{_duty_zh(duty)}逾期{days}天"


_WORDINGS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (  # models.engine / models.department_lifecycle: a ladder rung's 问责
        re.compile(rf"(?P<duty>[a-z_]+) (?P<days>{_NUMBER}) days overdue"),
        lambda m: _overdue_zh(m["duty"], m["days"]),
    ),
    (  # models.engine: the red warning nobody answered suspends the funds
        re.compile(rf"red warning of (?P<year>\d{{4}}) not answered by (?P<due>{_DAY})"),
        lambda m: f"{m['year']}年度红色预警未在{m['due']}前答复",
    ),
    (
        re.compile(r"rectification overdue on a major project"),
        lambda _: "重大项目整改逾期",
    ),
    (  # models.effects: finance's score far from the department's own
        re.compile(
            rf"reviewed score (?P<score>{_NUMBER}) differs from self-evaluated (?P<own>{_NUMBER})"
        ),
        lambda m: f"财政审核得分{m['score']}与部门自评得分{m['own']}差距过大",
    ),
    # models.evaluators: why an expert may not evaluate a project (worded in both languages)
    (
        re.compile(r"same department as the project \((?P<department>[^)]*)\) 同一部门"),
        lambda m: f"与项目同属一个部门（{m['department']}）",
    ),
    (
        re.compile(r"involved in the project \(owner or actor in its history\) 参与过该项目"),
        lambda _: "参与过该项目（项目责任人或经办人）",
    ),
    (
        re.compile(r"(?P<own>.+) assessed the project ex ante 承担过该项目事前绩效评估"),
        lambda m: f"{m['own']}承担过该项目事前绩效评估",
    ),
    (re.compile(r"suspended from the library 已暂停"), lambda _: "已在专家库中暂停"),
)


_EXIT_REASONS = frozenset(r.value for r in ExitReason)
_SELECTION_REASONS = frozenset(r.value for r in SelectionReason)


def reason_zh(reason: str) -> str:
    """A stored reason in Chinese; a wording not known here (a person's own words, in any
    language) is shown as stored."""
    if reason in _EXIT_REASONS:
        return EXIT_REASON_ZH[ExitReason(reason)]
    if reason in _SELECTION_REASONS:  # why a year was put on the key-evaluation list
        return SELECTION_REASON_ZH[SelectionReason(reason)]
    for pattern, render in _WORDINGS:
        match = pattern.fullmatch(reason)
        if match is not None:
            return render(match)
    return monitoring_reason_zh(reason)
