"""The agenda on the real stack: rooms, sessions refused with every conflict listed, bad input naming the
field, numbered releases with their event on uncops.summit.v1, and the exports read back (the .ics by the
icalendar library), as a planner, a State's focal point and a partner."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import icalendar
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from services.summit.models import DelegationRow as Delegation
from services.summit.models import ParticipantRow as Participant
from services.summit.models import SummitRow as Summit
from tests.conftest import bearer, eventually, topic_reader, url


async def _summit(http: httpx.AsyncClient, planner: dict[str, str]) -> str:
    summit_id = f"UNCOPS-A{uuid.uuid4().hex[:6]}"
    created = await http.post(
        url("summit", "/summits"),
        headers=planner,
        json={
            "id": summit_id,
            "name": "UNCOPS III (test)",
            "starts_on": "2030-06-03",
            "ends_on": "2030-06-04",
        },
    )
    assert created.status_code == 201, created.text
    return summit_id


async def _participants(
    http: httpx.AsyncClient, planner: dict[str, str], summit_db: AsyncEngine, summit_id: str
) -> dict[str, str]:
    """Guests registered through the API, and a member of a delegation that withdrew (written to the
    database: reaching that status through the delegation's workflow is another test's business)."""
    ids: dict[str, str] = {}
    for key, full_name, function, organisation in [
        ("sg", "Secretary-General", "Opening", "United Nations"),
        ("chief_gha", "Ama Mensah", "Inspector-General", "Ghana Police Service"),
        ("usg", "Under-Secretary-General", "Moderator", "United Nations"),
        ("chief_chn", "Li Wei", "Chief of Police", "Ministry of Public Security"),
    ]:
        guest = await http.post(
            url("summit", f"/summits/{summit_id}/participants"),
            headers=planner,
            json={
                "full_name": full_name,
                "function": function,
                "organisation": organisation,
                "languages": ["en"],
            },
        )
        assert guest.status_code == 201, guest.text
        ids[key] = guest.json()["id"]
    now = datetime.now(UTC)
    delegation = Delegation(
        id=str(uuid.uuid4()),
        summit_id=summit_id,
        member_state="FRA",
        status="withdrawn",
        note_verbale="NV/2030/1",
        invited_at=now,
        registration_deadline=now + timedelta(days=30),
    )
    ids["withdrawn"] = str(uuid.uuid4())
    withdrawn = Participant(
        id=ids["withdrawn"],
        summit_id=summit_id,
        delegation_id=delegation.id,
        full_name="Jean Dupont",
        function="Directeur",
        created_at=now,
    )
    async with AsyncSession(summit_db) as session:
        session.add(delegation)
        await session.flush()
        session.add(withdrawn)
        await session.commit()
    return ids


def _session(room: str, start: str, end: str, **more: Any) -> dict[str, Any]:
    return {
        "title": "Session",
        "kind": "thematic",
        "starts_at": f"2030-06-{start}-04:00",
        "ends_at": f"2030-06-{end}-04:00",
        "room_id": room,
        "languages": ["en", "fr"],
        **more,
    }


async def test_agenda_conflicts_releases_and_exports(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, summit_db: AsyncEngine
) -> None:
    planner = bearer(settings, Role.PLANNER, subject="planner-agenda")
    focal_point = bearer(settings, Role.STATE_FOCAL_POINT, member_state="GHA")
    partner = bearer(settings, Role.PARTNER)
    summit_id = await _summit(http, planner)
    people = await _participants(http, planner, summit_db, summit_id)
    sessions_url = url("summit", f"/summits/{summit_id}/sessions")

    rooms = await http.get(url("summit", f"/summits/{summit_id}/rooms"), headers=focal_point)
    assert rooms.status_code == 200, rooms.text
    by_name = {room["name"]: room for room in rooms.json()["items"]}
    hall = by_name["General Assembly Hall"]
    assert hall["capacity"] == 1800 and hall["capacity_basis"] == "confirmed"
    assert {f"Conference Room {n}" for n in range(1, 13)} <= set(by_name)
    assert by_name["Conference Room 4"]["capacity_basis"] == "illustrative"
    annex = await http.post(
        url("summit", f"/summits/{summit_id}/rooms"),
        headers=planner,
        json={"name": "North Lawn annex", "capacity": 40, "opens_at": "09:00", "closes_at": "18:00"},
    )
    assert annex.status_code == 201, annex.text
    annex_id, cr4 = annex.json()["id"], by_name["Conference Room 4"]["id"]
    again = await http.post(
        url("summit", f"/summits/{summit_id}/rooms"),
        headers=planner,
        json={"name": "North Lawn annex", "capacity": 10},
    )
    assert again.status_code == 409

    opening = await http.post(
        sessions_url,
        headers=planner,
        json=_session(
            hall["id"],
            "03T10:00",
            "03T11:30",
            title="Opening plenary",
            kind="plenary",
            speakers=[people["sg"], people["chief_gha"]],
            moderators=[people["usg"]],
            expected_attendance=1500,
        ),
    )
    assert opening.status_code == 201, opening.text
    assert opening.headers["ETag"] == '"1"' and opening.json()["speakers"] == [
        people["sg"],
        people["chief_gha"],
    ]
    accountability = await http.post(
        sessions_url,
        headers=planner,
        json=_session(
            cr4,
            "03T15:00",
            "03T18:00",
            title="Performance & <accountability>",
            theme="Accountability",
            speakers=[people["chief_chn"]],
            moderators=[people["usg"]],
        ),
    )
    assert accountability.status_code == 201, accountability.text
    opening_id, accountability_id = opening.json()["id"], accountability.json()["id"]

    # The same room and the same speaker at once, and more people than the hall seats: all three listed.
    clash = await http.post(
        sessions_url,
        headers=planner,
        json=_session(
            hall["id"], "03T11:00", "03T12:00", speakers=[people["chief_gha"]], expected_attendance=2000
        ),
    )
    assert clash.status_code == 409, clash.text
    conflicts = clash.json()["conflicts"]
    assert sorted((c["kind"], c["session_id"]) for c in conflicts) == [
        ("over_capacity", conflicts[0]["checked_session_id"]),
        ("room_double_booked", opening_id),
        ("speaker_double_booked", opening_id),
    ]
    speaker_clash = next(c for c in conflicts if c["kind"] == "speaker_double_booked")
    assert (
        speaker_clash["participant_id"] == people["chief_gha"] and speaker_clash["title"] == "Opening plenary"
    )
    assert speaker_clash["starts_at"] == "2030-06-03T14:00:00+00:00"
    # A moderator double-booked in another room.
    moderator = await http.post(
        sessions_url,
        headers=planner,
        json=_session(annex_id, "03T16:00", "03T17:00", moderators=[people["usg"]]),
    )
    assert moderator.status_code == 409
    assert [(c["kind"], c["session_id"]) for c in moderator.json()["conflicts"]] == [
        ("speaker_double_booked", accountability_id)
    ]
    outside_dates = await http.post(sessions_url, headers=planner, json=_session(cr4, "05T10:00", "05T11:00"))
    assert outside_dates.status_code == 409
    assert [c["kind"] for c in outside_dates.json()["conflicts"]] == ["outside_summit_dates"]
    outside_hours = await http.post(
        sessions_url, headers=planner, json=_session(annex_id, "04T17:30", "04T19:00")
    )
    assert outside_hours.status_code == 409
    assert [c["kind"] for c in outside_hours.json()["conflicts"]] == ["outside_room_hours"]

    # Bad input names the field.
    for body, field in [
        (_session(cr4, "04T11:00", "04T10:00"), "ends_at"),
        (_session("no-such-room", "04T10:00", "04T11:00"), "room_id"),
        (_session(cr4, "04T10:00", "04T11:00", speakers=[str(uuid.uuid4())]), "speakers.0"),
        (_session(cr4, "04T10:00", "04T11:00", moderators=[people["withdrawn"]]), "moderators.0"),
        (_session(cr4, "04T10:00", "04T11:00", languages=["en", "de"]), "languages.1"),
        (_session(cr4, "04T10:00", "04T11:00", kind="reception"), "kind"),
    ]:
        refused = await http.post(sessions_url, headers=planner, json=body)
        assert refused.status_code == 422, (field, refused.text)
        assert refused.json()["errors"][0]["field"] == field, refused.text

    # Focal points read the published programme only; partners read events, not the API.
    assert (
        await http.post(sessions_url, headers=focal_point, json=_session(cr4, "04T10:00", "04T11:00"))
    ).status_code == 403
    assert (await http.get(sessions_url, headers=focal_point)).status_code == 403
    programme_json = url("summit", f"/summits/{summit_id}/programme.json")
    assert (await http.get(programme_json, headers=focal_point)).status_code == 404  # nothing released yet
    releases_url = url("summit", f"/summits/{summit_id}/programme/releases")
    assert (await http.post(releases_url, headers=focal_point, json={})).status_code == 403

    first = await http.post(releases_url, headers=planner, json={"note": "First programme"})
    assert first.status_code == 201, first.text
    assert first.json()["number"] == 1 and first.json()["sessions"] == 2
    assert [(c["session_id"], c["change"]) for c in first.json()["changes"]] == [
        (opening_id, "added"),
        (accountability_id, "added"),
    ]
    unchanged = await http.post(releases_url, headers=planner, json={})
    assert unchanged.status_code == 409 and unchanged.json()["state"] == "release 1"

    # Changes since: a renamed session (If-Match guards it), a removed one, an added one.
    renamed = _session(
        hall["id"],
        "03T10:00",
        "03T11:30",
        title="Opening of UNCOPS III",
        kind="plenary",
        speakers=[people["sg"], people["chief_gha"]],
        moderators=[people["usg"]],
        expected_attendance=1500,
    )
    put = await http.put(f"{sessions_url}/{opening_id}", headers={**planner, "If-Match": '"1"'}, json=renamed)
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 2 and put.headers["ETag"] == '"2"'
    stale = await http.put(
        f"{sessions_url}/{opening_id}", headers={**planner, "If-Match": '"1"'}, json=renamed
    )
    assert stale.status_code == 412
    removed = await http.delete(f"{sessions_url}/{accountability_id}", headers={**planner, "If-Match": '"1"'})
    assert removed.status_code == 204
    assert (await http.get(f"{sessions_url}/{accountability_id}", headers=planner)).status_code == 404
    bilateral = await http.post(
        sessions_url,
        headers=planner,
        json=_session(
            by_name["Indonesian Lounge"]["id"],
            "04T09:00",
            "04T09:45",
            title="Ghana - China bilateral",
            kind="bilateral",
            speakers=[people["chief_gha"], people["chief_chn"]],
        ),
    )
    assert bilateral.status_code == 201, bilateral.text
    bilateral_id = bilateral.json()["id"]
    second = await http.post(releases_url, headers=planner, json={})
    assert second.status_code == 201, second.text
    assert [(c["session_id"], c["change"], c["fields"]) for c in second.json()["changes"]] == [
        (opening_id, "changed", ["title"]),
        (bilateral_id, "added", []),
        (accountability_id, "removed", []),
    ]
    listed = await http.get(releases_url, headers=focal_point)
    assert [release["number"] for release in listed.json()["items"]] == [2, 1]

    # The exports serve the latest release; an older one on request; the draft to planners only.
    published = await http.get(programme_json, headers=focal_point)
    assert published.status_code == 200, published.text
    assert published.json()["release"] == 2
    assert [s["title"] for s in published.json()["sessions"]] == [
        "Opening of UNCOPS III",
        "Ghana - China bilateral",
    ]
    older = await http.get(programme_json, headers=focal_point, params={"release": 1})
    assert [s["title"] for s in older.json()["sessions"]] == [
        "Opening plenary",
        "Performance & <accountability>",
    ]
    assert (await http.get(programme_json, headers=focal_point, params={"draft": "true"})).status_code == 403
    draft = await http.get(programme_json, headers=planner, params={"draft": "true"})
    assert draft.status_code == 200 and draft.json()["release"] is None

    ics = await http.get(url("summit", f"/summits/{summit_id}/programme.ics"), headers=focal_point)
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    # A release never changes: a calendar that polls with the ETag it holds gets 304, the draft no ETag.
    ics_url = url("summit", f"/summits/{summit_id}/programme.ics")
    polled = await http.get(ics_url, headers={**focal_point, "If-None-Match": ics.headers["ETag"]})
    assert polled.status_code == 304 and polled.content == b""
    assert "ETag" not in (await http.get(ics_url, headers=planner, params={"draft": "true"})).headers
    calendar = icalendar.Calendar.from_ical(ics.content)
    events = {str(event["UID"]).split("@")[0]: event for event in calendar.events}
    assert set(events) == {opening_id, bilateral_id}
    event = events[opening_id]
    assert str(event["SUMMARY"]) == "Opening of UNCOPS III"
    assert str(event["LOCATION"]).startswith("General Assembly Hall")
    assert event.decoded("DTSTART") == datetime(2030, 6, 3, 14, 0, tzinfo=UTC)
    assert [(str(a.params["CN"]), str(a.params["ROLE"])) for a in event.attendees] == [
        ("Secretary-General", "REQ-PARTICIPANT"),
        ("Ama Mensah", "REQ-PARTICIPANT"),
        ("Under-Secretary-General", "CHAIR"),
    ]
    assert "Ama Mensah (Inspector-General, Ghana Police Service)" in str(event["DESCRIPTION"])

    html = await http.get(
        url("summit", f"/summits/{summit_id}/programme.html"), headers=focal_point, params={"release": 1}
    )
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "Performance &amp; &lt;accountability&gt;" in html.text and "<script" not in html.text

    for path in ("/programme.ics", "/programme.json", "/programme.html", "/programme/releases", "/rooms"):
        assert (
            await http.get(url("summit", f"/summits/{summit_id}{path}"), headers=partner)
        ).status_code == 403

    reader = await topic_reader(settings, "uncops.summit.v1")
    released: list[dict[str, Any]] = []
    try:

        async def both_releases() -> bool:
            for records in (await reader.getmany(timeout_ms=500)).values():
                for record in records:
                    headers = dict(record.headers)
                    if (
                        record.key == summit_id.encode()
                        and headers["ce_type"] == b"org.un.uncops.summit.programme_released.v1"
                    ):
                        released.append(json.loads(record.value))
            return len(released) >= 2

        await eventually(both_releases, timeout=30, interval=0)
    finally:
        await reader.stop()
    assert [(event["release"], event["sessions"], event["released_by"]) for event in released] == [
        (1, 2, "planner-agenda"),
        (2, 2, "planner-agenda"),
    ]
    assert [change["change"] for change in released[1]["changes"]] == ["changed", "added", "removed"]


async def test_two_planners_cannot_book_the_same_room_at_once(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER)
    summit_id = await _summit(http, planner)
    body = _session("unhq-cr-1", "04T10:00", "04T11:00")
    answers = await asyncio.gather(
        *(
            http.post(url("summit", f"/summits/{summit_id}/sessions"), headers=planner, json=body)
            for _ in range(4)
        )
    )
    assert sorted(answer.status_code for answer in answers) == [201, 409, 409, 409]
    assert (
        await http.post(url("summit", f"/summits/{summit_id}/programme/releases"), headers=planner, json={})
    ).status_code == 201


async def test_a_release_refuses_a_draft_that_went_wrong_since(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, summit_db: AsyncEngine
) -> None:
    """A session placed while all was well: then its speaker's delegation withdraws and the summit is cut to
    one day. The release lists both; with the session gone, an empty programme is not released either."""
    planner = bearer(settings, Role.PLANNER)
    summit_id = await _summit(http, planner)
    now = datetime.now(UTC)
    delegation = Delegation(
        id=str(uuid.uuid4()),
        summit_id=summit_id,
        member_state="NOR",
        status="registered",
        note_verbale="NV/2030/2",
        invited_at=now,
        registration_deadline=now + timedelta(days=30),
    )
    speaker = Participant(
        id=str(uuid.uuid4()),
        summit_id=summit_id,
        delegation_id=delegation.id,
        full_name="Kari Nordmann",
        function="Chief of Police",
        created_at=now,
    )
    delegation_id, speaker_id = delegation.id, speaker.id  # the rows expire when their session commits
    async with AsyncSession(summit_db) as session:
        session.add(delegation)
        await session.flush()
        session.add(speaker)
        await session.commit()
    placed = await http.post(
        url("summit", f"/summits/{summit_id}/sessions"),
        headers=planner,
        json=_session("unhq-cr-2", "04T10:00", "04T11:00", speakers=[speaker_id]),
    )
    assert placed.status_code == 201, placed.text
    async with AsyncSession(summit_db) as session:
        row = await session.get(Delegation, delegation_id)
        summit = await session.get(Summit, summit_id)
        assert row is not None and summit is not None
        row.status, summit.ends_on = "withdrawn", date(2030, 6, 3)
        await session.commit()

    releases_url = url("summit", f"/summits/{summit_id}/programme/releases")
    refused = await http.post(releases_url, headers=planner, json={})
    assert refused.status_code == 409, refused.text
    assert [(c["kind"], c["session_id"], c["participant_id"]) for c in refused.json()["conflicts"]] == [
        ("outside_summit_dates", placed.json()["id"], None),
        ("speaker_not_registered", placed.json()["id"], speaker_id),
    ]
    removed = await http.delete(
        url("summit", f"/summits/{summit_id}/sessions/{placed.json()['id']}"), headers=planner
    )
    assert removed.status_code == 204
    empty = await http.post(releases_url, headers=planner, json={})
    assert empty.status_code == 409 and empty.json()["state"] == "empty"
    assert (await http.get(releases_url, headers=planner)).json()["items"] == []
