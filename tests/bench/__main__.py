"""`make bench`: perfbudget against bare Temporal on this machine, printed and written as JSON.

    python -m tests.bench [--only roundtrip,year,simulator,reads,memory] [--projects 1000]

Each section builds its own stack (an embedded dev server on file SQLite, our worker, a bare
worker, the API over real HTTP). Results go to `bench-results/bench.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlmodel import Session

from models.project_state import Actor, Cycle, HistoryEntry, ProjectInfo, ProjectState
from models.vocabulary import Grade, Role, WarningLevel
from service.db import engine_for, refresh_statistics
from service.projection import PROJECT_TABLES, apply_snapshot
from tests import factories as f
from tests.bench.bare import BareWorkflow
from tests.bench.stack import Stack, stack
from workflows.project import ActRequest, ProjectWorkflow, ProjectWorkflowInput, workflow_id

RESULTS = Path("bench-results")
CLERK = Actor(username="clerk", role=Role.DEPARTMENT, department="D1")
FIN = Actor(username="fin", role=Role.FINANCE)


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(latencies_ms: Sequence[float], wall: float) -> dict[str, float]:
    return {
        "n": len(latencies_ms),
        "p50_ms": round(statistics.median(latencies_ms), 2),
        "p99_ms": round(pct(latencies_ms, 0.99), 2),
        "per_second": round(len(latencies_ms) / wall, 1),
    }


Timed = Callable[[int, int], Awaitable[None]]


async def timed_concurrently(
    workers: int, per_worker: int, one: Timed, *, first: int = 0
) -> tuple[list[float], float]:
    """`workers` clients each calling `one(worker, i)` for i in first..first+per_worker-1:
    every call's latency in ms, and the wall time."""
    latencies: list[float] = []

    async def run(w: int) -> None:
        for i in range(first, first + per_worker):
            started = time.perf_counter()
            await one(w, i)
            latencies.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(run(w) for w in range(workers)))
    return latencies, time.perf_counter() - began


ROUNDS = 4
# At concurrency 1 a block of 100 actions lasts seconds, and this machine's disk (under the dev
# server's database) speeds up and slows down over seconds: four rounds let one slow spell land
# on one series (per-round p50s moved by 5 ms, the ratio by 0.3 between runs). Blocks of 20
# actions in 20 rounds spread each spell over all three series.
ROUNDS_C1 = 20


async def compared(
    workers: int,
    per_worker: int,
    series: dict[str, Timed],
    settle: dict[str, Callable[[], Awaitable[None]]],
    rounds: int = ROUNDS,
) -> dict[str, dict[str, Any]]:
    """Each of `series` timed in the same run, in `rounds` blocks each, every other round in
    reverse order (A B C, C B A, A B C, ...): a machine slowing down or speeding up during the
    run (other load, the disk under the dev server's database) weighs on every series alike,
    and the more rounds, the less one slow spell can land on one series only. After each
    block, `settle[name]` (untimed) waits out the work the series left behind, so that it does
    not slow the next series' block instead of its own. Each summary also has its p50 in each
    round, to show how far the machine drifted."""
    latencies: dict[str, list[float]] = {name: [] for name in series}
    by_round: dict[str, list[float]] = {name: [] for name in series}
    walls = dict.fromkeys(series, 0.0)
    block = per_worker // rounds
    for r in range(rounds):
        order = list(series) if r % 2 == 0 else list(reversed(series))
        for name in order:
            lats, wall = await timed_concurrently(workers, block, series[name], first=r * block)
            latencies[name] += lats
            by_round[name].append(round(statistics.median(lats), 2))
            walls[name] += wall
            if name in settle:
                await settle[name]()
    return {
        name: {**summary(latencies[name], walls[name]), "p50_by_round_ms": by_round[name]}
        for name in series
    }


# --- 1. action round trip over HTTP vs a bare no-op update ------------------------------------


async def bench_roundtrip(s: Stack, args: argparse.Namespace) -> dict[str, Any]:
    year = datetime.now(UTC).year + 1
    codes = [f"RT{i:03d}{uuid.uuid4().hex[:4].upper()}" for i in range(32)]
    for code in codes:
        r = await s.http.post(
            "/api/projects", headers=s.auth("clerk"), json=f.filing(code, start=year, end=year + 1)
        )
        r.raise_for_status()
        (
            await s.http.post(
                f"/api/projects/{code}/actions/submit", headers=s.auth("clerk"), json={}
            )
        ).raise_for_status()

    async def ours(w: int, i: int) -> None:
        action = "suspend_funding" if i % 2 == 0 else "resume_funding"
        async with s.timed_http.post(
            f"/api/projects/{codes[w]}/actions/{action}",
            headers=s.auth("fin"),
            json={"reason": "基准测试"},
        ) as r:
            body = await r.read()
            if r.status != 200:
                raise RuntimeError(body.decode())

    async def projected() -> None:
        """Until every project's workflow has confirmed the API's write-throughs (its
        projection activity runs WRITE_THROUGH_SETTLE after a burst of actions)."""
        handles = [s.client.get_workflow_handle(workflow_id(code)) for code in codes]
        while any([await h.query(ProjectWorkflow.unprojected) for h in handles]):  # noqa: ASYNC110  (a query is the only way to ask)
            await asyncio.sleep(0.2)

    bare = {
        queue: [
            await s.client.start_workflow(
                BareWorkflow.run, 0, id=f"bare-{uuid.uuid4()}", task_queue=queue
            )
            for _ in codes
        ]
        for queue in (s.bare_queue, s.unsandboxed_queue)
    }
    # The filings and submissions above are confirmed a settle later (and their
    # notifications captured): wait for that here, not in the first timed block.
    await projected()

    def noop(queue: str) -> Timed:
        async def baseline(w: int, i: int) -> None:
            await bare[queue][w].execute_update(BareWorkflow.noop, i)

        return baseline

    results: dict[str, Any] = {}
    for concurrency in (int(c) for c in args.concurrency.split(",")):
        per = args.roundtrips if concurrency == 1 else max(4, args.roundtrips // 8)
        # Blocks of an even number of actions: each leaves the projects unsuspended.
        rounds = ROUNDS_C1 if concurrency == 1 else ROUNDS
        per = max(2 * rounds, per // (2 * rounds) * (2 * rounds))
        timed = await compared(
            concurrency,
            per,
            {
                "perfbudget_http": ours,
                "bare_update": noop(s.bare_queue),
                "bare_update_unsandboxed": noop(s.unsandboxed_queue),
            },
            settle={"perfbudget_http": projected},
            rounds=rounds,
        )
        mine, base, unsandboxed = (
            timed["perfbudget_http"],
            timed["bare_update"],
            timed["bare_update_unsandboxed"],
        )
        results[f"c{concurrency}"] = {
            **timed,
            "p50_ratio": round(mine["p50_ms"] / base["p50_ms"], 2),
            "p99_ratio": round(mine["p99_ms"] / base["p99_ms"], 2),
            "p50_ratio_to_unsandboxed": round(mine["p50_ms"] / unsandboxed["p50_ms"], 2),
        }
    for handles in bare.values():
        for handle in handles:
            await handle.execute_update(BareWorkflow.finish)
    return results


# --- 2. projects through a fiscal year vs a bare workflow with as many updates and timers -----


def year_actions(year: int) -> list[tuple[str, dict[str, Any], Actor]]:
    return [
        ("submit", {}, CLERK),
        ("submit_goals", f.goals(year), CLERK),
        ("approve_goals", {"fiscal_year": year}, FIN),
        ("approve_budget", {"fiscal_year": year, "amount": 1_000_000}, FIN),
        (
            "report_monitoring",
            {"fiscal_year": year, "period_end": f"{year}-05-31", "executed_amount": 500_000},
            CLERK,
        ),
        ("close_year", {"fiscal_year": year}, FIN),
        ("submit_self_evaluation", f.self_evaluation(year, Grade.GOOD), CLERK),
        ("review_self_evaluation", {"fiscal_year": year, "comment": "审核"}, FIN),
    ]


async def bench_year(s: Stack, args: argparse.Namespace) -> dict[str, Any]:
    # Business time 1 June of next year: the budget executes at once, the year can close.
    year = datetime.now(UTC).year + 1
    business = datetime(year, 6, 1, 4, tzinfo=UTC)
    offset = (business - datetime.now(UTC)).total_seconds()
    n = args.projects
    gate = asyncio.Semaphore(32)
    tag = uuid.uuid4().hex[:6].upper()

    async def one_project(i: int) -> None:
        async with gate:
            code = f"Y{tag}{i:05d}"
            info = ProjectInfo(**f.filing(code, start=year, end=year), department="D1")
            state = ProjectState.filed(info, actor=CLERK, at=business)
            handle = await s.client.start_workflow(
                ProjectWorkflow.run,
                ProjectWorkflowInput(project=state, clock_offset_seconds=offset),
                id=f"project-{code}",
                task_queue=s.settings.task_queue,
            )
            for action, payload, actor in year_actions(year):
                await handle.execute_update(
                    ProjectWorkflow.act, ActRequest(action=action, payload=payload, actor=actor)
                )
            final = await handle.result()
            assert final.state == "completed", final.state

    began = time.perf_counter()
    await asyncio.gather(*(one_project(i) for i in range(n)))
    ours_wall = time.perf_counter() - began

    sample = s.client.get_workflow_handle(f"project-Y{tag}00000")
    events = [e async for e in sample.fetch_history_events()]
    timers = sum(1 for e in events if e.HasField("timer_started_event_attributes"))
    updates = len(year_actions(year))

    async def one_bare(_: int) -> None:
        async with gate:
            handle = await s.client.start_workflow(
                BareWorkflow.run, timers, id=f"bare-year-{uuid.uuid4()}", task_queue=s.bare_queue
            )
            for i in range(updates):
                await handle.execute_update(BareWorkflow.noop, i)
            await handle.execute_update(BareWorkflow.finish)
            await handle.result()

    began = time.perf_counter()
    await asyncio.gather(*(one_bare(i) for i in range(n)))
    bare_wall = time.perf_counter() - began
    return {
        "projects": n,
        "updates_per_project": updates,
        "timers_per_project": timers,
        "history_events_per_project_year": len(events),
        "perfbudget_projects_per_minute": round(n / ours_wall * 60, 1),
        "bare_projects_per_minute": round(n / bare_wall * 60, 1),
        "ratio": round(ours_wall / bare_wall, 2),
    }


# --- 3. the simulator ---------------------------------------------------------------------------


async def bench_simulator(args: argparse.Namespace) -> dict[str, Any]:
    from service.simulate import load_scenario, simulate

    path = Path("tests/simulator/scenarios/three_year_completes.json")
    base = json.loads(await asyncio.to_thread(path.read_text))
    years = (
        datetime.fromisoformat(base["until"]) - datetime.fromisoformat(base["start"])
    ).days / 365.25
    out: dict[str, Any] = {"virtual_years": round(years, 2)}
    for count in (1, 100):
        scenario = copy.deepcopy(base)
        projects = [
            {**p, "code": f"{p['code']}-{i}"} for i in range(count) for p in base["projects"]
        ]
        steps = [
            {**st, "project": f"{st['project']}-{i}"} for i in range(count) for st in base["steps"]
        ]
        scenario["projects"], scenario["steps"] = projects, steps
        began = time.perf_counter()
        await simulate(load_scenario(scenario))
        wall = time.perf_counter() - began
        out[f"projects_{count}"] = {
            "wall_s": round(wall, 2),
            "virtual_years_per_second": round(years / wall, 3),
            "project_years_per_second": round(years * count / wall, 2),
        }
    return out


# --- 4. reads with 10,000 projects in the projection -----------------------------------------


def seed_projection(database_url: str, count: int) -> None:
    engine = engine_for(database_url)
    year = datetime.now(UTC).year
    now = datetime.now(UTC)
    with Session(engine) as session:
        for i in range(count):
            info = ProjectInfo(
                **f.filing(f"R{i:05d}", start=year, end=year + 1), department=f"D{i % 20}"
            )
            cycle = Cycle(
                fiscal_year=year,
                state=["executing", "closed", "rectifying"][i % 3],
                requested_amount=Decimal(1_000_000),
                approved_amount=Decimal(900_000),
                warning=[WarningLevel.NONE, WarningLevel.YELLOW, WarningLevel.RED][i % 3],
            )
            state = ProjectState(info=info, state="active", cycles=[cycle])
            entry = HistoryEntry(
                seq=1,
                at=now,
                actor="seed",
                role=Role.DEPARTMENT,
                action="file",
                fiscal_year=None,
                from_state="",
                to_state="filed",
            )
            apply_snapshot(session, project=state, seq=1, entries=[entry], notify=False)
    # A database of 10,000 projects has planner statistics: autovacuum analyzes within a
    # minute of such a load, and `perfbudget projection rebuild` refreshes them itself.
    # Timed right after the load without them, PostgreSQL's list filters took 3-7 times longer.
    refresh_statistics(engine, PROJECT_TABLES)


async def bench_reads(s: Stack, args: argparse.Namespace) -> dict[str, Any]:
    await asyncio.to_thread(seed_projection, s.settings.effective_database_url, args.read_projects)
    year = datetime.now(UTC).year
    queries: list[dict[str, str | int]] = [
        {},
        {"state": "executing"},
        {"department": "D7"},
        {"fiscal_year": year, "warning": "red"},
        {"state": "rectifying", "department": "D3", "page": 3, "page_size": 20},
    ]

    async def one(_: int, i: int) -> None:
        # The timed client, as for the round trips: httpx costs more CPU per request in this
        # process, and without sniffio installed httpcore tries (and fails) to import it on
        # every request, a search of sys.path each time.
        async with s.timed_http.get(
            "/api/projects", params=queries[i % len(queries)], headers=s.auth("fin")
        ) as r:
            body = await r.read()
            if r.status != 200:
                raise RuntimeError(body.decode())

    return summary(*await timed_concurrently(1, args.reads, one))


@contextmanager
def pg_database() -> Iterator[str | None]:
    """A PostgreSQL database of its own for the reads, dropped afterwards (None: no server)."""
    url = os.environ.get("PERFBUDGET_TEST_DATABASE_URL")
    if not url:
        yield None
        return
    import psycopg

    name = f"pbbench_{uuid.uuid4().hex[:8]}"
    admin = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- 5. worker memory with many open project workflows --------------------------------------


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def bench_memory(s: Stack, args: argparse.Namespace) -> dict[str, Any]:
    year = datetime.now(UTC).year + 1
    before = rss_mib()
    gate = asyncio.Semaphore(64)
    tag = uuid.uuid4().hex[:6].upper()

    async def one(i: int) -> None:
        async with gate:
            code = f"M{tag}{i:05d}"
            info = ProjectInfo(**f.filing(code, start=year, end=year + 2), department="D1")
            handle = await s.client.start_workflow(
                ProjectWorkflow.run,
                ProjectWorkflowInput(project=ProjectState(info=info)),
                id=f"project-{code}",
                task_queue=s.settings.task_queue,
            )
            await handle.execute_update(
                ProjectWorkflow.act, ActRequest(action="submit", payload={}, actor=CLERK)
            )

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.open)))
    return {
        "open_workflows": args.open,
        "rss_before_mib": before,
        "rss_after_mib": rss_mib(),
        "start_and_submit_per_second": round(args.open / (time.perf_counter() - began), 1),
        "note": "one process: our worker (cache of 1,000 workflows), the API and the load",
    }


# --- driver -------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> dict[str, Any]:
    only = (
        set(args.only.split(","))
        if args.only
        else {"roundtrip", "year", "simulator", "reads", "memory"}
    )
    out: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if "roundtrip" in only:
        async with stack() as s:
            out["roundtrip"] = await bench_roundtrip(s, args)
        print_section("roundtrip", out["roundtrip"])
    if "year" in only:
        async with stack() as s:
            out["year"] = await bench_year(s, args)
        print_section("year", out["year"])
    if "simulator" in only:
        out["simulator"] = await bench_simulator(args)
        print_section("simulator", out["simulator"])
    if "reads" in only:
        out["reads"] = {}
        async with stack() as s:
            out["reads"]["sqlite"] = await bench_reads(s, args)
        with pg_database() as pg:
            if pg is not None:
                async with stack(pg) as s:
                    out["reads"]["postgresql"] = await bench_reads(s, args)
        print_section("reads", out["reads"])
    if "memory" in only:
        async with stack() as s:
            out["memory"] = await bench_memory(s, args)
        print_section("memory", out["memory"])
    return out


def print_section(name: str, data: Any) -> None:
    print(f"\n== {name}")
    print(json.dumps(data, indent=2, ensure_ascii=False))
    sys.stdout.flush()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--only", help="comma-separated sections")
    parser.add_argument("--projects", type=int, default=1000, help="projects for `year`")
    parser.add_argument("--roundtrips", type=int, default=400, help="actions at concurrency 1")
    parser.add_argument("--concurrency", default="1,32", help="client concurrency levels")
    parser.add_argument("--read-projects", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--open", type=int, default=10_000, help="open workflows for `memory`")
    arguments = parser.parse_args()
    result = asyncio.run(main(arguments))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"\nwritten {RESULTS / 'bench.json'}")
