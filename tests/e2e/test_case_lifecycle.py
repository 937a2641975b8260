"""Misconduct cases over HTTP on the real stack: an IPO case and an FPU case from referral to the end, the
State's part, refusals, victims' confidentiality and the audit chain."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.database import create_engine
from services.common.settings import Settings
from tests.conftest import bearer, eventually, topic_reader, url

TODAY = datetime.now(UTC).date()


def intake(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mission": "MINUSCA",
        "personnel_category": "individual_police_officer",
        "police_contributing_country": "SEN",
        "allegation_type": "sexual_exploitation",
        "incident_date": str(TODAY - timedelta(days=20)),
        "reported_on": str(TODAY - timedelta(days=2)),
        "how_reported": "community-based complaint network",
        "alleged_perpetrators": 1,
        "victims": 2,
        "victims_minor": 1,
        "description": "Synthetic test case.",
    }
    body.update(overrides)
    return body


async def step(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    case_id: str,
    action: str,
    expect: int = 200,
    **fields: Any,
) -> dict[str, Any]:
    response = await http.post(
        url("cases", f"/cases/{case_id}/actions"), headers=headers, json={"action": action, **fields}
    )
    assert response.status_code == expect, (action, response.text)
    return dict(response.json())


async def test_ipo_case_from_referral_to_conviction(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    officer = bearer(settings, Role.CONDUCT_OFFICER, subject="cdo-1")
    opened = await http.post(url("cases", "/cases"), headers=officer, json=intake())
    assert opened.status_code == 201, opened.text
    case = opened.json()
    case_id = case["case_id"]
    assert case["reference"].startswith(f"MINUSCA-{TODAY.year}-")
    assert case["status"] == "received" and case["category"] == "category_1"
    assert opened.headers["etag"] == '"1"'

    await step(http, officer, case_id, "start_assessment")
    # An action the state does not allow: 409 with the state and what is allowed now.
    refused = await step(http, officer, case_id, "record_finding", expect=409, finding="substantiated")
    assert refused["state"] == "preliminary_assessment"
    assert "refer_for_investigation" in refused["allowed_actions"]
    referred = await step(http, officer, case_id, "refer_for_investigation")
    assert referred["status"] == "under_investigation" and referred["investigating_entity"] == "oios"
    (deadline,) = referred["deadlines"]
    assert deadline["kind"] == "investigation"
    due = datetime.fromisoformat(deadline["due_at"]) - datetime.fromisoformat(deadline["started_at"])
    assert due == timedelta(days=settings.case_policy.sea_investigation_days)  # SEA: 90 days by default

    extended = await step(
        http, officer, case_id, "extend_deadline", kind="investigation", days=30, reason="witness travel"
    )
    assert extended["deadlines"][0]["extensions"] == ["+30d: witness travel"]
    await step(http, officer, case_id, "add_interim_measure", measure="payment_suspension", on=str(TODAY))
    found = await step(
        http, officer, case_id, "record_finding", finding="substantiated", summary="Corroborated."
    )
    assert found["status"] == "action_pending" and found["deadlines"][0]["kind"] == "follow_up"
    await step(http, officer, case_id, "record_un_action", taken="repatriation", on=str(TODAY))
    await step(http, officer, case_id, "refer_for_prosecution", on=str(TODAY))
    await step(http, officer, case_id, "record_hearing", on=str(TODAY), court="Tribunal de grande instance")
    # A conviction records its sentence.
    await step(
        http, officer, case_id, "record_prosecution_outcome", expect=422, outcome="convicted", on=str(TODAY)
    )
    concluded = await step(
        http,
        officer,
        case_id,
        "record_prosecution_outcome",
        outcome="convicted",
        on=str(TODAY),
        sentence="3 years",
    )
    assert concluded["status"] == "prosecution_concluded" and concluded["deadlines"] == []
    closed = await step(
        http, officer, case_id, "close", reason="prosecution_concluded", note="Sentence served notice."
    )
    assert closed["status"] == "closed"
    # A closed case's workflow has ended; reopening starts a new one and the rules still hold.
    await step(http, officer, case_id, "start_assessment", expect=409)
    reopened = await step(http, officer, case_id, "reopen", reason="new evidence from the victim's advocate")
    assert reopened["status"] == "preliminary_assessment" and reopened["version"] == closed["version"] + 1

    # Concurrent edits are detected: a stale ETag is refused.
    stale = await http.post(
        url("cases", f"/cases/{case_id}/actions"),
        headers={**officer, "If-Match": '"2"'},
        json={"action": "assign_officer", "officer": "cdo-2"},
    )
    assert stale.status_code == 412

    events = await _case_events(settings, case_id, minimum=12)
    actions = [e["action"] for e in events]
    assert actions[:3] == ["open", "start_assessment", "refer_for_investigation"]
    assert "reopen" in actions


async def test_fpu_case_with_the_states_part(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    officer = bearer(settings, Role.CONDUCT_OFFICER)
    bangladesh = bearer(settings, Role.STATE_FOCAL_POINT, "BGD")
    other_state = bearer(settings, Role.STATE_FOCAL_POINT, "NPL")
    opened = await http.post(
        url("cases", "/cases"),
        headers=officer,
        json=intake(
            personnel_category="formed_police_unit",
            unit="BANFPU-2",
            police_contributing_country="BGD",
            allegation_type="assault",
            victims=1,
            victims_minor=0,
        ),
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    await step(http, officer, case_id, "start_assessment")
    referred = await step(http, officer, case_id, "refer_for_investigation")
    assert referred["status"] == "awaiting_pcc_reply"
    assert (
        referred["deadlines"][0]["kind"] == "pcc_reply"
        and referred["deadlines"][0]["owner"] == "police_contributing_country"
    )

    # Another State neither sees nor touches the case; the State sees only its part and acts only on it.
    assert (await http.get(url("cases", f"/cases/{case_id}"), headers=other_state)).status_code == 404
    await step(http, other_state, case_id, "reply_to_notification", expect=404, investigates=True)
    seen = (await http.get(url("cases", f"/cases/{case_id}"), headers=bangladesh)).json()
    assert "victims" not in seen and "description" not in seen
    assert seen["allowed_actions"] == ["reply_to_notification"]
    await step(http, bangladesh, case_id, "start_assessment", expect=409)
    await step(
        http, bangladesh, case_id, "reply_to_notification", expect=422, investigates=True
    )  # no NIO named
    replied = await step(
        http,
        bangladesh,
        case_id,
        "reply_to_notification",
        investigates=True,
        national_investigation_officer="NIO Major K. Rahman",
    )
    assert replied["status"] == "under_investigation"
    assert replied["investigating_entity"] == "police_contributing_country"
    await step(http, bangladesh, case_id, "report_progress", note="Witnesses heard in Bangui.")
    done = await step(
        http,
        bangladesh,
        case_id,
        "record_finding",
        finding="not_substantiated",
        summary="Insufficient evidence.",
    )
    assert done["status"] == "closed" and done["closure_reason"] == "not_substantiated"
    listed = await http.get(url("cases", "/cases"), headers=other_state)
    assert case_id not in [c["case_id"] for c in listed.json()["items"]]
    partner = await http.get(url("cases", "/cases"), headers=bearer(settings, Role.PARTNER))
    assert partner.status_code == 403


async def test_victims_stay_confidential_and_the_audit_chain_holds(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    officer = bearer(settings, Role.CONDUCT_OFFICER, subject="cdo-9")
    secret_name = f"Amina-{uuid.uuid4().hex[:10]}"
    secret_contact = f"+236-{uuid.uuid4().int % 10**8:08d}"
    case_id = (await http.post(url("cases", "/cases"), headers=officer, json=intake())).json()["case_id"]
    added = await http.post(
        url("cases", f"/cases/{case_id}/victims"),
        headers=officer,
        json={
            "pseudonym": "V-01",
            "minor": True,
            "identity": {"name": secret_name, "contact": secret_contact},
        },
    )
    assert added.status_code == 200, added.text
    assert secret_name not in added.text and secret_contact not in added.text
    victim = added.json()["victims"][0]
    assert victim["pseudonym"] == "V-01" and victim["has_identity"] is True
    # The identity is read only through an audited reveal with a purpose.
    no_purpose = await http.post(
        url("cases", f"/cases/{case_id}/victims/{victim['victim_id']}/reveal"), headers=officer, json={}
    )
    assert no_purpose.status_code == 422
    revealed = await http.post(
        url("cases", f"/cases/{case_id}/victims/{victim['victim_id']}/reveal"),
        headers=officer,
        json={"purpose": "arranging medical assistance through the Victims' Rights Advocate"},
    )
    assert revealed.status_code == 200 and revealed.json()["name"] == secret_name
    trail = (await http.get(url("cases", f"/cases/{case_id}/audit"), headers=officer)).json()["items"]
    assert trail[-1]["action"] == "victim_identity_revealed" and trail[-1]["actor"] == "cdo-9"
    assert "arranging medical" in trail[-1]["after"]["purpose"]

    # Nowhere else: not in the database in clear, not in any event, not in any log line.
    engine = create_engine(platform.database_url("cases"), pool_size=1)
    async with engine.connect() as conn:
        dump = await conn.scalar(text("SELECT string_agg(t::text, ' ') FROM (SELECT * FROM case_file) t"))
        sealed = await conn.scalar(text("SELECT convert_from(ciphertext, 'UTF8') FROM victim_identity"))
    await engine.dispose()
    assert secret_name not in (dump or "") and secret_name not in (sealed or "")
    for topic in ("uncops.cases.v1", "uncops.cases.public.v1"):
        for message in await _all_messages(settings, topic):
            assert secret_name.encode() not in message and secret_contact.encode() not in message
            if topic == "uncops.cases.public.v1":
                assert b"V-01" not in message  # not even the pseudonym on the partner-facing topic
    for log in platform.logs.glob("*.log"):
        assert secret_name not in log.read_text(errors="replace"), log

    verified = (await http.get(url("cases", f"/cases/{case_id}/audit/verify"), headers=officer)).json()
    assert verified["valid"] is True and verified["entries"] == len(trail)
    # The table refuses changes; its owner can force one, and the chain shows it.
    engine = create_engine(platform.database_url("cases"), pool_size=1)
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("DELETE FROM case_audit WHERE case_id = :id"), {"id": case_id})
        await conn.rollback()
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE case_audit DISABLE TRIGGER case_audit_append_only"))
        await conn.execute(
            text("UPDATE case_audit SET actor = 'someone-else' WHERE case_id = :id AND position = 2"),
            {"id": case_id},
        )
    broken = (await http.get(url("cases", f"/cases/{case_id}/audit/verify"), headers=officer)).json()
    assert broken["valid"] is False and broken["first_broken_position"] == 2
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE case_audit SET actor = :actor WHERE case_id = :id AND position = 2"),
            {"id": case_id, "actor": trail[1]["actor"]},
        )
        await conn.execute(
            text("DELETE FROM case_audit WHERE case_id = :id AND position = :last"),
            {"id": case_id, "last": len(trail)},
        )
        await conn.execute(text("ALTER TABLE case_audit ENABLE TRIGGER case_audit_append_only"))
    await engine.dispose()
    truncated = (await http.get(url("cases", f"/cases/{case_id}/audit/verify"), headers=officer)).json()
    assert truncated["valid"] is False and truncated["reason"] == "entries were removed from the end"


async def test_case_bad_input_names_the_field(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    officer = bearer(settings, Role.CONDUCT_OFFICER)
    future = str(TODAY + timedelta(days=3))
    cases = {
        "mission": intake(mission="NOWHERE"),
        "police_contributing_country": intake(police_contributing_country="XXX"),
        "incident_date": intake(incident_date=str(TODAY), reported_on=str(TODAY - timedelta(days=1))),
        "reported_on": intake(reported_on=future, incident_date=None),
        "victims_minor": intake(victims=1, victims_minor=2),
        "unit": intake(personnel_category="formed_police_unit"),
    }
    for field, body in cases.items():
        response = await http.post(url("cases", "/cases"), headers=officer, json=body)
        assert response.status_code == 422, (field, response.text)
        assert any(e["field"] == field for e in response.json()["errors"]), (field, response.json())
    case_id = (await http.post(url("cases", "/cases"), headers=officer, json=intake())).json()["case_id"]
    missing_reason = await step(http, officer, case_id, "close_not_credible", expect=422)
    assert any(
        e["field"] == "close_not_credible.reason" or e["field"].endswith("reason")
        for e in missing_reason["errors"]
    )


async def _all_messages(settings: Settings, topic: str) -> list[bytes]:
    reader = await topic_reader(settings, topic)
    found: list[bytes] = []
    try:
        for _ in range(6):
            batches = await reader.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    found.append(b" ".join(v for _, v in record.headers) + b" " + (record.value or b""))
    finally:
        await reader.stop()
    return found


async def _case_events(settings: Settings, case_id: str, minimum: int) -> list[dict[str, Any]]:
    reader = await topic_reader(settings, "uncops.cases.v1")
    events: list[dict[str, Any]] = []
    try:

        async def enough() -> bool:
            for records in (await reader.getmany(timeout_ms=500)).values():
                for record in records:
                    changed = dict(record.headers)["ce_type"].endswith(b"case_changed.v1")
                    if record.key == case_id.encode() and changed:
                        events.append(json.loads(record.value))
            return len(events) >= minimum

        await eventually(enough, timeout=30, interval=0)
    finally:
        await reader.stop()
    return events
