"""The responsibility register, the zone report and disclosure over the real stack, on SQLite
and PostgreSQL: an action through the workflow reaches the register with who took it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests import factories as f
from tests.api.conftest import Api

LEAD = {"reason": "套取财政资金线索", "evidence": "审计移送函〔2026〕7号"}


async def test_a_transfer_to_discipline_is_in_the_register(api: Api) -> None:
    """Finance's transfer is recorded by the workflow, projected, and listed with who made it;
    the year filter finds it by its date; a department may not transfer."""
    year = datetime.now(UTC).year + 1
    this_year = (datetime.now(UTC) + timedelta(minutes=480)).year
    code = f"RS{uuid.uuid4().hex[:6].upper()}"
    filed = await api.post("/api/projects", "clerk1", f.filing(code, start=year, end=year))
    assert filed.status_code == 201, filed.text
    refused = await api.act(code, "transfer_to_discipline", "clerk1", LEAD)
    assert refused.status_code == 403
    moved = await api.act(code, "transfer_to_discipline", "fin", LEAD)
    assert moved.status_code == 200, moved.text
    assert moved.json()["state"] == "filed"

    response = await api.get(
        "/api/responsibility", "audit", params={"year": this_year, "department": "D1"}
    )
    assert response.status_code == 200, response.text
    register = response.json()
    transfers = [t for t in register["discipline_transfers"] if t["code"] == code]
    assert [(t["reason"], t["evidence"], t["transferred_by"]) for t in transfers] == [
        (LEAD["reason"], LEAD["evidence"], "fin")
    ]
    decisions = [d for d in register["decisions"] if d["code"] == code]
    assert [(d["action"], d["actor"]) for d in decisions] == [
        ("file", "clerk1"),
        ("transfer_to_discipline", "fin"),
    ]
    other_year = await api.get("/api/responsibility", "fin", params={"year": this_year - 1})
    assert not [d for d in other_year.json()["decisions"] if d["code"] == code]
    by_clerk = await api.get("/api/responsibility", "clerk1", params={"subject": "fin"})
    assert [d["action"] for d in by_clerk.json()["decisions"] if d["code"] == code] == [
        "transfer_to_discipline"
    ]


async def test_reads_of_an_empty_year_answer(api: Api) -> None:
    """A year with nothing in it is an empty report and an empty disclosure list, not an error."""
    report = await api.get("/api/reports/zone/2001", "fin")
    assert report.status_code == 200, report.text
    assert report.json()["spending"]["cycles"] == 0
    public = await api.http.get(
        "/api/public/disclosures", params={"year": 2001, "kind": "notice", "department": "D1"}
    )
    assert public.status_code == 200, public.text
    assert public.json() == {"items": [], "total": 0, "page": 1, "page_size": 50}
