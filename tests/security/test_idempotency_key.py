"""An Idempotency-Key replays its own request's outcome and is refused for any other request."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tests import factories as f
from tests.api.conftest import Api


async def _filed(api: Api) -> str:
    code = f"IK{uuid.uuid4().hex[:6].upper()}"
    year = datetime.now(UTC).year + 1
    response = await api.post("/api/projects", "clerk1", f.filing(code, start=year, end=year))
    assert response.status_code == 201, response.text
    return code


async def _history(api: Api, code: str) -> list[tuple[str, str]]:
    response = await api.get(f"/api/projects/{code}/history", "audit")
    return [(entry["action"], entry["actor"]) for entry in response.json()]


async def test_a_used_key_is_refused_for_another_request(api: Api) -> None:
    """Found by the fuzzer: another action (or another user) under a used key got a 200
    carrying the first action's outcome, and did not apply. Now it is a 422 problem."""
    code = await _filed(api)
    key = f"key-{uuid.uuid4()}"
    first = await api.act(code, "submit", "clerk1", {}, key=key)
    assert first.status_code == 200, first.text
    replay = await api.act(code, "submit", "clerk1", {}, key=key)
    assert replay.status_code == 200
    assert replay.json()["seq"] == first.json()["seq"]

    other_action = await api.act(
        code, "suspend_funding", "fin", {"reason": "审计发现问题"}, key=key
    )
    assert other_action.status_code == 422, other_action.text
    assert other_action.headers["content-type"].startswith("application/problem+json")
    assert other_action.json()["title"] == "Idempotency-Key reused"
    assert await _history(api, code) == [("file", "clerk1"), ("submit", "clerk1")]

    # The same action under a fresh key applies.
    fresh = await api.act(code, "suspend_funding", "fin", {"reason": "审计发现问题"})
    assert fresh.status_code == 200, fresh.text
    assert await _history(api, code) == [
        ("file", "clerk1"),
        ("submit", "clerk1"),
        ("suspend_funding", "fin"),
    ]
