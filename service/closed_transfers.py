"""Transfers to discipline inspection on finished projects (see `models.discipline_tables`).

The same action as on an open project (`transfer_to_discipline`, finance only, the same
payload), recorded by the service because no workflow is left to record it: one append-only
row with who, when, why and the evidence reference, and a message to the discipline desk in the
same transaction. The responsibility register lists these rows beside the workflows' own.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlmodel import Session, col

from models.actions import TransferToDiscipline
from models.discipline_tables import ClosedProjectTransfer
from models.notification_tables import Notification, Recipient
from models.notify import Audience, Desk
from models.project_state import ProjectState
from models.tables import ProjectRow
from service.auth import Principal
from service.notifications import deliver, resolve
from service.problems import Problem
from service.settings import Settings

log = structlog.get_logger(__name__)

ACTION = "transfer_to_discipline"
# Deliveries started after the answer: referenced here until done (a bare task may be collected).
_deliveries: set[asyncio.Task[Any]] = set()


def record(
    session: Session,
    *,
    row: ProjectRow,
    payload: TransferToDiscipline,
    principal: Principal,
    idempotency_key: str | None,
    now: datetime | None = None,
) -> tuple[ClosedProjectTransfer, list[int]]:
    """Record the lead once (a retry with the same Idempotency-Key finds it); returns the row
    and the ids of the notifications it queued (none on a retry)."""
    key = f"{row.code}:{idempotency_key or uuid.uuid4()}"
    existing = session.execute(
        select(ClosedProjectTransfer).where(col(ClosedProjectTransfer.key) == key)
    ).scalar_one_or_none()
    if existing is not None:
        same = (existing.reason, existing.evidence, existing.fiscal_year, existing.actor) == (
            payload.reason,
            payload.evidence,
            payload.fiscal_year,
            principal.username,
        )
        if not same:
            raise Problem(
                status=422,
                title="Idempotency-Key reused",
                detail="this Idempotency-Key was used on this project for another request; "
                "a new request needs a new key",
            )
        return existing, []
    transfer = ClosedProjectTransfer(
        code=row.code,
        key=key,
        at=now or datetime.now(UTC),
        actor=principal.username,
        role=principal.role.value,
        project_state=row.state,
        fiscal_year=payload.fiscal_year,
        reason=payload.reason,
        evidence=payload.evidence,
    )
    session.add(transfer)
    session.flush()  # its id names its messages
    queued = _notify(session, ProjectState.model_validate(row.snapshot), row.seq, transfer)
    session.commit()
    log.info("closed_project_transfer", project_code=row.code, transfer_id=transfer.id)
    return transfer, queued


def _notify(
    session: Session, project: ProjectState, seq: int, transfer: ClosedProjectTransfer
) -> list[int]:
    directory = session.execute(
        select(Recipient).where(
            col(Recipient.active).is_(True), col(Recipient.desk) == Desk.DISCIPLINE.value
        )
    ).scalars()
    info = project.info
    rows = [
        Notification(
            # Not a history entry's seq: the transfer's own id keeps the key apart from them.
            key=f"{info.code}:transfer-{transfer.id}:{recipient.id}",
            project_code=info.code,
            seq=seq,
            event=ACTION,
            desk=Desk.DISCIPLINE.value,
            recipient_id=recipient.id or 0,
            channel=recipient.channel,
            address=recipient.address,
            payload={
                "project_code": info.code,
                "name": info.name,
                "department": info.department,
                "event": ACTION,
                "fiscal_year": transfer.fiscal_year,
                "seq": seq,
                "desk": Desk.DISCIPLINE.value,
                "detail": {
                    "reason": transfer.reason,
                    "evidence": transfer.evidence,
                    "transferred_by": transfer.actor,
                    "project_state": transfer.project_state,
                },
                "at": transfer.at.isoformat(),
            },
            status="pending",
            attempts=0,
            created_at=transfer.at,
        )
        for recipient in resolve(
            Audience(desk=Desk.DISCIPLINE), project=project, event=ACTION, directory=directory
        )
    ]
    session.add_all(rows)
    session.flush()
    return [r.id for r in rows if r.id is not None]


def deliver_soon(session_factory: Any, settings: Settings, notification_ids: list[int]) -> None:
    """Send the queued messages after the answer (a webhook's retries must not hold it up)."""
    if not notification_ids:
        return

    def send() -> None:
        with session_factory() as session:
            deliver(session, settings=settings, notification_ids=notification_ids)

    task = asyncio.get_running_loop().create_task(asyncio.to_thread(send))
    _deliveries.add(task)
    task.add_done_callback(_deliveries.discard)
