"""The partner gateway's use cases: partners' scopes, webhook subscriptions, fanning events out to
deliveries, delivering them (the dispatcher), and reading the event feed from the topics themselves.

Delivery guarantee (docs/partners.md, "Webhooks"): at least once, with the same ``webhook-id`` (the
event's id) on every attempt. A delivery is claimed by locking its row (``FOR UPDATE SKIP LOCKED``) in a
transaction that stays open while the request is in flight; the attempt, its outcome and the delivery's new
state are written in that same transaction, which releases the claim when it commits. A process killed
before the commit leaves the delivery pending as it was (the lock goes with the connection), so another
dispatcher sends it again; once a 2xx is committed the delivery is ``delivered`` and is never claimed
again. The only repeat a receiver can see is therefore an event whose 2xx answer was not yet recorded
when the gateway died: receivers deduplicate on ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.auth import Principal
from services.common.database import asyncpg_dsn
from services.common.errors import Conflict, DomainError, InvalidField
from services.common.observability import get_logger
from services.common.settings import Settings
from services.partners import queries, store
from services.partners.domain import feed, retries, scope, signing, targets
from services.partners.models import (
    PartnerRow,
    WebhookSubscriptionRow,
)
from uncops_contracts import CloudEvent, decode_kafka

log = get_logger(__name__)
# httpx logs every request at INFO: a line per delivery attempt, already recorded in webhook_attempt.
logging.getLogger("httpx").setLevel(logging.WARNING)

EXCERPT_BYTES = 1024
USER_AGENT = "uncops-partner-gateway/1"
# Structured content mode of the CloudEvents HTTP binding: the whole event, attributes and data, as JSON.
CLOUDEVENTS_JSON = "application/cloudevents+json"


class TopicForbidden(DomainError):
    """A topic or event type outside the partner's scope: 403, naming the field and why (as a 422 does)."""

    status_code = 403

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def body(self) -> dict[str, object]:
        return {"detail": self.detail, "errors": [{"field": self.field, "reason": self.reason}]}


# ---------------------------------------------------------------- scope


async def readable_topics(session: AsyncSession, partner_id: str) -> frozenset[str]:
    found = await queries.partner(session, partner_id)
    return scope.readable_topics(found.topics if found else ())


async def put_partner(
    session: AsyncSession,
    principal: Principal,
    partner_id: str,
    topics: Sequence[str],
    contact_email: str | None,
) -> PartnerRow:
    unknown = scope.unknown_topics(topics)
    if unknown:
        raise InvalidField("topics", f"unknown topic(s): {', '.join(unknown)[:200]}")
    async with session.begin():
        return await store.put_partner(
            session, partner_id, sorted(set(topics)), contact_email, principal.subject, datetime.now(UTC)
        )


def check_topic(topic: str, readable: frozenset[str], field: str = "topic") -> None:
    if topic not in scope.PUBLIC_TOPICS | scope.RESTRICTED_TOPICS:
        raise InvalidField(field, f"unknown topic {topic[:100]!r}")
    if topic not in readable:
        raise TopicForbidden(field, f"{topic} is restricted: an administrator must grant it to this partner")


def check_event_types(event_types: Sequence[str], readable: frozenset[str]) -> list[str]:
    for i, event_type in enumerate(event_types):
        topic = scope.topic_of(event_type)
        if topic is None:
            raise InvalidField(f"event_types.{i}", f"unknown event type {event_type[:100]!r}")
        check_topic(topic, readable, f"event_types.{i}")
    return list(dict.fromkeys(event_types))


# ---------------------------------------------------------------- webhook subscriptions


async def check_target(settings: Settings, url: str, field: str = "url") -> None:
    """Refuses a URL the rules of domain/targets.py do not allow; in production the host is resolved and
    every address checked."""
    try:
        host, port = targets.parsed_host(url)
        allowed = targets.networks(settings.webhook_allowed_networks)
        production = settings.environment == "production"
        literal = targets.literal_address(host)
        if literal is not None:
            targets.check_addresses([literal], allowed, allow_loopback=not production)
        elif production:
            targets.check_addresses(await resolve(host, port), allowed, allow_loopback=False)
    except targets.TargetRefused as exc:
        raise InvalidField(field, str(exc)) from None


async def resolve(host: str, port: int) -> list[targets.IPAddress]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def create_subscription(
    session: AsyncSession, settings: Settings, partner_id: str, url: str, event_types: Sequence[str]
) -> WebhookSubscriptionRow:
    await check_target(settings, url)
    async with session.begin():
        readable = await readable_topics(session, partner_id)
        now = datetime.now(UTC)
        subscription = WebhookSubscriptionRow(
            id=store.new_id("sub"),
            partner_id=partner_id,
            url=url,
            event_types=check_event_types(event_types, readable),
            status="active",
            secret=signing.new_secret(),
            created_at=now,
            updated_at=now,
        )
        session.add(subscription)
    return subscription


async def update_subscription(
    session: AsyncSession,
    settings: Settings,
    partner_id: str,
    subscription_id: str,
    url: str | None,
    event_types: Sequence[str] | None,
) -> WebhookSubscriptionRow:
    if url is not None:
        await check_target(settings, url)
    async with session.begin():
        readable = await readable_topics(session, partner_id)
        checked = None if event_types is None else check_event_types(event_types, readable)
        subscription = await queries.subscription(session, partner_id, subscription_id)
        if url is not None:
            subscription.url = url
        if checked is not None:
            subscription.event_types = checked
        _touched(subscription)
    return subscription


def _touched(subscription: WebhookSubscriptionRow) -> None:
    subscription.updated_at = datetime.now(UTC)
    subscription.version += 1


async def pause(session: AsyncSession, partner_id: str, subscription_id: str) -> WebhookSubscriptionRow:
    """Deliveries wait (events keep being queued) until the subscription is resumed."""
    async with session.begin():
        subscription = await queries.subscription(session, partner_id, subscription_id)
        if subscription.status == "paused":
            raise Conflict("the subscription is already paused", "paused", ["resume"])
        subscription.status = "paused"
        _touched(subscription)
    return subscription


async def resume(session: AsyncSession, partner_id: str, subscription_id: str) -> WebhookSubscriptionRow:
    """Active again (also after failing): what waited is delivered, each subject's events in order."""
    async with session.begin():
        subscription = await queries.subscription(session, partner_id, subscription_id)
        if subscription.status == "active":
            raise Conflict("the subscription is already active", "active", ["pause"])
        subscription.status = "active"
        subscription.failing_since = None
        _touched(subscription)
        await store.wake(session)
    return subscription


async def rotate_secret(
    session: AsyncSession, settings: Settings, partner_id: str, subscription_id: str
) -> WebhookSubscriptionRow:
    """A new secret signs from now on; the one it replaces keeps signing beside it for the overlap."""
    async with session.begin():
        subscription = await queries.subscription(session, partner_id, subscription_id)
        subscription.previous_secret = subscription.secret
        subscription.previous_secret_until = datetime.now(UTC) + timedelta(
            hours=settings.webhook_secret_overlap_hours
        )
        subscription.secret = signing.new_secret()
        _touched(subscription)
    return subscription


async def delete_subscription(session: AsyncSession, partner_id: str, subscription_id: str) -> None:
    async with session.begin():
        subscription = await queries.subscription(session, partner_id, subscription_id)
        await store.delete_subscription(session, subscription)


async def redeliver(
    session: AsyncSession,
    partner_id: str,
    subscription_id: str,
    delivery_id: str | None = None,
    since: datetime | None = None,
) -> int:
    """Queues one delivery, or every one since ``since``, for an attempt now; the number queued."""
    async with session.begin():
        subscription = await queries.subscription(session, partner_id, subscription_id)
        if delivery_id is not None:
            await queries.delivery(session, subscription.id, delivery_id)
        _touched(subscription)
        return await store.requeue(session, subscription.id, datetime.now(UTC), delivery_id, since)


# ---------------------------------------------------------------- fan-out (the consumer)


def structured(event: CloudEvent) -> dict[str, Any]:
    """The CloudEvent in structured JSON mode, as partners receive and read it (trace context left out)."""
    return event.model_dump(mode="json", exclude={"traceparent"})


def structured_json(event: CloudEvent) -> str:
    return json.dumps(structured(event), separators=(",", ":"), ensure_ascii=False)


async def fan_out(session: AsyncSession, event: CloudEvent) -> None:
    """A pending delivery of the event for every subscription to its type whose partner may read its topic
    (checked again here: a scope narrowed since the subscription was made stops deliveries at once).
    Runs in the consumer's inbox transaction: the event is fanned out exactly once."""
    topic = scope.topic_of(event.type)
    if topic is None:
        return
    to = [
        subscription_id
        for subscription_id, _, granted in await store.subscribed(session, event.type)
        if topic in scope.readable_topics(granted)
    ]
    await store.add_deliveries(
        session, to, event.id, event.type, event.subject, structured_json(event), datetime.now(UTC)
    )


# ---------------------------------------------------------------- delivering


class Outcome:
    def __init__(
        self, status_code: int | None, latency_ms: int, excerpt: str | None, error: str | None
    ) -> None:
        self.status_code = status_code
        self.latency_ms = latency_ms
        self.excerpt = excerpt
        self.error = error

    @property
    def acknowledged(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def post(
    client: httpx.AsyncClient, url: str, message_id: str, secrets_: Sequence[str], body: bytes
) -> Outcome:
    headers = {
        **signing.headers(secrets_, message_id, int(time.time()), body),
        "content-type": CLOUDEVENTS_JSON,
        "user-agent": USER_AGENT,
    }
    started = time.perf_counter()
    status_code: int | None = None
    excerpt = bytearray()
    error: str | None = None
    try:
        async with client.stream("POST", url, content=body, headers=headers) as response:
            status_code = response.status_code
            async for chunk in response.aiter_raw():
                excerpt += chunk
                if len(excerpt) >= EXCERPT_BYTES:
                    break
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:EXCERPT_BYTES] if str(exc) else type(exc).__name__
    latency_ms = round((time.perf_counter() - started) * 1000)
    text = bytes(excerpt[:EXCERPT_BYTES]).decode(errors="replace").replace("\x00", "") if excerpt else None
    if status_code is not None and not 200 <= status_code < 300 and error is None:
        error = f"HTTP {status_code}"
    return Outcome(status_code, latency_ms, text, error)


@dataclass(frozen=True)
class Claimed:
    """A delivery claimed (its row locked) for one attempt."""

    id: str
    event_id: str
    event_type: str
    body: str
    attempts: int


async def deliver_batch(
    conn: asyncpg.Connection,
    client: httpx.AsyncClient,
    settings: Settings,
    subscription_id: str,
    limit: int,
) -> list[Outcome]:
    """Sends the subscription's next deliverable events (the oldest pending one of up to ``limit`` subjects)
    at once, and records each attempt; their outcomes, none when nothing was due. The claim, the requests
    and their outcomes are one transaction (the guarantee above).

    Constant SQL on the dispatcher's own asyncpg connections: a delivery costs a few statements, where the
    ORM's sessions (a claim, a read of the subscription, an insert and an update, each through SQLAlchemy)
    took most of a core at 100 deliveries a second."""
    async with conn.transaction():
        subscription = await conn.fetchrow(store.SUBSCRIPTION_TO_DELIVER, subscription_id)
        if subscription is None:
            return []
        claimed = [Claimed(**dict(r)) for r in await conn.fetch(store.CLAIM, subscription_id, limit)]
        if not claimed:
            return []
        now = datetime.now(UTC)
        secrets_ = [subscription["secret"]]
        until = subscription["previous_secret_until"]
        if subscription["previous_secret"] and until is not None and until > now:
            secrets_.append(subscription["previous_secret"])
        url = subscription["url"]
        refused: str | None = None
        if settings.environment == "production":
            try:
                await check_target(settings, url)  # again: a name may resolve elsewhere now
            except InvalidField as exc:
                refused = f"target refused: {exc.reason}"
        outcomes = await asyncio.gather(
            *(
                post(client, url, c.event_id, secrets_, c.body.encode())
                if refused is None
                else _refused(refused)
                for c in claimed
            )
        )
        await conn.executemany(
            store.RECORD_ATTEMPT,
            [
                (c.id, c.attempts + 1, now, o.status_code, o.latency_ms, o.excerpt, o.error)
                for c, o in zip(claimed, outcomes, strict=True)
            ],
        )
        updates: list[tuple[str, str, datetime | None, datetime | None]] = []
        failed: list[tuple[Claimed, Outcome]] = []
        for c, o in zip(claimed, outcomes, strict=True):
            if o.acknowledged:
                updates.append((c.id, "delivered", None, datetime.now(UTC)))
                continue
            wait = retries.next_wait(settings.webhook_retry_seconds, c.attempts + 1)
            if wait is None:
                updates.append((c.id, "failed", None, None))
                failed.append((c, o))
            else:
                updates.append((c.id, "pending", datetime.now(UTC) + timedelta(seconds=wait), None))
        await conn.executemany(store.RECORD_OUTCOME, updates)
        if failed:
            await mark_failing(conn, subscription_id, subscription["partner_id"], url, *failed[0])
    return list(outcomes)


async def _refused(reason: str) -> Outcome:
    return Outcome(None, 0, None, reason)


async def mark_failing(
    conn: asyncpg.Connection,
    subscription_id: str,
    partner_id: str,
    url: str,
    delivery: Claimed,
    outcome: Outcome,
) -> None:
    """The subscription stops (its deliveries wait for a resume) and the partner's contact is told: a
    notification kept for the API and logged for whoever forwards the gateway's alerts."""
    contact = await conn.fetchval(store.MARK_FAILING, subscription_id, partner_id)
    message = (
        f"Webhook subscription {subscription_id} to {url} is failing: event {delivery.event_id} "
        f"({delivery.event_type}) was not acknowledged after {delivery.attempts + 1} attempts (last: "
        f"{outcome.error or outcome.status_code}). Deliveries wait until the subscription is resumed; "
        "POST /webhooks/subscriptions/{id}/resume, then redeliver what failed."
    )
    await conn.execute(
        store.NOTIFY_PARTNER,
        store.new_id("ntf"),
        partner_id,
        subscription_id,
        "subscription_failing",
        message,
        contact,
        datetime.now(UTC),
    )
    log.warning(
        "webhook subscription failing",
        subscription=subscription_id,
        partner=partner_id,
        contact=contact,
        event_id=delivery.event_id,
    )


class Dispatcher:
    """Delivers pending deliveries: one drain per subscription with due deliveries (its own queue), each
    round a batch of up to ``webhook_subscription_concurrency`` requests in flight (one per subject), and
    ``webhook_concurrency`` batches in flight in all (each on a connection of the dispatcher's own pool). A
    subscription whose last attempt failed gets one request at a time until one succeeds again, so a dead
    endpoint holds one slot for its timeout at most and never the slots the healthy ones need. Woken by
    NOTIFY when deliveries are added or queued again, and polls for retries falling due."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], database_url: str, settings: Settings
    ) -> None:
        self.sessions = sessions
        self.dsn = asyncpg_dsn(database_url)
        self.settings = settings
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._unhealthy: set[str] = set()
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._pool: asyncpg.Pool | None = None

    async def run(self, stop: asyncio.Event) -> None:
        slots = asyncio.Semaphore(self.settings.webhook_concurrency)
        timeout = httpx.Timeout(self.settings.webhook_timeout_seconds)
        in_flight = self.settings.webhook_concurrency * self.settings.webhook_subscription_concurrency
        limits = httpx.Limits(max_connections=in_flight, keepalive_expiry=5)
        async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False) as client:
            try:
                while not stop.is_set():
                    self._wake.clear()
                    wait = self.settings.webhook_poll_seconds
                    try:
                        await self._connect()
                        async with self.sessions() as session:
                            due, next_due = await queries.due_subscriptions(session)
                        for subscription_id in due:
                            self._drain(subscription_id, client, slots, stop)
                        if next_due is not None:
                            wait = min(wait, max(next_due, 0.01))
                    except Exception as exc:
                        log.warning("dispatcher cannot read its queue", error=repr(exc))
                    await _first(self._wake.wait(), stop.wait(), seconds=wait)
            finally:
                if self._running:
                    await asyncio.wait(
                        list(self._running.values()), timeout=self.settings.webhook_timeout_seconds + 5
                    )
                for closing in (self._listener, self._pool):
                    if closing is not None:
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(closing.close(), 5)

    async def _connect(self) -> None:
        if self._listener is None or self._listener.is_closed():
            self._listener = await asyncpg.connect(self.dsn)
            await self._listener.add_listener(store.WAKE_CHANNEL, lambda *_: self._wake.set())
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=self.settings.webhook_concurrency
            )

    def _drain(
        self, subscription_id: str, client: httpx.AsyncClient, slots: asyncio.Semaphore, stop: asyncio.Event
    ) -> None:
        if subscription_id in self._running:
            self._again.add(subscription_id)  # looked at again when the running drain ends
            return
        pool = self._pool
        assert pool is not None

        async def drain() -> None:
            try:
                while not stop.is_set():
                    self._again.discard(subscription_id)
                    unhealthy = subscription_id in self._unhealthy
                    limit = 1 if unhealthy else self.settings.webhook_subscription_concurrency
                    async with slots:
                        try:
                            async with pool.acquire() as conn:
                                outcomes = await deliver_batch(
                                    conn, client, self.settings, subscription_id, limit
                                )
                        except Exception as exc:
                            # The database is away, say: the deliveries stay as they were; wait a little.
                            log.warning(
                                "delivery failed to run", subscription=subscription_id, error=repr(exc)
                            )
                            await _first(stop.wait(), seconds=1.0)
                            outcomes = []
                    if any(o.acknowledged for o in outcomes):
                        self._unhealthy.discard(subscription_id)
                    elif outcomes:
                        self._unhealthy.add(subscription_id)
                    if not outcomes and subscription_id not in self._again:
                        return
            finally:
                self._running.pop(subscription_id, None)

        self._running[subscription_id] = asyncio.create_task(drain(), name=f"webhooks:{subscription_id}")


async def _first(*waits: Awaitable[Any], seconds: float) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


# ---------------------------------------------------------------- the event feed


def feed_consumer(settings: Settings) -> AIOKafkaConsumer:
    """A consumer of no group: partitions assigned by hand, positions from the partner's cursor."""
    return AIOKafkaConsumer(
        client_id="uncops-partners-feed",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **settings.kafka_options(),
    )


def _positioned(record: ConsumerRecord[bytes, bytes]) -> feed.Positioned:
    try:
        event: CloudEvent | None = decode_kafka(list(record.headers or ()), record.value)
    except ValueError:
        event = None  # not an event (nothing the platform wrote): passed over, the cursor moves past it
    return feed.Positioned(record.partition, record.offset, record.timestamp, event)


async def _assigned(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    # A consumer of no group has no metadata of any topic yet (partitions_for_topic answers None), and its
    # public topics() keeps the metadata it fetches to itself: ask its client for the cluster's.
    cluster = await consumer._client.fetch_all_metadata()
    partitions = cluster.partitions_for_topic(topic) or set()
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    return assigned


async def read_feed(
    settings: Settings, topic: str, offsets: dict[int, int], limit: int, wait_seconds: float = 10.0
) -> tuple[list[feed.Positioned], dict[int, int]]:
    """Up to ``limit`` events after ``offsets`` in feed order, and the offsets after them."""
    consumer = feed_consumer(settings)
    await consumer.start()
    try:
        assigned = await _assigned(consumer, topic)
        if not assigned:
            return [], offsets
        beginnings = await consumer.beginning_offsets(assigned)
        ends = await consumer.end_offsets(assigned)
        start = {tp.partition: max(offsets.get(tp.partition, 0), beginnings[tp]) for tp in assigned}
        # Read until each partition has ``limit`` events or is read to its end (as it was when we began).
        wanted = {tp: min(ends[tp], start[tp.partition] + limit) for tp in assigned}
        runs: dict[int, list[feed.Positioned]] = {tp.partition: [] for tp in assigned}
        reading = []
        for tp in assigned:
            consumer.seek(tp, start[tp.partition])
            if start[tp.partition] < wanted[tp]:
                reading.append(tp)
        deadline = time.monotonic() + wait_seconds
        while reading and time.monotonic() < deadline:
            batches = await consumer.getmany(*reading, timeout_ms=200, max_records=max(limit, 500))
            for tp, records in batches.items():
                run = runs[tp.partition]
                run += [_positioned(r) for r in records if r.offset < wanted[tp]][: limit - len(run)]
            still = []
            for tp in reading:
                if len(runs[tp.partition]) < limit and await consumer.position(tp) < wanted[tp]:
                    still.append(tp)
                else:
                    consumer.pause(tp)
            reading = still
        page = feed.merged(runs, limit)
        return page, feed.advanced({**offsets, **start}, page)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 10)


KEEP_ALIVE_SECONDS = 15.0


async def stream_feed(
    settings: Settings, topic: str, offsets: dict[int, int] | None, gone: Callable[[], Awaitable[bool]]
) -> AsyncIterator[str]:
    """Server-Sent Events of the topic from ``offsets`` (None: from now on), each with the cursor just past
    it as its ``id``, so ``Last-Event-ID`` resumes exactly after it; a comment every 15 s keeps the
    connection open through proxies."""
    consumer = feed_consumer(settings)
    await consumer.start()
    try:
        assigned = await _assigned(consumer, topic)
        if offsets is None:
            await consumer.seek_to_end(*assigned)
        else:
            beginnings = await consumer.beginning_offsets(assigned)
            for tp in assigned:
                consumer.seek(tp, max(offsets.get(tp.partition, 0), beginnings[tp]))
        positions = {tp.partition: await consumer.position(tp) for tp in assigned}
        yield f"retry: 2000\nid: {feed.encode_cursor(topic, positions)}\n: streaming {topic}\n\n"
        beat = time.monotonic()
        while not await gone():
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            runs = {tp.partition: [_positioned(r) for r in records] for tp, records in batches.items()}
            for positioned in feed.merged(runs, sum(len(run) for run in runs.values())):
                positions[positioned.partition] = positioned.offset + 1
                if positioned.event is None:
                    continue
                cursor = feed.encode_cursor(topic, positions)
                yield f"id: {cursor}\ndata: {structured_json(positioned.event)}\n\n"
                beat = time.monotonic()
            if time.monotonic() - beat >= KEEP_ALIVE_SECONDS:
                yield ": keep-alive\n\n"
                beat = time.monotonic()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 10)
