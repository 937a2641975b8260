"""The partner gateway on the real stack (issue 18): webhooks received by a receiver this test starts on
loopback, which verifies every signature with the ``standardwebhooks`` package as a partner would; retries,
a backlog delivered in order, a subscription failing and its partner's contact told and emailed, kill -9
mid-delivery, secret rotation, topic scope; the event feed rebuilding the public case statistics; the live
stream resuming with Last-Event-ID; and every event's dataschema resolving at the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from jsonschema import Draft202012Validator
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.database import create_engine
from services.common.settings import Settings
from tests.conftest import PARTNERS_ENV, bearer, eventually, url
from tests.e2e.test_case_lifecycle import intake, step
from tests.e2e.test_notifications import body, caught

TODAY = datetime.now(UTC).date()
PLEDGE_SUBMITTED = "org.un.uncops.pledges.pledge_submitted.v1"
ALLEGATION_RECORDED = "org.un.uncops.cases.allegation_recorded.v1"
CASE_CHANGED = "org.un.uncops.cases.case_changed.v1"
PUBLIC_TOPICS = ("uncops.pledges.v1", "uncops.cases.public.v1", "uncops.summit.v1")


# ---------------------------------------------------------------- a partner's receiver


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    status: int
    verified_with: list[str] = field(default_factory=list)

    @property
    def event(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Receiver:
    """A partner's endpoint: answers 500 to the first ``fail_first`` attempts of each event, then 200; checks
    each request's signature against every secret it knows (``standardwebhooks``)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secrets: list[str] = []
        self.fail_first = 0
        self.delay = 0.0
        self.received: list[Received] = []
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        webhook_id = headers.get("webhook-id", "")
        if self.delay:
            await asyncio.sleep(self.delay)
        seen = sum(r.webhook_id == webhook_id for r in self.received)
        status = 500 if seen < self.fail_first else 200
        verified = []
        for secret in self.secrets:
            with contextlib.suppress(WebhookVerificationError):
                Webhook(secret).verify(body, headers)
                verified.append(secret)
        self.received.append(Received(webhook_id, headers, body, status, verified))
        return Response("not yet" if status == 500 else "ok", status_code=status)

    async def start(self) -> None:
        app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(200):
            if self._server.started:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the receiver did not start")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    def acknowledged(self) -> list[Received]:
        return [r for r in self.received if r.status == 200]

    def acknowledged_subjects(self) -> list[str]:
        return [r.event["subject"] for r in self.acknowledged()]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    try:
        yield found
    finally:
        await found.stop()


def partner(settings: Settings, name: str | None = None) -> dict[str, str]:
    return bearer(settings, Role.PARTNER, subject=name or f"partner-{uuid.uuid4().hex[:8]}")


async def subscribe(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    target: str,
    event_types: list[str],
    receiver: Receiver | None,
) -> dict[str, Any]:
    created = await http.post(
        url("partners", "/webhooks/subscriptions"),
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        json={"url": target, "event_types": event_types},
    )
    assert created.status_code == 201, created.text
    subscription: dict[str, Any] = created.json()
    assert subscription["secret"].startswith("whsec_")
    assert created.headers["location"] == f"/webhooks/subscriptions/{subscription['id']}"
    if receiver is not None:
        receiver.secrets.append(subscription["secret"])
    return subscription


async def submit_pledge(http: httpx.AsyncClient, settings: Settings, state: str = "GHA") -> str:
    response = await http.post(
        url("pledges", "/pledges"),
        headers=bearer(settings, Role.STATE_FOCAL_POINT, state, subject=f"fp-gateway-{state.lower()}"),
        json={
            "member_state": state,
            "kind": "gender_parity",
            "title": f"Women in FPUs {uuid.uuid4().hex[:8]}",
            "terms": {
                "indicator": "share of women in FPUs",
                "baseline": "12",
                "target": "20",
                "unit": "percent",
                "target_date": str(TODAY + timedelta(days=365)),
            },
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def deliveries(
    http: httpx.AsyncClient, headers: dict[str, str], subscription_id: str
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await http.get(
            url("partners", f"/webhooks/subscriptions/{subscription_id}/deliveries"),
            headers=headers,
            params={"limit": 100, **({"cursor": cursor} if cursor else {})},
        )
        assert page.status_code == 200, page.text
        found += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return found


async def read_feed(
    http: httpx.AsyncClient, headers: dict[str, str], topic: str, limit: int = 100, after: str | None = None
) -> tuple[list[dict[str, Any]], str]:
    """Every event of the topic after ``after`` (from the beginning without), page by page, as a partner
    catching up would read them; and the cursor to read on from."""
    events: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"topic": topic, "limit": limit, **({"after": after} if after else {})}
        page = await http.get(url("partners", "/events"), headers=headers, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        events += body["items"]
        after = body["next_cursor"]
        assert after
        if len(body["items"]) < limit:
            return events, after


# ---------------------------------------------------------------- webhooks


async def test_a_subscription_receives_signed_cloudevents_and_its_retries_are_recorded(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    me = partner(settings)
    subscription = await subscribe(http, me, receiver.url, [PLEDGE_SUBMITTED], receiver)
    receiver.fail_first = 2
    pledge_id = await submit_pledge(http, settings)

    async def acknowledged() -> list[Received]:
        return [r for r in receiver.acknowledged() if r.event["subject"] == pledge_id]

    (ok,) = await eventually(acknowledged, timeout=60)
    attempts = [r for r in receiver.received if r.webhook_id == ok.webhook_id]
    assert [r.status for r in attempts] == [500, 500, 200]
    # Every attempt is signed (standardwebhooks verifies it) and carries the same webhook-id: the event's id.
    assert all(r.verified_with == [subscription["secret"]] for r in attempts)
    event = ok.event
    assert ok.webhook_id == event["id"]
    assert ok.headers["content-type"] == "application/cloudevents+json"
    assert event["type"] == PLEDGE_SUBMITTED and event["specversion"] == "1.0"
    assert event["source"] == "/uncops/pledges" and event["data"]["member_state"] == "GHA"
    assert urlsplit(event["dataschema"]).path == "/contracts/schemas/pledges/pledge_submitted.v1.json"

    async def recorded() -> dict[str, Any] | None:
        mine = [d for d in await deliveries(http, me, subscription["id"]) if d["event_id"] == event["id"]]
        return mine[0] if mine and mine[0]["status"] == "delivered" else None

    delivery = await eventually(recorded, timeout=20)
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert [a["response_excerpt"] for a in delivery["attempts"]] == ["not yet", "not yet", "ok"]
    assert all(isinstance(a["latency_ms"], int) for a in delivery["attempts"])
    assert delivery["attempts"][0]["error"] == "HTTP 500" and delivery["attempts"][2]["error"] is None
    assert delivery["subject"] == pledge_id

    # Read, listed, changed, paused twice (409), resumed, deleted.
    base = url("partners", f"/webhooks/subscriptions/{subscription['id']}")
    read = (await http.get(base, headers=me)).json()
    assert read["status"] == "active" and "secret" not in read
    listed = (await http.get(url("partners", "/webhooks/subscriptions"), headers=me)).json()
    assert [s["id"] for s in listed["items"]] == [subscription["id"]]
    changed = await http.patch(
        base, headers=me, json={"event_types": [PLEDGE_SUBMITTED, ALLEGATION_RECORDED]}
    )
    assert changed.status_code == 200 and changed.json()["event_types"] == [
        PLEDGE_SUBMITTED,
        ALLEGATION_RECORDED,
    ]
    assert (await http.post(f"{base}/pause", headers=me)).json()["status"] == "paused"
    again = await http.post(f"{base}/pause", headers=me)
    assert again.status_code == 409 and again.json()["allowed_actions"] == ["resume"]
    assert (await http.post(f"{base}/resume", headers=me)).json()["status"] == "active"
    other = partner(settings)
    assert (await http.get(base, headers=other)).status_code == 404  # another partner's: not there
    assert (await http.delete(base, headers=me)).status_code == 204
    assert (await http.get(base, headers=me)).status_code == 404


async def test_a_receiver_away_for_a_while_gets_the_backlog_in_order(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    me = partner(settings)
    subscription = await subscribe(http, me, receiver.url, [ALLEGATION_RECORDED], receiver)
    await receiver.stop()  # away: connections refused
    officer = bearer(settings, Role.CONDUCT_OFFICER, subject="cdo-gateway")

    async def case_taken_forward(mission: str) -> None:
        opened = await http.post(url("cases", "/cases"), headers=officer, json=intake(mission=mission))
        assert opened.status_code == 201, opened.text
        await step(http, officer, opened.json()["case_id"], "start_assessment")
        await step(http, officer, opened.json()["case_id"], "refer_for_investigation")

    await asyncio.gather(case_taken_forward("MINUSCA"), case_taken_forward("MONUSCO"))

    async def failed_attempts() -> bool:
        return any(d["attempts"] for d in await deliveries(http, me, subscription["id"]))

    await eventually(failed_attempts, timeout=30)
    await asyncio.sleep(2)
    await receiver.start()  # back

    last: list[tuple[str, str, int]] = []

    async def everything() -> list[dict[str, Any]] | None:
        found = await deliveries(http, me, subscription["id"])
        last[:] = [(d["subject"], d["status"], len(d["attempts"])) for d in found]
        done = len(found) >= 4 and all(d["status"] == "delivered" for d in found)
        return found if done else None

    try:
        found = await eventually(everything, timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"deliveries (subject, status, attempts): {last}") from exc
    assert any(len(d["attempts"]) > 1 for d in found), (
        "some deliveries were retried while the receiver was away"
    )
    # In order per aggregate key: each allegation's events arrive as they are in the topic (its partition).
    feed, _ = await read_feed(http, me, "uncops.cases.public.v1", limit=500)
    subjects = {d["subject"] for d in found}
    for subject in subjects:
        in_topic = [e["id"] for e in feed if e["subject"] == subject]
        arrived = [r.webhook_id for r in receiver.acknowledged() if r.event["subject"] == subject]
        assert list(dict.fromkeys(arrived)) == in_topic
        assert len(in_topic) >= 2  # opened, referred (its public investigation status changed)


async def test_a_dead_endpoint_fails_its_subscription_and_the_partner_is_told_while_others_flow(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    name = f"partner-{uuid.uuid4().hex[:8]}"
    contact = f"ops-{name}@example.org"  # this run's alone: the mail folder outlives a run
    me = partner(settings, name)
    admin = bearer(settings, Role.ADMIN, subject="admin-gateway")
    scope = await http.put(
        url("partners", f"/partners/{name}"),
        headers=admin,
        json={"topics": [], "contact_email": contact},
    )
    assert scope.status_code == 200, scope.text
    dead = await subscribe(http, me, f"http://127.0.0.1:{free_port()}/gone", [PLEDGE_SUBMITTED], None)
    alive = await subscribe(http, partner(settings), receiver.url, [PLEDGE_SUBMITTED], receiver)
    pledge_id = await submit_pledge(http, settings)

    async def delivered_alive() -> bool:
        return pledge_id in receiver.acknowledged_subjects()

    await eventually(delivered_alive, timeout=30)  # the dead endpoint holds nobody up

    base = url("partners", f"/webhooks/subscriptions/{dead['id']}")

    async def failing() -> dict[str, Any] | None:
        found: dict[str, Any] = (await http.get(base, headers=me)).json()
        return found if found["status"] == "failing" else None

    await eventually(failing, timeout=60)
    (delivery,) = [d for d in await deliveries(http, me, dead["id"]) if d["subject"] == pledge_id]
    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == 1 + len(json.loads(PARTNERS_ENV["UNCOPS_WEBHOOK_RETRY_SECONDS"]))
    assert all(a["status_code"] is None and "ConnectError" in a["error"] for a in delivery["attempts"])
    notices = (await http.get(url("partners", "/webhooks/notifications"), headers=me)).json()["items"]
    assert [(n["kind"], n["subscription_id"], n["contact_email"]) for n in notices] == [
        ("subscription_failing", dead["id"], contact)
    ]

    # The contact is emailed once, through the stack's SMTP server (the mail catcher), about the subscription.
    async def emailed() -> list[EmailMessage]:
        return caught(platform.mail_dir, contact)

    (message,) = await eventually(emailed, timeout=30)
    assert message["Message-ID"] == f"<{notices[0]['id']}@partners.uncops>"
    assert dead["id"] in message["Subject"]
    said = body(message)
    assert dead["id"] in said and dead["url"] in said and "ConnectError" in said
    assert f"POST /webhooks/subscriptions/{dead['id']}/resume" in said
    assert pledge_id not in said and delivery["event_id"] not in said  # no event data in an email

    async def marked_emailed() -> bool:
        found = (await http.get(url("partners", "/webhooks/notifications"), headers=me)).json()["items"]
        return found[0]["emailed_at"] is not None

    await eventually(marked_emailed, timeout=10)
    assert len(caught(platform.mail_dir, contact)) == 1

    # The partner fixes its URL, resumes and asks for what failed again.
    assert (await http.patch(base, headers=me, json={"url": receiver.url})).status_code == 200
    receiver.secrets.append(dead["secret"])
    assert (await http.post(f"{base}/resume", headers=me)).json()["status"] == "active"
    again = await http.post(f"{base}/deliveries/{delivery['id']}/redeliver", headers=me)
    assert again.json() == {"queued": 1}

    async def redelivered() -> list[Received]:
        return [r for r in receiver.acknowledged() if r.verified_with == [dead["secret"]]]

    (received,) = await eventually(redelivered, timeout=30)
    assert received.webhook_id == delivery["event_id"] and alive["secret"] not in received.verified_with


async def test_kill_9_mid_delivery_loses_nothing_and_repeats_no_acknowledged_event(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    me = partner(settings)
    subscription = await subscribe(http, me, receiver.url, [PLEDGE_SUBMITTED], receiver)
    receiver.delay = 0.3  # deliveries in flight when the gateway dies
    pledges = [
        await submit_pledge(http, settings, state) for state in ["GHA", "SEN", "FRA", "CHN", "BRA"] * 4
    ]

    async def some_delivered() -> bool:
        return len(set(receiver.acknowledged_subjects()) & set(pledges)) >= 4

    await eventually(some_delivered, timeout=60)
    platform.kill("partners")
    engine = create_engine(platform.database_url("partners"), pool_size=1)
    try:
        async with engine.connect() as conn:
            recorded = set(
                (
                    await conn.execute(
                        text(
                            "SELECT event_id FROM webhook_delivery "
                            "WHERE subscription_id = :s AND status = 'delivered'"
                        ),
                        {"s": subscription["id"]},
                    )
                ).scalars()
            )
        assert 0 < len(recorded) < len(pledges)
        platform.start_service("partners", "serve", **PARTNERS_ENV)

        async def all_delivered() -> bool:
            return set(pledges) <= set(receiver.acknowledged_subjects())

        await eventually(all_delivered, timeout=90)
        times = Counter(r.webhook_id for r in receiver.received)
        # An acknowledged event whose 2xx was recorded is never sent again...
        assert {event_id: times[event_id] for event_id in recorded} == dict.fromkeys(recorded, 1)
        # ...and each delivery has exactly one 2xx recorded, whatever was in flight at the kill.
        async with engine.connect() as conn:
            acknowledgements = (
                await conn.execute(
                    text(
                        "SELECT d.event_id, count(*) FILTER (WHERE a.status_code BETWEEN 200 AND 299) "
                        "FROM webhook_delivery d JOIN webhook_attempt a ON a.delivery_id = d.id "
                        "WHERE d.subscription_id = :s GROUP BY d.event_id"
                    ),
                    {"s": subscription["id"]},
                )
            ).all()
        assert len(acknowledgements) == len(pledges)
        assert {count for _, count in acknowledgements} == {1}
    finally:
        await engine.dispose()


async def test_a_rotated_secret_signs_beside_the_new_one_during_the_overlap(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    me = partner(settings)
    subscription = await subscribe(http, me, receiver.url, [PLEDGE_SUBMITTED], receiver)
    rotated = await http.post(
        url("partners", f"/webhooks/subscriptions/{subscription['id']}/rotate-secret"), headers=me
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != subscription["secret"]
    until = datetime.fromisoformat(rotated.json()["secret_rotated_until"])
    assert timedelta(hours=23) < until - datetime.now(UTC) <= timedelta(hours=24)
    receiver.secrets.append(new_secret)
    pledge_id = await submit_pledge(http, settings)

    async def signed() -> list[Received]:
        return [r for r in receiver.acknowledged() if r.event["subject"] == pledge_id]

    (received,) = await eventually(signed, timeout=30)
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    assert sorted(received.verified_with) == sorted([subscription["secret"], new_secret])


async def test_a_partner_reads_the_public_topics_and_case_detail_only_when_granted(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    name = f"partner-{uuid.uuid4().hex[:8]}"
    me = partner(settings, name)
    refused = await http.post(
        url("partners", "/webhooks/subscriptions"),
        headers=me,
        json={"url": receiver.url, "event_types": [PLEDGE_SUBMITTED, CASE_CHANGED]},
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["errors"] == [
        {
            "field": "event_types.1",
            "reason": "uncops.cases.v1 is restricted: an administrator must grant it to this partner",
        }
    ]
    feed = await http.get(url("partners", "/events"), headers=me, params={"topic": "uncops.cases.v1"})
    assert feed.status_code == 403
    for topic in PUBLIC_TOPICS:
        assert (
            await http.get(url("partners", "/events"), headers=me, params={"topic": topic})
        ).status_code == 200
    unknown = await http.post(
        url("partners", "/webhooks/subscriptions"),
        headers=me,
        json={"url": receiver.url, "event_types": ["org.un.uncops.cases.nothing.v1"]},
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "event_types.0"
    not_http = await http.post(
        url("partners", "/webhooks/subscriptions"),
        headers=me,
        json={"url": "ftp://partner.example.org/x", "event_types": [PLEDGE_SUBMITTED]},
    )
    assert not_http.status_code == 422 and not_http.json()["errors"][0]["field"] == "url"
    # A partner sets no scope, its own or another's.
    assert (
        await http.put(url("partners", f"/partners/{name}"), headers=me, json={"topics": []})
    ).status_code == 403

    admin = bearer(settings, Role.ADMIN, subject="admin-gateway")
    granted = await http.put(
        url("partners", f"/partners/{name}"), headers=admin, json={"topics": ["uncops.cases.v1"]}
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["readable_topics"] == sorted([*PUBLIC_TOPICS, "uncops.cases.v1"])
    assert (await http.get(url("partners", f"/partners/{name}"), headers=me)).json()["topics"] == [
        "uncops.cases.v1"
    ]
    await subscribe(http, me, receiver.url, [CASE_CHANGED], receiver)
    feed = await http.get(url("partners", "/events"), headers=me, params={"topic": "uncops.cases.v1"})
    assert feed.status_code == 200, feed.text


# ---------------------------------------------------------------- the feed


async def test_a_partner_rebuilds_the_public_case_statistics_from_the_feed_alone(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    officer = bearer(settings, Role.CONDUCT_OFFICER, subject="cdo-gateway-stats")
    for mission, victims in (("MINUSCA", 1), ("UNMISS", 3), ("MINUSCA", 2)):
        opened = await http.post(
            url("cases", "/cases"),
            headers=officer,
            json=intake(mission=mission, victims=victims, victims_minor=0),
        )
        assert opened.status_code == 201, opened.text
    me = partner(settings)
    # As a partner catching up would: from the beginning once, then on from its cursor (in the whole suite the
    # topic holds every test's cases, and reading it all again at each look took longer than the wait).
    latest: dict[str, dict[str, Any]] = {}
    cursor: str | None = None

    async def rebuilt_equals_the_cases_service() -> bool:
        nonlocal cursor
        events, cursor = await read_feed(http, me, "uncops.cases.public.v1", limit=7, after=cursor)
        for event in events:  # in order: each allegation's last event is its current state
            latest[event["data"]["allegation_id"]] = event["data"]
        rows: dict[tuple[int, str], dict[str, Any]] = defaultdict(
            lambda: {"allegations": 0, "victims_adult": 0, "victims_minor": 0, "substantiated": 0}
        )
        for allegation in latest.values():
            row = rows[(int(allegation["reported"][:4]), allegation["mission"])]
            row["allegations"] += 1
            row["victims_adult"] += allegation["victims_adult"]
            row["victims_minor"] += allegation["victims_minor"]
            row["substantiated"] += allegation["result"] == "substantiated"
        rebuilt = [{"year": y, "mission": m, **row} for (y, m), row in sorted(rows.items())]
        official = await http.get(
            url("cases", "/cases/statistics"), headers=officer, params=[("by", "year"), ("by", "mission")]
        )
        assert official.status_code == 200, official.text
        return bool(rebuilt) and rebuilt == official.json()

    await eventually(rebuilt_equals_the_cases_service, timeout=60, interval=1)


async def test_the_feed_pages_resume_exactly_and_refuse_a_foreign_cursor(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    me = partner(settings)
    for _ in range(5):
        await submit_pledge(http, settings, "SEN")

    async def whole() -> list[dict[str, Any]] | None:
        events, _ = await read_feed(http, me, "uncops.pledges.v1", limit=500)
        return events if len(events) >= 5 else None

    everything = await eventually(whole, timeout=30)
    paged, cursor = await read_feed(http, me, "uncops.pledges.v1", limit=2)
    assert [e["id"] for e in paged][: len(everything)] == [e["id"] for e in everything]
    first = await http.get(
        url("partners", "/events"), headers=me, params={"topic": "uncops.pledges.v1", "limit": 2}
    )
    assert 'rel="next"' in first.headers["link"] and "cursor=" in first.headers["link"]
    foreign = await http.get(
        url("partners", "/events"), headers=me, params={"topic": "uncops.summit.v1", "after": cursor}
    )
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "after"
    # Caught up: the cursor returned at the end gives nothing until something new happens.
    empty = await http.get(
        url("partners", "/events"), headers=me, params={"topic": "uncops.pledges.v1", "after": cursor}
    )
    assert empty.json()["items"] == [] and empty.json()["next_cursor"] == cursor


async def positioned(lines: AsyncIterator[str]) -> str:
    """The stream's first block: its position (the cursor of "now"), sent once the gateway reads the topic."""
    async for line in lines:
        if line.startswith(": streaming"):
            return "ready"
    raise AssertionError("the stream ended before it began")


async def sse_events(lines: AsyncIterator[str], count: int) -> list[tuple[str, dict[str, Any]]]:
    """The next ``count`` events of a Server-Sent Events stream: (id, data)."""
    found: list[tuple[str, dict[str, Any]]] = []
    event_id, data = "", ""
    async for line in lines:
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            found.append((event_id, json.loads(data)))
            data = ""
            if len(found) == count:
                return found
    return found


async def test_the_stream_tails_live_and_resumes_after_last_event_id(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    me = partner(settings)
    params = {"topic": "uncops.pledges.v1"}
    async with http.stream("GET", url("partners", "/events/stream"), headers=me, params=params) as live:
        assert live.status_code == 200 and live.headers["content-type"].startswith("text/event-stream")
        lines = live.aiter_lines()
        await asyncio.wait_for(positioned(lines), 30)  # from now on: only what happens after this
        first = [await submit_pledge(http, settings, "CHN") for _ in range(3)]
        seen = await asyncio.wait_for(sse_events(lines, 3), 30)
    assert [data["subject"] for _, data in seen] == first
    later = [await submit_pledge(http, settings, "CHN") for _ in range(2)]
    resume = {**me, "Last-Event-ID": seen[0][0]}
    async with http.stream("GET", url("partners", "/events/stream"), headers=resume, params=params) as again:
        resumed = await asyncio.wait_for(sse_events(again.aiter_lines(), 4), 30)
    assert [data["subject"] for _, data in resumed] == [*first[1:], *later]
    restricted = await http.get(
        url("partners", "/events/stream"), headers=me, params={"topic": "uncops.cases.v1"}
    )
    assert restricted.status_code == 403


async def test_every_dataschema_resolves_at_the_gateway_and_validates_its_event(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    await submit_pledge(http, settings)
    me = partner(settings)
    checked: set[str] = set()
    for topic in PUBLIC_TOPICS:
        events, _ = await read_feed(http, me, topic, limit=500)
        for event in events:
            path = urlsplit(event["dataschema"]).path
            assert path.startswith("/contracts/schemas/"), event["dataschema"]
            schema = await http.get(url("partners", path))  # public: no token
            assert schema.status_code == 200, (path, schema.text)
            assert schema.headers["content-type"] == "application/schema+json"
            Draft202012Validator(schema.json(), format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
                event["data"]
            )
            if path not in checked:
                cached = await http.get(
                    url("partners", path), headers={"If-None-Match": schema.headers["etag"]}
                )
                assert cached.status_code == 304
            checked.add(path)
    assert "/contracts/schemas/pledges/pledge_submitted.v1.json" in checked
    asyncapi = await http.get(url("partners", "/asyncapi.yaml"))
    assert asyncapi.status_code == 200 and "\nasyncapi: 3.0.0\n" in asyncapi.text
    assert (await http.get(url("partners", "/contracts/schemas/cases/nothing.v1.json"))).status_code == 404
