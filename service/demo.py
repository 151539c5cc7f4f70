"""A demo district for a first run: departments, one user per role, thirteen projects, and
each department's overall performance year (`service.demo_departments`).

`perfbudget up` seeds it on a fresh data directory (no user yet) unless `PERFBUDGET_DEMO=0`.
Every project is filed and driven through the real API functions (`service.projects`), hence
through the real workflows and their guards: what the workbench and the Temporal UI then show
is true, not painted. The usernames and generated passwords are printed once and kept nowhere.

The projects run on the real clock (no `clock_offset_seconds`): the API judges duties and the
actions allowed on the real clock too, so a project living at another business time would show
duties its workflow does not see. Years already over are reached honestly all the same: a
budget approved for last year starts and ends that year at once in the workflow, and the year
can then be evaluated. One project is carried over from the previous system with last year
already closed (`models.carry_over`), so its self-evaluation is truly overdue on the first day.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlmodel import Session
from temporalio.client import Client

from models.carry_over import ClosedYear, carried_over
from models.indicators import Indicator
from models.kinds import template_for
from models.project_state import ProjectFiling, ProjectInfo, ProjectState
from models.tables import ProjectRow, User
from models.vocabulary import BudgetType, ProjectKind, Role
from service import projects
from service.auth import Principal
from service.calendar import rules_in_force
from service.db import engine_for, session_scope
from service.demo_departments import department_stories, play_department_year
from service.problems import Problem
from service.settings import Settings
from service.users import add_user, create_department

log = structlog.get_logger(__name__)

DEPARTMENTS = (
    ("JYJ", "区教育局", "王建国"),
    ("JTJ", "区交通运输局", "李明"),
    ("WJW", "区卫生健康委员会", "陈红"),
)
# username → (role, department)
USERS: dict[str, tuple[Role, str | None]] = {
    "admin": (Role.ADMIN, None),
    "caizheng": (Role.FINANCE, None),
    "jiaoyu": (Role.DEPARTMENT, "JYJ"),
    "jiaotong": (Role.DEPARTMENT, "JTJ"),
    "weijian": (Role.DEPARTMENT, "WJW"),
    "pingjia": (Role.EVALUATOR, None),
    "shenji": (Role.AUDITOR, None),
}
# Where the carried-over project's last year was budgeted and executed.
PREVIOUS_SYSTEM = "原预算管理一体化系统（存量项目导入）"
CLERK = {"JYJ": "jiaoyu", "JTJ": "jiaotong", "WJW": "weijian"}
FINANCE = "caizheng"


def template_indicators(budget_type: str, kind: str) -> list[dict[str, Any]]:
    """The indicators the goals template of this budget type and kind requires."""
    template = template_for(BudgetType(budget_type), ProjectKind(kind))
    return [
        {"code": need.code, "level1": need.level1.value, "level2": need.level2.value,
         "name": need.name_zh, "weight": 5, "unit": need.unit,
         **({"operator": ">=", "target": 100} if need.quantitative
            else {"operator": "qualitative", "target": "符合规定"})}
        for need in template.required
    ]  # fmt: skip


def indicators(subject: str, unit: str, target: int) -> list[dict[str, Any]]:
    """A usual 绩效目标 set: quantity, quality, social effect and satisfaction."""
    return [
        {"code": "O1", "level1": "output", "level2": "quantity", "name": subject,
         "operator": ">=", "target": target, "unit": unit, "weight": 30},
        {"code": "O2", "level1": "output", "level2": "quality", "name": "验收合格率",
         "operator": ">=", "target": 95, "unit": "%", "weight": 20},
        {"code": "E1", "level1": "effect", "level2": "social", "name": "群众受益情况",
         "operator": "qualitative", "target": "明显改善", "weight": 30},
        {"code": "S1", "level1": "satisfaction", "level2": "satisfaction",
         "name": "服务对象满意度", "operator": ">=", "target": 90, "unit": "%", "weight": 10},
    ]  # fmt: skip


# Results that make each grade with the indicators above and the budget fully executed.
GRADE_RESULTS: dict[str, tuple[float, float, str, float]] = {
    "excellent": (1.0, 98, "achieved", 95),
    "good": (0.85, 90, "partly", 85),
    "fair": (0.6, 70, "partly", 70),
    "poor": (0.3, 40, "not_achieved", 50),
}


@dataclass
class Story:
    """One demo project: its filing and the steps taken on it, in order."""

    filing: dict[str, Any]
    steps: list[tuple[str, str, dict[str, Any]]] = field(
        default_factory=list
    )  # (who, action, body)
    # Wait for a cycle state before the next step (the workflow starts and ends years itself).
    waits: dict[int, tuple[int, str]] = field(default_factory=dict)  # step index → (year, state)
    # Carried over from the previous system with this year closed, instead of filed afresh.
    carried: ClosedYear | None = None


def _filing(code: str, name: str, kind: str, budget: str, start: int, end: int, total: int,
            owner: str, *, major: bool = False) -> dict[str, Any]:  # fmt: skip
    return {"code": code, "name": name, "kind": kind, "budget_type": budget,
            "start_year": start, "end_year": end, "total_amount": total, "major": major,
            "owner": owner}  # fmt: skip


class _Script:
    """Builds the steps of one story with the usual bodies."""

    def __init__(
        self, story: Story, clerk: str, subject: tuple[str, str, int], next_year: int
    ) -> None:
        self.story, self.clerk, self.subject, self.next_year = story, clerk, subject, next_year
        self.required = template_indicators(story.filing["budget_type"], story.filing["kind"])

    def goals(self, year: int, amount: int, target: int | None = None) -> dict[str, Any]:
        subject, unit, usual = self.subject
        return {"fiscal_year": year, "requested_amount": amount,
                "indicators": indicators(subject, unit, target or usual) + self.required}  # fmt: skip

    def step(self, who: str, action: str, body: dict[str, Any] | None = None) -> _Script:
        self.story.steps.append((who, action, body or {}))
        return self

    def carried_over(self, year: int, amount: int, executed: int) -> _Script:
        """Imported with `year` budgeted, executed and closed on 31 December in the previous
        system: its self-evaluation was due on 31 March of the year after."""
        self.story.carried = ClosedYear(
            fiscal_year=year,
            indicators=[
                Indicator.model_validate(i) for i in self.goals(year, amount)["indicators"]
            ],
            approved_amount=Decimal(amount),
            executed_amount=Decimal(executed),
            approved_on=date(year, 1, 20),
        )
        return self

    def wait(self, year: int, state: str) -> _Script:
        self.story.waits[len(self.story.steps)] = (year, state)
        return self

    def budgeted(self, year: int, amount: int) -> _Script:
        self.step(self.clerk, "submit_goals", self.goals(year, amount))
        self.step(FINANCE, "approve_goals", {"fiscal_year": year})
        return self.step(FINANCE, "approve_budget", {"fiscal_year": year, "amount": amount})

    def next_goals(self, amount: int, target: int) -> _Script:
        """Goals for the next fiscal year."""
        return self.step(self.clerk, "submit_goals", self.goals(self.next_year, amount, target))

    def evaluated(self, year: int, amount: int, grade: str) -> _Script:
        share, quality, effect, satisfaction = GRADE_RESULTS[grade]
        results = [
            {"code": "O1", "actual": round(self.subject[2] * share, 2)},
            {"code": "O2", "actual": quality},
            {"code": "E1", "achievement": effect},
            {"code": "S1", "actual": satisfaction},
        ] + [
            {"code": need["code"], "actual": 100} if need["operator"] != "qualitative"
            else {"code": need["code"], "achievement": "achieved"}
            for need in self.required
        ]  # fmt: skip
        # Finance closes the year early (it would close by itself on 31 December).
        self.step(FINANCE, "close_year", {"fiscal_year": year})
        return self.step(self.clerk, "submit_self_evaluation",
                         {"fiscal_year": year, "executed_amount": amount, "results": results})  # fmt: skip

    def monitored(self, year: int, period_end: date, executed: int) -> _Script:
        self.wait(year, "executing")
        return self.step(self.clerk, "report_monitoring", {
            "fiscal_year": year, "period_end": period_end.isoformat(), "executed_amount": executed,
            "progress": [{"code": "O1", "actual": self.subject[2] * executed // 1_000_000}]})  # fmt: skip

    def reviewed(self, year: int, comment: str = "") -> _Script:
        return self.step(
            FINANCE, "review_self_evaluation", {"fiscal_year": year, "comment": comment}
        )


def stories(today: date) -> list[Story]:
    """Thirteen projects across three departments: last fiscal year (one carried over from the
    previous system, its self-evaluation overdue), this one and the next."""
    this, nxt = today.year, today.year + 1
    aug, oct_ = date(this, 8, 31), date(this, 10, 31)
    made: list[Story] = []

    def story(filing: dict[str, Any], subject: tuple[str, str, int]) -> _Script:
        made.append(Story(filing))
        department = {"XX": "JYJ", "JT": "JTJ", "WS": "WJW"}[filing["code"][:2]]
        return _Script(made[-1], CLERK[department], subject, nxt)

    jyj, jtj, wjw = CLERK["JYJ"], CLERK["JTJ"], CLERK["WJW"]
    # 教育局
    (story(_filing("XX-001", "义务教育学校校舍改造", "project", "general_public", this, nxt, 9_000_000, "张伟"),
           ("改造校舍面积", "平方米", 12000))
     .step(jyj, "submit").budgeted(this, 3_000_000).monitored(this, aug, 2_100_000)
     .evaluated(this, 3_000_000, "good").reviewed(this, "目标基本完成")
     .next_goals(2_500_000, 10000))  # fmt: skip
    (story(_filing("XX-002", "学生营养改善计划", "policy", "general_public", this, nxt, 6_000_000, "刘芳"),
           ("受益学生人数", "人", 20000))
     .step(jyj, "submit").budgeted(this, 3_000_000).monitored(this, aug, 600_000)
     .step(jyj, "respond_to_warning", {"fiscal_year": this, "decision": "reallocate",
                                       "comment": "调整部分资金用于食堂设备"})
     .evaluated(this, 3_000_000, "poor").reviewed(this, "资金使用效益差，限期整改"))  # fmt: skip
    (story(_filing("XX-003", "乡村教师培训补助", "project", "general_public", this, nxt, 2_000_000, "赵磊"),
           ("培训教师人次", "人次", 1500))
     .step(jyj, "submit").budgeted(this, 1_000_000))  # fmt: skip  # the monitoring report is overdue
    (story(_filing("XX-004", "校园安全设施建设", "project", "government_fund", nxt, nxt, 1_200_000, "孙丽"),
           ("安装监控点位", "个", 800))
     .step(jyj, "submit").next_goals(1_200_000, 800)
     .step(FINANCE, "return_goals", {"fiscal_year": nxt, "comment": "指标不够细化量化，请补充时效指标"}))  # fmt: skip
    # 交通运输局
    (story(_filing("JT-001", "农村公路提档升级", "project", "government_fund", this, this + 2, 30_000_000, "周强", major=True),
           ("改造农村公路里程", "公里", 120))
     .step(jtj, "submit")
     .step(jtj, "submit_assessment", {"scores": {"necessity": 18, "economy": 16, "goal_reasonableness": 17,
           "feasibility": 17, "financing_compliance": 18}, "assessor": "third_party", "summary": "项目必要，方案可行"})
     .step(FINANCE, "approve_assessment", {"comment": "同意"})
     .budgeted(this, 10_000_000).monitored(this, aug, 4_500_000))  # fmt: skip
    (story(_filing("JT-002", "城市公交运营补贴", "policy", "general_public", this, nxt, 15_000_000, "吴静"),
           ("公交运营线路", "条", 60))
     .step(jtj, "submit").budgeted(this, 5_000_000).monitored(this, aug, 1_000_000)
     .step(jtj, "respond_to_warning", {"fiscal_year": this, "decision": "continue",
                                       "comment": "下半年集中拨付，继续实施"})
     .next_goals(5_000_000, 62))  # fmt: skip
    (story(_filing("JT-003", "智慧交通平台建设", "project", "state_capital", nxt, nxt + 1, 8_000_000, "郑军"),
           ("接入路口数量", "个", 300))
     .step(jtj, "submit").next_goals(4_000_000, 300))  # fmt: skip
    (story(_filing("JT-005", "农村客运站点维护", "project", "general_public", this - 1, this - 1, 800_000, "马超"),
           ("维护客运站点", "个", 40))
     .carried_over(this - 1, 800_000, 760_000))  # fmt: skip  # its self-evaluation is overdue
    (story(_filing("JT-004", "公共停车设施建设", "project", "general_public", this, nxt, 5_000_000, "冯涛"),
           ("新增停车泊位", "个", 2000))
     .step(jtj, "submit").budgeted(this, 2_500_000)
     .step(FINANCE, "suspend_funding", {"reason": "项目用地未落实，暂缓拨款"}))  # fmt: skip
    # 卫生健康委员会
    (story(_filing("WS-001", "基层医疗机构设备购置", "project", "general_public", this, nxt, 4_000_000, "陈静"),
           ("购置设备台数", "台", 500))
     .step(wjw, "submit").budgeted(this, 2_000_000).monitored(this, oct_, 1_300_000)
     .evaluated(this, 2_000_000, "fair").reviewed(this, "部分设备闲置")
     .step(wjw, "submit_rectification", {"fiscal_year": this, "report": "已调配闲置设备至乡镇卫生院"})
     .step(FINANCE, "accept_rectification", {"fiscal_year": this, "comment": "整改到位"})
     .next_goals(1_800_000, 300))  # fmt: skip
    (story(_filing("WS-002", "城乡居民医保补助", "policy", "social_insurance", this, nxt, 40_000_000, "黄敏"),
           ("参保人数", "万人", 40))
     .step(wjw, "submit").budgeted(this, 20_000_000).monitored(this, aug, 14_000_000)
     .evaluated(this, 20_000_000, "excellent"))  # fmt: skip  # awaits finance's review
    (story(_filing("WS-003", "公共卫生应急物资储备", "project", "general_public", nxt, nxt + 2, 12_000_000, "林峰", major=True),
           ("储备物资品类", "类", 50)))  # fmt: skip  # filed, not submitted yet
    (story(_filing("WS-004", "老年健康服务", "policy", "general_public", this, nxt, 3_000_000, "何雪"),
           ("签约服务老年人数", "人", 30000))
     .step(wjw, "submit").budgeted(this, 1_500_000).monitored(this, oct_, 1_000_000))  # fmt: skip
    return made


def should_seed(settings: Settings) -> bool:
    """A fresh data directory: nobody has been added yet."""
    with Session(engine_for(settings.effective_database_url)) as session:
        users: int = session.execute(select(func.count()).select_from(User)).scalar_one()
        return users == 0


def _principal(username: str) -> Principal:
    role, department = USERS[username]
    return Principal(username=username, role=role, department=department)


def add_people(settings: Settings) -> dict[str, str]:
    """Departments and one user per role; returns each username's generated password."""
    passwords = {name: secrets.token_urlsafe(9) for name in USERS}
    with session_scope(settings) as session:
        for code, name, head in DEPARTMENTS:
            create_department(session=session, code=code, name=name, head=head)
        for username, (role, department) in USERS.items():
            add_user(
                session=session,
                username=username,
                password=passwords[username],
                role=role.value,
                department=department,
            )
    return passwords


async def _cycle_state(settings: Settings, code: str, year: int) -> str | None:
    def read() -> str | None:
        with Session(engine_for(settings.effective_database_url)) as session:
            row = session.get(ProjectRow, code)
            if row is None:
                return None
            cycle = ProjectState.model_validate(row.snapshot).cycle(year)
            return cycle.state if cycle else None

    return await asyncio.to_thread(read)


async def _play(story: Story, settings: Settings, client: Client) -> None:
    code = story.filing["code"]
    department = code[:2]
    clerk = CLERK[{"XX": "JYJ", "JT": "JTJ", "WS": "WJW"}[department]]
    with Session(engine_for(settings.effective_database_url), expire_on_commit=False) as session:
        if story.carried is None:
            await projects.file_project(
                session=session,
                client=client,
                settings=settings,
                principal=_principal(clerk),
                filing=ProjectFiling.model_validate(story.filing),
            )
        else:
            rules = await asyncio.to_thread(rules_in_force, session=session, settings=settings)
            info = ProjectInfo(**story.filing, department=USERS[clerk][1])
            carried = carried_over(
                info, story.carried, source=PREVIOUS_SYSTEM, imported_at=datetime.now(UTC),
                rules=rules,
            )  # fmt: skip
            await projects.carry_over_project(
                session=session,
                client=client,
                settings=settings,
                principal=_principal("admin"),
                state=carried,
            )
    for index, (who, action, body) in enumerate(story.steps):
        if index in story.waits:
            year, state = story.waits[index]
            for _ in range(200):
                if await _cycle_state(settings, code, year) == state:
                    break
                await asyncio.sleep(0.05)
        with Session(
            engine_for(settings.effective_database_url), expire_on_commit=False
        ) as session:
            rules = await asyncio.to_thread(rules_in_force, session=session, settings=settings)
            try:
                await projects.take_action(
                    session=session,
                    client=client,
                    principal=_principal(who),
                    code=code,
                    action=action,
                    body=body,
                    idempotency_key=f"demo-{code}-{index}",
                    rules=rules,
                )
            except Problem as problem:
                # A demo step the rules refuse is a bug of this script, not of the user's
                # data: say which, and go on with the other projects.
                log.warning("demo_step_refused", project_code=code, action=action,
                            detail=problem.detail, unmet=problem.extra.get("unmet"))  # fmt: skip
                return


async def seed(
    settings: Settings, client: Client, *, say: Callable[[str], None] = print
) -> dict[str, str]:
    """Add the demo district and drive its projects; returns the passwords it generated."""
    passwords = await asyncio.to_thread(add_people, settings)
    today = datetime.now(UTC).date()
    played = await asyncio.gather(
        *(_play(s, settings, client) for s in stories(today)), return_exceptions=True
    )
    for story, outcome in zip(stories(today), played, strict=True):
        if isinstance(outcome, BaseException):
            # The users exist already: their passwords must still be printed below.
            log.error("demo_project_failed", project_code=story.filing["code"], exc_info=outcome)
    departments = department_stories(
        {code: _principal(username) for code, username in CLERK.items()}, _principal(FINANCE)
    )
    opened = await asyncio.gather(
        *(play_department_year(s, today.year, settings, client) for s in departments),
        return_exceptions=True,
    )
    for year_story, outcome in zip(departments, opened, strict=True):
        if isinstance(outcome, BaseException):
            log.error("demo_department_failed", department=year_story.department, exc_info=outcome)
    say("Demo district seeded (PERFBUDGET_DEMO=0 to start empty). Sign in at /login with:")
    for username, (role, department) in USERS.items():
        where = f" {department}" if department else ""
        say(f"  {username:<10} {passwords[username]:<14} {role.value}{where}")
    say("These passwords are shown only now.")
    return passwords
