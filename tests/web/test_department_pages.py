"""Department-year pages (部门整体绩效) on the real stack: dev server, worker, workbench."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import httpx

from service.web.session import CSRF_FIELD, SESSION_COOKIE, csrf_for
from tests import department_factories as df
from tests.api.conftest import Api
from tests.api.test_department_years_api import _department, _project
from tests.security.conftest import _capture_notifications, api, database_url

__all__ = ["_capture_notifications", "api", "database_url"]

CST = timezone(timedelta(hours=8))


def _cookie(api: Api, user: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={api.tokens[user]}"}


async def _page(api: Api, user: str, path: str) -> httpx.Response:
    return await api.http.get(path, headers=_cookie(api, user))


async def _post(api: Api, user: str, path: str, fields: dict[str, str]) -> httpx.Response:
    data = {CSRF_FIELD: csrf_for(api.tokens[user], api.settings), **fields}
    return await api.http.post(path, data=data, headers=_cookie(api, user))


def _current_step(page: str) -> str:
    found = re.search(r'aria-current="step">([^<]+)<', page)
    assert found is not None, page
    return found[1]


async def test_department_year_page_actions_and_visibility(api: Api) -> None:
    """The clerk opens next year from the list; finance and the clerk see its control number
    line by line (as the API explains it), another department gets a 404 page; a refused
    action shows the unmet guard in Chinese and changes nothing; goals submitted through the
    form move the year on."""
    department, clerk = await _department(api)
    this_year = datetime.now(UTC).astimezone(CST).year
    next_year = this_year + 1
    base = await _project(api, clerk, this_year, 1_000_000)
    approved = await api.act(
        base, "approve_budget", "fin", {"fiscal_year": this_year, "amount": 1_000_000}
    )
    assert approved.status_code == 200, approved.text

    listing = await _page(api, clerk, "/departments")
    assert listing.status_code == 200
    assert f"开启 {this_year} 年度" in listing.text  # no year yet: the current one is offered
    opened = await _post(
        api, clerk, f"/departments/{department}/years", {"fiscal_year": str(next_year)}
    )
    assert opened.status_code == 303, opened.text
    path = f"/departments/{department}/years/{next_year}"
    assert opened.headers["location"] == path

    explained = await api.get(f"/api/departments/{department}/control-numbers/{next_year}", "fin")
    lines = explained.json()["control_number"]["lines"]
    assert [line["kind"] for line in lines] == ["base", "grade_adjustment", "result"]
    for user in ("fin", clerk):
        page = await _page(api, user, path)
        assert page.status_code == 200, page.text
        assert _current_step(page.text) == "整体绩效目标编制"
        shown = re.findall(r'<tr data-kind="(\w+)"><td>([^<]+)</td>', page.text)
        assert shown == [(line["kind"], line["text_zh"]) for line in lines]
        assert "1,000,000.00" in page.text
    other = await _page(api, "clerk2", path)
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("text/html")
    assert "找不到该部门或年度" in other.text
    assert 'id="control-lines"' not in other.text
    assert "整体绩效目标编制" not in other.text
    finance_list = await _page(api, "fin", "/departments")
    assert f'href="{path}"' in finance_list.text
    assert 'id="ranking"' in finance_list.text
    assert 'id="ranking"' not in listing.text  # the assessment is not the department's

    refused = await _post(api, "fin", f"{path}/actions/approve_goals", {"comment": "同意"})
    assert refused.status_code == 409, refused.text
    assert 'id="refusal"' in refused.text
    assert "当前状态（整体绩效目标编制）不允许此操作" in refused.text
    assert _current_step(refused.text) == "整体绩效目标编制"

    page = await _page(api, clerk, path)
    assert 'data-action="submit_goals"' in page.text  # the form the clerk may use now
    assert 'name="payload_json"' not in page.text  # a table to fill in, not JSON to type
    assert 'name="ind_0_dimension"' in page.text
    submitted = await _post(api, clerk, f"{path}/actions/submit_goals", df.goals_form())
    assert submitted.status_code == 303, submitted.text
    assert submitted.headers["location"] == f"{path}?done=submit_goals"
    after = await _page(api, clerk, submitted.headers["location"])
    assert _current_step(after.text) == "整体绩效目标待审核"
    assert "指标 SA1" in after.text
    assert "服务对象满意度" in after.text
    assert 'data-action="submit_goals"' not in after.text
    api_view = await api.get(f"/api/departments/{department}/years/{next_year}", "fin")
    assert api_view.json()["state"] == "goals_submitted"
