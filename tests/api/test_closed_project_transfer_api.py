"""A lead on a finished project (绩效终身责任追究): its workflow has ended, yet finance can still
transfer it to discipline inspection (移送纪检监察) through the same action; the service records
it once, append-only, in the register, and tells the discipline desk."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlmodel import Session, select

from models.discipline_tables import ClosedProjectTransfer
from models.tables import HistoryRow
from service import audit
from service.db import engine_for
from tests import factories as f
from tests.api.conftest import Api
from tests.faults.support import WEBHOOK_SECRET, WebhookReceiver

LEAD = {"reason": "竣工后发现虚列支出", "evidence": "审计移送函〔2031〕2号", "fiscal_year": 2027}


async def _exited(api: Api) -> str:
    code = f"CT{uuid.uuid4().hex[:6].upper()}"
    year = datetime.now(UTC).year + 1
    filed = await api.post(
        "/api/projects", "clerk1", f.filing(code, major=True, start=year, end=year)
    )
    assert filed.status_code == 201, filed.text
    out = await api.act(code, "exit", "fin", {"reason": "cancelled", "comment": "项目取消"})
    assert out.status_code == 200, out.text
    assert out.json()["state"] == "exited"
    return code


def _rows(api: Api, code: str) -> list[ClosedProjectTransfer]:
    with Session(engine_for(api.settings.effective_database_url)) as session:
        query = select(ClosedProjectTransfer).where(ClosedProjectTransfer.code == code)
        return list(session.exec(query).all())


async def test_a_lead_on_an_exited_project_is_recorded_once_and_sent(api: Api) -> None:
    with WebhookReceiver().running() as receiver:
        desk = await api.post(
            "/api/recipients",
            "admin",
            {"name": "区纪委监委派驻组", "desk": "discipline", "channel": "webhook",
             "address": receiver.url, "secret": WEBHOOK_SECRET},
        )  # fmt: skip
        assert desk.status_code == 201, desk.text
        code = await _exited(api)
        refused = await api.act(code, "transfer_to_discipline", "clerk1", LEAD)
        assert refused.status_code == 403
        bad = await api.act(code, "transfer_to_discipline", "fin", {**LEAD, "evidence": ""})
        assert bad.status_code == 422
        assert "evidence" in bad.text
        assert _rows(api, code) == []  # nothing changed by the refusals

        moved = await api.act(code, "transfer_to_discipline", "fin", LEAD, key="lead-1")
        assert moved.status_code == 200, moved.text
        assert moved.json()["state"] == "exited"
        again = await api.act(code, "transfer_to_discipline", "fin", LEAD, key="lead-1")
        assert again.status_code == 200, again.text  # a retry: recorded once
        reused = await api.act(
            code, "transfer_to_discipline", "fin", {**LEAD, "reason": "另一线索"}, key="lead-1"
        )
        assert reused.status_code == 422
        rows = _rows(api, code)
        assert [(r.actor, r.role, r.project_state, r.reason, r.evidence, r.fiscal_year)
                for r in rows] == [("fin", "finance", "exited", LEAD["reason"], LEAD["evidence"], 2027)]  # fmt: skip

        for _ in range(100):  # delivered after the answer
            if receiver.processed:
                break
            await asyncio.sleep(0.05)
        assert receiver.processed == [f"{code}:transfer-{rows[0].id}:{desk.json()['id']}"]
        assert receiver.bad_signatures == 0
    outbox = await api.get("/api/notifications", "fin", params={"project": code})
    sent = [n for n in outbox.json()["items"] if n["event"] == "transfer_to_discipline"]
    assert [(n["desk"], n["status"]) for n in sent] == [("discipline", "sent")]

    register = (await api.get("/api/responsibility", "audit", params={"year": 2027})).json()
    transfers = [t for t in register["discipline_transfers"] if t["code"] == code]
    assert [(t["reason"], t["evidence"], t["transferred_by"], t["after_close"])
            for t in transfers] == [(LEAD["reason"], LEAD["evidence"], "fin", "exited")]  # fmt: skip
    lifelong = [r for r in register["lifelong"] if r["code"] == code]
    assert [len(r["discipline_transfers"]) for r in lifelong] == [1]
    # The department sees its own project's record; another department does not.
    own = (await api.get("/api/responsibility", "clerk1", params={"department": "D1"})).json()
    assert [t["code"] for t in own["discipline_transfers"]].count(code) == 1
    other = await api.get("/api/responsibility", "clerk2", params={"department": "D2"})
    assert code not in {t["code"] for t in other.json()["discipline_transfers"]}


async def test_other_actions_on_a_finished_project_are_still_refused(api: Api) -> None:
    code = await _exited(api)
    refused = await api.act(code, "suspend_funding", "fin", {"reason": "暂缓"})
    assert refused.status_code == 409
    assert refused.json()["state"] == "exited"


async def test_a_lead_on_a_closed_project_is_in_its_hash_chained_history(api: Api) -> None:
    """The lead is the project's next history entry, chained like the workflow's own: `audit
    verify` holds, and fails on the row altered or removed behind the service's back."""
    code = await _exited(api)
    before = (await api.get(f"/api/projects/{code}/history", "fin")).json()
    moved = await api.act(code, "transfer_to_discipline", "fin", LEAD, key="lead-9")
    assert moved.status_code == 200, moved.text
    again = await api.act(code, "transfer_to_discipline", "fin", LEAD, key="lead-9")
    assert again.status_code == 200, again.text  # a retry: chained once
    history = (await api.get(f"/api/projects/{code}/history", "fin")).json()
    assert history[:-1] == before
    last = history[-1]
    assert (last["seq"], last["action"], last["actor"], last["from"], last["to"]) == (
        before[-1]["seq"] + 1,
        "transfer_to_discipline",
        "fin",
        "exited",
        "exited",
    )
    assert (last["detail"]["reason"], last["detail"]["evidence"]) == (
        LEAD["reason"],
        LEAD["evidence"],
    )
    engine = engine_for(api.settings.effective_database_url)
    with Session(engine) as session:
        assert audit.verify(session, code=code).ok
        row = session.get(HistoryRow, (code, last["seq"]))
        assert row is not None
        row.detail = {**row.detail, "reason": "另一线索"}
        session.commit()
        altered = audit.verify(session, code=code)
        assert [(b.seq, b.kind) for b in altered.breaks] == [(last["seq"], "altered")]
        session.delete(row)
        session.commit()
        removed = audit.verify(session, code=code)
        assert [(b.seq, b.kind) for b in removed.breaks] == [(last["seq"], "removed")]
