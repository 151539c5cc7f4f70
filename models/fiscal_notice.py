"""The zone's fiscal-year calls, fanned out by `FiscalYearWorkflow` to every open project and
department workflow (signal `fiscal_notice`).

A contract shared by three workflows, so it lives apart from any of them: the sender
(`workflows.fiscal_year`) and the receivers (`workflows.project`, `workflows.department`) import
only this module.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

FISCAL_NOTICE_SIGNAL = "fiscal_notice"


class FiscalPhase(StrEnum):
    BUDGET_PREPARATION = "budget_preparation"  # 启动下一年度预算编制（事前评估、绩效目标）
    MID_YEAR_MONITORING = "mid_year_monitoring"  # 部署年中绩效运行监控
    YEAR_CLOSE = "year_close"  # 年度结束（决算）
    SELF_EVALUATION = "self_evaluation"  # 部署上一年度绩效自评
    DISCLOSURE = "disclosure"  # 绩效信息公开


PHASE_ZH: dict[FiscalPhase, str] = {
    FiscalPhase.BUDGET_PREPARATION: "启动预算编制",
    FiscalPhase.MID_YEAR_MONITORING: "部署年中绩效监控",
    FiscalPhase.YEAR_CLOSE: "年度结束",
    FiscalPhase.SELF_EVALUATION: "部署绩效自评",
    FiscalPhase.DISCLOSURE: "绩效信息公开",
}


class FiscalNotice(BaseModel):
    """One call of the zone's fiscal year: which phase, for which fiscal year, issued when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: FiscalPhase
    fiscal_year: int  # the year the call is about (budget preparation for N is issued in N−1)
    issued_at: datetime
