"""The execution charts colour a bar by the warning the monitoring rules gave, not by a rule of
their own: a project warned yellow is never drawn red beside a list that says yellow, and a
year whose results are applied is drawn as settled, as the list no longer counts its warning."""

from __future__ import annotations

import re

from sqlmodel import Session

from models.project_state import ProjectState
from models.vocabulary import WarningLevel
from service.projection import apply_snapshot
from service.web.charts import GREY, RED, SETTLED, WARNING_COLOURS, YELLOW
from tests.models.test_lifecycle import Driver
from tests.security.conftest import LightApp
from tests.web.conftest import light_app
from tests.web.test_reasons_on_the_project_page import _sign_in

__all__ = ["light_app"]


def _bars(page: str) -> list[tuple[str, str]]:
    """(fill, data-warning) of every bar drawn in the page's execution charts."""
    return re.findall(r'fill="(#[0-9a-f]{6})" data-warning="(\w+)"', page)


def _reported(code: str, executed: int) -> ProjectState:
    """A project funded 1,000,000 for 2027 that reports `executed` by 31 August."""
    d = Driver()
    d.do("submit")
    d.fund_year(2027)
    d.at(2027, 9, 5)
    d.do(
        "report_monitoring",
        {"fiscal_year": 2027, "period_end": "2027-08-31", "executed_amount": executed},
    )
    return d.state.model_copy(update={"info": d.state.info.model_copy(update={"code": code})})


async def test_bars_take_the_warning_the_rules_gave(light_app: LightApp) -> None:
    # 45 % by 31 August: 15 points under the 60 % checkpoint, yellow by the rules (red from 20
    # points). The year is two-thirds gone (66.6 %): 21.6 points behind time progress, which
    # the charts' old rule of their own drew red. 30 %: 30 points under, red.
    yellow, red = _reported("CH-Y", 450_000), _reported("CH-R", 300_000)
    for project, level in ((yellow, WarningLevel.YELLOW), (red, WarningLevel.RED)):
        cycle = project.cycle(2027)
        assert cycle is not None
        assert cycle.warning is level
    # The red year again, its results applied since: its warning is history, as in the list.
    settled = _reported("CH-S", 300_000)
    settled.cycles[0].state = "results_applied"
    assert settled.warning is WarningLevel.NONE
    async with light_app() as (app, http):
        with Session(app.state.engine) as session:
            for p in (yellow, red, settled):
                apply_snapshot(session, project=p, seq=p.seq, entries=p.history, notify=False)
        await _sign_in(http, "fin")
        pages = {
            p.info.code: (await http.get(f"/projects/{p.info.code}")).text for p in (yellow, red)
        }
        dashboard = (await http.get("/", params={"fiscal_year": "2027"})).text

    assert _bars(pages["CH-Y"]) == [(YELLOW, "yellow")]
    assert _bars(pages["CH-R"]) == [(RED, "red")]
    # In code order: CH-R, CH-S, CH-Y.
    assert _bars(dashboard) == [(RED, "red"), (GREY, SETTLED), (YELLOW, "yellow")]
    legend = re.search(r'<svg class="chart".*?</svg>', dashboard, re.S)
    assert legend is not None
    for colour_of, name in (("yellow", "黄色预警"), ("red", "红色预警"), (SETTLED, "结果已应用")):
        assert f'fill="{WARNING_COLOURS[colour_of]}"/><text' in legend[0]
        assert name in legend[0]
    # A chart without settled years has no legend entry for them.
    chart = re.search(r'<svg class="chart".*?</svg>', pages["CH-R"], re.S)
    assert chart is not None
    assert "结果已应用" not in chart[0]
