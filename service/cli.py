"""`perfbudget`: run the stack, or one part of it, and manage users from a shell.

    perfbudget up        dev server (unless PERFBUDGET_TEMPORAL_ADDRESS is set) + worker + API
    perfbudget api       the API only (production: N replicas)
    perfbudget worker    the worker only (production: N replicas)
    perfbudget users add --username U --password P --role R [--department D]
    perfbudget simulate SCENARIO.json [--timing]   a scenario in virtual time, JSON timeline out
    perfbudget audit verify [--project CODE]        check the history hash chains (exit 1: broken)
    perfbudget db upgrade | db current              apply / show the schema migrations
    perfbudget setup                                prepare a Temporal cluster (idempotent)

The API, the worker, the database and the users modules are imported inside the subcommands:
`perfbudget --help` stays fast, and a broken API module does not stop `perfbudget worker`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
import uvicorn
from pydantic import ValidationError

from service.logging import configure_logging
from service.settings import Settings, TemporalConfigError, get_settings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fastapi import FastAPI
    from sqlalchemy import Engine

log = structlog.get_logger(__name__)

# Exit status for bad input, as argparse uses for bad arguments.
EXIT_USAGE = 2


class _ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling.

    uvicorn catches SIGINT/SIGTERM itself and re-raises them once it has stopped, which would
    cut the shutdown short before the worker and the dev server are stopped in order. Here the
    CLI owns the signals and tells the server when to exit.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _api_server(settings: Settings, app: FastAPI) -> _ApiServer:
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        # None: uvicorn's records go to the root handler set up by configure_logging.
        log_config=None,
        # The API runs on the same loop as the worker; uvicorn must not install another.
        loop="none",
        lifespan="on",
        # SIGTERM lets requests in flight finish, but a client that keeps a connection open
        # must not hold up a rollout (or Ctrl-C) for longer than this.
        timeout_graceful_shutdown=settings.api_graceful_shutdown_seconds,
        timeout_keep_alive=settings.api_keep_alive_seconds,
    )
    return _ApiServer(config)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def _serve(server: uvicorn.Server) -> None:
    # uvicorn calls sys.exit when it cannot start (port in use, failing lifespan). A SystemExit
    # inside a task would tear through the event loop and skip the orderly shutdown below.
    try:
        await server.serve()
    except SystemExit as exit_:
        msg = f"the API server could not start (exit status {exit_.code}); see the log above"
        raise RuntimeError(msg) from None


async def _wait_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    # uvicorn offers no event for "listening"; poll its flag, and give up if it died first.
    while not server.started and not task.done():  # noqa: ASYNC110 - no event to wait on
        await asyncio.sleep(0.05)


class _SchemaRefusedError(Exception):
    """The database is not at this code's schema; the message says what to do."""


def _database(settings: Settings, *, upgrade: bool = False) -> Engine:
    """The application database, checked (or, with `upgrade`, migrated) to this code's schema.

    Raises `_SchemaRefusedError` so that each command can print one clear line and exit 1.
    """
    from service.db import init_db, open_db
    from service.schema import SchemaError

    try:
        return init_db(settings) if upgrade else open_db(settings)
    except SchemaError as error:
        raise _SchemaRefusedError(str(error)) from None


def _refused(command: str, error: _SchemaRefusedError) -> int:
    print(f"perfbudget {command}: {error}", file=sys.stderr)
    return 1


async def _up(settings: Settings) -> int:
    from service import demo
    from service.app import create_app
    from service.devserver import EmbeddedTemporal, EmbeddedTemporalError
    from service.temporal_client import connect_client
    from service.worker import run_worker

    shutdown = asyncio.Event()
    _stop_on_signals(shutdown)
    async with AsyncExitStack() as stack:
        embedded: EmbeddedTemporal | None = None
        if settings.embedded_temporal:
            try:
                embedded = await stack.enter_async_context(EmbeddedTemporal.from_settings(settings))
            except EmbeddedTemporalError as error:
                print(f"perfbudget up: {error}", file=sys.stderr)
                return 1
        # The embedded stack owns its SQLite file and migrates it itself; a configured
        # database (PostgreSQL) is migrated by `perfbudget db upgrade`, deliberately.
        try:
            _database(settings, upgrade=settings.database_url is None)
        except _SchemaRefusedError as error:
            return _refused("up", error)
        client = await connect_client(settings)

        stop_worker = asyncio.Event()
        worker = asyncio.create_task(
            run_worker(settings=settings, client=client, stop=stop_worker), name="worker"
        )
        server = _api_server(settings, create_app(settings))
        api = asyncio.create_task(_serve(server), name="api")
        await _wait_started(server, api)
        if server.started and settings.demo and await asyncio.to_thread(demo.should_seed, settings):
            await demo.seed(settings, client)
        if server.started:
            base = f"http://{settings.api_host}:{settings.api_port}"
            print(f"perfbudget is running ({settings.environment})")
            print(f"  Workbench    {base}/login")
            print(f"  API          {base}")
            print(f"  API docs     {base}/docs")
            if embedded is not None:
                print(f"  Temporal UI  {embedded.ui_url}")
            print("Press Ctrl-C to stop.", flush=True)

        # Run until asked to stop, or until the API or the worker ends on its own (a crash).
        stopping = asyncio.create_task(shutdown.wait(), name="signal")
        await asyncio.wait({stopping, api, worker}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        log.info("perfbudget_stopping")

        # In order: no new requests, then let the worker finish its tasks in hand, then (on
        # leaving the exit stack) the dev server.
        server.should_exit = True
        api_result = (await asyncio.gather(api, return_exceptions=True))[0]
        stop_worker.set()
        worker_result = (await asyncio.gather(worker, return_exceptions=True))[0]
        results = [api_result, worker_result]
    failures = [r for r in results if isinstance(r, BaseException)]
    for failure in failures:
        log.error("perfbudget_failed", exc_info=failure)
    crashed = not shutdown.is_set() or not server.started
    return 1 if failures or crashed else 0


async def _api(settings: Settings) -> int:
    from service.app import create_app

    try:
        _database(settings)
    except _SchemaRefusedError as error:
        return _refused("api", error)
    server = _api_server(settings, create_app(settings))
    shutdown = asyncio.Event()
    _stop_on_signals(shutdown)
    api = asyncio.create_task(_serve(server), name="api")
    stopping = asyncio.create_task(shutdown.wait(), name="signal")
    await asyncio.wait({stopping, api}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    server.should_exit = True
    (result,) = await asyncio.gather(api, return_exceptions=True)
    if isinstance(result, BaseException):
        log.error("perfbudget_failed", exc_info=result)
        return 1
    return 0 if server.started and shutdown.is_set() else 1


async def _worker(settings: Settings) -> int:
    from service.temporal_client import connect_client
    from service.worker import run_worker

    try:
        _database(settings)
    except _SchemaRefusedError as error:
        return _refused("worker", error)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    client = await connect_client(settings)
    log.info("worker_started", temporal=settings.effective_temporal_address)
    await run_worker(settings=settings, client=client, stop=stop)
    return 0


def _users_add(settings: Settings, args: argparse.Namespace) -> int:
    from service.db import session_scope
    from service.users import add_user

    try:
        _database(settings, upgrade=settings.database_url is None)
    except _SchemaRefusedError as error:
        return _refused("users add", error)
    try:
        with session_scope(settings) as session:
            user = add_user(
                session=session,
                username=args.username,
                password=args.password,
                role=args.role,
                department=args.department,
            )
            username, role, department = user.username, user.role, user.department
    # add_user reports bad input (unknown role, short password, taken username) as ValueError.
    except ValueError as error:
        print(f"perfbudget users add: {error}", file=sys.stderr)
        return EXIT_USAGE
    where = f" in department {department}" if department else ""
    print(f"added user {username} ({role}){where}")
    return 0


async def _projection_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from service.rebuild import rebuild_department_years, rebuild_projection
    from service.temporal_client import connect_client

    try:
        engine = _database(settings)
    except _SchemaRefusedError as error:
        return _refused("projection rebuild", error)
    client = await connect_client(settings)
    report = await rebuild_projection(client=client, engine=engine, query=args.query)
    print(f"rebuilt {report.projects} projects ({report.history_entries} history entries)")
    years = await rebuild_department_years(client=client, engine=engine, query=args.query)
    print(f"rebuilt {years.projects} department years ({years.history_entries} history entries)")
    return 0


def _audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from service.audit import verify
    from service.department_projection import verify_department_years

    try:
        engine = _database(settings)
    except _SchemaRefusedError as error:
        return _refused("audit verify", error)
    with Session(engine) as session:
        report = verify(session, code=args.project)
        # Department years only when no single project was asked for.
        years = verify_department_years(session) if args.project is None else None
    breaks = report.breaks + (years.breaks if years is not None else [])
    for broken in breaks:
        print(f"perfbudget audit verify: broken chain: {broken}")
    chains = f"{report.projects} projects, {report.entries} history entries"
    if years is not None and years.projects:
        chains += f"; {years.projects} department years, {years.entries} history entries"
    if breaks:
        print(f"perfbudget audit verify: {len(breaks)} broken chain(s) among {chains}")
        return 1
    print(f"audit verified: {chains}, every chain holds")
    return 0


async def _setup(settings: Settings, args: argparse.Namespace) -> int:
    from service.cluster_setup import SetupError, prepare_cluster
    from service.temporal_client import connect_client

    if settings.embedded_temporal:
        print(
            "perfbudget setup: PERFBUDGET_TEMPORAL_ADDRESS is not set; the embedded dev server "
            "of `perfbudget up` prepares itself",
            file=sys.stderr,
        )
        return EXIT_USAGE
    client = await connect_client(settings)
    try:
        report = await prepare_cluster(client, settings, register_namespace=not args.skip_namespace)
    except SetupError as error:
        print(f"perfbudget setup: {error}", file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    print("the cluster was already prepared" if not report.changed else "the cluster is prepared")
    return 0


def _db(settings: Settings, args: argparse.Namespace) -> int:
    from service import schema
    from service.db import engine_for

    engine = engine_for(settings.effective_database_url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        if args.db_command == "upgrade":
            report = schema.upgrade(engine)
            if report.adopted:
                print("adopted a database made before migrations (its data kept)")
            if report.before == report.after:
                print(f"{where}: already at {report.after} (head)")
            else:
                print(f"{where}: upgraded from {report.before or 'empty'} to {report.after}")
            return 0
        at, head = schema.current(engine), schema.head()
    except schema.SchemaError as error:
        return _refused(f"db {args.db_command}", _SchemaRefusedError(str(error)))
    if at == head:
        state = "up to date"
    elif at is None or at in schema.revisions():
        state = "behind: run `perfbudget db upgrade`"
    else:
        state = "unknown to this version (migrated by a newer one)"
    print(f"{where}: at {at or 'no revision'}, head {head} ({state})")
    return 0 if at == head else 1


async def _simulate(args: argparse.Namespace) -> int:
    from service.simulate import ScenarioError, read_scenario, simulate
    from service.temporal_client import BinaryNotFoundError

    try:
        scenario = read_scenario(args.scenario)
    except ScenarioError as error:
        problems = "\n".join(f"  {p}" for p in error.problems)
        print(
            f"perfbudget simulate: {args.scenario}: invalid scenario:\n{problems}", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        result = await simulate(scenario)
    except BinaryNotFoundError as error:
        print(f"perfbudget simulate: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result.output(), ensure_ascii=False, indent=2))
    if args.timing:
        print(
            f"perfbudget simulate: {result.projects} project(s), "
            f"{result.virtual_years:.2f} virtual years in {result.wall_seconds:.2f} s "
            f"(+ {result.startup_seconds:.2f} s to start the test server): "
            f"{result.years_per_second:.2f} virtual years per second, "
            f"{result.years_per_second * result.projects:.1f} project-years per second",
            file=sys.stderr,
        )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perfbudget",
        description="Budget performance management on Temporal. "
        "Configured by PERFBUDGET_* environment variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("up", help="run the embedded Temporal dev server, the worker and the API")
    commands.add_parser("api", help="run the API only")
    commands.add_parser("worker", help="run the worker only")

    users = commands.add_parser("users", help="manage users")
    users_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users_commands.add_parser(
        "add", help="add a user (a department user's department is created if missing)"
    )
    add.add_argument("--username", required=True)
    add.add_argument("--password", required=True)
    add.add_argument(
        "--role",
        required=True,
        help="admin, finance, department, evaluator or auditor",
    )
    add.add_argument("--department", help="department code; required for the department role")

    projection = commands.add_parser("projection", help="the SQL read model")
    projection_commands = projection.add_subparsers(
        dest="projection_command", required=True, metavar="ACTION"
    )
    rebuild = projection_commands.add_parser(
        "rebuild", help="replace the read model of every project by what its workflow holds"
    )
    rebuild.add_argument("--query", help="narrow with a visibility query, e.g. 'Department=\"D1\"'")

    audit = commands.add_parser("audit", help="the tamper-evident audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    audit_verify = audit_commands.add_parser(
        "verify",
        help="recompute every project's history hash chain; exit 1 naming the first broken "
        "link of each broken chain",
    )
    audit_verify.add_argument("--project", help="verify this project code only")

    setup = commands.add_parser(
        "setup",
        help="prepare the Temporal cluster: namespace, search attributes, schedules (idempotent)",
    )
    setup.add_argument(
        "--skip-namespace",
        action="store_true",
        help="do not register the namespace nor add search attributes (Temporal Cloud: made in "
        "its console); still checks them and keeps the schedules",
    )

    db = commands.add_parser("db", help="the application database's schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser(
        "upgrade", help="apply every schema migration not yet applied (idempotent)"
    )
    db_commands.add_parser(
        "current",
        help="show the database's schema revision and this version's; exit 1 unless equal",
    )

    simulate = commands.add_parser(
        "simulate",
        help="run a scenario in virtual time on the time-skipping test server; "
        "prints a JSON timeline (exit 2 on a malformed scenario)",
    )
    simulate.add_argument("scenario", type=Path, help="the scenario JSON file ('-': stdin)")
    simulate.add_argument(
        "--timing",
        action="store_true",
        help="print the wall time and virtual years per second to stderr",
    )
    return parser


def _describe(error: ValidationError) -> str:
    # Not str(error): it repeats the input values, and one of them may be the JWT secret.
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        variable = "".join(f"PERFBUDGET_{str(part).upper()}" for part in problem["loc"][:1])
        lines.append(f"  {variable or 'settings'}: {problem['msg']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `perfbudget` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as error:
        print(f"perfbudget: invalid configuration:\n{_describe(error)}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings)
    if args.command in ("up", "api", "worker"):
        from service.temporal_client import core_runtime

        # Before any connection: the SDK's metrics endpoint belongs to the process's runtime.
        core_runtime(settings.temporal_metrics_bind)

    try:
        match args.command:
            case "up":
                return asyncio.run(_up(settings))
            case "api":
                return asyncio.run(_api(settings))
            case "worker":
                return asyncio.run(_worker(settings))
            case "users":
                return _users_add(settings, args)
            case "projection":
                return asyncio.run(_projection_rebuild(settings, args))
            case "audit":
                return _audit_verify(settings, args)
            case "db":
                return _db(settings, args)
            case "setup":
                return asyncio.run(_setup(settings, args))
            case "simulate":
                return asyncio.run(_simulate(args))
    except TemporalConfigError as error:
        print(f"perfbudget: invalid configuration: {error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_USAGE  # unreachable: argparse requires a known command


if __name__ == "__main__":
    sys.exit(main())
