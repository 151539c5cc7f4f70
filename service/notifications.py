"""Notifications: the recipient directory, the outbox, and delivery by webhook and e-mail.

A history entry names its audiences by desk (`models.notify`); `enqueue` resolves them through
the directory and writes one outbox row per recipient in the projection's own transaction, so
an entry and its notifications are committed together or not at all. `deliver` then sends the
pending rows: each row is claimed first (pending → sending, by a conditional UPDATE), so two
concurrent deliveries never both send it, and a row's `key` travels with it
(`X-Perfbudget-Delivery`, the e-mail's Message-ID) so a receiver can drop the rare duplicate
left by a deliverer that died between sending and recording.

A recipient that keeps failing ends as `failed` with the reason; delivery itself returns
normally, so no recipient can hold up a project's lifecycle.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Final, Protocol, TypeVar, cast

import httpx
import structlog
from pydantic import BaseModel
from sqlalchemy import Connection, CursorResult, Table, bindparam, func, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from models.engine_time import zone
from models.lifecycle import ACTIONS
from models.notification_tables import (
    CHANNELS,
    Channel,
    Notification,
    NotificationStatus,
    Recipient,
)
from models.notify import Audience, Desk, EventKind
from models.project_state import HistoryEntry, ProjectState
from models.reason_text import reason_zh
from models.vocabulary import CONSEQUENCE_ZH, GRADE_ZH
from service.settings import Settings
from service.users import DEPARTMENT_CODE_PATTERN, UNSET, Unset

log = structlog.get_logger(__name__)

# Desks that exist once per department; the others (finance, leadership, discipline) are
# bureau-wide and ignore departments.
PER_DEPARTMENT_DESKS: Final = frozenset({Desk.DEPARTMENT, Desk.DEPARTMENT_HEAD, Desk.PROJECT_OWNER})

SIGNATURE_HEADER: Final = "X-Perfbudget-Signature"
DELIVERY_HEADER: Final = "X-Perfbudget-Delivery"
EVENT_HEADER: Final = "X-Perfbudget-Event"

MAX_NAME: Final = 100
MAX_ADDRESS: Final = 500
MIN_SECRET: Final = 16  # HMAC keys shorter than this are guessable
MAX_SECRET: Final = 256
MAX_ERROR: Final = 500
# A history action name: what the events filter may list (new actions need no code change here).
EVENT_NAME_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Deliberately loose: the SMTP server is the judge; this only catches a URL pasted as an e-mail.
EMAIL_PATTERN: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Backoff doubles per try from notification_retry_delay_seconds, never beyond this.
MAX_BACKOFF_SECONDS: Final = 60.0


# --- errors -----------------------------------------------------------------------------------


class NotificationError(ValueError):
    """A request about recipients or notifications that breaks a rule; `field` names it."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class NotFoundError(NotificationError):
    """No such recipient or notification."""


class ConflictError(NotificationError):
    """Allowed in itself, but not now (a duplicate recipient, retrying a row that has not failed)."""


# --- views ------------------------------------------------------------------------------------


class RecipientPublic(BaseModel):
    """A directory entry as the API shows it: the secret is write-only."""

    id: int
    name: str
    desk: Desk
    department: str | None
    channel: Channel
    address: str
    has_secret: bool
    events: list[str] | None
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, recipient: Recipient) -> RecipientPublic:
        return cls(
            id=_saved_id(recipient),
            name=recipient.name,
            desk=Desk(recipient.desk),
            department=recipient.department,
            channel=cast(Channel, recipient.channel),
            address=recipient.address,
            has_secret=bool(recipient.secret),
            events=recipient.events,
            active=recipient.active,
            created_at=recipient.created_at,
        )


class NotificationPublic(BaseModel):
    id: int
    key: str
    project_code: str
    seq: int
    event: str
    desk: str
    recipient_id: int
    channel: str
    address: str
    payload: dict[str, Any]
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, row: Notification) -> NotificationPublic:
        return cls.model_validate(row, from_attributes=True)


class NotificationPage(BaseModel):
    items: list[NotificationPublic]
    total: int
    page: int
    page_size: int


def _now() -> datetime:
    return datetime.now(UTC)


# --- the directory ----------------------------------------------------------------------------


def _check_recipient(
    *,
    name: str,
    desk: Desk,
    department: str | None,
    channel: str,
    address: str,
    secret: str | None,
    events: Sequence[str] | None,
) -> None:
    """The rules a directory entry must satisfy, whether new or edited."""
    if not 1 <= len(name.strip()) <= MAX_NAME:
        raise NotificationError("name", f"must be 1 to {MAX_NAME} characters")
    if department is not None:
        if desk not in PER_DEPARTMENT_DESKS:
            # Bureau-wide desks hear of every department's projects; a department here would
            # suggest a narrowing that resolution does not do.
            raise NotificationError("department", f"must be empty for the bureau-wide desk {desk}")
        if not DEPARTMENT_CODE_PATTERN.fullmatch(department):
            raise NotificationError(
                "department", "must be 1 to 32 characters: letters, digits, '_', '.' or '-'"
            )
    if channel not in CHANNELS:
        raise NotificationError("channel", f"must be one of {', '.join(CHANNELS)}")
    if len(address) > MAX_ADDRESS:
        raise NotificationError("address", f"must be at most {MAX_ADDRESS} characters")
    if channel == "email" and not EMAIL_PATTERN.fullmatch(address):
        raise NotificationError("address", "must be an e-mail address")
    if channel == "webhook":
        url = _url(address)
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise NotificationError("address", "must be an http or https URL")
        # The reason never quotes the secret: it ends up in responses and logs.
        if secret is None:
            raise NotificationError("secret", "a webhook needs a secret to sign its deliveries")
    if secret is not None and not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise NotificationError("secret", f"must be {MIN_SECRET} to {MAX_SECRET} characters")
    if events is not None:
        for event in events:
            if not EVENT_NAME_PATTERN.fullmatch(event):
                raise NotificationError("events", f"{event!r} is not a history action name")


def _url(address: str) -> httpx.URL | None:
    try:
        return httpx.URL(address)
    except httpx.InvalidURL:
        return None


def _saved_id(recipient: DirectoryEntry) -> int:
    if recipient.id is None:  # only rows read back from the database get here
        raise ValueError("the recipient has not been saved")
    return recipient.id


def _check_unique(session: Session, candidate: Recipient) -> None:
    """Refuse a second entry for the same desk, department, channel and address.

    It would only make every message to that address arrive twice (each recipient has its own
    key, so the outbox cannot tell them apart).
    """
    query = select(Recipient.id).where(
        Recipient.desk == candidate.desk,
        Recipient.channel == candidate.channel,
        Recipient.address == candidate.address,
        _same_department(candidate.department),
    )
    if candidate.id is not None:
        query = query.where(Recipient.id != candidate.id)
    if session.exec(query).first() is not None:
        raise ConflictError("address", "this desk already reaches this address")


def _same_department(department: str | None) -> ColumnElement[bool]:
    if department is None:
        return col(Recipient.department).is_(None)
    return col(Recipient.department) == department


def create_recipient(
    *,
    session: Session,
    name: str,
    desk: Desk,
    channel: Channel,
    address: str,
    department: str | None = None,
    secret: str | None = None,
    events: Sequence[str] | None = None,
    active: bool = True,
) -> Recipient:
    """Add a directory entry; commits."""
    _check_recipient(
        name=name,
        desk=desk,
        department=department,
        channel=channel,
        address=address,
        secret=secret,
        events=events,
    )
    recipient = Recipient(
        name=name.strip(),
        desk=desk.value,
        department=department,
        channel=channel,
        address=address,
        secret=secret,
        events=list(events) if events is not None else None,
        active=active,
        created_at=_now(),
    )
    _check_unique(session, recipient)
    session.add(recipient)
    session.commit()
    log.info("recipient_created", recipient_id=recipient.id, desk=desk.value, channel=channel)
    return recipient


def get_recipient(*, session: Session, recipient_id: int) -> Recipient:
    recipient = session.get(Recipient, recipient_id)
    if recipient is None:
        raise NotFoundError("id", f"no recipient {recipient_id}")
    return recipient


def list_recipients(
    *,
    session: Session,
    desk: Desk | None = None,
    department: str | None = None,
    active: bool | None = None,
) -> Sequence[Recipient]:
    query = select(Recipient).order_by(col(Recipient.id))
    if desk is not None:
        query = query.where(Recipient.desk == desk.value)
    if department is not None:
        query = query.where(Recipient.department == department)
    if active is not None:
        query = query.where(Recipient.active == active)
    return session.exec(query).all()


def update_recipient(
    *,
    session: Session,
    recipient_id: int,
    name: str | None = None,
    desk: Desk | None = None,
    department: str | Unset | None = UNSET,
    channel: Channel | None = None,
    address: str | None = None,
    secret: str | Unset | None = UNSET,
    events: Sequence[str] | Unset | None = UNSET,
    active: bool | None = None,
) -> Recipient:
    """Change what is given (UNSET: leave as is, where None means something); commits.

    The result must satisfy the same rules as a new entry; moving to a bureau-wide desk drops
    the department unless one is given (which is then an error).
    """
    recipient = get_recipient(session=session, recipient_id=recipient_id)
    new_desk = desk if desk is not None else Desk(recipient.desk)
    if isinstance(department, Unset):
        new_department = recipient.department if new_desk in PER_DEPARTMENT_DESKS else None
    else:
        new_department = department
    new_secret = recipient.secret if isinstance(secret, Unset) else secret
    new_events = recipient.events if isinstance(events, Unset) else events
    new_channel = channel or recipient.channel
    if new_channel == "email" and isinstance(secret, Unset):
        new_secret = None  # an e-mail recipient signs nothing; a stale key is no use
    _check_recipient(
        name=name if name is not None else recipient.name,
        desk=new_desk,
        department=new_department,
        channel=new_channel,
        address=address if address is not None else recipient.address,
        secret=new_secret,
        events=new_events,
    )
    if name is not None:
        recipient.name = name.strip()
    recipient.desk = new_desk.value
    recipient.department = new_department
    recipient.channel = new_channel
    if address is not None:
        recipient.address = address
    recipient.secret = new_secret
    recipient.events = list(new_events) if new_events is not None else None
    if active is not None:
        recipient.active = active
    _check_unique(session, recipient)
    session.add(recipient)
    session.commit()
    log.info("recipient_updated", recipient_id=recipient_id)
    return recipient


def delete_recipient(*, session: Session, recipient_id: int) -> None:
    """Remove a directory entry; its outbox rows stay, and those not yet sent will fail."""
    recipient = get_recipient(session=session, recipient_id=recipient_id)
    session.delete(recipient)
    session.commit()
    log.info("recipient_deleted", recipient_id=recipient_id)


# --- the outbox -------------------------------------------------------------------------------


def notification_key(project_code: str, seq: int, recipient_id: int) -> str:
    """The row's identity: one message per history entry and recipient, however often projected."""
    return f"{project_code}:{seq}:{recipient_id}"


class DirectoryEntry(Protocol):
    """What resolving an audience reads of a recipient: a `Recipient`, or its row as read by
    `enqueue`'s prebuilt statement."""

    @property
    def id(self) -> int | None: ...
    @property
    def name(self) -> str: ...
    @property
    def desk(self) -> str: ...
    @property
    def department(self) -> str | None: ...
    @property
    def channel(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def events(self) -> list[str] | None: ...
    @property
    def active(self) -> bool: ...


_Entry = TypeVar("_Entry", bound=DirectoryEntry)


def resolve(
    audience: Audience, *, project: ProjectState, event: str, directory: Iterable[_Entry]
) -> list[_Entry]:
    """The active entries of `directory` that `audience` reaches for `event` of `project`."""
    info = project.info
    # The workflow may narrow a per-department desk itself; by default it is the project's own.
    department = audience.department or info.department
    found = []
    for recipient in directory:
        if not recipient.active or recipient.desk != audience.desk.value:
            continue
        if recipient.events is not None and event not in recipient.events:
            continue
        if audience.desk in PER_DEPARTMENT_DESKS:
            if recipient.department is not None and recipient.department != department:
                continue
            if audience.desk is Desk.PROJECT_OWNER and recipient.name != info.owner:
                continue
        found.append(recipient)
    return found


def _payload(project: ProjectState, entry: HistoryEntry, desk: Desk) -> dict[str, Any]:
    info = project.info
    # mode="json": the detail becomes what a receiver parses (Decimals as strings, dates ISO).
    dumped = entry.model_dump(mode="json", include={"at", "detail"})
    return {
        "project_code": info.code,
        "name": info.name,
        "department": info.department,
        "event": entry.action,
        "fiscal_year": entry.fiscal_year,
        "seq": entry.seq,
        "desk": desk.value,
        "detail": dumped["detail"],
        "at": dumped["at"],
    }


_RECIPIENTS: Table = Recipient.__table__  # type: ignore[attr-defined]
_OUTBOX: Table = Notification.__table__  # type: ignore[attr-defined]
# Prebuilt Core statements (compiled once, cached under one key): `enqueue` runs in the
# write-through of every action that notifies, where building and loading ORM objects cost
# more than the database did.
_DIRECTORY = core_select(_RECIPIENTS).where(
    _RECIPIENTS.c.active.is_(True),
    _RECIPIENTS.c.desk.in_(bindparam("desks", expanding=True)),
)
# A row already queued (a retried projection, a rebuild) is left as it is. SQLAlchemy keeps
# an INSERT's rowcount only when asked (`preserve_rowcount`); without it PostgreSQL's read -1
# and the count of new rows, logged and returned, was 0 there.
_INSERT_OUTBOX = {
    dialect: insert_for(_OUTBOX)
    .on_conflict_do_nothing(index_elements=["key"])
    .execution_options(preserve_rowcount=True)
    for dialect, insert_for in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def enqueue(session: Session, *, project: ProjectState, entries: Sequence[HistoryEntry]) -> int:
    """Write the outbox rows of `entries`, once each; returns how many rows are new.

    Runs in the caller's transaction and does not commit: the rows are committed with the
    history entries that caused them (`service.projection`), or not at all.
    """
    if not any(entry.notify for entry in entries):
        return 0  # most entries notify nobody: no directory read for them
    desks = {a.desk.value for entry in entries for a in entry.notify}
    db = session.connection()
    directory = cast(
        Sequence[DirectoryEntry], db.execute(_DIRECTORY, {"desks": sorted(desks)}).all()
    )
    now = _now()
    rows: dict[str, dict[str, Any]] = {}
    code = project.info.code
    for entry in entries:
        for audience in entry.notify:
            for recipient in resolve(
                audience, project=project, event=entry.action, directory=directory
            ):
                recipient_id = _saved_id(recipient)
                key = notification_key(code, entry.seq, recipient_id)
                # Two audiences reaching one recipient (a desk named twice) make one message.
                rows.setdefault(
                    key,
                    {
                        "key": key,
                        "project_code": code,
                        "seq": entry.seq,
                        "event": entry.action,
                        "desk": audience.desk.value,
                        "recipient_id": recipient_id,
                        "channel": recipient.channel,
                        "address": recipient.address,
                        "payload": _payload(project, entry, audience.desk),
                        "status": "pending",
                        "attempts": 0,
                        "created_at": now,
                    },
                )
    added = insert_outbox(db, list(rows.values()))
    if added:
        log.info("notifications_enqueued", project_code=code, count=added)
    return added


def insert_outbox(db: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Queue outbox rows in the caller's transaction, each once by its key; how many are new.

    Shared by the projects' and the departments' projections.
    """
    if not rows:
        return 0
    result = cast(CursorResult[Any], db.execute(_INSERT_OUTBOX[db.dialect.name], list(rows)))
    return max(result.rowcount, 0)


def get_notification(*, session: Session, notification_id: int) -> Notification:
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotFoundError("id", f"no notification {notification_id}")
    return row


def list_notifications(
    session: Session,
    *,
    status: NotificationStatus | None = None,
    project: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> NotificationPage:
    """Outbox rows, newest first, filtered by status and project code."""
    query = select(Notification)
    if status is not None:
        query = query.where(Notification.status == status)
    if project is not None:
        query = query.where(Notification.project_code == project)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(Notification.id).desc()).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return NotificationPage(
        items=[NotificationPublic.of(row) for row in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


def retry_notification(
    *, session: Session, settings: Settings, notification_id: int
) -> Notification:
    """Put a failed row back to pending with fresh tries, and deliver it now; commits."""
    row = get_notification(session=session, notification_id=notification_id)
    reset = cast(
        CursorResult[Any],
        session.execute(
            update(Notification)
            .where(col(Notification.id) == notification_id, col(Notification.status) == "failed")
            .values(status="pending", attempts=0, claimed_by=None, claimed_at=None)
        ),
    )
    session.commit()
    if reset.rowcount != 1:
        raise ConflictError("status", f"only a failed notification is retried; it is {row.status}")
    log.info("notification_retry_requested", key=row.key)
    deliver(session, settings=settings, notification_ids=[notification_id])
    session.refresh(row)
    return row


# --- delivery ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryCounts:
    sent: int = 0
    failed: int = 0
    pending: int = 0  # still pending afterwards: claimed by another deliverer, or newly added
    captured: int = 0


@dataclass(frozen=True)
class _Job:
    """What sending one row needs, read while claiming it (no transaction is open while sending)."""

    id: int
    key: str
    event: str
    desk: str
    channel: str
    address: str
    payload: dict[str, Any]
    attempts: int
    secret: str | None
    refusal: str | None  # why this row cannot be sent at all (recipient removed, ...)


class _SendError(Exception):
    """One try failed; `transient` ones are worth another try, others are not."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        self.reason = reason
        self.transient = transient
        super().__init__(reason)


def _filters(
    project_code: str | None, notification_ids: Sequence[int] | None
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if project_code is not None:
        where.append(col(Notification.project_code) == project_code)
    if notification_ids is not None:
        where.append(col(Notification.id).in_(notification_ids))
    return where


def _rowcount(session: Session, statement: Any) -> int:
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def deliver(
    session: Session,
    *,
    settings: Settings,
    project_code: str | None = None,
    notification_ids: Sequence[int] | None = None,
    heartbeat: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryCounts:
    """Send the pending rows (of one project, or the given ids); commits after every step.

    Never raises for a recipient's failure: that row ends `failed` with the reason. Database
    errors do raise (the caller, an activity, is retried by Temporal and nothing was lost).
    `heartbeat` is called between tries, so a long backoff shows the activity is alive.
    """
    where = _filters(project_code, notification_ids)
    _recover_stale_claims(session, settings, where)
    if settings.notification_mode == "capture":
        captured = _rowcount(
            session,
            update(Notification)
            .where(col(Notification.status) == "pending", *where)
            .values(status="captured", sent_at=_now()),
        )
        session.commit()
        return DeliveryCounts(captured=captured, pending=_count_pending(session, where))
    ids = session.exec(
        select(Notification.id)
        .where(col(Notification.status) == "pending", *where)
        .order_by(col(Notification.id))
    ).all()
    session.commit()  # end the read: nothing stays open while we talk to the network
    token = uuid.uuid4().hex  # this delivery's claim on the rows it sends
    sent = failed = 0
    with httpx.Client(
        timeout=settings.notification_timeout_seconds, follow_redirects=False
    ) as http:
        for notification_id in ids:
            if notification_id is None:
                continue
            job = _claim(session, notification_id, token)
            if job is None:
                continue  # another deliverer has it
            outcome = _send_with_retries(
                session, job, token, settings=settings, http=http, heartbeat=heartbeat, sleep=sleep
            )
            sent += outcome == "sent"
            failed += outcome == "failed"
            if heartbeat is not None:
                heartbeat()
    return DeliveryCounts(sent=sent, failed=failed, pending=_count_pending(session, where))


def _count_pending(session: Session, where: Sequence[ColumnElement[bool]]) -> int:
    count = session.exec(
        select(func.count())
        .select_from(Notification)
        .where(col(Notification.status) == "pending", *where)
    ).one()
    session.commit()
    return count


def _recover_stale_claims(
    session: Session, settings: Settings, where: Sequence[ColumnElement[bool]]
) -> None:
    """Rows claimed by a deliverer that died (worker killed mid-send) become pending again.

    Such a row may have been sent already; the receiver recognises the repeat by its key.
    """
    cutoff = _now() - timedelta(seconds=settings.notification_claim_timeout_seconds)
    recovered = _rowcount(
        session,
        update(Notification)
        .where(
            col(Notification.status) == "sending",
            col(Notification.claimed_at) < cutoff,
            *where,
        )
        .values(status="pending", claimed_by=None, claimed_at=None),
    )
    session.commit()
    if recovered:
        log.warning("notification_claims_recovered", count=recovered)


def _claim(session: Session, notification_id: int, token: str) -> _Job | None:
    """Take the row for this delivery (pending → sending), or None if someone else was first."""
    claimed = _rowcount(
        session,
        update(Notification)
        .where(col(Notification.id) == notification_id, col(Notification.status) == "pending")
        .values(status="sending", claimed_by=token, claimed_at=_now()),
    )
    if claimed != 1:
        session.commit()
        return None
    row = session.get_one(Notification, notification_id, populate_existing=True)
    recipient = session.get(Recipient, row.recipient_id)
    refusal: str | None = None
    if recipient is None:
        refusal = "the recipient was removed from the directory"
    elif not recipient.active:
        refusal = "the recipient is inactive"
    else:
        # The directory's current address, so that an operator who fixed a wrong address can
        # retry the failed rows; the row keeps where it actually went.
        row.channel = recipient.channel
        row.address = recipient.address
        session.add(row)
    job = _Job(
        id=notification_id,
        key=row.key,
        event=row.event,
        desk=row.desk,
        channel=row.channel,
        address=row.address,
        payload=dict(row.payload),
        attempts=row.attempts,
        secret=recipient.secret if recipient is not None else None,
        refusal=refusal,
    )
    session.commit()
    return job


def _send_with_retries(
    session: Session,
    job: _Job,
    token: str,
    *,
    settings: Settings,
    http: httpx.Client,
    heartbeat: Callable[[], None] | None,
    sleep: Callable[[float], None],
) -> str:
    """Try until sent, refused for good, or out of tries; "sent", "failed" or "lost"."""
    attempts = job.attempts
    if job.refusal is not None:
        return _finish(session, job, token, "failed", attempts=attempts, error=job.refusal)
    redact = [s for s in (job.secret, settings.smtp_password, job.address) if s]
    error = f"gave up after {attempts} attempts"
    tries = 0
    while attempts < settings.notification_max_attempts:
        if tries:
            delay = settings.notification_retry_delay_seconds * 2 ** (tries - 1)
            sleep(min(delay, MAX_BACKOFF_SECONDS))
            if heartbeat is not None:
                heartbeat()
        attempts += 1
        tries += 1
        # Counted before the try: a worker killed mid-send still used one up.
        if not _record_attempt(session, job, token, attempts):
            return "lost"
        try:
            if job.channel == "webhook":
                _send_webhook(job, http)
            else:
                _send_email(job, settings)
        except _SendError as failure:
            error = _redacted(failure.reason, redact)
            log.info(
                "notification_try_failed",
                key=job.key,
                channel=job.channel,
                attempt=attempts,
                error=error,
                transient=failure.transient,
            )
            if not failure.transient:
                break
            continue
        return _finish(session, job, token, "sent", attempts=attempts, error=None)
    return _finish(session, job, token, "failed", attempts=attempts, error=error)


def _record_attempt(session: Session, job: _Job, token: str, attempts: int) -> bool:
    held = _rowcount(
        session,
        update(Notification)
        .where(col(Notification.id) == job.id, col(Notification.claimed_by) == token)
        .values(attempts=attempts, claimed_at=_now()),
    )
    session.commit()
    return held == 1


def _finish(
    session: Session, job: _Job, token: str, status: str, *, attempts: int, error: str | None
) -> str:
    values: dict[str, Any] = {
        "status": status,
        "attempts": attempts,
        "claimed_by": None,
        "claimed_at": None,
        "last_error": error[:MAX_ERROR] if error else None,
    }
    if status == "sent":
        values["sent_at"] = _now()
    finished = _rowcount(
        session,
        update(Notification)
        .where(col(Notification.id) == job.id, col(Notification.claimed_by) == token)
        .values(**values),
    )
    session.commit()
    if finished != 1:
        # Our claim was taken as stale and the row re-claimed: its new holder records it.
        log.warning("notification_claim_lost", key=job.key)
        return "lost"
    if status == "sent":
        log.info("notification_sent", key=job.key, channel=job.channel, attempts=attempts)
    else:
        log.warning(
            "notification_failed", key=job.key, channel=job.channel, attempts=attempts, error=error
        )
    return status


def _redacted(reason: str, secrets: Sequence[str]) -> str:
    """The error text without any secret it might quote (a URL may carry a token)."""
    for secret in secrets:
        reason = reason.replace(secret, "***")
    return reason[:MAX_ERROR]


# --- webhooks ---------------------------------------------------------------------------------


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes that are signed and sent (UTF-8 JSON, Chinese kept readable)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, body: bytes) -> str:
    """The `X-Perfbudget-Signature` value a receiver recomputes with its copy of the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _send_webhook(job: _Job, http: httpx.Client) -> None:
    if not job.secret:
        raise _SendError("the recipient has no webhook secret", transient=False)
    body = webhook_body(job.payload)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: signature(job.secret, body),
        DELIVERY_HEADER: job.key,
        EVENT_HEADER: job.event,
        "User-Agent": "perfbudget-notifications",
    }
    try:
        response = http.post(job.address, content=body, headers=headers)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise _SendError(f"bad webhook address: {error}", transient=False) from None
    except httpx.HTTPError as error:
        # Connection refused, DNS, timeouts, a reset: the receiver may be back in a moment.
        raise _SendError(f"{type(error).__name__}: {error}", transient=True) from None
    status = response.status_code
    if 200 <= status < 300:
        return
    # 408/425/429 and 5xx say "later"; any other answer will not change by asking again.
    transient = status in (408, 425, 429) or status >= 500
    raise _SendError(f"the receiver answered HTTP {status}", transient=transient)


# --- e-mail -----------------------------------------------------------------------------------

DESK_ZH: Final[dict[str, str]] = {
    Desk.DEPARTMENT: "部门（单位）",
    Desk.DEPARTMENT_HEAD: "部门主要负责人",
    Desk.PROJECT_OWNER: "项目责任人",
    Desk.FINANCE: "区财政部门",
    Desk.LEADERSHIP: "区工委、管委会",
    Desk.DISCIPLINE: "审计、纪检监察部门",
}
EVENT_ZH: Final[dict[str, str]] = {
    EventKind.REMINDER: "到期提醒",
    EventKind.OVERDUE: "逾期通知",
    EventKind.ESCALATION: "逾期升级",
    EventKind.ACCOUNTABILITY: "问责记录",
    EventKind.WARNING: "绩效运行预警",
    EventKind.FLAG: "重点关注标记",
    # Department years (部门整体绩效) notify through the same outbox.
    "assessment_notice": "部门绩效管理考核通报",
    "set_control_number": "下达预算控制数",
}
# What the reader is asked to do, by event; a person's action asks for a look and follow-up.
ASK_ZH: Final[dict[str, str]] = {
    EventKind.REMINDER: "请在截止日期前完成该项工作。",
    EventKind.OVERDUE: "该项工作已逾期，请立即办理并说明逾期原因。",
    EventKind.ESCALATION: "请督促责任部门限期办理。",
    EventKind.ACCOUNTABILITY: "请依规启动问责程序。",
    EventKind.WARNING: "请核实执行偏差，并在规定期限内作出答复（继续实施、调整用途或取消）。",
    EventKind.FLAG: "请将该项目列入重点评价。",
    "assessment_notice": "贵部门绩效管理工作考核靠后，请部门负责人接受约谈并限期整改。",
}
DEFAULT_ASK_ZH: Final = "请登录预算绩效管理系统查看，并按职责办理。"


def event_label_zh(event: str) -> str:
    if event in ACTIONS:
        return ACTIONS[event].label_zh
    return EVENT_ZH.get(event, event)


def email_subject(payload: dict[str, Any]) -> str:
    name, code = payload.get("name", ""), payload.get("project_code", "")
    return f"【预算绩效】{name}（{code}）：{event_label_zh(str(payload.get('event', '')))}"


def email_text(payload: dict[str, Any], *, key: str, settings: Settings) -> str:
    event = str(payload.get("event", ""))
    lines = [
        f"{DESK_ZH.get(str(payload.get('desk', '')), '您好')}：",
        "",
        f"项目：{payload.get('name', '')}（{payload.get('project_code', '')}）",
        f"主管部门：{payload.get('department', '')}",
    ]
    if payload.get("fiscal_year") is not None:
        lines.append(f"年度：{payload['fiscal_year']}年")
    lines.append(f"事项：{event_label_zh(event)}")
    at = payload.get("at")
    if isinstance(at, str):
        local = datetime.fromisoformat(at).astimezone(zone(settings.rules))
        lines.append(f"时间：{local:%Y-%m-%d %H:%M}")
    lines += ["", f"需要您：{ASK_ZH.get(event, DEFAULT_ASK_ZH)}"]
    detail = payload.get("detail") or {}
    if isinstance(detail, dict) and detail:
        lines += ["", "详情：", *_detail_lines(detail)]
    lines += ["", f"本邮件由预算绩效管理系统自动发送，请勿直接回复。投递编号：{key}"]
    return "\n".join(lines) + "\n"


# The detail's fields as the e-mail's reader knows them; a field not named here (a new one, an
# action's own) is shown under its own name.
DETAIL_FIELD_ZH: Final[dict[str, str]] = {
    "adjusted_score": "调整后得分",
    "amount": "金额（元）",
    "base_amount": "付费基数（元）",
    "ceiling": "控制数（元）",
    "comment": "意见",
    "consequence": "结果应用",
    "cut_applies_to": "压减预算年度",
    "cut_percent": "压减比例（%）",
    "due": "截止日期",
    "duty": "事项",
    "duty_zh": "事项",
    "evidence": "依据",
    "execution_pct": "预算执行率（%）",
    "exit_proposed": "建议退出",
    "fiscal_year": "年度",
    "flag": "标记",
    "gap": "分差",
    "grade": "评价等级",
    "grade_zh": "评价等级",
    "level": "预警级别",
    "lifelong": "终身追责",
    "note": "说明",
    "offset_days": "逾期天数",
    "owner": "责任方",
    "payment_pct": "付费比例（%）",
    "phase": "阶段",
    "phase_zh": "阶段",
    "public_notice": "公开通报",
    "reason": "原因",
    "reasons": "原因",
    "rejected_total": "核减金额（元）",
    "replaces_grade": "原评价等级",
    "report": "报告",
    "reserved": "已占用控制数（元）",
    "respond_by": "答复期限",
    "results_year": "结果应用年度",
    "score": "得分",
    "scores": "分项得分",
    "self_evaluated_grade": "自评等级",
    "subject": "责任主体",
    "threshold_pct": "应达执行率（%）",
    "to": "送达",
    "withheld": "扣减金额（元）",
}
# A field shown already by its Chinese twin (`duty_zh` beside `duty`) is not shown twice.
_TWIN_ZH: Final[dict[str, str]] = {"duty": "duty_zh", "phase": "phase_zh", "grade": "grade_zh"}
_LEVEL_ZH: Final[dict[str, str]] = {"red": "红色预警", "yellow": "黄色预警"}
_OWNER_ZH: Final[dict[str, str]] = {"department": "部门（单位）", "finance": "区财政部门"}
_FLAG_ZH: Final[dict[str, str]] = {"key_evaluation": "列入财政重点评价"}
_GRADES: Final[dict[str, str]] = {grade.value: label for grade, label in GRADE_ZH.items()}
_CONSEQUENCES: Final[dict[str, str]] = {c.value: label for c, label in CONSEQUENCE_ZH.items()}


def _detail_lines(detail: dict[str, Any]) -> Iterator[str]:
    for name, value in detail.items():
        if _TWIN_ZH.get(name) in detail:
            continue
        yield f"  {DETAIL_FIELD_ZH.get(name, name)}：{_value_zh(name, value)}"


def _value_zh(name: str, value: Any) -> str:
    """A detail value as a Chinese reader reads it: the rules' words (grades, desks, reasons
    worded in English in the history) in Chinese, a person's own words as they wrote them."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if value is None:
        return "—"
    labels = {
        "grade": _GRADES,
        "self_evaluated_grade": _GRADES,
        "replaces_grade": _GRADES,
        "level": _LEVEL_ZH,
        "owner": _OWNER_ZH,
        "flag": _FLAG_ZH,
        "consequence": _CONSEQUENCES,
    }.get(name)
    if labels is not None and isinstance(value, str):
        return labels.get(value, value)
    if name == "offset_days" and isinstance(value, int):  # a rung's distance from the deadline
        return f"{value}天" if value >= 0 else f"截止前{-value}天"
    if name == "to" and isinstance(value, list):
        return "、".join(DESK_ZH.get(str(desk), str(desk)) for desk in value)
    if name == "reason" and isinstance(value, str):
        return reason_zh(value)
    if name == "reasons" and isinstance(value, list):
        return "；".join(reason_zh(r) if isinstance(r, str) else str(r) for r in value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def email_message(job: _Job, settings: Settings) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = email_subject(job.payload)
    message["From"] = settings.smtp_from
    message["To"] = job.address
    message["Date"] = format_datetime(_now())
    # Derived from the key, so a repeat after a crash carries the same id and mail systems can
    # drop it; ':' is not allowed in a Message-ID's left part.
    message["Message-ID"] = f"<{job.key.replace(':', '.')}@perfbudget>"
    message[DELIVERY_HEADER] = job.key
    message[EVENT_HEADER] = job.event
    message.set_content(email_text(job.payload, key=job.key, settings=settings))
    return message


def _send_email(job: _Job, settings: Settings) -> None:
    message = email_message(job, settings)
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.notification_timeout_seconds
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as refused:
        codes = [code for code, _ in refused.recipients.values()]
        # 4xx: the mailbox is busy or full for now; 5xx: it does not exist.
        raise _SendError(
            f"the SMTP server refused the recipient ({codes})",
            transient=all(400 <= code < 500 for code in codes),
        ) from None
    except smtplib.SMTPResponseException as error:
        raise _SendError(
            f"SMTP {error.smtp_code}: {_smtp_text(error.smtp_error)}",
            transient=400 <= error.smtp_code < 500,
        ) from None
    except smtplib.SMTPNotSupportedError as error:
        raise _SendError(f"SMTP: {error}", transient=False) from None
    except (smtplib.SMTPException, OSError) as error:
        # Connection refused or dropped, a timeout: the server may be back in a moment.
        raise _SendError(f"{type(error).__name__}: {error}", transient=True) from None


def _smtp_text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else raw
