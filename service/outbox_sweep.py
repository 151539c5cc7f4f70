"""The outbox sweeper: delivers pending notifications that no workflow is going to deliver.

Project and department workflows deliver their own outbox rows right after projecting them. A
few rows have no running workflow behind them: a transfer to discipline inspection recorded on
a closed project (sent in the background by the API process that recorded it), or any row whose
sender died before sending. The worker sweeps the whole outbox every
`notification_sweep_seconds`, so such a row waits minutes, never forever. A row that a
workflow's delivery is sending at the same moment is claimed by one of the two only
(`service.notifications.deliver`), so nothing is sent twice by the sweep.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy import Engine
from sqlmodel import Session

from service.notifications import DeliveryCounts, deliver
from service.settings import Settings

log = structlog.get_logger(__name__)


def sweep_once(engine: Engine, settings: Settings) -> DeliveryCounts:
    """Deliver every pending row of the outbox (blocking: run it in a thread)."""
    with Session(engine, expire_on_commit=False) as session:
        return deliver(session, settings=settings)


async def sweep_outbox(engine: Engine, settings: Settings, stop: asyncio.Event) -> None:
    """Sweep until `stop` is set; a failed sweep (database down) is logged and tried again."""
    while not stop.is_set():
        try:
            counts = await asyncio.to_thread(sweep_once, engine, settings)
            if counts.sent or counts.failed or counts.captured:
                log.info(
                    "outbox_swept",
                    sent=counts.sent,
                    failed=counts.failed,
                    captured=counts.captured,
                )
        except Exception:
            log.exception("outbox_sweep_failed")
        with contextlib.suppress(TimeoutError):  # the interval passed: sweep again
            await asyncio.wait_for(stop.wait(), timeout=settings.notification_sweep_seconds)
