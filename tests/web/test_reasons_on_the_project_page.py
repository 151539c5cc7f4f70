"""The project page shows the rules' reasons (stored in English in the history) in Chinese:
why the funds were suspended, why someone answers (问责)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from sqlmodel import Session

from models.project_state import AccountabilityRecord
from service.projection import apply_snapshot
from tests.api.conftest import PASSWORD
from tests.models.test_lifecycle import Driver
from tests.security.conftest import LightApp
from tests.web.conftest import light_app

__all__ = ["light_app"]


async def _sign_in(http: httpx.AsyncClient, username: str) -> None:
    page = await http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    signed_in = await http.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token[1], "next": "/"},
    )
    assert signed_in.status_code == 303, signed_in.text


async def test_suspension_and_accountability_reasons_read_in_chinese(light_app: LightApp) -> None:
    d = Driver()
    d.do("submit")
    d.fund_year(2027)
    at = datetime(2027, 8, 14, tzinfo=UTC)
    suspended = d.state.model_copy(
        update={
            "state": "suspended",
            "suspended_reason": "red warning of 2027 not answered by 2027-08-13",
            "accountability": [
                AccountabilityRecord(
                    at=at,
                    fiscal_year=2027,
                    subject="department_head:D1",
                    reason="monitoring 30 days overdue",
                    lifelong=False,
                )
            ],
            "history": [],
        }
    )
    async with light_app() as (app, http):
        with Session(app.state.engine) as session:
            apply_snapshot(
                session, project=suspended, seq=d.state.seq, entries=d.state.history, notify=False
            )
        await _sign_in(http, "fin")
        page = await http.get(f"/projects/{suspended.info.code}")
    assert page.status_code == 200
    assert "2027年度红色预警未在2027-08-13前答复" in page.text
    assert "报送年中绩效监控逾期30天" in page.text
    assert "not answered" not in page.text
    assert "days overdue" not in page.text
