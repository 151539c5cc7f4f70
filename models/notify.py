"""Who hears of an event: audiences named by role, resolved to people through the directory.

The workflow only says *which desk* must hear of an event (a department's staff, its head, the
project owner, the finance bureau, leadership); `service.notifications` turns an audience into
addresses from the recipient directory in the database, so no address lives in code.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Desk(StrEnum):
    DEPARTMENT = "department"  # the department's staff (部门、单位)
    DEPARTMENT_HEAD = "department_head"  # 部门主要负责人
    PROJECT_OWNER = "project_owner"  # 项目责任人
    FINANCE = "finance"  # 区财政部门
    LEADERSHIP = "leadership"  # 区工委、管委会
    DISCIPLINE = "discipline"  # 审计、纪检监察


class Audience(BaseModel):
    """A desk, narrowed to one department where the desk is per department."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    desk: Desk
    department: str | None = None


class EventKind(StrEnum):
    """The kinds of history entries that are not a person's action (timeline `type`)."""

    REMINDER = "reminder"  # 提醒
    OVERDUE = "overdue"  # 逾期
    ESCALATION = "escalation"  # 升级
    ACCOUNTABILITY = "accountability"  # 问责
    WARNING = "warning"  # 预警
    FLAG = "flag"  # 标记（如列入重点评价）
    FISCAL_NOTICE = "fiscal_notice"  # 全区财年通知（启动预算编制、部署监控、自评、公开）
