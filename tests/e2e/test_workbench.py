"""A fiscal year in the browser: a department clerk and a finance officer take a project through
it in the workbench, and an operator finds the project's workflow in the Temporal UI.

Screenshots of each main page land in var/artifacts/e2e/.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook

from models.guards import GUARDS
from service import excel
from tests import department_factories as df
from tests.e2e.conftest import DEPARTMENT_NAME, PASSWORD, Stack
from tests.support.browser import ARTIFACTS

CODE = "E2E-1"
NAME = "道路改造试点"


def _today() -> date:
    # Business time: China Standard Time, as the rules' default zone.
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# What the browser refused under the workbench's Content Security Policy, on any page a test
# signed in to (`service.security_headers`): a page that needs more than the policy allows
# would lose that part silently in production.
_REFUSED: list[str] = []


@pytest.fixture(autouse=True)
def _nothing_refused_by_the_policy() -> Iterator[None]:
    _REFUSED.clear()
    yield
    assert not _REFUSED, _REFUSED


def _note_refusal(message: Any) -> None:
    if "Content Security Policy" in message.text:
        _REFUSED.append(message.text)


async def _sign_in(browser: Any, stack: Stack, username: str) -> Any:
    context = await browser.new_context(
        base_url=stack.base_url, viewport={"width": 1366, "height": 900}
    )
    page = await context.new_page()
    page.on("console", _note_refusal)
    await page.goto("/")  # no session yet: sent to the sign-in page
    assert "/login" in page.url
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.get_by_role("button", name="登录", exact=True).click()
    await page.wait_for_url(f"{stack.base_url}/")
    return page


async def _act(
    page: Any, action: str, year: int | None = None, fields: dict[str, str] | None = None
) -> None:
    """Open the form of `action` (for `year`), fill it, send it and wait for the answer."""
    selector = f'details[data-action="{action}"][data-year="{year or ""}"]'
    box = page.locator(selector)
    await box.locator("summary").click()
    for name, value in (fields or {}).items():
        field = box.locator(f'[name="{name}"]').first
        if await field.evaluate("e => e.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    async with page.expect_navigation():
        await box.locator("form").first.locator('button[type="submit"]').click()


async def _current_states(page: Any) -> list[str]:
    return [t.strip() for t in await page.locator(".strip li.current").all_inner_texts()]


async def _wait_for_state(page: Any, state: str) -> None:
    """The workflow starts a budgeted year by itself: reload until the page shows it."""
    for _ in range(50):
        if state in await _current_states(page):
            return
        await asyncio.sleep(0.2)
        await page.reload()
    raise AssertionError(f"{state} never shown; current: {await _current_states(page)}")


def _goals_sheet(amount: Any, rows: list[tuple[Any, ...]]) -> bytes:
    book = load_workbook(io.BytesIO(excel.goals_template(example=False)))
    sheet = book[excel.GOALS_SHEET]
    sheet[excel.AMOUNT_CELL] = amount
    for offset, row in enumerate(rows):
        for column, value in enumerate(row, start=1):
            sheet.cell(row=excel.FIRST_ROW + offset, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _import_goals(page: Any, year: int, data: bytes) -> None:
    box = page.locator(f'details[data-action="submit_goals"][data-year="{year}"]')
    if not await box.evaluate("e => e.open"):
        await box.locator("summary").click()
    upload = box.locator('input[type="file"]')
    await upload.set_input_files({"name": "goals.xlsx", "mimeType": excel.XLSX, "buffer": data})
    async with page.expect_navigation():
        await box.get_by_role("button", name="导入并申报").click()


async def test_a_year_in_the_workbench(browser: Any, stack: Stack) -> None:
    """Clerk files and reports, finance approves and reviews; each sees what is theirs; a guard's
    refusal reads in Chinese; the self-evaluation sheet and the report come out at the end."""
    year = _today().year
    clerk = await _sign_in(browser, stack, "clerk")
    await _shot(clerk, "dashboard-department-empty")
    assert "部门、单位" in await clerk.locator("h1").inner_text()
    assert DEPARTMENT_NAME in await clerk.locator("h1").inner_text()  # its name, not "D1"
    assert await clerk.get_by_role("heading", name="待办事项（按紧迫程度排序）").is_visible()

    # Filing, then submitting: a project that is not major goes straight to 实施中.
    await clerk.get_by_role("link", name="申报新项目").click()
    for field, value in {"#f-code": CODE, "#f-name": NAME, "#f-start": str(year),
                         "#f-end": str(year), "#f-total": "2000000", "#f-owner": "张三"}.items():  # fmt: skip
        await clerk.fill(field, value)
    async with clerk.expect_navigation():
        await clerk.get_by_role("button", name="申报", exact=True).click()
    assert clerk.url.endswith(f"/projects/{CODE}")
    assert await _current_states(clerk) == ["已申报"]
    await _act(clerk, "submit")
    assert "实施中" in await _current_states(clerk)

    # A guard refuses goals asking more than the project's total; the reason reads in Chinese
    # and the form keeps what was typed.
    await _act(clerk, "submit_goals", year, {
        "requested_amount": "9999999",
        "ind_0_code": "O1", "ind_0_level1": "output", "ind_0_level2": "quantity",
        "ind_0_name": "改造道路里程", "ind_0_operator": ">=", "ind_0_target": "100",
        "ind_0_unit": "公里", "ind_0_weight": "1",
        "ind_1_code": "E1", "ind_1_level1": "effect", "ind_1_level2": "social",
        "ind_1_name": "通行时间缩短", "ind_1_operator": ">=", "ind_1_target": "100",
        "ind_1_unit": "%", "ind_1_weight": "1",
    })  # fmt: skip
    refusal = await clerk.locator("#refusal").inner_text()
    assert GUARDS["request_within_total"].message_zh in refusal
    assert "申报绩效目标" in refusal
    assert await clerk.locator('[name="ind_1_name"]').input_value() == "通行时间缩短"
    await _shot(clerk, "project-refusal")

    # Goals from an Excel 绩效目标申报表: a wrong cell is named by row and column first.
    wrong = _goals_sheet(
        1000000, [("O1", "产出指标", "社会效益指标", "改造道路里程", "≥", 100, "公里", 1)]
    )
    await _import_goals(clerk, year, wrong)
    assert "第 6 行" in await clerk.locator("#refusal").inner_text()
    good = _goals_sheet(1000000, [
        ("O1", "产出指标", "数量指标", "改造道路里程", "≥", 100, "公里", 1),
        ("E1", "效益指标", "社会效益指标", "通行时间缩短", "≥", 100, "%", 1),
    ])  # fmt: skip
    await _import_goals(clerk, year, good)
    assert "已执行：申报绩效目标" in await clerk.locator("[role=status]").inner_text()
    assert "绩效目标待审核" in await _current_states(clerk)
    # Only finance may approve: the clerk is offered no such form.
    assert await clerk.locator('details[data-action="approve_goals"]').count() == 0

    # Finance sees every department's projects, filters, and approves goals and budget.
    finance = await _sign_in(browser, stack, "fin")
    assert "区财政部门" in await finance.locator("h1").inner_text()
    await finance.select_option("#q-dept", "D1")
    async with finance.expect_navigation():
        await finance.get_by_role("button", name="筛选").click()
    await _shot(finance, "dashboard-finance")
    assert await finance.get_by_role("link", name=CODE, exact=True).is_visible()
    listed = finance.locator("tr", has=finance.get_by_role("link", name=CODE, exact=True))
    assert DEPARTMENT_NAME in await listed.first.inner_text()
    await finance.get_by_role("link", name=CODE, exact=True).click()
    await _act(finance, "approve_goals", year)
    await _act(finance, "approve_budget", year)  # the amount defaults to the request
    await _wait_for_state(finance, "预算执行")

    # The clerk's to-do list now holds the monitoring report; the clerk files it.
    await clerk.goto("/")
    assert "报送年中绩效监控" in await clerk.locator("#todo-h + table").inner_text()
    await clerk.get_by_role("link", name=f"{CODE} {NAME}").first.click()
    await _act(clerk, "report_monitoring", year, {
        "period_end": _today().isoformat(), "executed_amount": "100000", "progress_O1": "10",
    })  # fmt: skip
    assert "已执行：报送绩效监控" in await clerk.locator("[role=status]").inner_text()
    if _today() >= date(year, 4, 30):  # the first threshold (25 % by end-April) has passed
        assert await clerk.locator("h1 .badge.red").is_visible()
        # The warning's reason reads in Chinese (stored in English in the history).
        monitoring = await clerk.locator(f"#year-{year}").inner_text()
        assert "预算执行率" in monitoring
        assert "expected by" not in monitoring
        await finance.goto("/")
        assert await finance.locator('a[href="/?warning=red"] strong').inner_text() == "1"

    # Finance closes the year early; the clerk self-evaluates; finance reviews: 良, done.
    await finance.goto(f"/projects/{CODE}")
    await _act(finance, "close_year", year)
    await clerk.reload()
    await _act(clerk, "submit_self_evaluation", year,
               {"executed_amount": "1000000", "actual_O1": "100", "actual_E1": "60"})  # fmt: skip
    await finance.reload()
    await _act(finance, "review_self_evaluation", year, {"comment": "目标基本完成"})
    await _wait_for_state(finance, "已完成")
    assert "良" in await finance.locator(f"#year-{year}").inner_text()
    await _shot(finance, "project-finance")

    # The 绩效自评表 and the evaluation report (page and PDF).
    await clerk.reload()
    async with clerk.expect_download() as download_info:
        await clerk.get_by_role("link", name="导出绩效自评表").click()
    download = await download_info.value
    data = await asyncio.to_thread(Path(await download.path()).read_bytes)
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert "绩效自评表" in str(sheet["A1"].value)
    assert 84.0 in [c.value for row in sheet.iter_rows() for c in row]
    async with clerk.expect_navigation():  # read the report, not the page being left
        await clerk.get_by_role("link", name="绩效评价报告").click()
    headings = await clerk.locator("article h2").all_inner_texts()
    assert [h[:2] for h in headings] == ["一、", "二、", "三、", "四、", "五、", "六、"]
    assert "等级为“良”" in await clerk.locator("article").inner_text()
    await _shot(clerk, "report")
    pdf = await clerk.context.request.get(f"/projects/{CODE}/report/{year}.pdf")
    assert pdf.status == 200
    assert (await pdf.body()).startswith(b"%PDF")

    # Finance's dashboard draws the grade distribution; English is one click away.
    await finance.goto("/")
    assert await finance.locator('svg[aria-label="评价等级分布（按部门、年度）"]').is_visible()
    async with finance.expect_navigation():
        await finance.get_by_role("link", name="English").click()
    assert "Dashboard" in await finance.locator("h1").inner_text()
    assert await finance.get_by_role("heading", name="Grades by department and year").is_visible()

    # Another department's clerk does not even learn that the project exists.
    other = await _sign_in(browser, stack, "clerk2")
    response = await other.goto(f"/projects/{CODE}")
    assert response is not None
    assert response.status == 404
    assert "找不到该项目" in await other.locator("[role=alert]").inner_text()
    for page in (clerk, finance, other):
        await page.context.close()


async def test_filing_a_ppp_project_with_its_payment_table(browser: Any, stack: Stack) -> None:
    """The filing form offers the special kinds: a PPP project without its payment table is
    refused naming the field, and files once the bands are given."""
    year = _today().year
    clerk = await _sign_in(browser, stack, "clerk")
    await clerk.get_by_role("link", name="申报新项目").click()
    for field, value in {"#f-code": "E2E-PPP", "#f-name": "污水处理厂PPP", "#f-start": str(year),
                         "#f-end": str(year), "#f-total": "5000000", "#f-owner": "张三"}.items():  # fmt: skip
        await clerk.fill(field, value)
    await clerk.select_option("#f-kind", "ppp")
    async with clerk.expect_navigation():
        await clerk.get_by_role("button", name="申报", exact=True).click()
    assert "payment_table" in await clerk.locator("[role=alert]").inner_text()
    for name, value in {"band_0_low": "0", "band_0_high": "60", "band_0_pct": "0",
                        "band_1_low": "60", "band_1_high": "100", "band_1_pct": "100"}.items():  # fmt: skip
        await clerk.fill(f'[name="{name}"]', value)
    async with clerk.expect_navigation():
        await clerk.get_by_role("button", name="申报", exact=True).click()
    assert clerk.url.endswith("/projects/E2E-PPP")
    assert await _current_states(clerk) == ["已申报"]
    await clerk.context.close()


async def test_the_sign_in_page(browser: Any, stack: Stack) -> None:
    """A wrong password is refused in Chinese; the session cookie is HttpOnly and SameSite."""
    context = await browser.new_context(base_url=stack.base_url)
    page = await context.new_page()
    await page.goto("/login")
    await _shot(page, "login")
    await page.fill("#username", "clerk")
    await page.fill("#password", "wrong-password")
    await page.get_by_role("button", name="登录", exact=True).click()
    assert "用户名或密码错误" in await page.locator("[role=alert]").inner_text()
    await page.fill("#username", "clerk")
    await page.fill("#password", PASSWORD)
    async with page.expect_navigation():
        await page.get_by_role("button", name="登录", exact=True).click()
    (cookie,) = [c for c in await context.cookies() if c["name"] == "pb_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    await context.close()


async def test_the_temporal_ui_shows_summary_and_search_attributes(
    browser: Any, stack: Stack
) -> None:
    """An operator finds a project's workflow by its id and reads its summary and attributes."""
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        token = (
            await http.post("/api/auth/token", data={"username": "clerk", "password": PASSWORD})
        ).json()
        year = _today().year + 1
        filing = {"code": "UI-1", "name": "界面可见项目", "kind": "policy", "budget_type": "government_fund",
                  "start_year": year, "end_year": year, "total_amount": 500000, "major": False, "owner": "李四"}  # fmt: skip
        filed = await http.post("/api/projects", json=filing,
                                headers={"Authorization": f"Bearer {token['access_token']}"})  # fmt: skip
        assert filed.status_code == 201, filed.text
    context = await browser.new_context(viewport={"width": 1366, "height": 1000})
    page = await context.new_page()
    await page.goto(
        f"{stack.ui_url}/namespaces/default/workflows?query=WorkflowId%3D%22project-UI-1%22"
    )
    await page.locator('a[href*="/workflows/project-UI-1/"]').first.click()
    await page.get_by_role("tab", name="User Metadata").click()
    summary = ""
    for _ in range(50):  # the summary is rendered in frames, a moment after the tab opens
        summary = " ".join([await f.inner_text("body") for f in page.frames[1:]])
        if "UI-1 界面可见项目" in summary:
            break
        await asyncio.sleep(0.2)
    assert "UI-1 界面可见项目" in summary
    await _shot(page, "temporal-ui-summary")
    await page.get_by_role("tab", name="Search Attributes").click()
    attributes = page.locator("main")
    for expected in (
        '"ProjectCode": "UI-1"',
        '"Department": "D1"',
        '"BudgetType": "government_fund"',
    ):
        await attributes.get_by_text(re.compile(re.escape(expected))).first.wait_for()
    await _shot(page, "temporal-ui-search-attributes")
    await context.close()


async def test_a_department_year_in_the_workbench(browser: Any, stack: Stack) -> None:
    """The clerk opens the department's year from the dashboard's link and submits its overall
    goals (部门整体绩效目标) through the page; the year moves on and shows the six dimensions."""
    clerk = await _sign_in(browser, stack, "clerk")
    await clerk.get_by_role("link", name="部门整体绩效").click()
    await clerk.wait_for_url(re.compile(r"/departments$"))
    async with clerk.expect_navigation():
        await clerk.get_by_role("button", name=re.compile(r"^开启 \d{4} 年度$")).click()
    assert re.search(r"/departments/[^/]+/years/\d{4}$", clerk.url), clerk.url
    assert await _current_states(clerk) == ["整体绩效目标编制"]
    assert await clerk.locator("#control-lines tbody tr").count() >= 1
    box = clerk.locator('details[data-action="submit_goals"]')
    await box.locator("summary").click()
    # The overall goals are typed into the table, one indicator per row, as a clerk would.
    for name, value in df.goals_form().items():
        field = box.locator(f'[name="{name}"]')
        if name.endswith(("_dimension", "_operator")):
            await field.select_option(value)
        else:
            await field.fill(value)
    await _shot(clerk, "department-year-goals-form")
    async with clerk.expect_navigation():
        await box.locator('button[type="submit"]').click()
    assert await _current_states(clerk) == ["整体绩效目标待审核"]
    assert await clerk.locator("text=服务对象满意度").count() >= 1
    await _shot(clerk, "department-year")
    await clerk.context.close()
