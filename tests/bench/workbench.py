"""Workbench pages with 10,000 projects on SQLite: `python -m tests.bench.workbench`.

Fills a throwaway database with 10,000 projects (20 departments, one evaluated year each, an
overdue notice on every seventh) and times the pages a finance officer and a department clerk
open most, through the ASGI app (no Temporal needed: pages read the read model only).
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
from sqlmodel import Session
from temporalio.client import Client

from models.tables import CycleRow, HistoryRow, ProjectRow
from models.vocabulary import Grade
from service.app import create_app
from service.db import init_db, session_scope
from service.settings import Settings
from service.users import add_user
from tests import factories as f
from tests.models.test_lifecycle import Driver
from tests.service.conftest import FakeTemporalClient

PROJECTS = 10_000
PASSWORD = "correct-horse-battery"


def _snapshot() -> dict[str, Any]:
    d = Driver(start=2026, end=2027, now=datetime(2026, 1, 10, tzinfo=UTC))
    d.do("submit")
    d.fund_year(2026)
    d.at(2026, 9, 1)
    d.do("report_monitoring", {"fiscal_year": 2026, "period_end": "2026-08-31",
                               "executed_amount": 300000, "progress": []})  # fmt: skip
    d.do("close_year", {"fiscal_year": 2026})
    d.do("submit_self_evaluation", f.self_evaluation(2026, Grade.FAIR))
    d.do("review_self_evaluation", {"fiscal_year": 2026})
    return d.state.model_dump(mode="json", exclude={"history"})


def fill(settings: Settings) -> None:
    engine = init_db(settings)
    snapshot, now, pick = _snapshot(), datetime.now(UTC), random.Random(7).choice
    projects, cycles = [], []
    for i in range(PROJECTS):
        code, department = f"P{i:05d}", f"D{i % 20}"
        info = {**snapshot["info"], "code": code, "department": department}
        projects.append({
            "code": code, "name": f"项目{i}", "kind": "project", "budget_type": "general_public",
            "department": department, "major": False, "owner": "张三", "start_year": 2026,
            "end_year": 2027, "total_amount": 10_000_000, "exit_proposed": False, "seq": 10,
            "state": pick(["active", "active", "suspended", "filed"]),
            "warning": pick(["none", "none", "yellow", "red"]),
            "grade": pick([None, "excellent", "good", "fair", "poor"]),
            "updated_at": now, "snapshot": {**snapshot, "info": info},
        })  # fmt: skip
        cycles.append({
            "code": code, "fiscal_year": 2026, "requested_amount": 1_000_000,
            "state": pick(["executing", "rectifying", "results_applied"]),
            "approved_amount": 1_000_000, "executed_amount": (i * 7919) % 1_000_000,
            "warning": "none", "score": 70, "grade": pick(["excellent", "good", "fair", "poor"]),
        })  # fmt: skip
    overdue = [
        {"code": f"P{i:05d}", "seq": 1, "at": now, "actor": "system", "role": "system",
         "action": "overdue", "fiscal_year": 2026, "from_state": "", "to_state": "",
         "detail": {}, "prev_hash": "", "hash": ""}
        for i in range(0, PROJECTS, 7)
    ]  # fmt: skip
    with Session(engine) as session:
        session.execute(ProjectRow.__table__.insert(), projects)  # type: ignore[attr-defined]
        session.execute(CycleRow.__table__.insert(), cycles)  # type: ignore[attr-defined]
        session.execute(HistoryRow.__table__.insert(), overdue)  # type: ignore[attr-defined]
        session.commit()
    with session_scope(settings) as session:
        add_user(session=session, username="fin", password=PASSWORD, role="finance")
        add_user(session=session, username="clerk", password=PASSWORD, role="department",
                 department="D3")  # fmt: skip


async def measure(settings: Settings) -> None:
    app = create_app(settings, temporal_client=cast(Client, FakeTemporalClient()))
    pages = {
        "fin": ["/", "/?warning=red", "/?state=rectifying&page=20", "/projects/P00042",
                "/projects/P00042/report/2026"],
        "clerk": ["/", "/projects/P00003"],
    }  # fmt: skip
    async with app.router.lifespan_context(app):
        for user, paths in pages.items():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                login = await http.get("/login")
                token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
                assert token is not None
                await http.post("/login", data={"username": user, "password": PASSWORD,
                                                "csrf_token": token[1]})  # fmt: skip
                for path in paths:
                    times = []
                    for _ in range(5):
                        started = time.perf_counter()
                        response = await http.get(path)
                        times.append((time.perf_counter() - started) * 1000)
                        assert response.status_code == 200, (path, response.status_code)
                    times.sort()
                    print(f"{user:6} {path:34} median {times[2]:6.0f} ms  max {times[-1]:6.0f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(
            environment="test",
            database_url=f"sqlite:///{Path(directory) / 'bench.db'}",
            log_format="json",
            log_level="WARNING",
        )
        fill(settings)
        asyncio.run(measure(settings))


if __name__ == "__main__":
    main()
