"""`perfbudget setup`: prepare a Temporal cluster for perfbudget, idempotently.

Three things, each created when missing and left alone when already right, so the command can
run on every deployment (the Helm chart runs it as a hook Job) and twice in a row changes
nothing the second time:

1. the namespace (registered with `temporal_namespace_retention_days` if it does not exist);
2. the custom search attributes of `workflows.search_attributes.ALL_KEYS`;
3. the schedules of `SCHEDULES`: created when missing, replaced when their definition in code
   changed (a fingerprint of it is kept in the schedule's note), untouched otherwise, so an
   operator's pause survives a redeploy.

On Temporal Cloud the namespace and search attributes are managed in the Cloud console or with
`tcld`, not through the API an API key reaches: run `perfbudget setup --skip-namespace` after
creating them there; the search attributes are still checked and reported.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Literal

import structlog
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client, Schedule, ScheduleUpdate, ScheduleUpdateInput
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from service.schedules import fiscal_year_schedule
from service.settings import Settings
from service.temporal_client import add_search_attributes
from workflows.fiscal_year import SCHEDULE_ID
from workflows.search_attributes import ALL_KEYS

log = structlog.get_logger(__name__)

NOTE_PREFIX = "perfbudget setup definition "

# How long a just-registered namespace may take to reach every frontend's namespace cache.
NAMESPACE_PROPAGATION = timedelta(seconds=30)


class SetupError(RuntimeError):
    """The cluster cannot be prepared as asked; the message says what to do."""


@dataclass(frozen=True)
class ScheduleDefinition:
    """A schedule that `perfbudget setup` keeps on the cluster under `schedule_id`."""

    schedule_id: str
    # The schedule as this version wants it, from the settings (task queue, rules, time zone).
    build: Callable[[Settings], Schedule]


# Every schedule of perfbudget; adding one is one line here. The workers also ensure the
# fiscal-year schedule at start-up (`service.schedules`), so a cluster without a setup Job
# works too; setup makes it exist before the first worker and checks the namespace.
SCHEDULES: tuple[ScheduleDefinition, ...] = (
    ScheduleDefinition(
        SCHEDULE_ID,
        lambda settings: fiscal_year_schedule(
            task_queue=settings.task_queue,
            utc_offset_minutes=settings.rules.utc_offset_minutes,
        ),
    ),
)


ScheduleOutcome = Literal["created", "updated", "unchanged"]


@dataclass
class SetupReport:
    namespace: str
    namespace_created: bool = False
    search_attributes_added: list[str] = field(default_factory=list)
    schedules: dict[str, ScheduleOutcome] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return (
            self.namespace_created
            or bool(self.search_attributes_added)
            or any(outcome != "unchanged" for outcome in self.schedules.values())
        )

    def lines(self) -> list[str]:
        added = ", ".join(self.search_attributes_added) or "none (all present)"
        lines = [
            f"namespace {self.namespace}: {'registered' if self.namespace_created else 'exists'}",
            f"search attributes added: {added}",
        ]
        lines += [f"schedule {sid}: {outcome}" for sid, outcome in self.schedules.items()]
        return lines


async def prepare_cluster(
    client: Client,
    settings: Settings,
    *,
    schedules: Sequence[ScheduleDefinition] = SCHEDULES,
    search_attributes: Sequence[SearchAttributeKey] = ALL_KEYS,  # type: ignore[type-arg]
    register_namespace: bool = True,
) -> SetupReport:
    """Bring the cluster of `client` to what this version of perfbudget needs.

    With `register_namespace=False` (Temporal Cloud) the namespace and the search attributes
    must exist already: they are checked, and a missing one is a `SetupError`.
    """
    namespace = settings.temporal_namespace
    report = SetupReport(namespace=namespace)
    report.namespace_created = await _ensure_namespace(
        client, settings, may_register=register_namespace
    )
    report.search_attributes_added = await _ensure_search_attributes(
        client, namespace, search_attributes, may_add=register_namespace
    )
    for definition in schedules:
        report.schedules[definition.schedule_id] = await _ensure_schedule(
            client, definition, settings
        )
    log.info("cluster_prepared", changed=report.changed, report=report.lines())
    return report


async def _ensure_namespace(client: Client, settings: Settings, *, may_register: bool) -> bool:
    namespace = settings.temporal_namespace
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
    else:
        return False
    if not may_register:
        msg = (
            f"namespace {namespace} does not exist; create it on the cluster (Temporal Cloud: "
            "the console or tcld), or run setup without --skip-namespace"
        )
        raise SetupError(msg)
    retention = Duration()
    retention.FromTimedelta(timedelta(days=settings.temporal_namespace_retention_days))
    try:
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace=namespace,
                description="perfbudget: budget performance management projects",
                workflow_execution_retention_period=retention,
            )
        )
    except RPCError as refused:
        if refused.status is RPCStatusCode.ALREADY_EXISTS:  # another setup Job was quicker
            return False
        if refused.status is RPCStatusCode.PERMISSION_DENIED:
            msg = (
                f"not allowed to register namespace {namespace}: create it on the cluster "
                "(Temporal Cloud: the console or tcld) and run `perfbudget setup --skip-namespace`"
            )
            raise SetupError(msg) from None
        raise
    log.info("namespace_registered", namespace=namespace)
    return True


_TYPE_NAMES: dict[int, str] = {int(value): name for name, value in IndexedValueType.items()}


async def _ensure_search_attributes(
    client: Client,
    namespace: str,
    keys: Sequence[SearchAttributeKey],  # type: ignore[type-arg]
    *,
    may_add: bool,
) -> list[str]:
    existing = await _existing_search_attributes(client, namespace)
    missing = []
    for key in keys:
        wanted = IndexedValueType.ValueType(key.indexed_value_type.value)
        have = existing.get(key.name)
        if have is None:
            missing.append(key)
        elif have != wanted:
            msg = (
                f"search attribute {key.name} exists as {_TYPE_NAMES[have]} in namespace "
                f"{namespace}, perfbudget needs {_TYPE_NAMES[wanted]}; a search attribute "
                "cannot change type: remove it (or use another namespace) and run setup again"
            )
            raise SetupError(msg)
    if not missing:
        return []
    names = [key.name for key in missing]
    if not may_add:
        msg = (
            f"search attributes missing in namespace {namespace}: {', '.join(names)}; "
            "add them on the cluster (Temporal Cloud: the console or tcld)"
        )
        raise SetupError(msg)
    await add_search_attributes(client, missing, namespace=namespace)
    log.info("search_attributes_added", namespace=namespace, names=names)
    return names


async def _existing_search_attributes(client: Client, namespace: str) -> dict[str, int]:
    """Custom search attributes of `namespace`, retrying while a new namespace propagates."""
    deadline = asyncio.get_running_loop().time() + NAMESPACE_PROPAGATION.total_seconds()
    while True:
        try:
            response = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=namespace)
            )
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            if asyncio.get_running_loop().time() > deadline:
                raise SetupError(f"namespace {namespace} did not become usable in time") from None
            await asyncio.sleep(0.5)
            continue
        return dict(response.custom_attributes)


def _with_fingerprint(schedule: Schedule) -> Schedule:
    """The schedule with a note naming a fingerprint of its definition (the note excluded)."""
    digest = hashlib.sha256(repr(replace(schedule.state, note=None)).encode())
    digest.update(repr(replace(schedule, state=replace(schedule.state, note=None))).encode())
    note = NOTE_PREFIX + digest.hexdigest()[:16]
    return replace(schedule, state=replace(schedule.state, note=note))


async def _ensure_schedule(
    client: Client, definition: ScheduleDefinition, settings: Settings
) -> ScheduleOutcome:
    wanted = _with_fingerprint(definition.build(settings))
    handle = client.get_schedule_handle(definition.schedule_id)
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
        await client.create_schedule(definition.schedule_id, wanted)
        log.info("schedule_created", schedule=definition.schedule_id)
        return "created"
    if description.schedule.state.note == wanted.state.note:
        return "unchanged"

    def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await handle.update(update)
    log.info("schedule_updated", schedule=definition.schedule_id)
    return "updated"
