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
from sqlalchemy import select, update
from sqlmodel import Session, col

from models.actions import TransferToDiscipline
from models.discipline_tables import ClosedProjectTransfer
from models.notification_tables import Notification, Recipient
from models.notify import Audience, Desk
from models.project_state import HistoryEntry, ProjectState
from models.tables import HistoryRow, ProjectRow
from models.vocabulary import Role
from service.audit import chain
from service.auth import Principal
from service.notifications import deliver, resolve
from service.problems import Problem
from service.settings import Settings
from service.write_retry import commit_retrying_conflicts

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
    and the ids of the notifications it queued (none on a retry).

    In the same transaction the lead is appended to the project's hash-chained history
    (`append_to_history`), so that `perfbudget audit verify` covers it like every other entry.
    """
    key = f"{row.code}:{idempotency_key or uuid.uuid4()}"
    at = now or datetime.now(UTC)
    recorded: list[tuple[ClosedProjectTransfer, list[int]]] = []

    def write() -> bool:
        recorded.clear()
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
            recorded.append((existing, []))
            return False
        transfer = ClosedProjectTransfer(
            code=row.code,
            key=key,
            at=at,
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
        append_to_history(session, transfer)
        recorded.append((transfer, queued))
        return True

    # Two leads recorded at once on one project would take the same history seq: the second
    # insert fails, and the whole record runs again after the first.
    if commit_retrying_conflicts(session, write):
        log.info("closed_project_transfer", project_code=row.code, transfer_id=recorded[0][0].id)
    return recorded[0]


def append_to_history(session: Session, transfer: ClosedProjectTransfer) -> bool:
    """Append `transfer` to its project's history as the next entry, hash-chained like the
    workflow's own (`service.audit`), and move the project row's seq to it; True if appended.

    The project's workflow has ended, so no projection writes that seq. Does not commit. A
    project whose last entry is not stored (never the case once it is closed, as its workflow
    projects everything before it ends) is left unchained: `chain_unchained` appends it later.
    """
    code = transfer.code
    last = session.execute(
        select(col(ProjectRow.seq)).where(col(ProjectRow.code) == code).with_for_update()
    ).scalar_one_or_none()
    entry = HistoryEntry(
        seq=(last or 0) + 1,
        at=transfer.at,
        actor=transfer.actor,
        role=Role(transfer.role),
        action=ACTION,
        fiscal_year=transfer.fiscal_year,
        from_state=transfer.project_state,
        to_state=transfer.project_state,
        detail={"reason": transfer.reason, "evidence": transfer.evidence, "transfer": transfer.key},
    )

    def stored_hash(seq: int) -> str | None:
        return session.execute(
            select(col(HistoryRow.hash)).where(
                col(HistoryRow.code) == code, col(HistoryRow.seq) == seq
            )
        ).scalar_one_or_none()

    # The audit trail's own chaining: from the stored predecessor, or nothing when it is missing.
    chained = chain(code, [entry], stored_hash) if last is not None else []
    if not chained:
        log.warning("closed_transfer_not_chained", project_code=code, transfer_id=transfer.id)
        return False
    session.add(HistoryRow(**chained[0]._asdict()))
    session.execute(update(ProjectRow).where(col(ProjectRow.code) == code).values(seq=entry.seq))
    session.flush()
    return True


def chain_unchained(session: Session, *, code: str | None = None) -> int:
    """Chain the leads that are not in their projects' histories yet, oldest first: those
    recorded before leads were chained, and those whose history rows `projection rebuild`
    replaced (it rebuilds them from the workflow, which never saw the lead). Returns how many;
    does not commit."""
    query = select(ClosedProjectTransfer).order_by(col(ClosedProjectTransfer.id))
    if code is not None:
        query = query.where(col(ClosedProjectTransfer.code) == code)
    transfers = list(session.execute(query).scalars())
    if not transfers:
        return 0
    details = session.execute(
        select(col(HistoryRow.detail)).where(
            col(HistoryRow.action) == ACTION,
            col(HistoryRow.code).in_({t.code for t in transfers}),
        )
    ).scalars()
    chained = {d.get("transfer") for d in details if isinstance(d, dict)}
    return sum(append_to_history(session, t) for t in transfers if t.key not in chained)


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
