"""Notifications: directory resolution, the outbox written once, delivery by webhook and e-mail.

Deliveries go to real servers on 127.0.0.1: an HTTP receiver in a thread and aiosmtpd.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest
import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SMTPSession
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, select
from temporalio.testing import ActivityEnvironment

from activities.notifications import DeliverInput, DeliverResult, NotificationActivities
from models.notification_tables import Notification, Recipient
from models.notify import Audience, Desk
from models.project_state import HistoryEntry, ProjectInfo, ProjectState
from models.vocabulary import Role
from service import notifications
from service.db import engine_for
from service.logging import configure_logging
from service.notifications import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    create_recipient,
    deliver,
    email_text,
    enqueue,
    resolve,
)
from service.outbox_sweep import sweep_once, sweep_outbox
from service.projection import apply_snapshot
from service.settings import Settings
from tests.factories import filing

SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
HOOK_SECRET = "hook-secret-0123456789abcdef"
SMTP_PASSWORD = "smtp-password-never-logged"


# --- local receivers --------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """An HTTP server answering every POST with `status`, after `delay` seconds."""

    url: str
    status: int = 200
    delay: float = 0.0
    received: list[Delivery] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _ReceiverServer

    def do_POST(self) -> None:
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers["Content-Length"]))
        receiver.received.append(Delivery(self.path, dict(self.headers.items()), body))
        time.sleep(receiver.delay)
        self.send_response(receiver.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # the base class's signature
        pass  # quiet: the test asserts on what arrived


class _ReceiverServer(ThreadingHTTPServer):
    receiver: WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = _ReceiverServer(("127.0.0.1", 0), _Handler)
    server.receiver = WebhookReceiver(url=f"http://127.0.0.1:{server.server_port}/hook")
    # A short poll interval: shutdown() waits for the next poll (0.5 s by default).
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server.receiver
    server.shutdown()
    server.server_close()


class MailHandler:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: SMTPSession, envelope: Envelope) -> str:  # noqa: N802  (aiosmtpd's hook name)
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        return [
            message_from_bytes(cast(bytes, e.content), policy=policy.default)
            for e in self.envelopes
        ]


@dataclass
class Mailbox:
    port: int
    handler: MailHandler


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[Mailbox]:
    handler = MailHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield Mailbox(port=controller.port, handler=handler)
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: Mailbox) -> Mailbox:
    smtp_server.handler.envelopes.clear()
    return smtp_server


# --- the database and the project -------------------------------------------------------------


def notify_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": url,
        "jwt_secret": SECRET,
        "log_format": "json",
        # Cheap retries: the behaviour is the same, the suite stays fast.
        "notification_max_attempts": 3,
        "notification_retry_delay_seconds": 0.01,
        "notification_timeout_seconds": 2.0,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def engine(sqlite_url: str) -> Engine:
    engine = engine_for(sqlite_url)
    SQLModel.metadata.create_all(engine)
    return engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as db:
        yield db


def project(code: str = "P001", *, department: str = "D1", owner: str = "张三") -> ProjectState:
    info = ProjectInfo.model_validate({**filing(code), "department": department, "owner": owner})
    return ProjectState(info=info, state="active")


def entry(seq: int, action: str = "submit", *desks: Desk) -> HistoryEntry:
    return HistoryEntry(
        seq=seq,
        at=datetime(2027, 3, 1, 2, 0, tzinfo=UTC),
        actor="clerk",
        role=Role.DEPARTMENT,
        action=action,
        fiscal_year=2027,
        from_state="filed",
        to_state="active",
        detail={"comment": "请审核"},
        notify=[Audience(desk=d) for d in desks],
    )


def webhook(session: Session, url: str, *, desk: Desk = Desk.FINANCE, **kwargs: Any) -> Recipient:
    return create_recipient(
        session=session,
        name=kwargs.pop("name", "财政局接口"),
        desk=desk,
        channel="webhook",
        address=url,
        secret=HOOK_SECRET,
        **kwargs,
    )


def rows(session: Session) -> list[Notification]:
    session.expire_all()
    return list(session.exec(select(Notification).order_by(col(Notification.id))).all())


# --- directory resolution ---------------------------------------------------------------------


def directory() -> dict[str, Recipient]:
    now = datetime.now(UTC)

    def person(name: str, desk: Desk, department: str | None, **kw: Any) -> Recipient:
        return Recipient(
            name=name,
            desk=desk.value,
            department=department,
            channel="email",
            address=f"{name}@example.org",
            created_at=now,
            **kw,
        )

    return {
        "d1": person("d1", Desk.DEPARTMENT, "D1"),
        "d2": person("d2", Desk.DEPARTMENT, "D2"),
        "every-department": person("every", Desk.DEPARTMENT, None),
        "head-d1": person("head", Desk.DEPARTMENT_HEAD, "D1"),
        "owner-d1": person("张三", Desk.PROJECT_OWNER, "D1"),
        "other-owner": person("李四", Desk.PROJECT_OWNER, "D1"),
        "namesake-d2": person("张三", Desk.PROJECT_OWNER, "D2"),
        "finance": person("fin", Desk.FINANCE, None),
        "finance-budget-only": person("fin2", Desk.FINANCE, None, events=["approve_budget"]),
        "leadership-inactive": person("lead", Desk.LEADERSHIP, None, active=False),
    }


class TestResolution:
    @pytest.mark.parametrize(
        ("desk", "expected"),
        [
            (Desk.DEPARTMENT, {"d1", "every-department"}),
            (Desk.DEPARTMENT_HEAD, {"head-d1"}),
            (Desk.PROJECT_OWNER, {"owner-d1"}),
            (Desk.FINANCE, {"finance"}),
            (Desk.LEADERSHIP, set()),
            (Desk.DISCIPLINE, set()),
        ],
    )
    def test_desk_department_and_owner(self, desk: Desk, expected: set[str]) -> None:
        """Department desks match the project's department (or all), the owner by name too;
        bureau-wide desks ignore departments; inactive and filtered-out entries are skipped."""
        entries = directory()
        found = resolve(
            Audience(desk=desk), project=project(), event="submit", directory=entries.values()
        )
        assert {name for name, r in entries.items() if r in found} == expected

    def test_events_filter(self) -> None:
        """A recipient with an events filter hears only of those actions."""
        entries = directory()
        found = resolve(
            Audience(desk=Desk.FINANCE),
            project=project(),
            event="approve_budget",
            directory=entries.values(),
        )
        assert {r.name for r in found} == {"fin", "fin2"}

    def test_audience_may_name_another_department(self) -> None:
        """An audience narrowed to a department reaches that department's desk."""
        entries = directory()
        found = resolve(
            Audience(desk=Desk.DEPARTMENT, department="D2"),
            project=project(),
            event="submit",
            directory=entries.values(),
        )
        assert {r.name for r in found} == {"d2", "every"}


# --- the outbox -------------------------------------------------------------------------------


class TestEnqueue:
    def test_same_entries_twice_make_one_row_each(self, database_url: str) -> None:
        """Projecting the same entries again (retry, write-through, rebuild) adds nothing."""
        engine = engine_for(database_url)
        SQLModel.metadata.create_all(engine)
        with Session(engine, expire_on_commit=False) as session:
            fin = webhook(session, "http://127.0.0.1:9/hook")
            entries = [entry(1, "submit", Desk.FINANCE), entry(2, "submit_goals")]
            assert apply_snapshot(session, project=project(), seq=2, entries=entries)
            apply_snapshot(session, project=project(), seq=2, entries=entries)
            assert enqueue(session, project=project(), entries=entries) == 0
            session.commit()
            [row] = rows(session)
            assert row.key == f"P001:1:{fin.id}"
            assert (row.status, row.event, row.desk, row.channel) == (
                "pending",
                "submit",
                "finance",
                "webhook",
            )
            assert row.payload == {
                "project_code": "P001",
                "name": "项目 P001",
                "department": "D1",
                "event": "submit",
                "fiscal_year": 2027,
                "seq": 1,
                "desk": "finance",
                "detail": {"comment": "请审核"},
                "at": "2027-03-01T02:00:00Z",
            }
        engine.dispose()

    def test_counts_the_rows_it_adds(self, database_url: str) -> None:
        """The count returned (and logged) is of new rows only, on SQLite and PostgreSQL."""
        engine = engine_for(database_url)
        SQLModel.metadata.create_all(engine)
        with Session(engine, expire_on_commit=False) as session:
            webhook(session, "http://127.0.0.1:9/a")
            webhook(session, "http://127.0.0.1:9/b")
            two = [entry(1, "submit", Desk.FINANCE), entry(2, "submit", Desk.FINANCE)]
            assert enqueue(session, project=project(), entries=two) == 4
            assert enqueue(session, project=project(), entries=two) == 0
            session.rollback()
        engine.dispose()

    def test_runs_in_the_callers_transaction(self, session: Session) -> None:
        """enqueue does not commit: rolling the caller back leaves no row."""
        webhook(session, "http://127.0.0.1:9/hook")
        assert enqueue(session, project=project(), entries=[entry(1, "submit", Desk.FINANCE)]) == 1
        session.rollback()
        assert rows(session) == []

    def test_two_audiences_reaching_one_recipient_make_one_row(self, session: Session) -> None:
        """A recipient for every department named by two department audiences hears once."""
        create_recipient(
            session=session,
            name="all",
            desk=Desk.DEPARTMENT,
            channel="email",
            address="all@example.org",
        )
        twice = entry(1, "submit")
        twice.notify = [
            Audience(desk=Desk.DEPARTMENT, department="D1"),
            Audience(desk=Desk.DEPARTMENT, department="D2"),
        ]
        assert enqueue(session, project=project(), entries=[twice]) == 1


# --- delivery ---------------------------------------------------------------------------------


def queued(session: Session, *desks: Desk, seq: int = 1) -> None:
    enqueue(session, project=project(), entries=[entry(seq, "submit", *desks)])
    session.commit()


class TestWebhook:
    def test_signed_post_with_delivery_key(
        self, session: Session, sqlite_url: str, receiver: WebhookReceiver
    ) -> None:
        """The receiver gets the JSON payload, an HMAC-SHA256 of the exact body, and the key."""
        fin = webhook(session, receiver.url)
        queued(session, Desk.FINANCE)
        counts = deliver(session, settings=notify_settings(sqlite_url), project_code="P001")
        assert (counts.sent, counts.failed, counts.pending) == (1, 0, 0)
        [got] = receiver.received
        expected = hmac.new(HOOK_SECRET.encode(), got.body, hashlib.sha256).hexdigest()
        assert got.headers[SIGNATURE_HEADER] == f"sha256={expected}"
        assert got.headers[DELIVERY_HEADER] == f"P001:1:{fin.id}"
        assert got.headers[EVENT_HEADER] == "submit"
        assert json.loads(got.body)["name"] == "项目 P001"
        [row] = rows(session)
        assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
        assert row.sent_at is not None

    def test_delivering_twice_sends_once(
        self, session: Session, sqlite_url: str, receiver: WebhookReceiver
    ) -> None:
        """A second delivery (activity retry, next action) finds nothing pending."""
        webhook(session, receiver.url)
        queued(session, Desk.FINANCE)
        settings = notify_settings(sqlite_url)
        deliver(session, settings=settings, project_code="P001")
        again = deliver(session, settings=settings, project_code="P001")
        assert (again.sent, again.failed, again.pending) == (0, 0, 0)
        assert len(receiver.received) == 1

    def test_concurrent_deliveries_send_each_row_once(
        self, engine: Engine, session: Session, sqlite_url: str, receiver: WebhookReceiver
    ) -> None:
        """Two deliveries racing over the same rows: each row is claimed, and sent, by one."""
        for n in range(3):
            webhook(session, f"{receiver.url}/{n}", name=f"hook{n}")
        queued(session, Desk.FINANCE)
        receiver.delay = 0.05  # keeps both deliveries busy at the same time
        settings = notify_settings(sqlite_url)

        def run() -> None:
            with Session(engine, expire_on_commit=False) as own:
                deliver(own, settings=settings, project_code="P001")

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        keys = [d.headers[DELIVERY_HEADER] for d in receiver.received]
        assert sorted(keys) == sorted(set(keys))
        assert len(keys) == 3
        assert {r.status for r in rows(session)} == {"sent"}

    def test_stale_claim_is_recovered(
        self, session: Session, sqlite_url: str, receiver: WebhookReceiver
    ) -> None:
        """A row left 'sending' by a deliverer that died is sent by the next delivery."""
        webhook(session, receiver.url)
        queued(session, Desk.FINANCE)
        [row] = rows(session)
        row.status, row.claimed_by = "sending", "dead-worker"
        row.claimed_at = datetime(2020, 1, 1, tzinfo=UTC)
        session.add(row)
        session.commit()
        counts = deliver(session, settings=notify_settings(sqlite_url), project_code="P001")
        assert counts.sent == 1
        assert [r.status for r in rows(session)] == ["sent"]

    def test_refused_connection_fails_after_max_attempts(
        self, session: Session, sqlite_url: str
    ) -> None:
        """Connection refused is retried, then the row is failed with the reason."""
        webhook(session, f"http://127.0.0.1:{free_port()}/hook")
        queued(session, Desk.FINANCE)
        counts = deliver(session, settings=notify_settings(sqlite_url), project_code="P001")
        assert (counts.sent, counts.failed) == (0, 1)
        [row] = rows(session)
        assert (row.status, row.attempts) == ("failed", 3)
        assert row.last_error is not None
        assert "ConnectError" in row.last_error

    def test_client_error_is_not_retried(
        self, session: Session, sqlite_url: str, receiver: WebhookReceiver
    ) -> None:
        """A 4xx answer will not change by asking again: failed after one try."""
        receiver.status = 400
        webhook(session, receiver.url)
        queued(session, Desk.FINANCE)
        deliver(session, settings=notify_settings(sqlite_url), project_code="P001")
        [row] = rows(session)
        assert (row.status, row.attempts, row.last_error) == (
            "failed",
            1,
            "the receiver answered HTTP 400",
        )

    def test_server_error_then_recovery(
        self, session: Session, sqlite_url: str, receiver: WebhookReceiver
    ) -> None:
        """A 503 is retried; the receiver dedupes the tries by the same delivery key."""
        receiver.status = 503
        webhook(session, receiver.url)
        queued(session, Desk.FINANCE)
        counts = deliver(session, settings=notify_settings(sqlite_url), project_code="P001")
        assert counts.failed == 1
        keys = {d.headers[DELIVERY_HEADER] for d in receiver.received}
        assert len(receiver.received) == 3
        assert len(keys) == 1


class TestEmail:
    def test_real_smtp_server_receives_the_mail(
        self, session: Session, sqlite_url: str, mailbox: Mailbox
    ) -> None:
        """An e-mail recipient gets a Chinese subject and body naming project, event and ask."""
        owner = create_recipient(
            session=session,
            name="张三",
            desk=Desk.PROJECT_OWNER,
            department="D1",
            channel="email",
            address="zhangsan@example.org",
        )
        queued(session, Desk.PROJECT_OWNER)
        settings = notify_settings(
            sqlite_url, smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_from="pb@example.org"
        )
        counts = deliver(session, settings=settings, project_code="P001")
        assert counts.sent == 1
        [envelope] = mailbox.handler.envelopes
        assert envelope.rcpt_tos == ["zhangsan@example.org"]
        assert envelope.mail_from == "pb@example.org"
        [message] = mailbox.handler.messages()
        assert message["Subject"] == "【预算绩效】项目 P001（P001）：提交项目"
        assert message["Message-ID"] == f"<P001.1.{owner.id}@perfbudget>"
        text = message.get_content()
        assert "项目：项目 P001（P001）" in text
        assert "需要您：" in text
        assert "2027-03-01 10:00" in text  # China Standard Time

    def test_the_detail_reads_in_chinese(self) -> None:
        """An escalation's and a warning's detail: Chinese field names, desks, levels and the
        rules' reasons (stored in English); a person's own words as written."""
        settings = Settings(environment="test")
        escalation = {
            "project_code": "P001",
            "name": "项目 P001",
            "department": "D1",
            "event": "escalation",
            "fiscal_year": 2027,
            "desk": "finance",
            "detail": {
                "duty": "goals",
                "duty_zh": "申报绩效目标",
                "due": "2026-11-02",
                "offset_days": 15,
                "owner": "department",
                "to": ["finance", "department_head"],
                "reason": "goals 30 days overdue",
            },
            "at": "2026-11-17T02:00:00+00:00",
        }
        text = email_text(escalation, key="P001:9:1", settings=settings)
        assert "  事项：申报绩效目标\n" in text
        assert "  截止日期：2026-11-02\n" in text
        assert "  逾期天数：15天\n" in text
        assert "  责任方：部门（单位）\n" in text
        assert "  送达：区财政部门、部门主要负责人\n" in text
        assert "  原因：申报绩效目标逾期30天\n" in text
        assert "goals" not in text  # the duty is named once, by its Chinese twin
        warning = dict(
            escalation,
            event="warning",
            detail={
                "level": "red",
                "reasons": ["execution 10.00% is below the 40% expected by 2027-06-30"],
                "public_notice": False,
                "comment": "请尽快说明 (see audit)",
            },
        )
        text = email_text(warning, key="P001:10:1", settings=settings)
        assert "  预警级别：红色预警\n" in text
        assert "  原因：预算执行率10.00%，低于2027-06-30应达到的40%\n" in text
        assert "  公开通报：否\n" in text
        assert "  意见：请尽快说明 (see audit)\n" in text

    def test_unreachable_smtp_server_fails(self, session: Session, sqlite_url: str) -> None:
        """No SMTP server: retried, then failed; the delivery itself returns normally."""
        create_recipient(
            session=session, name="fin", desk=Desk.FINANCE, channel="email", address="f@x.org"
        )
        queued(session, Desk.FINANCE)
        settings = notify_settings(sqlite_url, smtp_host="127.0.0.1", smtp_port=free_port())
        counts = deliver(session, settings=settings, project_code="P001")
        assert counts.failed == 1
        [row] = rows(session)
        assert (row.status, row.attempts) == ("failed", 3)


class TestActivity:
    def test_failing_recipient_does_not_fail_the_activity(
        self, engine: Engine, session: Session, sqlite_url: str, receiver: WebhookReceiver
    ) -> None:
        """One refused webhook and one good one: the activity returns, one sent, one failed."""
        webhook(session, f"http://127.0.0.1:{free_port()}/hook", name="broken")
        webhook(session, receiver.url, name="good")
        queued(session, Desk.FINANCE)
        activities = NotificationActivities(engine, notify_settings(sqlite_url))
        # A sync activity: the environment runs it in this thread, with an activity context.
        result = ActivityEnvironment().run(
            activities.deliver_notifications, DeliverInput(project_code="P001")
        )
        assert result == DeliverResult(sent=1, failed=1, pending=0)
        assert len(receiver.received) == 1

    def test_capture_mode_sends_nothing(
        self, engine: Engine, session: Session, sqlite_url: str, receiver: WebhookReceiver
    ) -> None:
        """notification_mode=capture marks rows captured without a single request."""
        webhook(session, receiver.url)
        queued(session, Desk.FINANCE)
        activities = NotificationActivities(
            engine, notify_settings(sqlite_url, notification_mode="capture")
        )
        result = ActivityEnvironment().run(
            activities.deliver_notifications, DeliverInput(project_code="P001")
        )
        assert result == DeliverResult(sent=0, failed=0, pending=0, captured=1)
        assert receiver.received == []
        assert [r.status for r in rows(session)] == ["captured"]


class TestSecretsStayOutOfLogs:
    @pytest.fixture(autouse=True)
    def restore_logging(self) -> Iterator[None]:
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        yield
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()

    def test_no_secret_in_logs_or_errors(
        self,
        session: Session,
        sqlite_url: str,
        receiver: WebhookReceiver,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Neither the webhook secret, the SMTP password nor a token in a URL is logged."""
        settings = notify_settings(
            sqlite_url,
            log_level="DEBUG",
            smtp_host="127.0.0.1",
            smtp_port=free_port(),
            smtp_username="pb",
            smtp_password=SMTP_PASSWORD,
        )
        configure_logging(settings)
        webhook(session, receiver.url)
        webhook(session, f"http://127.0.0.1:{free_port()}/hook?token={HOOK_SECRET}", name="bad")
        create_recipient(
            session=session, name="m", desk=Desk.FINANCE, channel="email", address="m@x.org"
        )
        queued(session, Desk.FINANCE)
        counts = deliver(session, settings=settings, project_code="P001")
        assert (counts.sent, counts.failed) == (1, 2)
        logged = capsys.readouterr().err
        assert "notification_sent" in logged
        assert "notification_failed" in logged
        for secret in (HOOK_SECRET, SMTP_PASSWORD):
            assert secret not in logged
            assert all(secret not in (r.last_error or "") for r in rows(session))
        assert SMTP_PASSWORD not in repr(settings)


class TestOutboxSweep:
    """Rows no workflow will deliver (a transfer on a closed project, a sender that died)."""

    def test_a_sweep_sends_what_is_pending_once(
        self, engine: Engine, session: Session, sqlite_url: str, receiver: WebhookReceiver
    ) -> None:
        webhook(session, receiver.url)
        queued(session, Desk.FINANCE)
        settings = notify_settings(sqlite_url)
        first = sweep_once(engine, settings)
        again = sweep_once(engine, settings)
        assert (first.sent, first.pending, again.sent) == (1, 0, 0)
        assert len(receiver.received) == 1
        [row] = rows(session)
        assert row.status == "sent"

    async def test_the_worker_sweeps_until_stopped(
        self, engine: Engine, session: Session, sqlite_url: str, receiver: WebhookReceiver
    ) -> None:
        """A row queued while the sweeper idles goes out at its next sweep; stop ends it."""
        webhook(session, receiver.url)
        settings = notify_settings(sqlite_url, notification_sweep_seconds=0.05)
        stop = asyncio.Event()
        sweeper = asyncio.create_task(sweep_outbox(engine, settings, stop))
        queued(session, Desk.FINANCE)
        for _ in range(200):
            if receiver.received:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(sweeper, timeout=10)
        assert len(receiver.received) == 1
        assert [r.status for r in rows(session)] == ["sent"]


def test_recipient_rules_name_the_field(session: Session) -> None:
    """A webhook without a secret, a bad URL or a department on a bureau-wide desk is refused."""
    cases: list[tuple[dict[str, Any], str]] = [
        ({"channel": "webhook", "address": "http://h/x"}, "secret"),
        ({"channel": "webhook", "address": "ftp://h/x", "secret": HOOK_SECRET}, "address"),
        ({"channel": "webhook", "address": "http://h/x", "secret": "short"}, "secret"),
        ({"channel": "email", "address": "not-an-email"}, "address"),
        ({"channel": "email", "address": "a@b.org", "department": "D1"}, "department"),
        ({"channel": "email", "address": "a@b.org", "events": ["Bad Name"]}, "events"),
    ]
    for kwargs, culprit in cases:
        with pytest.raises(notifications.NotificationError) as raised:
            create_recipient(session=session, name="x", desk=Desk.FINANCE, **kwargs)
        assert raised.value.field == culprit, kwargs
    assert session.exec(select(Recipient)).all() == []
