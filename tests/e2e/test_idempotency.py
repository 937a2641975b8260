"""Idempotency-Key on every route that creates or acts, over the three services' route tables: the same
request sent twice with the same key acts once and answers the first answer again, marked
``Idempotent-Replayed: true``; the key sent with another body is refused (409) naming the header.

Each route has a request factory below, which also says how to see what the request did (a count or a
version in the service's database); a route that creates or acts without one fails
``test_every_route_that_acts_has_a_request``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import text

from deploy.stack import LocalStack
from services.cases.app import SERVICE as CASES
from services.common.auth import Role
from services.common.database import create_engine
from services.common.idempotency import honoured
from services.common.settings import Settings
from services.partners.app import SERVICE as PARTNERS
from services.pledges.app import SERVICE as PLEDGES
from services.summit.app import SERVICE as SUMMIT
from tests.conftest import bearer, eventually, url
from tests.e2e.test_case_lifecycle import intake
from tests.e2e.test_summit_delegations import roster

TODAY = datetime.now(UTC).date()


def routes_that_act() -> Iterator[tuple[str, str, str]]:
    """(service, method, path) of every POST route the shared mechanism makes idempotent."""
    for definition in (CASES, PLEDGES, SUMMIT, PARTNERS):
        for router in definition.routers:
            for route in router.routes:
                if not isinstance(route, APIRoute) or not honoured(route.endpoint):
                    continue
                if "POST" in (route.methods or set()):
                    yield definition.name, "POST", route.path


@dataclass
class Call:
    """One request, how to see its effect, and another body for the same key."""

    service: str
    path: str
    headers: dict[str, str]
    effect: str  # SQL: a number the request changes (a count, a version), with :ref bound
    ref: str
    json: Any = None
    content: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)
    other: dict[str, Any] = field(default_factory=dict)  # httpx arguments of another request

    def send(self, http: httpx.AsyncClient, key: str, **other: Any) -> Awaitable[httpx.Response]:
        arguments: dict[str, Any] = {"json": self.json} if self.content is None else {"content": self.content}
        arguments.update(other)
        return http.post(
            url(self.service, self.path),
            headers={**self.headers, "Idempotency-Key": key, **arguments.pop("headers", {})},
            params=self.params,
            **arguments,
        )


class World:
    """What the requests act on, made over HTTP as a user would."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self.http = http
        self.settings = settings
        self.officer = bearer(settings, Role.CONDUCT_OFFICER, subject="cdo-idempotency")
        self.planner = bearer(settings, Role.PLANNER, subject="planner-idempotency")
        self.partner = bearer(settings, Role.PARTNER, subject="partner-idempotency")

    def fp(self, state: str) -> dict[str, str]:
        return bearer(self.settings, Role.STATE_FOCAL_POINT, state, subject=f"fp-idem-{state.lower()}")

    async def ok(self, response: Awaitable[httpx.Response], expect: int = 200) -> dict[str, Any]:
        answer = await response
        assert answer.status_code == expect, answer.text
        return dict(answer.json())

    async def case(self) -> str:
        body = await self.ok(self.http.post(url("cases", "/cases"), headers=self.officer, json=intake()), 201)
        return str(body["case_id"])

    async def pledge(self) -> str:
        body = await self.ok(
            self.http.post(
                url("pledges", "/pledges"),
                headers=self.fp("GHA"),
                json={
                    "member_state": "GHA",
                    "kind": "gender_parity",
                    "title": f"Women in FPUs {uuid.uuid4().hex[:6]}",
                    "terms": {
                        "indicator": "share of women in FPUs",
                        "baseline": "12",
                        "target": "20",
                        "unit": "percent",
                        "target_date": str(TODAY + timedelta(days=365)),
                    },
                },
            ),
            201,
        )
        return str(body["id"])

    async def summit(self) -> str:
        summit_id = f"UNCOPS-I{uuid.uuid4().hex[:6].upper()}"
        await self.ok(
            self.http.post(url("summit", "/summits"), headers=self.planner, json=summit(summit_id)), 201
        )
        return summit_id

    async def invited(self, summit_id: str, state: str = "GHA") -> str:
        body = await self.ok(
            self.http.post(
                url("summit", f"/summits/{summit_id}/invitations"),
                headers=self.planner,
                json=invitation([state]),
            ),
            201,
        )
        return str(body["invited"][0]["id"])

    async def registered(self, summit_id: str) -> str:
        delegation = await self.invited(summit_id)
        await self.ok(
            self.http.post(
                url("summit", f"/summits/{summit_id}/delegations/{delegation}/register"),
                headers=self.fp("GHA"),
                json=roster("GHA", 2),
            )
        )
        return delegation

    async def budget_line(self, summit_id: str) -> str:
        body = await self.ok(
            self.http.post(
                url("summit", f"/summits/{summit_id}/budget/lines"),
                headers=self.planner,
                json={"category": "venue", "title": "Venue", "planned": "1000.00"},
            ),
            201,
        )
        return str(body["id"])

    async def milestone(self, summit_id: str) -> str:
        milestones = await self.http.get(
            url("summit", f"/summits/{summit_id}/milestones"), headers=self.planner
        )
        return str(milestones.json()["items"][0]["id"])


def summit(summit_id: str, name: str = "Idempotency summit") -> dict[str, Any]:
    return {"id": summit_id, "name": name, "starts_on": "2031-06-02", "ends_on": "2031-06-03"}


def invitation(states: list[str], note: str = "PD/IDEM/{member_state}") -> dict[str, Any]:
    deadline = datetime.now(UTC) + timedelta(days=30)
    return {"member_states": states, "note_verbale": note, "registration_deadline": deadline.isoformat()}


def session(title: str = "Opening plenary") -> dict[str, Any]:
    return {
        "title": title,
        "kind": "plenary",
        "starts_at": "2031-06-02T10:00:00-04:00",
        "ends_at": "2031-06-02T11:00:00-04:00",
        "room_id": "unhq-ga-hall",
        "languages": ["en"],
    }


Factory = Callable[[World], Awaitable[Call]]
FACTORIES: dict[tuple[str, str, str], Factory] = {}


def request_for(service: str, path: str) -> Callable[[Factory], Factory]:
    def register(factory: Factory) -> Factory:
        FACTORIES[(service, "POST", path)] = factory
        return factory

    return register


CASE_VERSION = "SELECT version FROM case_file WHERE id = :ref"


@request_for("cases", "/cases")
async def open_case(world: World) -> Call:
    marker = f"idempotency {uuid.uuid4().hex}"
    return Call(
        "cases",
        "/cases",
        world.officer,
        "SELECT count(*) FROM case_file WHERE state ->> 'how_reported' = :ref",
        marker,
        json=intake(how_reported=marker),
        other={"json": intake(how_reported=marker, victims=3)},
    )


@request_for("cases", "/cases/{case_id}/actions")
async def record_note_verbale(world: World) -> Call:
    case_id = await world.case()
    note = {"action": "record_note_verbale", "direction": "sent", "reference": "NV/IDEM/1", "on": str(TODAY)}
    return Call(
        "cases",
        f"/cases/{case_id}/actions",
        world.officer,
        CASE_VERSION,
        case_id,
        json=note,
        other={"json": {**note, "reference": "NV/IDEM/2"}},
    )


@request_for("cases", "/cases/{case_id}/victims")
async def add_victim(world: World) -> Call:
    case_id = await world.case()
    return Call(
        "cases",
        f"/cases/{case_id}/victims",
        world.officer,
        CASE_VERSION,
        case_id,
        json={"pseudonym": "V-01", "minor": False},
        other={"json": {"pseudonym": "V-02", "minor": False}},
    )


@request_for("cases", "/cases/{case_id}/attachments")
async def attach(world: World) -> Call:
    case_id = await world.case()
    return Call(
        "cases",
        f"/cases/{case_id}/attachments",
        {**world.officer, "Content-Type": "application/pdf"},
        CASE_VERSION,
        case_id,
        content=b"%PDF-1.4 idempotency",
        params={"filename": "statement.pdf"},
        other={"content": b"%PDF-1.4 another"},
    )


@request_for("pledges", "/pledges/{pledge_id}/actions")
async def acknowledge(world: World) -> Call:
    pledge_id = await world.pledge()
    return Call(
        "pledges",
        f"/pledges/{pledge_id}/actions",
        world.planner,
        "SELECT version FROM pledge WHERE id = :ref",
        pledge_id,
        json={"action": "acknowledge"},
        other={"json": {"action": "start_review"}},
    )


@request_for("summit", "/summits")
async def plan_summit(world: World) -> Call:
    summit_id = f"UNCOPS-I{uuid.uuid4().hex[:6].upper()}"
    return Call(
        "summit",
        "/summits",
        world.planner,
        "SELECT count(*) FROM summit WHERE id = :ref",
        summit_id,
        json=summit(summit_id),
        other={"json": summit(summit_id, "Another name")},
    )


@request_for("summit", "/summits/{summit_id}/reschedule")
async def reschedule(world: World) -> Call:
    summit_id = await world.summit()
    return Call(
        "summit",
        f"/summits/{summit_id}/reschedule",
        world.planner,
        "SELECT version FROM summit WHERE id = :ref",
        summit_id,
        json={"starts_on": "2031-09-01", "ends_on": "2031-09-02"},
        other={"json": {"starts_on": "2031-10-01", "ends_on": "2031-10-02"}},
    )


@request_for("summit", "/summits/{summit_id}/milestones")
async def add_milestone(world: World) -> Call:
    summit_id = await world.summit()
    milestone = {"title": "Venue walk-through", "due_at": "2031-05-01T12:00:00Z"}
    return Call(
        "summit",
        f"/summits/{summit_id}/milestones",
        world.planner,
        "SELECT count(*) FROM milestone WHERE summit_id = :ref",
        summit_id,
        json=milestone,
        other={"json": {**milestone, "title": "Another walk-through"}},
    )


@request_for("summit", "/summits/{summit_id}/milestones/{milestone_id}/complete")
async def complete_milestone(world: World) -> Call:
    summit_id = await world.summit()
    milestone_id = await world.milestone(summit_id)
    return Call(
        "summit",
        f"/summits/{summit_id}/milestones/{milestone_id}/complete",
        world.planner,
        "SELECT count(*) FROM milestone WHERE summit_id = :ref AND status = 'completed'",
        summit_id,
        json={"note": "Done"},
        other={"json": {"note": "Done twice"}},
    )


@request_for("summit", "/summits/{summit_id}/milestones/{milestone_id}/reschedule")
async def reschedule_milestone(world: World) -> Call:
    summit_id = await world.summit()
    milestone_id = await world.milestone(summit_id)
    return Call(
        "summit",
        f"/summits/{summit_id}/milestones/{milestone_id}/reschedule",
        world.planner,
        "SELECT version FROM milestone WHERE id = :ref",
        milestone_id,
        json={"due_at": "2031-02-01T17:00:00Z"},
        other={"json": {"due_at": "2031-02-08T17:00:00Z"}},
    )


@request_for("summit", "/summits/{summit_id}/rooms")
async def add_room(world: World) -> Call:
    summit_id = await world.summit()
    room = {"name": "Annex B", "capacity": 40}
    return Call(
        "summit",
        f"/summits/{summit_id}/rooms",
        world.planner,
        "SELECT count(*) FROM room WHERE summit_id = :ref",
        summit_id,
        json=room,
        other={"json": {**room, "capacity": 41}},
    )


@request_for("summit", "/summits/{summit_id}/sessions")
async def add_session(world: World) -> Call:
    summit_id = await world.summit()
    return Call(
        "summit",
        f"/summits/{summit_id}/sessions",
        world.planner,
        "SELECT count(*) FROM agenda_session WHERE summit_id = :ref",
        summit_id,
        json=session(),
        other={"json": session("Another plenary")},
    )


@request_for("summit", "/summits/{summit_id}/budget/lines")
async def add_budget_line(world: World) -> Call:
    summit_id = await world.summit()
    line = {"category": "interpretation", "title": "Interpretation", "planned": "400000.00"}
    return Call(
        "summit",
        f"/summits/{summit_id}/budget/lines",
        world.planner,
        "SELECT count(*) FROM budget_line WHERE summit_id = :ref",
        summit_id,
        json=line,
        other={"json": {**line, "planned": "400001.00"}},
    )


@request_for("summit", "/summits/{summit_id}/budget/expenditures")
async def spend(world: World) -> Call:
    summit_id = await world.summit()
    spending = {
        "budget_line_id": await world.budget_line(summit_id),
        "amount": "125.00",
        "spent_on": "2031-01-15",
        "description": "Site visit",
    }
    return Call(
        "summit",
        f"/summits/{summit_id}/budget/expenditures",
        world.planner,
        "SELECT count(*) FROM expenditure WHERE summit_id = :ref",
        summit_id,
        json=spending,
        other={"json": {**spending, "amount": "126.00"}},
    )


@request_for("summit", "/summits/{summit_id}/funding/receipts")
async def receive(world: World) -> Call:
    summit_id = await world.summit()
    receipt = {"member_state": "CHN", "amount": "1000.00", "currency": "USD", "received_on": str(TODAY)}
    return Call(
        "summit",
        f"/summits/{summit_id}/funding/receipts",
        world.planner,
        "SELECT count(*) FROM funding_receipt WHERE summit_id = :ref",
        summit_id,
        json=receipt,
        other={"json": {**receipt, "amount": "1001.00"}},
    )


@request_for("summit", "/summits/{summit_id}/funding/receipts/{receipt_id}/reversal")
async def reverse_receipt(world: World) -> Call:
    summit_id = await world.summit()
    receipt = {"member_state": "CHN", "amount": "1000.00", "currency": "USD", "received_on": str(TODAY)}
    received = await world.ok(
        world.http.post(
            url("summit", f"/summits/{summit_id}/funding/receipts"), headers=world.planner, json=receipt
        ),
        201,
    )
    reversal = {"reason": "recorded twice"}
    return Call(
        "summit",
        f"/summits/{summit_id}/funding/receipts/{received['id']}/reversal",
        world.planner,
        "SELECT count(*) FROM funding_receipt WHERE summit_id = :ref",
        summit_id,
        json=reversal,
        other={"json": {"reason": "the wrong State"}},
    )


@request_for("summit", "/summits/{summit_id}/invitations")
async def invite(world: World) -> Call:
    summit_id = await world.summit()
    return Call(
        "summit",
        f"/summits/{summit_id}/invitations",
        world.planner,
        "SELECT count(*) FROM delegation WHERE summit_id = :ref",
        summit_id,
        json=invitation(["GHA", "SEN"]),
        other={"json": invitation(["GHA", "SEN", "FRA"])},
    )


@request_for("summit", "/summits/{summit_id}/delegations/{delegation_id}/register")
async def register(world: World) -> Call:
    summit_id = await world.summit()
    delegation = await world.invited(summit_id)
    return Call(
        "summit",
        f"/summits/{summit_id}/delegations/{delegation}/register",
        world.fp("GHA"),
        "SELECT count(*) FROM participant WHERE delegation_id = :ref",
        delegation,
        json=roster("GHA", 2),
        other={"json": roster("GHA", 3)},
    )


@request_for("summit", "/summits/{summit_id}/delegations/{delegation_id}/actions")
async def review(world: World) -> Call:
    summit_id = await world.summit()
    delegation = await world.registered(summit_id)
    return Call(
        "summit",
        f"/summits/{summit_id}/delegations/{delegation}/actions",
        world.planner,
        "SELECT version FROM delegation WHERE id = :ref",
        delegation,
        json={"action": "start_review"},
        other={"json": {"action": "decline", "reason": "not this time"}},
    )


@request_for("summit", "/summits/{summit_id}/participants")
async def add_guest(world: World) -> Call:
    summit_id = await world.summit()
    guest: dict[str, Any] = {"full_name": "Guest Moderator", "function": "Moderator", "organisation": "DPO"}
    guest["languages"] = ["en"]
    return Call(
        "summit",
        f"/summits/{summit_id}/participants",
        world.planner,
        "SELECT count(*) FROM participant WHERE summit_id = :ref",
        summit_id,
        json=guest,
        other={"json": {**guest, "full_name": "Another Moderator"}},
    )


@request_for("summit", "/summits/{summit_id}/programme/releases")
async def release(world: World) -> Call:
    summit_id = await world.summit()
    await world.ok(
        world.http.post(
            url("summit", f"/summits/{summit_id}/sessions"), headers=world.planner, json=session()
        ),
        201,
    )
    return Call(
        "summit",
        f"/summits/{summit_id}/programme/releases",
        world.planner,
        "SELECT count(*) FROM programme_release WHERE summit_id = :ref",
        summit_id,
        json={"note": "First"},
        other={"json": {"note": "Second"}},
    )


# ---- the partner gateway (issue 18). Port 9 (discard) has no listener here: deliveries fail, reach nobody.
SUBSCRIPTION_VERSION = "SELECT version FROM webhook_subscription WHERE id = :ref"
RARE_TYPE = "org.un.uncops.summit.summit_rescheduled.v1"


async def webhook(world: World, event_types: list[str] | None = None) -> str:
    body = {"url": f"http://127.0.0.1:9/{uuid.uuid4().hex}", "event_types": event_types or [RARE_TYPE]}
    answer = world.http.post(url("partners", "/webhooks/subscriptions"), headers=world.partner, json=body)
    return str((await world.ok(answer, 201))["id"])


@request_for("partners", "/webhooks/subscriptions")
async def subscribe(world: World) -> Call:
    target = f"http://127.0.0.1:9/idempotency/{uuid.uuid4().hex}"
    return Call(
        "partners",
        "/webhooks/subscriptions",
        world.partner,
        "SELECT count(*) FROM webhook_subscription WHERE url = :ref",
        target,
        json={"url": target, "event_types": [RARE_TYPE]},
        other={"json": {"url": target, "event_types": ["org.un.uncops.summit.summit_planned.v1"]}},
    )


def subscription_step(step: str, before: str | None = None) -> Factory:
    async def factory(world: World) -> Call:
        subscription_id = await webhook(world)
        path = f"/webhooks/subscriptions/{subscription_id}"
        if before is not None:
            await world.ok(world.http.post(url("partners", f"{path}/{before}"), headers=world.partner))
        return Call(
            "partners",
            f"{path}/{step}",
            world.partner,
            SUBSCRIPTION_VERSION,
            subscription_id,
            other={"json": {"another": "body"}},
        )

    return factory


request_for("partners", "/webhooks/subscriptions/{subscription_id}/pause")(subscription_step("pause"))
request_for("partners", "/webhooks/subscriptions/{subscription_id}/resume")(
    subscription_step("resume", "pause")
)
request_for("partners", "/webhooks/subscriptions/{subscription_id}/rotate-secret")(
    subscription_step("rotate-secret")
)


@request_for("partners", "/webhooks/subscriptions/{subscription_id}/redeliver")
async def redeliver_since(world: World) -> Call:
    subscription_id = await webhook(world)
    return Call(
        "partners",
        f"/webhooks/subscriptions/{subscription_id}/redeliver",
        world.partner,
        SUBSCRIPTION_VERSION,
        subscription_id,
        json={"since": "2026-01-01T00:00:00Z"},
        other={"json": {"since": "2026-02-01T00:00:00Z"}},
    )


@request_for("partners", "/webhooks/subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver")
async def redeliver_one(world: World) -> Call:
    subscription_id = await webhook(world, ["org.un.uncops.pledges.pledge_submitted.v1"])
    await world.pledge()
    path = f"/webhooks/subscriptions/{subscription_id}"

    async def delivered() -> list[dict[str, Any]]:
        answer = await world.ok(world.http.get(url("partners", f"{path}/deliveries"), headers=world.partner))
        return list(answer["items"])

    delivery_id = (await eventually(delivered, timeout=30))[0]["id"]
    return Call(
        "partners",
        f"{path}/deliveries/{delivery_id}/redeliver",
        world.partner,
        SUBSCRIPTION_VERSION,
        subscription_id,
        other={"json": {"another": "body"}},
    )


ROUTES = sorted(routes_that_act())


def test_every_route_that_acts_has_a_request() -> None:
    assert sorted(FACTORIES) == ROUTES


@pytest.mark.parametrize(("service", "method", "path"), ROUTES)
async def test_a_retry_with_the_same_key_acts_once_and_answers_the_first_answer(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, service: str, method: str, path: str
) -> None:
    call = await FACTORIES[(service, method, path)](World(http, settings))
    engine = create_engine(platform.database_url(call.service), pool_size=1)

    async def effect() -> Any:
        async with engine.connect() as conn:
            return await conn.scalar(text(call.effect), {"ref": call.ref})

    try:
        before = await effect()
        key = str(uuid.uuid4())
        first = await call.send(http, key)
        assert 200 <= first.status_code < 300, first.text
        assert "idempotent-replayed" not in first.headers
        acted = await effect()
        assert acted != before, "the request did nothing"

        again = await call.send(http, key)
        assert again.status_code == first.status_code, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        for header in ("location", "etag", "content-type"):
            assert again.headers.get(header) == first.headers.get(header), header
        assert await effect() == acted, "the retry acted again"

        reused = await call.send(http, key, **call.other)
        assert reused.status_code == 409, reused.text
        assert "Idempotency-Key" in reused.text
        assert await effect() == acted
    finally:
        await engine.dispose()


async def test_a_malformed_key_is_refused_and_nothing_is_done(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    world = World(http, settings)
    call = await record_note_verbale(world)
    for key in ("x" * 201, "two words"):
        refused = await call.send(http, key)
        assert refused.status_code == 422, refused.text
        assert "Idempotency-Key" in refused.text
    case = await http.get(url("cases", call.path.removesuffix("/actions")), headers=world.officer)
    assert case.headers["etag"] == '"1"'


async def test_two_callers_keys_never_collide(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    world = World(http, settings)
    call = await record_note_verbale(world)
    key = str(uuid.uuid4())
    mine = await call.send(http, key)
    other_officer = bearer(settings, Role.CONDUCT_OFFICER, subject="cdo-idempotency-2")
    theirs = await call.send(http, key, headers=other_officer)
    assert mine.status_code == theirs.status_code == 200, theirs.text
    assert "idempotent-replayed" not in theirs.headers
    assert (mine.headers["etag"], theirs.headers["etag"]) == ('"2"', '"3"')


async def test_two_requests_at_once_with_one_key_act_once(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    call = await add_room(World(http, settings))
    engine = create_engine(platform.database_url("summit"), pool_size=1)
    key = str(uuid.uuid4())
    try:
        answers = await asyncio.gather(*(call.send(http, key) for _ in range(4)))
        async with engine.connect() as conn:
            rooms = await conn.scalar(text(call.effect), {"ref": call.ref})
    finally:
        await engine.dispose()
    assert rooms == 1
    created = [a for a in answers if a.status_code == 201]
    assert len({a.json()["id"] for a in created}) == 1
    # The others were replays of that answer or told the first is still running (409 with Retry-After).
    for answer in answers:
        assert answer.status_code == 201 or (answer.status_code == 409 and answer.headers["retry-after"])
    assert sum("idempotent-replayed" not in a.headers for a in created) == 1
