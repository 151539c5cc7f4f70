"""Notification routes: the outbox for finance and auditors, the directory for admins."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from models.notify import Desk
from service.notifications import DELIVERY_HEADER, deliver, enqueue
from service.settings import Settings
from tests.service.conftest import SECRET, sign_in
from tests.service.test_notifications import (
    HOOK_SECRET,
    WebhookReceiver,
    entry,
    free_port,
    project,
    receiver,  # noqa: F401  (a fixture, used by name)
)

pytestmark = pytest.mark.usefixtures("users")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The suite's API settings with cheap delivery retries."""
    return Settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'api.db'}",
        jwt_secret=SECRET,
        token_ttl_minutes=15,
        log_format="json",
        notification_max_attempts=2,
        notification_retry_delay_seconds=0.01,
        notification_timeout_seconds=2.0,
    )


def hook_body(url: str, **extra: object) -> dict[str, object]:
    return {
        "name": "财政局接口",
        "desk": "finance",
        "channel": "webhook",
        "address": url,
        "secret": HOOK_SECRET,
        **extra,
    }


async def add_hook(client: httpx.AsyncClient, url: str) -> int:
    response = await client.post(
        "/api/recipients", json=hook_body(url), headers=await sign_in(client, "admin")
    )
    assert response.status_code == 201, response.text
    recipient_id: int = response.json()["id"]
    return recipient_id


class TestDirectory:
    async def test_crud_and_the_secret_is_write_only(
        self, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Admins add, list, change and remove recipients; no response or log has the secret."""
        admin = await sign_in(client, "admin")
        created = await client.post(
            "/api/recipients", json=hook_body("http://h.example/x"), headers=admin
        )
        assert created.status_code == 201
        body = created.json()
        assert body["has_secret"] is True
        assert "secret" not in body
        rid = body["id"]
        changed = await client.patch(
            f"/api/recipients/{rid}",
            json={"secret": "another-secret-0123456789", "events": ["submit"], "active": False},
            headers=admin,
        )
        assert changed.status_code == 200, changed.text
        assert (changed.json()["events"], changed.json()["active"]) == (["submit"], False)
        listed = await client.get("/api/recipients", headers=admin)
        assert [r["id"] for r in listed.json()] == [rid]
        for text in (created.text, changed.text, listed.text, capsys.readouterr().err):
            assert HOOK_SECRET not in text
            assert "another-secret-0123456789" not in text
        assert (await client.delete(f"/api/recipients/{rid}", headers=admin)).status_code == 204
        assert (await client.get("/api/recipients", headers=admin)).json() == []

    @pytest.mark.parametrize(
        ("body", "status", "field"),
        [
            ({"secret": None}, 422, "body.secret"),
            ({"address": "not a url"}, 422, "body.address"),
            ({"department": "D1"}, 422, "body.department"),
            ({"desk": "nobody"}, 422, "body.desk"),
            ({"surprise": 1}, 422, "body.surprise"),
        ],
    )
    async def test_bad_recipient_is_a_problem_naming_the_field(
        self, client: httpx.AsyncClient, body: dict[str, object], status: int, field: str
    ) -> None:
        """Every refusal is problem details with the field and the reason."""
        response = await client.post(
            "/api/recipients",
            json=hook_body("http://h.example/x", **body),
            headers=await sign_in(client, "admin"),
        )
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]]

    async def test_duplicate_and_missing(self, client: httpx.AsyncClient) -> None:
        """The same desk and address twice is 409; an unknown id is 404, both with the field."""
        admin = await sign_in(client, "admin")
        await add_hook(client, "http://h.example/x")
        again = await client.post(
            "/api/recipients", json=hook_body("http://h.example/x"), headers=admin
        )
        assert again.status_code == 409
        assert again.json()["errors"][0]["field"] == "body.address"
        missing = await client.patch("/api/recipients/999", json={"active": True}, headers=admin)
        assert missing.status_code == 404
        assert missing.json()["errors"] == [{"field": "path.id", "reason": "no recipient 999"}]

    async def test_only_admins(self, client: httpx.AsyncClient) -> None:
        """Finance may not edit the directory (403)."""
        response = await client.get("/api/recipients", headers=await sign_in(client, "fin"))
        assert response.status_code == 403


class TestOutbox:
    async def test_failed_delivery_is_listed_and_retried(
        self,
        client: httpx.AsyncClient,
        session: Session,
        settings: Settings,
        receiver: WebhookReceiver,  # noqa: F811  (the fixture imported above)
    ) -> None:
        """A refused webhook shows under status=failed; after fixing the address a retry sends it."""
        rid = await add_hook(client, f"http://127.0.0.1:{free_port()}/hook")
        enqueue(session, project=project(), entries=[entry(1, "submit", Desk.FINANCE)])
        session.commit()
        counts = deliver(session, settings=settings, project_code="P001")
        assert counts.failed == 1
        finance = await sign_in(client, "fin")
        failed = await client.get("/api/notifications?status=failed", headers=finance)
        assert failed.status_code == 200
        [item] = failed.json()["items"]
        assert (item["key"], item["attempts"]) == (f"P001:1:{rid}", 2)
        assert "Connection refused" in item["last_error"]
        auditor = await client.get(
            "/api/notifications?project=P001", headers=await sign_in(client, "audit")
        )
        assert auditor.json()["total"] == 1

        fixed = await client.patch(
            f"/api/recipients/{rid}",
            json={"address": receiver.url},
            headers=await sign_in(client, "admin"),
        )
        assert fixed.status_code == 200
        retried = await client.post(f"/api/notifications/{item['id']}/retry", headers=finance)
        assert retried.status_code == 200, retried.text
        assert (retried.json()["status"], retried.json()["attempts"]) == ("sent", 1)
        assert [d.headers[DELIVERY_HEADER] for d in receiver.received] == [item["key"]]
        again = await client.post(f"/api/notifications/{item['id']}/retry", headers=finance)
        assert again.status_code == 409
        assert again.json()["errors"][0]["field"] == "status"

    async def test_roles_and_bad_queries(self, client: httpx.AsyncClient) -> None:
        """Departments may not read the outbox; a bad status is 422; an unknown row is 404."""
        clerk = await client.get("/api/notifications", headers=await sign_in(client, "clerk"))
        assert clerk.status_code == 403
        admin = await sign_in(client, "admin")
        bad = await client.get("/api/notifications?status=lost", headers=admin)
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "query.status"
        missing = await client.post("/api/notifications/42/retry", headers=admin)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        evaluator = await client.post(
            "/api/notifications/42/retry", headers=await sign_in(client, "audit")
        )
        assert evaluator.status_code == 403
