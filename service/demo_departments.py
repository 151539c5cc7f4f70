"""The demo district's department years (部门整体绩效), one per department for this year, at
three stages: 区教育局's overall goals approved, 区卫生健康委员会's waiting for finance's
review (on finance's to-do list), 区交通运输局's still being drafted.

Opened after the projects' stories, through the real API functions and hence the real
department-year workflows, as `service.demo` drives the projects.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import structlog
from sqlmodel import Session
from temporalio.client import Client

from service import department_years
from service.auth import Principal
from service.calendar import rules_in_force
from service.db import engine_for
from service.problems import Problem
from service.settings import Settings

log = structlog.get_logger(__name__)

# (code, dimension, name, operator, target, unit, weight): one per dimension, weights total
# 100; the social effect is each department's own.
_COMMON = (
    ("C1", "operating_cost", "“三公”经费压减完成率", ">=", 100, "%", 10),
    ("M1", "management_efficiency", "部门预算执行率", ">=", 95, "%", 10),
    ("D1", "duty_performance", "年度重点工作任务完成率", ">=", 100, "%", 20),
    ("SU1", "sustainability", "绩效管理制度健全率", ">=", 100, "%", 20),
    ("SA1", "satisfaction", "服务对象满意度", ">=", 90, "%", 20),
)
_SOCIAL_EFFECT = {
    "JYJ": "义务教育巩固率",
    "JTJ": "农村客运通达率",
    "WJW": "居民电子健康档案建档率",
}


def overall_goals(department: str) -> dict[str, Any]:
    rows = [*_COMMON[:3], ("S1", "social_effect", _SOCIAL_EFFECT[department], ">=", 95, "%", 20)]
    rows += _COMMON[3:]
    return {
        "indicators": [
            {
                "code": code,
                "dimension": dimension,
                "name": name,
                "operator": operator,
                "target": target,
                "unit": unit,
                "weight": weight,
            }
            for code, dimension, name, operator, target, unit, weight in rows
        ]
    }


@dataclass(frozen=True)
class DepartmentStory:
    department: str
    clerk: Principal
    steps: list[tuple[Principal, str, dict[str, Any]]]


def department_stories(clerks: dict[str, Principal], finance: Principal) -> list[DepartmentStory]:
    def goals(code: str) -> tuple[Principal, str, dict[str, Any]]:
        return clerks[code], "submit_goals", overall_goals(code)

    return [
        DepartmentStory(
            "JYJ",
            clerks["JYJ"],
            [goals("JYJ"), (finance, "approve_goals", {"comment": "整体绩效目标合理，予以批复"})],
        ),
        DepartmentStory("WJW", clerks["WJW"], [goals("WJW")]),
        DepartmentStory("JTJ", clerks["JTJ"], []),
    ]


async def play_department_year(
    story: DepartmentStory, year: int, settings: Settings, client: Client
) -> None:
    """Open the department's `year` and take its steps; a refused step is logged, not raised."""
    code = story.department
    engine = engine_for(settings.effective_database_url)
    with Session(engine, expire_on_commit=False) as session:
        rules = await asyncio.to_thread(rules_in_force, session=session, settings=settings)
        await department_years.open_year(
            session=session,
            client=client,
            settings=settings,
            principal=story.clerk,
            code=code,
            fiscal_year=year,
            rules=rules,
        )
    for index, (who, action, body) in enumerate(story.steps):
        with Session(engine, expire_on_commit=False) as session:
            rules = await asyncio.to_thread(rules_in_force, session=session, settings=settings)
            try:
                await department_years.take_department_action(
                    session=session,
                    client=client,
                    principal=who,
                    code=code,
                    fiscal_year=year,
                    action=action,
                    body=body,
                    idempotency_key=f"demo-{code}-{year}-{index}",
                    rules=rules,
                )
            except Problem as problem:
                log.warning("demo_step_refused", department=code, action=action,
                            detail=problem.detail, unmet=problem.extra.get("unmet"))  # fmt: skip
                return
