"""Delegations on the real stack, over HTTP: 193 invitations by note verbale, registrations, the delegation
limit, the summit full and the waiting list moving up, a burst of concurrent registrations never giving a
place twice, review, accreditation with badges, confirmation, decline, the deadline closing, who may see
and do what, the CSV exports parsed back, and the events on uncops.summit.v1."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, eventually, topic_reader, url

PROOF = {
    "file_name": "credentials.pdf",
    "media_type": "application/pdf",
    "size_bytes": 48213,
    "sha256": "c" * 64,
}


def roster(state: str, persons: int, consenting: int = 1) -> dict[str, Any]:
    """A head (chief of police) and ``persons - 1`` members; the first ``consenting`` agree to be listed."""
    return {
        "head": {
            "full_name": f"Head of {state}",
            "function": "Inspector-General of Police",
            "languages": ["en", "fr"],
            "head_of_delegation": "chief_of_police",
            "consent_to_list": consenting > 0,
        },
        "members": [
            {
                "full_name": f"Delegate {n} of {state}",
                "function": "Police adviser",
                "languages": ["en"],
                "consent_to_list": n + 1 < consenting,
            }
            for n in range(persons - 1)
        ],
        "proof_document": PROOF,
    }


class Summit:
    def __init__(self, http: httpx.AsyncClient, settings: Settings, summit_id: str) -> None:
        self.http = http
        self.settings = settings
        self.id = summit_id
        self.planner = bearer(settings, Role.PLANNER, subject="planner-del")
        self.ids: dict[str, str] = {}

    def fp(self, state: str) -> dict[str, str]:
        return bearer(self.settings, Role.STATE_FOCAL_POINT, state, subject=f"fp-{state.lower()}")

    def path(self, rest: str) -> str:
        return url("summit", f"/summits/{self.id}{rest}")

    async def register(
        self, state: str, persons: int, consenting: int = 1, as_planner: bool = False
    ) -> httpx.Response:
        return await self.http.post(
            self.path(f"/delegations/{self.ids[state]}/register"),
            headers=self.planner if as_planner else self.fp(state),
            json=roster(state, persons, consenting),
        )

    async def act(self, state: str, body: dict[str, Any], as_state: bool = False) -> httpx.Response:
        return await self.http.post(
            self.path(f"/delegations/{self.ids[state]}/actions"),
            headers=self.fp(state) if as_state else self.planner,
            json=body,
        )

    async def get(self, state: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.get(
            self.path(f"/delegations/{self.ids[state]}"), headers=headers or self.planner
        )

    async def csv(
        self, name: str, headers: dict[str, str] | None = None, **params: str
    ) -> list[dict[str, str]]:
        response = await self.http.get(
            self.path(f"/{name}.csv"), headers=headers or self.planner, params=params
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert response.content.startswith("\ufeff".encode())  # UTF-8 with a BOM, for spreadsheets
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def create_summit(http: httpx.AsyncClient, settings: Settings, capacity: int) -> Summit:
    summit = Summit(http, settings, f"UNCOPS-D{uuid.uuid4().hex[:6].upper()}")
    created = await http.post(
        url("summit", "/summits"),
        headers=summit.planner,
        json={
            "id": summit.id,
            "name": "Delegations test summit",
            "starts_on": "2031-06-02",
            "ends_on": "2031-06-03",
        },
    )
    assert created.status_code == 201, created.text
    capacity_set = await http.put(
        summit.path("/capacity"), headers=summit.planner, json={"capacity": capacity}
    )
    assert capacity_set.status_code == 200, capacity_set.text
    return summit


async def test_invitations_registrations_waiting_list_accreditation_exports_and_events(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    summit = await create_summit(http, settings, capacity=25)
    deadline = datetime.now(UTC) + timedelta(days=20)
    invited = await http.post(
        summit.path("/invitations"),
        headers=summit.planner,
        json={
            "member_states": "all",
            "note_verbale": "PD/UNCOPS/2031/{member_state}",
            "registration_deadline": deadline.isoformat(),
        },
    )
    assert invited.status_code == 201, invited.text
    assert len(invited.json()["invited"]) == 193 and invited.json()["already_invited"] == []
    summit.ids = {d["member_state"]: d["id"] for d in invited.json()["invited"]}
    assert next(d for d in invited.json()["invited"] if d["member_state"] == "GHA")["note_verbale"] == (
        "PD/UNCOPS/2031/GHA"
    )
    again = await http.post(
        summit.path("/invitations"),
        headers=summit.planner,
        json={"member_states": ["GHA", "SEN"], "note_verbale": "PD/{member_state}"},
    )
    assert again.status_code == 201 and again.json() == {"invited": [], "already_invited": ["GHA", "SEN"]}
    page = await http.get(summit.path("/delegations"), headers=summit.planner, params={"limit": 150})
    rest = await http.get(
        summit.path("/delegations"), headers=summit.planner, params={"after": page.json()["next_cursor"]}
    )
    assert len(page.json()["items"]) + len(rest.json()["items"]) == 193 and rest.json()["next_cursor"] is None

    # Over the limit of 10, head included: 422 naming the field; nothing stored.
    over = await summit.register("GHA", 11)
    assert over.status_code == 422 and over.json()["errors"][0]["field"] == "members"
    bad_language = await summit.http.post(
        summit.path(f"/delegations/{summit.ids['GHA']}/register"),
        headers=summit.fp("GHA"),
        json={**roster("GHA", 2), "head": {**roster("GHA", 2)["head"], "languages": ["klingon"]}},
    )
    assert bad_language.status_code == 422 and bad_language.json()["errors"][0]["field"] == "head.languages"

    # 25 places: GHA 10 + SEN 10 fit; NPL 8 waits; BGD 5 fits in what is left; JOR 2 waits.
    placed = {}
    for state, persons in (("GHA", 10), ("SEN", 10), ("NPL", 8), ("BGD", 5), ("JOR", 2)):
        answer = await summit.register(state, persons, consenting=2)
        assert answer.status_code == 200, answer.text
        placed[state] = answer.json()["status"]
    assert placed == {
        "GHA": "registered",
        "SEN": "registered",
        "NPL": "waitlisted",
        "BGD": "registered",
        "JOR": "waitlisted",
    }
    gha = (await summit.get("GHA", summit.fp("GHA"))).json()
    assert (
        gha["members"] == 10
        and gha["head_of_delegation"] == "chief_of_police"
        and gha["languages"] == ["en", "fr"]
    )
    assert gha["proof_document"]["sha256"] == "c" * 64 and len(gha["participants"]) == 10
    assert gha["allowed_actions"] == ["register", "withdraw"]
    places = (await http.get(summit.path("/waiting-list"), headers=summit.planner)).json()
    assert (places["taken"], places["free"]) == (25, 0)
    assert [(w["member_state"], w["position"]) for w in places["waiting"]] == [("NPL", 1), ("JOR", 2)]

    # Ghana withdraws: its 10 places go to NPL (8) then JOR (2), first come first served.
    withdrawn = await summit.act(
        "GHA", {"action": "withdraw", "reason": "the minister cannot travel"}, as_state=True
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    places = (await http.get(summit.path("/waiting-list"), headers=summit.planner)).json()
    assert (places["taken"], places["free"], places["waiting"]) == (25, 0, [])
    for state in ("NPL", "JOR"):
        assert (await summit.get(state)).json()["status"] == "registered"
    # The promoted delegation's workflow knows: the secretariat reviews it at once.
    review = await summit.act("NPL", {"action": "start_review"})
    assert review.status_code == 200 and review.json()["status"] == "under_review", review.text
    ended = await summit.act("GHA", {"action": "confirm"})
    assert (
        ended.status_code == 409
        and ended.json()["state"] == "withdrawn"
        and ended.json()["allowed_actions"] == []
    )

    # Review, accreditation with badges, confirmation by the State; a refused step says what is allowed.
    early = await summit.act("SEN", {"action": "accredit"})
    assert early.status_code == 409 and early.json()["state"] == "registered"
    assert early.json()["allowed_actions"] == ["register", "start_review", "decline", "withdraw"]
    not_theirs = await summit.act("SEN", {"action": "start_review"}, as_state=True)
    assert not_theirs.status_code == 409 and not_theirs.json()["allowed_actions"] == ["register", "withdraw"]
    assert (await summit.act("SEN", {"action": "start_review"})).status_code == 200
    accredited = await summit.act("SEN", {"action": "accredit"})
    assert accredited.status_code == 200 and accredited.json()["status"] == "accredited"
    badges = [p["badge_number"] for p in accredited.json()["participants"]]
    assert badges == [f"{summit.id}-{n:04d}" for n in range(1, 11)]  # the head's badge first
    confirmed = await summit.act("SEN", {"action": "confirm"}, as_state=True)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    declined = await summit.act("BGD", {"action": "decline", "reason": "credentials letter not signed"})
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    stale = await http.post(
        summit.path(f"/delegations/{summit.ids['JOR']}/actions"),
        headers={**summit.planner, "If-Match": '"1"'},
        json={"action": "start_review"},
    )
    assert stale.status_code == 412

    guest = await http.post(
        summit.path("/participants"),
        headers=summit.planner,
        json={
            "full_name": "Moderator Under-Secretary",
            "function": "Moderator",
            "organisation": "United Nations, Department of Peace Operations",
            "languages": ["en"],
            "consent_to_list": True,
        },
    )
    assert guest.status_code == 201 and guest.json()["badge_number"] == f"{summit.id}-0011"

    # Who may see and do what.
    china = summit.fp("CHN")
    assert (await summit.get("SEN", china)).status_code == 404
    assert (await summit.register("SEN", 3, as_planner=False)).status_code == 409  # SEN is confirmed
    foreign = await http.post(
        summit.path(f"/delegations/{summit.ids['SEN']}/register"), headers=china, json=roster("CHN", 2)
    )
    assert foreign.status_code == 404
    partner = bearer(settings, Role.PARTNER)
    assert (await http.get(summit.path("/delegations"), headers=partner)).status_code == 403
    own = (await http.get(summit.path("/delegations"), headers=china)).json()["items"]
    assert [d["member_state"] for d in own] == ["CHN"]
    assert (await http.get(summit.path("/badges.csv"), headers=china)).status_code == 403
    assert (
        await http.get(summit.path("/participants.csv"), headers=china, params={"internal": "true"})
    ).status_code == 403
    assert (await http.put(summit.path("/capacity"), headers=china, json={"capacity": 5})).status_code == 403

    # Exports, parsed back.
    delegations = await summit.csv("delegations")
    assert len(delegations) == 193
    statuses = {row["member_state"]: row["status"] for row in delegations}
    assert (statuses["GHA"], statuses["SEN"], statuses["BGD"], statuses["NPL"], statuses["CHN"]) == (
        "withdrawn",
        "confirmed",
        "declined",
        "under_review",
        "invited",
    )
    assert [r["member_state"] for r in await summit.csv("delegations", china)] == ["CHN"]
    published = await summit.csv("participants")
    # Two consenting persons per attending delegation (SEN, NPL, JOR) and the guest; nobody else, no badges.
    assert sorted(r["full_name"] for r in published) == sorted(
        [f"Head of {s}" for s in ("SEN", "NPL", "JOR")]
        + [f"Delegate 0 of {s}" for s in ("SEN", "NPL", "JOR")]
        + ["Moderator Under-Secretary"]
    )
    assert "badge_number" not in published[0]
    internal = await summit.csv("participants", internal="true")
    assert len(internal) == 10 + 8 + 2 + 1
    assert {r["consent_to_list"] for r in internal} == {"yes", "no"}
    badge_rows = await summit.csv("badges")
    assert [r["badge_number"] for r in badge_rows] == [f"{summit.id}-{n:04d}" for n in range(1, 12)]
    assert badge_rows[0]["full_name"] == "Head of SEN" and badge_rows[0]["head_of_delegation"] == "yes"

    # Events: each delegation's in order under its key, counts and functions only.
    await _check_events(settings, summit)


async def _check_events(settings: Settings, summit: Summit) -> None:
    by_state: dict[str, list[str]] = defaultdict(list)
    payloads: list[str] = []
    reader = await topic_reader(settings, "uncops.summit.v1")
    wanted = {summit.ids[s]: s for s in ("GHA", "SEN", "NPL", "JOR", "BGD", "CHN")}
    try:

        async def all_seen() -> bool:
            for records in (await reader.getmany(timeout_ms=500)).values():
                for record in records:
                    key = (record.key or b"").decode()
                    if key in wanted:
                        headers = dict(record.headers)
                        by_state[wanted[key]].append(headers["ce_type"].decode().split(".")[-2])
                        payloads.append(record.value.decode())
                        assert json.loads(record.value)["summit_id"] == summit.id
            return "delegation_confirmed" in by_state["SEN"] and "delegation_declined" in by_state["BGD"]

        await eventually(all_seen, timeout=60, interval=0)
    finally:
        await reader.stop()
    assert by_state["SEN"] == [
        "delegation_invited",
        "delegation_registered",
        "delegation_accredited",
        "delegation_confirmed",
    ]
    assert by_state["GHA"] == ["delegation_invited", "delegation_registered", "delegation_withdrawn"]
    # Waitlisted: no delegation_registered until places are held (delegation_promoted says when).
    assert by_state["NPL"] == ["delegation_invited", "delegation_waitlisted", "delegation_promoted"]
    assert by_state["CHN"] == ["delegation_invited"]
    assert not any("Head of" in p or "Delegate " in p for p in payloads)  # never a name


async def test_concurrent_registrations_never_give_a_place_twice(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    summit = await create_summit(http, settings, capacity=100)
    states = [
        "GHA",
        "SEN",
        "NPL",
        "BGD",
        "JOR",
        "RWA",
        "IND",
        "EGY",
        "FRA",
        "CAN",
        "PAK",
        "ETH",
        "NGA",
        "CHN",
        "BRA",
        "ARG",
        "IDN",
        "TUR",
        "KEN",
        "ZAF",
    ]
    invited = await http.post(
        summit.path("/invitations"),
        headers=summit.planner,
        json={
            "member_states": states,
            "note_verbale": "PD/{member_state}",
            "registration_deadline": (datetime.now(UTC) + timedelta(days=5)).isoformat(),
        },
    )
    assert invited.status_code == 201, invited.text
    summit.ids = {d["member_state"]: d["id"] for d in invited.json()["invited"]}
    answers = await asyncio.gather(*(summit.register(state, 10) for state in states))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    outcome = [a.json()["status"] for a in answers]
    assert outcome.count("registered") == 10 and outcome.count("waitlisted") == 10
    places = (await http.get(summit.path("/waiting-list"), headers=summit.planner)).json()
    assert (places["taken"], places["free"], len(places["waiting"])) == (100, 0, 10)
    first = places["waiting"][0]["member_state"]
    leaving = next(s for s, a in zip(states, answers, strict=True) if a.json()["status"] == "registered")
    assert (
        await summit.act(leaving, {"action": "withdraw", "reason": "no longer attending"})
    ).status_code == 200
    places = (await http.get(summit.path("/waiting-list"), headers=summit.planner)).json()
    assert (places["taken"], len(places["waiting"])) == (100, 9)
    assert (await summit.get(first)).json()["status"] == "registered"
    # More places move the rest of the waiting list up.
    more = await http.put(summit.path("/capacity"), headers=summit.planner, json={"capacity": 150})
    assert more.status_code == 200 and len(more.json()["promoted"]) == 5 and more.json()["taken"] == 150


async def test_the_registration_deadline_closes(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    summit = await create_summit(http, settings, capacity=100)
    # Without a deadline, the summit's registration-closes milestone sets it.
    by_milestone = await http.post(
        summit.path("/invitations"),
        headers=summit.planner,
        json={"member_states": ["FRA"], "note_verbale": "PD/2031/FRA"},
    )
    assert by_milestone.status_code == 201, by_milestone.text
    milestones = (await http.get(summit.path("/milestones"), headers=summit.planner)).json()["items"]
    closes = next(m["due_at"] for m in milestones if m["title"] == "Registration closes")
    assert datetime.fromisoformat(by_milestone.json()["invited"][0]["registration_deadline"]) == (
        datetime.fromisoformat(closes)
    )
    no_note = await http.post(
        summit.path("/invitations"),
        headers=summit.planner,
        json={"member_states": ["GHA", "SEN"], "note_verbale": "PD/2031"},
    )
    assert no_note.status_code == 422 and no_note.json()["errors"][0]["field"] == "note_verbale"
    past = await http.post(
        summit.path("/invitations"),
        headers=summit.planner,
        json={
            "member_states": ["GHA"],
            "note_verbale": "PD/1",
            "registration_deadline": "2020-01-01T00:00:00Z",
        },
    )
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "registration_deadline"

    deadline = datetime.now(UTC) + timedelta(seconds=8)
    invited = await http.post(
        summit.path("/invitations"),
        headers=summit.planner,
        json={
            "member_states": ["GHA", "SEN"],
            "note_verbale": "PD/2031/{member_state}",
            "registration_deadline": deadline.isoformat(),
        },
    )
    assert invited.status_code == 201, invited.text
    summit.ids = {d["member_state"]: d["id"] for d in invited.json()["invited"]}
    assert (await summit.register("GHA", 3)).json()["status"] == "registered"

    async def sen_expired() -> bool:
        return bool((await summit.get("SEN")).json()["status"] == "expired")

    await eventually(sen_expired, timeout=60)
    late = await summit.register("SEN", 3)
    assert late.status_code == 422 and late.json()["errors"][0]["field"] == "registration_deadline"
    edit = await summit.register("GHA", 4)
    assert edit.status_code == 422 and edit.json()["errors"][0]["field"] == "registration_deadline"
    assert (await summit.get("GHA")).json()["members"] == 3  # the refused edit left nothing
    by_planner = await summit.register("SEN", 3, as_planner=True)
    assert by_planner.status_code == 200 and by_planner.json()["status"] == "registered"
    assert (
        await summit.act("GHA", {"action": "withdraw", "reason": "after all, no"}, as_state=True)
    ).status_code == 200
