"""Every paged list of the three services, walked two by two over HTTP following the ``Link: rel="next"``
header: each item comes exactly once, in the order of the same list read in one page, with the request's
other parameters kept; the last page has no Link and a null ``next_cursor``; a cursor not made by the list
is a 422 problem naming ``cursor``, a limit beyond the maximum a 422 naming ``limit``.

The route table below has a scenario for every paged list of the documents (checked against them), each
making a few items of its own first."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.paging import MAX_LIMIT, encode_cursor
from services.common.settings import Settings
from tests.conftest import bearer, eventually, url
from tests.e2e.test_case_lifecycle import intake, step
from tests.e2e.test_idempotency import TODAY, World, invitation, session, webhook
from tests.e2e.test_summit_delegations import roster
from tests.unit.test_openapi_contract import DOCUMENTS
from tests.unit.test_paging_contract import lists


@dataclass
class Listing:
    """A list to walk: where, as whom, with which filters, and the items made for it (by their key)."""

    service: str
    path: str
    headers: dict[str, str]
    made: list[str]
    key: str = "id"
    params: dict[str, str] = field(default_factory=dict)


Scenario = Callable[[World], Awaitable[Listing]]
SCENARIOS: dict[tuple[str, str], Scenario] = {}


def scenario(service: str, path: str) -> Callable[[Scenario], Scenario]:
    def register(made: Scenario) -> Scenario:
        SCENARIOS[(service, path)] = made
        return made

    return register


async def created(
    world: World, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Any:
    service = {"summits": "summit"}.get(path.split("/")[1], path.split("/")[1])
    answer = await world.ok(
        world.http.post(url(service, path), headers=headers or world.planner, json=body), 201
    )
    return answer


@scenario("cases", "/cases")
async def cases(world: World) -> Listing:
    # A day and a State no other test uses together: the filters keep the walk to a few cases.
    day = str(TODAY - timedelta(days=random.randint(400, 3000)))
    made = [
        (
            await created(
                world,
                "/cases",
                intake(reported_on=day, incident_date=day, police_contributing_country="ISL"),
                world.officer,
            )
        )["case_id"]
        for _ in range(5)
    ]
    params = {"reported_from": day, "reported_to": day, "police_contributing_country": "ISL"}
    return Listing("cases", "/cases", world.officer, made, key="case_id", params=params)


@scenario("cases", "/cases/{case_id}/audit")
async def case_audit(world: World) -> Listing:
    case_id = await world.case()
    for n in range(3):
        await step(
            world.http,
            world.officer,
            case_id,
            "record_note_verbale",
            direction="sent",
            reference=f"NV/PAGE/{n}",
            on=str(TODAY),
        )
    return Listing("cases", f"/cases/{case_id}/audit", world.officer, ["1", "2", "3", "4"], key="position")


@scenario("pledges", "/pledges")
async def pledges(world: World) -> Listing:
    summit = f"PAGE-{uuid.uuid4().hex[:8]}"
    made = [await pledge(world, summit) for _ in range(5)]
    return Listing("pledges", "/pledges", world.planner, made, params={"summit": summit})


async def pledge(world: World, summit: str) -> str:
    body = {
        "member_state": "GHA",
        "summit": summit,
        "kind": "gender_parity",
        "title": f"Women in FPUs {uuid.uuid4().hex[:6]}",
        "terms": {
            "indicator": "share of women in FPUs",
            "baseline": "12",
            "target": "20",
            "unit": "percent",
            "target_date": str(TODAY + timedelta(days=365)),
        },
    }
    return str((await created(world, "/pledges", body, world.fp("GHA")))["id"])


@scenario("summit", "/summits")
async def summits(world: World) -> Listing:
    return Listing("summit", "/summits", world.planner, [await world.summit() for _ in range(3)])


@scenario("summit", "/summits/{summit_id}/milestones")
async def milestones(world: World) -> Listing:
    summit_id = await world.summit()
    milestone = {"title": "Venue walk-through", "due_at": "2031-05-01T12:00:00Z"}
    made = [(await created(world, f"/summits/{summit_id}/milestones", milestone))["id"] for _ in range(2)]
    return Listing("summit", f"/summits/{summit_id}/milestones", world.planner, made)


@scenario("summit", "/summits/{summit_id}/budget/lines")
async def budget_lines(world: World) -> Listing:
    summit_id = await world.summit()
    # Two categories, titles out of order: the page order is the list's (category, title, id).
    made = [
        (
            await created(
                world,
                f"/summits/{summit_id}/budget/lines",
                {"category": category, "title": f"Line {title}", "planned": "10.00"},
            )
        )["id"]
        for category, title in (
            ("venue", "c"),
            ("travel", "b"),
            ("venue", "a"),
            ("travel", "d"),
            ("venue", "b"),
        )
    ]
    return Listing("summit", f"/summits/{summit_id}/budget/lines", world.planner, made)


@scenario("summit", "/summits/{summit_id}/budget/expenditures")
async def expenditures(world: World) -> Listing:
    summit_id = await world.summit()
    line = await world.budget_line(summit_id)
    made = [
        (
            await created(
                world,
                f"/summits/{summit_id}/budget/expenditures",
                {
                    "budget_line_id": line,
                    "amount": "10.00",
                    "spent_on": f"2031-01-0{1 + n % 2}",
                    "description": "Site visit",
                },
            )
        )["id"]
        for n in range(5)
    ]
    return Listing("summit", f"/summits/{summit_id}/budget/expenditures", world.planner, made)


@scenario("summit", "/summits/{summit_id}/funding/receipts")
async def receipts(world: World) -> Listing:
    summit_id = await world.summit()
    path = f"/summits/{summit_id}/funding/receipts"
    receipt = {"member_state": "CHN", "amount": "1000.00", "currency": "USD", "received_on": str(TODAY)}
    made = [(await created(world, path, receipt))["id"] for _ in range(4)]
    reversal = await created(world, f"{path}/{made[0]}/reversal", {"reason": "recorded twice"})
    return Listing("summit", path, world.planner, [*made, reversal["id"]])


@scenario("summit", "/summits/{summit_id}/audit")
async def summit_audit(world: World) -> Listing:
    summit_id = await world.summit()
    line = await world.budget_line(summit_id)
    for version in range(1, 5):
        changed = await world.http.patch(
            url("summit", f"/summits/{summit_id}/budget/lines/{line}"),
            headers={**world.planner, "If-Match": f'"{version}"'},
            json={"planned": f"{1000 + version}.00"},
        )
        assert changed.status_code == 200, changed.text
    # subject_id: the Link must keep it.
    return Listing("summit", f"/summits/{summit_id}/audit", world.planner, [], params={"subject_id": line})


@scenario("summit", "/summits/{summit_id}/pledges")
async def summit_pledges(world: World) -> Listing:
    summit_id = await world.summit()
    made = [await pledge(world, summit_id) for _ in range(3)]

    async def arrived() -> bool:
        listed = await world.http.get(url("summit", f"/summits/{summit_id}/pledges"), headers=world.planner)
        return len(listed.json()["items"]) == len(made)

    await eventually(arrived, timeout=60)
    return Listing("summit", f"/summits/{summit_id}/pledges", world.planner, made, key="pledge_id")


@scenario("summit", "/summits/{summit_id}/delegations")
async def delegations(world: World) -> Listing:
    summit_id = await world.summit()
    invited = await created(
        world, f"/summits/{summit_id}/invitations", invitation(["GHA", "SEN", "FRA", "CHN", "BRA"])
    )
    made = [d["id"] for d in invited["invited"]]
    return Listing(
        "summit", f"/summits/{summit_id}/delegations", world.planner, made, params={"status": "invited"}
    )


@scenario("summit", "/summits/{summit_id}/participants")
async def participants(world: World) -> Listing:
    summit_id = await world.summit()
    guest = {
        "full_name": "Guest Moderator",
        "function": "Moderator",
        "organisation": "DPO",
        "languages": ["en"],
    }
    made = [(await created(world, f"/summits/{summit_id}/participants", guest))["id"] for _ in range(3)]
    # Delegates come before the guests: the walk crosses from one to the other.
    delegation = await world.invited(summit_id)
    await world.ok(
        world.http.post(
            url("summit", f"/summits/{summit_id}/delegations/{delegation}/register"),
            headers=world.fp("GHA"),
            json=roster("GHA", 3),
        )
    )
    return Listing("summit", f"/summits/{summit_id}/participants", world.planner, made)


@scenario("summit", "/summits/{summit_id}/rooms")
async def rooms(world: World) -> Listing:
    summit_id = await world.summit()
    made = [
        (await created(world, f"/summits/{summit_id}/rooms", {"name": f"Annex {n}", "capacity": 40}))["id"]
        for n in range(3)
    ]
    return Listing("summit", f"/summits/{summit_id}/rooms", world.planner, made)


def at(hour: int) -> dict[str, Any]:
    return {
        **session(f"Session at {hour}"),
        "starts_at": f"2031-06-02T{hour:02}:00:00-04:00",
        "ends_at": f"2031-06-02T{hour:02}:30:00-04:00",
    }


@scenario("summit", "/summits/{summit_id}/sessions")
async def sessions(world: World) -> Listing:
    summit_id = await world.summit()
    made = [
        (await created(world, f"/summits/{summit_id}/sessions", at(hour)))["id"]
        for hour in (12, 10, 11, 14, 9)
    ]
    return Listing("summit", f"/summits/{summit_id}/sessions", world.planner, made)


@scenario("summit", "/summits/{summit_id}/programme/releases")
async def releases(world: World) -> Listing:
    summit_id = await world.summit()
    for hour in (9, 10, 11, 12):
        await created(world, f"/summits/{summit_id}/sessions", at(hour))
        await created(world, f"/summits/{summit_id}/programme/releases", {"note": f"with {hour}"})
    return Listing(
        "summit",
        f"/summits/{summit_id}/programme/releases",
        world.planner,
        ["1", "2", "3", "4"],
        key="number",
    )


@scenario("summit", "/calendars")
async def calendar_feeds(world: World) -> Listing:
    # A person of their own: the list is the caller's feeds, the newest first.
    owner = bearer(world.settings, Role.PLANNER, subject=f"planner-feeds-{uuid.uuid4().hex[:8]}")
    made = [
        (
            await world.ok(
                world.http.post(url("summit", "/calendars"), headers=owner, json={"label": f"Feed {n}"}), 201
            )
        )["id"]
        for n in range(5)
    ]
    return Listing("summit", "/calendars", owner, made)


# ---- the partner gateway (issue 18); its event feed never ends (a cursor to come back with is always
# given): tests/e2e/test_partner_gateway.py walks it.


def partner_of_its_own(world: World) -> dict[str, str]:
    return bearer(world.settings, Role.PARTNER, subject=f"partner-paging-{uuid.uuid4().hex[:8]}")


@scenario("partners", "/partners")
async def partners(world: World) -> Listing:
    admin = bearer(world.settings, Role.ADMIN, subject="admin-paging")
    made = [f"partner-paging-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for partner_id in made:
        answer = world.http.put(
            url("partners", f"/partners/{partner_id}"), headers=admin, json={"topics": []}
        )
        await world.ok(answer)
    return Listing("partners", "/partners", admin, made, key="partner_id")


@scenario("partners", "/webhooks/subscriptions")
async def subscriptions(world: World) -> Listing:
    world.partner = partner_of_its_own(world)
    made = [await webhook(world) for _ in range(4)]
    return Listing("partners", "/webhooks/subscriptions", world.partner, made)


@scenario("partners", "/webhooks/subscriptions/{subscription_id}/deliveries")
async def deliveries(world: World) -> Listing:
    world.partner = partner_of_its_own(world)
    subscription_id = await webhook(world, ["org.un.uncops.pledges.pledge_submitted.v1"])
    for _ in range(3):
        await world.pledge()
    path = f"/webhooks/subscriptions/{subscription_id}/deliveries"

    async def made() -> list[str] | None:
        answer = await world.ok(world.http.get(url("partners", path), headers=world.partner))
        return [d["id"] for d in answer["items"]] if len(answer["items"]) >= 3 else None

    return Listing("partners", path, world.partner, await eventually(made, timeout=30))


@scenario("partners", "/webhooks/notifications")
async def notifications(world: World) -> Listing:
    # Three subscriptions to a port nobody listens on: each fails, with the suite's seconds-long schedule.
    world.partner = partner_of_its_own(world)
    for _ in range(3):
        await webhook(world, ["org.un.uncops.pledges.pledge_submitted.v1"])
    await world.pledge()

    async def made() -> list[str] | None:
        answer = await world.ok(
            world.http.get(url("partners", "/webhooks/notifications"), headers=world.partner)
        )
        return [n["id"] for n in answer["items"]] if len(answer["items"]) >= 3 else None

    return Listing("partners", "/webhooks/notifications", world.partner, await eventually(made, timeout=60))


PAGED = sorted(
    (service, path)
    for service in ("cases", "pledges", "summit", "partners")
    for path, operation, _ in lists(DOCUMENTS[service])
    if "x-bounded" not in operation and (service, path) != ("partners", "/events")
)


def test_every_paged_list_has_a_scenario() -> None:
    assert sorted(SCENARIOS) == PAGED


def next_url(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    return link["url"] if link else None


@pytest.mark.parametrize(("service", "path"), PAGED)
async def test_walking_a_list_two_by_two_gives_every_item_once_in_order(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, service: str, path: str
) -> None:
    listing = await SCENARIOS[(service, path)](World(http, settings))
    whole = await http.get(
        url(service, listing.path),
        headers=listing.headers,
        params={**listing.params, "limit": str(MAX_LIMIT)},
    )
    assert whole.status_code == 200, whole.text
    assert whole.json()["next_cursor"] is None and "link" not in whole.headers
    expected = [str(item[listing.key]) for item in whole.json()["items"]]
    assert len(expected) >= 3 and set(listing.made) <= set(expected)

    walked: list[str] = []
    following: str | None = url(service, listing.path)
    params: dict[str, str] | None = {**listing.params, "limit": "2"}
    while following is not None:
        page = await http.get(following, headers=listing.headers, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 2
        walked += [str(item[listing.key]) for item in body["items"]]
        following = next_url(page)
        if following is None:
            assert body["next_cursor"] is None
            break
        assert body["next_cursor"] is not None and f"cursor={body['next_cursor']}" in following
        assert "limit=2" in following and all(f"{k}={v}" in following for k, v in listing.params.items())
        following, params = url(service, following), None  # the Link's URL is relative: the next page
        assert len(walked) <= len(expected), "the walk does not end"
    assert walked == expected

    for cursor in ("garbage!", encode_cursor(["one value too few or many", 1, 2, 3, 4, 5])):
        refused = await http.get(
            url(service, listing.path), headers=listing.headers, params={**listing.params, "cursor": cursor}
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in refused.json()["errors"]] == ["cursor"]
    too_many = await http.get(
        url(service, listing.path), headers=listing.headers, params={"limit": str(MAX_LIMIT + 1)}
    )
    assert too_many.status_code == 422, too_many.text
    assert [e["field"].rsplit(".", 1)[-1] for e in too_many.json()["errors"]] == ["limit"]


async def test_the_delegations_former_after_still_pages(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    listing = await delegations(World(http, settings))
    first = await http.get(url("summit", listing.path), headers=listing.headers, params={"limit": "2"})
    rest = await http.get(
        url("summit", listing.path), headers=listing.headers, params={"after": first.json()["next_cursor"]}
    )
    assert rest.status_code == 200, rest.text
    walked = [d["id"] for d in [*first.json()["items"], *rest.json()["items"]]]
    assert sorted(walked) == sorted(listing.made) and len(set(walked)) == len(walked)
