"""Who may do what on cases (every role against every endpoint), attachments, statistics, and the Security
Council resolution 2272 review flags."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from deploy.stack import LocalStack
from services.cases.domain.case import Case
from services.cases.domain.deadlines import open_deadline
from services.cases.domain.intake import CaseIntake, open_case
from services.cases.models import CaseRow
from services.cases.store import raise_review_flags, row_values
from services.common.auth import Role, issue_token
from services.common.database import create_engine, session_factory
from services.common.settings import Settings
from tests.conftest import bearer, eventually, topic_reader, url
from tests.e2e.test_case_lifecycle import intake
from uncops_contracts.cases import CaseStatus, DeadlineKind
from uncops_contracts.policies import CasePolicy

PDF = b"%PDF-1.4 synthetic note verbale\n" * 50


def _scoped(
    settings: Settings, role: Role, missions: list[str] | None, member_state: str | None = None
) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings, role, member_state, missions=missions)}"}


@pytest.fixture(scope="module")
def roles(settings: Settings) -> dict[str, dict[str, str]]:
    return {
        "officer": bearer(settings, Role.CONDUCT_OFFICER),
        "own_mission": _scoped(settings, Role.CONDUCT_OFFICER, ["MINUSCA", "UNMISS"]),
        "other_mission": _scoped(settings, Role.CONDUCT_OFFICER, ["UNMISS"]),
        "admin": bearer(settings, Role.ADMIN),
        "own_state": bearer(settings, Role.STATE_FOCAL_POINT, "SEN"),
        "other_state": bearer(settings, Role.STATE_FOCAL_POINT, "NPL"),
        "planner": bearer(settings, Role.PLANNER),
        "partner": bearer(settings, Role.PARTNER),
        "nobody": {},
    }


async def test_access_matrix(
    platform: LocalStack, roles: dict[str, dict[str, str]], http: httpx.AsyncClient
) -> None:
    officer = roles["officer"]
    case_id = (await http.post(url("cases", "/cases"), headers=officer, json=intake())).json()["case_id"]
    victim = (
        await http.post(
            url("cases", f"/cases/{case_id}/victims"),
            headers=officer,
            json={"pseudonym": "V-09", "minor": False, "identity": {"name": "Synthetic Person"}},
        )
    ).json()["victims"][0]["victim_id"]
    attached = await http.post(
        url("cases", f"/cases/{case_id}/attachments"),
        headers={**officer, "content-type": "application/pdf"},
        params={"filename": "nv-2026-001.pdf"},
        content=PDF,
    )
    assert attached.status_code == 200, attached.text
    attachment = attached.json()["attachments"][0]
    assert attachment["sha256"] == hashlib.sha256(PDF).hexdigest() and attachment["size"] == len(PDF)

    endpoints: dict[str, tuple[str, str, dict[str, Any]]] = {
        "open": ("POST", "/cases", {"json": intake()}),
        "list": ("GET", "/cases", {}),
        "read": ("GET", f"/cases/{case_id}", {}),
        "note": (
            "POST",
            f"/cases/{case_id}/actions",
            {
                "json": {
                    "action": "record_note_verbale",
                    "direction": "sent",
                    "reference": "NV/1",
                    "on": "2026-01-05",
                }
            },
        ),
        "progress": (
            "POST",
            f"/cases/{case_id}/actions",
            {"json": {"action": "report_progress", "note": "status?"}},
        ),
        "victim": ("POST", f"/cases/{case_id}/victims", {"json": {"pseudonym": "V-10", "minor": False}}),
        "reveal": (
            "POST",
            f"/cases/{case_id}/victims/{victim}/reveal",
            {"json": {"purpose": "checking the access matrix of the service"}},
        ),
        "attach": (
            "POST",
            f"/cases/{case_id}/attachments",
            {"params": {"filename": "x.txt"}, "content": b"x"},
        ),
        "download": ("GET", f"/cases/{case_id}/attachments/{attachment['attachment_id']}", {}),
        "audit": ("GET", f"/cases/{case_id}/audit", {}),
        "verify": ("GET", f"/cases/{case_id}/audit/verify", {}),
        "statistics": ("GET", "/cases/statistics", {}),
        "flags": ("GET", "/cases/review-flags", {}),
    }
    # 409: the State may not record a note verbale, and progress is not due in this status.
    expected = {
        "officer": {"open": 201, "progress": 409},
        "own_mission": {"open": 201, "progress": 409},
        # The case is MINUSCA's: it does not exist for UNMISS's team, which may not open one there either.
        "other_mission": {
            "open": 403,
            **dict.fromkeys(
                ("read", "note", "progress", "victim", "reveal", "attach", "download", "audit", "verify"), 404
            ),
        },
        "admin": {"open": 201, "progress": 409},
        "own_state": {"list": 200, "read": 200, "note": 409, "progress": 409},
        "other_state": {"list": 200, "read": 404, "note": 404, "progress": 404},
        "planner": {},
        "partner": {},
        "nobody": {},
    }
    failures = []
    for role, headers in roles.items():
        for name, (method, path, kwargs) in endpoints.items():
            want = expected[role].get(
                name,
                200
                if role in ("officer", "own_mission", "other_mission", "admin")
                else 401
                if role == "nobody"
                else 403,
            )
            if name == "victim":  # a pseudonym is unique within a case
                kwargs = {"json": {"pseudonym": f"V-{role}", "minor": False}}
            response = await http.request(method, url("cases", path), headers=headers, **kwargs)
            if response.status_code != want:
                failures.append(
                    f"{role} {name}: {response.status_code} (wanted {want}) {response.text[:120]}"
                )
    assert not failures, "\n".join(failures)

    download = await http.get(
        url("cases", f"/cases/{case_id}/attachments/{attachment['attachment_id']}"), headers=officer
    )
    assert download.content == PDF and download.headers["content-type"] == "application/pdf"


async def test_statistics_have_the_shape_of_the_public_tables(
    platform: LocalStack, roles: dict[str, dict[str, str]], http: httpx.AsyncClient
) -> None:
    officer = roles["officer"]
    await http.post(
        url("cases", "/cases"), headers=officer, json=intake(mission="MONUSCO", victims=3, victims_minor=2)
    )
    rows = (
        await http.get(
            url("cases", "/cases/statistics"), headers=officer, params=[("by", "year"), ("by", "mission")]
        )
    ).json()
    monusco = [r for r in rows if r["mission"] == "MONUSCO" and r["year"] == datetime.now(UTC).year]
    assert monusco and monusco[0]["allegations"] >= 1 and monusco[0]["victims_minor"] >= 2
    assert set(monusco[0]) == {
        "year",
        "mission",
        "allegations",
        "victims_adult",
        "victims_minor",
        "substantiated",
    }
    bad = await http.get(url("cases", "/cases/statistics"), headers=officer, params={"by": "name"})
    assert bad.status_code == 422


async def test_unit_with_repeated_sea_allegations_is_flagged(
    platform: LocalStack, settings: Settings, roles: dict[str, dict[str, str]], http: httpx.AsyncClient
) -> None:
    officer = roles["officer"]
    unit = f"FPU-{uuid.uuid4().hex[:6]}"
    reader = await topic_reader(settings, "uncops.cases.v1")
    try:
        ids = []
        for n in range(settings.case_policy.unit_sea_threshold + 1):
            body = intake(
                personnel_category="formed_police_unit",
                unit=unit,
                police_contributing_country="JOR",
                allegation_type="sexual_abuse" if n % 2 else "sexual_exploitation",
            )
            ids.append(
                (await http.post(url("cases", "/cases"), headers=officer, json=body)).json()["case_id"]
            )
        flags = [
            f
            for f in (await http.get(url("cases", "/cases/review-flags"), headers=officer)).json()
            if f["unit"] == unit
        ]
        # Raised once, when the threshold was reached, naming the cases behind it.
        assert len(flags) == 1
        assert flags[0]["kind"] == "unit_sea_allegations" and flags[0]["police_contributing_country"] == "JOR"
        assert sorted(flags[0]["case_ids"]) == sorted(ids[: settings.case_policy.unit_sea_threshold])

        async def flag_event() -> Any:
            for records in (await reader.getmany(timeout_ms=500)).values():
                for record in records:
                    if dict(record.headers)["ce_type"].endswith(b"review_flag_raised.v1"):
                        data = json.loads(record.value)
                        if data["unit"] == unit:
                            return data
            return None

        event = await eventually(flag_event, timeout=30, interval=0)
        assert (
            event["flag_id"] == flags[0]["id"] and event["count"] == settings.case_policy.unit_sea_threshold
        )
    finally:
        await reader.stop()


async def test_country_missing_deadlines_on_open_cases_is_flagged(
    platform: LocalStack, settings: Settings
) -> None:
    """The SQL of the second flag against the real database: cases whose reply or investigation deadline the
    contributing country missed."""
    policy = CasePolicy()
    engine = create_engine(platform.database_url("cases"), pool_size=2)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    country = "ZMB"
    cases: list[Case] = []
    try:
        async with sessions() as session, session.begin():
            await session.execute(
                text("DELETE FROM review_flag WHERE police_contributing_country = :c"), {"c": country}
            )
            for n in range(policy.pcc_missed_deadlines_threshold):
                case = open_case(
                    str(uuid.uuid4()),
                    f"UNMISS-2026-9{n:03d}",
                    CaseIntake(
                        mission="UNMISS",
                        personnel_category="formed_police_unit",
                        unit="ZMB-FPU-1",
                        police_contributing_country=country,
                        allegation_type="assault",
                        reported_on=now.date() - timedelta(days=40),
                        how_reported="hotline",
                    ),
                    now - timedelta(days=40),
                )
                missed = open_deadline(
                    DeadlineKind.PCC_REPLY,
                    "police_contributing_country",
                    now - timedelta(days=40),
                    now - timedelta(days=26),
                    policy,
                ).model_copy(update={"missed": True})
                case = case.model_copy(
                    update={"status": CaseStatus.AWAITING_PCC_REPLY, "deadlines": [missed]}
                )
                session.add(CaseRow(id=case.case_id, opened_at=case.opened_at, **row_values(case, now)))
                cases.append(case)
            await session.flush()
            first = await raise_review_flags(session, cases[-1], policy, now, None)
            again = await raise_review_flags(session, cases[-1], policy, now, None)
        assert [f.kind.value for f in first] == ["pcc_failing_to_act"]
        assert sorted(first[0].case_ids) == sorted(c.case_id for c in cases)
        assert again == []  # one review per country and window
    finally:
        # Written straight into the table, without events: left behind, they would make the statistics
        # disagree with the public topic for later tests (test_partner_gateway.py rebuilds them from it).
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM case_file WHERE id = ANY(:ids)"), {"ids": [c.case_id for c in cases]}
            )
        await engine.dispose()


async def test_officers_see_and_act_on_their_missions_cases_only(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    headquarters = _scoped(settings, Role.CONDUCT_OFFICER, None)
    minusca = _scoped(settings, Role.CONDUCT_OFFICER, ["MINUSCA"])
    case_ids = {}
    for mission in ("MINUSCA", "UNMISS"):
        opened = await http.post(url("cases", "/cases"), headers=headquarters, json=intake(mission=mission))
        assert opened.status_code == 201, opened.text
        case_ids[mission] = opened.json()["case_id"]
    unmiss = case_ids["UNMISS"]
    victim = (
        await http.post(
            url("cases", f"/cases/{unmiss}/victims"),
            headers=headquarters,
            json={"pseudonym": "V-01", "minor": False, "identity": {"name": "Synthetic Person"}},
        )
    ).json()["victims"][0]["victim_id"]
    attachment = (
        await http.post(
            url("cases", f"/cases/{unmiss}/attachments"),
            headers={**headquarters, "content-type": "application/pdf"},
            params={"filename": "nv.pdf"},
            content=PDF,
        )
    ).json()["attachments"][0]["attachment_id"]

    # Another mission's case does not exist for a MINUSCA officer, whatever the route.
    for method, path, kwargs in (
        ("GET", f"/cases/{unmiss}", {}),
        ("POST", f"/cases/{unmiss}/actions", {"json": {"action": "report_progress", "note": "status?"}}),
        ("POST", f"/cases/{unmiss}/victims", {"json": {"pseudonym": "V-02", "minor": False}}),
        ("POST", f"/cases/{unmiss}/victims/{victim}/reveal", {"json": {"purpose": "checking the scope"}}),
        ("POST", f"/cases/{unmiss}/attachments", {"params": {"filename": "x.txt"}, "content": b"x"}),
        ("GET", f"/cases/{unmiss}/attachments/{attachment}", {}),
        ("GET", f"/cases/{unmiss}/audit", {}),
        ("GET", f"/cases/{unmiss}/audit/verify", {}),
    ):
        response = await http.request(method, url("cases", path), headers=minusca, **kwargs)
        assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text[:200]}"
        assert unmiss in response.text
    trail = (await http.get(url("cases", f"/cases/{unmiss}/audit"), headers=headquarters)).json()["items"]
    assert [e["action"] for e in trail].count(
        "victim_identity_revealed"
    ) == 0  # the refused reveal left no trace
    own = await http.get(url("cases", f"/cases/{case_ids['MINUSCA']}"), headers=minusca)
    assert own.status_code == 200 and own.json()["mission"] == "MINUSCA"
    refused = await http.post(url("cases", "/cases"), headers=minusca, json=intake(mission="UNMISS"))
    assert refused.status_code == 403 and "mission: UNMISS" in refused.text

    async def listed(headers: dict[str, str], **params: str) -> set[str]:
        missions: set[str] = set()
        cursor = None
        while True:
            query = {"limit": "500", **params, **({"cursor": cursor} if cursor else {})}
            page = (await http.get(url("cases", "/cases"), headers=headers, params=query)).json()
            missions |= {item["mission"] for item in page["items"]}
            if not (cursor := page["next_cursor"]):
                return missions

    async def counted(headers: dict[str, str]) -> set[str]:
        response = await http.get(
            url("cases", "/cases/statistics"), headers=headers, params={"by": "mission"}
        )
        assert response.status_code == 200, response.text
        return {row["mission"] for row in response.json()}

    assert await listed(minusca) == {"MINUSCA"} and await counted(minusca) == {"MINUSCA"}
    # Counted within the missions even when the question does not group by mission.
    by_year = (
        await http.get(url("cases", "/cases/statistics"), headers=minusca, params={"by": "year"})
    ).json()
    by_mission = (
        await http.get(
            url("cases", "/cases/statistics"), headers=minusca, params=[("by", "year"), ("by", "mission")]
        )
    ).json()
    assert sum(r["allegations"] for r in by_year) == sum(r["allegations"] for r in by_mission) > 0
    assert await listed(minusca, mission="UNMISS") == set()  # a filter outside the scope finds nothing
    for everywhere in (headquarters, _scoped(settings, Role.CONDUCT_OFFICER, ["*"])):
        assert {"MINUSCA", "UNMISS"} <= await listed(everywhere)
        assert {"MINUSCA", "UNMISS"} <= await counted(everywhere)
        assert (await http.get(url("cases", f"/cases/{unmiss}"), headers=everywhere)).status_code == 200
    both = _scoped(settings, Role.CONDUCT_OFFICER, ["MINUSCA", "UNMISS"])
    assert await listed(both) == {"MINUSCA", "UNMISS"} == await counted(both)

    # The State scope still applies, and combines with the missions.
    senegal_in_minusca = _scoped(settings, Role.STATE_FOCAL_POINT, ["MINUSCA"], "SEN")
    assert (
        await http.get(url("cases", f"/cases/{case_ids['MINUSCA']}"), headers=senegal_in_minusca)
    ).status_code == 200
    assert (await http.get(url("cases", f"/cases/{unmiss}"), headers=senegal_in_minusca)).status_code == 404
    nepal_in_minusca = _scoped(settings, Role.STATE_FOCAL_POINT, ["MINUSCA"], "NPL")
    assert (
        await http.get(url("cases", f"/cases/{case_ids['MINUSCA']}"), headers=nepal_in_minusca)
    ).status_code == 404


async def test_review_flags_show_only_the_officers_missions_cases(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    headquarters = _scoped(settings, Role.CONDUCT_OFFICER, ["*"])
    unit = f"FPU-{uuid.uuid4().hex[:6]}"
    threshold = settings.case_policy.unit_sea_threshold
    # One contingent's unit, reported in two missions: the flag counts both.
    missions = ["UNMISS"] + ["MINUSCA"] * (threshold - 1)
    ids: dict[str, list[str]] = {"MINUSCA": [], "UNMISS": []}
    for mission in missions:
        body = intake(
            mission=mission,
            personnel_category="formed_police_unit",
            unit=unit,
            police_contributing_country="JOR",
        )
        opened = await http.post(url("cases", "/cases"), headers=headquarters, json=body)
        assert opened.status_code == 201, opened.text
        ids[mission].append(opened.json()["case_id"])

    async def flag(missions: list[str] | None) -> dict[str, Any] | None:
        headers = _scoped(settings, Role.CONDUCT_OFFICER, missions)
        response = await http.get(url("cases", "/cases/review-flags"), headers=headers)
        assert response.status_code == 200, response.text
        found = [f for f in response.json() if f["unit"] == unit]
        assert len(found) <= 1
        return found[0] if found else None

    everything = await flag(None)
    assert everything is not None and everything["count"] == threshold
    assert sorted(everything["case_ids"]) == sorted(ids["MINUSCA"] + ids["UNMISS"])
    for mission in ("MINUSCA", "UNMISS"):
        seen = await flag([mission])
        assert seen is not None and seen["id"] == everything["id"] and seen["threshold"] == threshold
        assert sorted(seen["case_ids"]) == sorted(ids[mission]) and seen["count"] == len(ids[mission])
    assert await flag(["MINUSMA"]) is None
