"""Calendar feeds and the agenda's check on the real stack: a feed made with a bearer token and polled without
one (ETag, 304, a new release changes it), scoped to its person (a planner's milestones, a focal point's
delegation deadline), a retry under the same Idempotency-Key making one feed, revocation; and a session
checked against the draft with every conflict listed and nothing saved."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import icalendar

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, url


async def _summit(http: httpx.AsyncClient, planner: dict[str, str]) -> str:
    summit_id = f"UNCOPS-C{uuid.uuid4().hex[:6]}"
    made = await http.post(
        url("summit", "/summits"),
        headers=planner,
        json={
            "id": summit_id,
            "name": f"Feed summit {summit_id}",
            "starts_on": "2032-06-01",
            "ends_on": "2032-06-02",
        },
    )
    assert made.status_code == 201, made.text
    return summit_id


def _session(
    title: str, start: str, end: str, room: str = "unhq-ga-hall", **more: object
) -> dict[str, object]:
    return {
        "title": title,
        "kind": "plenary",
        "starts_at": f"2032-06-01T{start}:00-04:00",
        "ends_at": f"2032-06-01T{end}:00-04:00",
        "room_id": room,
        **more,
    }


async def test_a_session_is_checked_without_being_saved(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER)
    summit_id = await _summit(http, planner)
    guest = await http.post(
        url("summit", f"/summits/{summit_id}/participants"),
        headers=planner,
        json={
            "full_name": "Ama Mensah",
            "function": "Inspector-General",
            "organisation": "Ghana Police Service",
            "languages": ["en"],
        },
    )
    assert guest.status_code == 201, guest.text
    speaker = guest.json()["id"]
    sessions = url("summit", f"/summits/{summit_id}/sessions")
    first = await http.post(
        sessions, headers=planner, json=_session("Opening", "10:00", "12:00", speakers=[speaker])
    )
    assert first.status_code == 201, first.text
    check = url("summit", f"/summits/{summit_id}/sessions/check")

    clash = _session("Clash", "11:00", "13:00", speakers=[speaker], expected_attendance=5000)
    found = await http.post(check, headers=planner, json=clash)
    assert found.status_code == 200, found.text
    kinds = sorted(c["kind"] for c in found.json()["conflicts"])
    assert kinds == ["over_capacity", "room_double_booked", "speaker_double_booked"]
    assert {c["title"] for c in found.json()["conflicts"] if c["kind"] != "over_capacity"} == {"Opening"}
    refused = await http.post(sessions, headers=planner, json=clash)
    assert refused.status_code == 409
    assert sorted(c["kind"] for c in refused.json()["conflicts"]) == kinds
    listed = await http.get(sessions, headers=planner)
    assert [s["title"] for s in listed.json()["items"]] == ["Opening"]  # nothing saved by either

    # Moving the session itself: its own place is no clash.
    moved = await http.post(
        check,
        headers=planner,
        params={"session_id": first.json()["id"]},
        json=_session("Opening", "10:30", "12:00"),
    )
    assert moved.status_code == 200 and moved.json()["conflicts"] == []
    assert (await http.post(check, headers=planner, json=_session("Free", "14:00", "15:00"))).json() == {
        "conflicts": []
    }
    unknown = await http.post(
        check, headers=planner, json=_session("Nowhere", "14:00", "15:00", room="no-room")
    )
    assert unknown.status_code == 422 and "room_id" in unknown.text
    focal = await http.post(check, headers=bearer(settings, Role.STATE_FOCAL_POINT, "GHA"), json=clash)
    assert focal.status_code == 403


async def test_a_feed_is_polled_without_a_bearer_and_costs_nothing_when_unchanged(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER, subject=f"planner-{uuid.uuid4().hex[:6]}")
    summit_id = await _summit(http, planner)
    title = f"Opening {summit_id}"
    placed = await http.post(
        url("summit", f"/summits/{summit_id}/sessions"),
        headers=planner,
        json=_session(title, "10:00", "11:00"),
    )
    assert placed.status_code == 201, placed.text
    released = await http.post(
        url("summit", f"/summits/{summit_id}/programme/releases"), headers=planner, json={}
    )
    assert released.status_code == 201, released.text

    key = str(uuid.uuid4())
    made = await http.post(
        url("summit", "/calendars"), headers={**planner, "Idempotency-Key": key}, json={"label": "My phone"}
    )
    assert made.status_code == 201, made.text
    feed = made.json()
    assert feed["role"] == "planner" and feed["token"] and feed["path"] == f"/calendars/{feed['token']}.ics"
    # A retry under the same key: the same feed, a new token; the first token (never seen) is gone.
    again = await http.post(
        url("summit", "/calendars"), headers={**planner, "Idempotency-Key": key}, json={"label": "My phone"}
    )
    assert again.status_code == 200 and again.json()["id"] == feed["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await http.get(url("summit", feed["path"]))).status_code == 404
    path = again.json()["path"]

    listed = await http.get(url("summit", "/calendars"), headers=planner)
    assert [f["id"] for f in listed.json()["items"]] == [feed["id"]]
    assert listed.json()["items"][0]["token"] is None and again.json()["token"] not in listed.text

    polled = await http.get(url("summit", path))  # no Authorization header
    assert polled.status_code == 200, polled.text
    assert polled.headers["content-type"].startswith("text/calendar") and polled.headers["ETag"]
    calendar = icalendar.Calendar.from_ical(polled.content)
    summaries = [str(event["summary"]) for event in calendar.walk("VEVENT")]
    assert title in summaries
    assert any(
        summit_id in s or "Feed summit" in s for s in summaries if "milestone" in s
    )  # a planner's plan

    same = await http.get(url("summit", path), headers={"If-None-Match": polled.headers["ETag"]})
    assert same.status_code == 304 and same.content == b"" and same.headers["ETag"] == polled.headers["ETag"]

    moved = await http.put(
        url("summit", f"/summits/{summit_id}/sessions/{placed.json()['id']}"),
        headers={**planner, "If-Match": '"1"'},
        json=_session(title, "10:30", "11:30"),
    )
    assert moved.status_code == 200, moved.text
    # The draft changed, not the published programme: still 304. A release changes the feed.
    assert (
        await http.get(url("summit", path), headers={"If-None-Match": polled.headers["ETag"]})
    ).status_code == 304
    assert (
        await http.post(url("summit", f"/summits/{summit_id}/programme/releases"), headers=planner, json={})
    ).status_code == 201
    newer = await http.get(url("summit", path), headers={"If-None-Match": polled.headers["ETag"]})
    assert newer.status_code == 200 and newer.headers["ETag"] != polled.headers["ETag"]

    other = bearer(settings, Role.PLANNER, subject="someone-else")
    assert (await http.delete(url("summit", f"/calendars/{feed['id']}"), headers=other)).status_code == 404
    revoked = await http.delete(url("summit", f"/calendars/{feed['id']}"), headers=planner)
    assert revoked.status_code == 204
    assert (await http.get(url("summit", path))).status_code == 404
    shown = await http.get(url("summit", f"/calendars/{feed['id']}"), headers=planner)
    assert shown.json()["revoked_at"] is not None
    assert (await http.get(url("summit", "/calendars/not-a-token-at-all-xx.ics"))).status_code == 404


async def test_a_focal_points_feed_shows_its_delegations_deadline_and_no_milestones(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER)
    summit_id = await _summit(http, planner)
    state = "GHA"
    deadline = datetime.now(UTC) + timedelta(days=40)
    invited = await http.post(
        url("summit", f"/summits/{summit_id}/invitations"),
        headers=planner,
        json={
            "member_states": [state],
            "note_verbale": "NV/{member_state}",
            "registration_deadline": deadline.isoformat(),
        },
    )
    assert invited.status_code == 201, invited.text
    focal = bearer(settings, Role.STATE_FOCAL_POINT, state, subject=f"fp-{uuid.uuid4().hex[:6]}")
    made = await http.post(url("summit", "/calendars"), headers=focal, json={})
    assert made.status_code == 201, made.text
    assert made.json()["role"] == "state_focal_point" and made.json()["member_state"] == state
    polled = await http.get(url("summit", made.json()["path"]))
    assert polled.status_code == 200
    events = icalendar.Calendar.from_ical(polled.content).walk("VEVENT")
    summaries = [str(e["summary"]) for e in events]
    assert f"Feed summit {summit_id}: registration deadline of the delegation of {state}" in summaries
    assert not any("(milestone" in s for s in summaries)
    officer = await http.post(
        url("summit", "/calendars"), headers=bearer(settings, Role.CONDUCT_OFFICER), json={}
    )
    assert officer.status_code == 403
