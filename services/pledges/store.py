"""Writes of the pledges service: submitted pledges (IntakeWriter, the hot path), an import's rows, and the
changes the pledge workflow's activity stores. A pledge's lifecycle state is mapped onto its row's columns
(what lists, filters and summaries query) by lifecycle_values.

Storing submitted pledges (POST /pledges): their possible duplicates and their rows, as constant SQL
run on asyncpg directly.

Single submissions are the service's busiest write, and the ORM's unit of work and statement building
cost several times the database's own work there. A submission alone takes two statements, each committing
on its own: the duplicate lookup, then one INSERT of the pledge and of its ``pledge submitted`` outbox row
together (a data-modifying WITH: one statement, so both rows are stored or neither is).

Submissions that arrive while earlier ones are being stored wait and are stored together (IntakeWriter):
one lookup for all of them and one INSERT, the same two statements. A statement and its commit cost the
API and PostgreSQL about as much as a row: in the intake benchmark (32 requests in flight, 6 to 9
submissions a statement) PostgreSQL's CPU per submission fell from 0.9-1.2 ms to 0.5-0.8, near a bare
INSERT's 0.4-0.6. A submission that finds no queue goes straight in, as before.
"""

from __future__ import annotations

import asyncio
import collections
import math
import weakref
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import asyncpg
from prometheus_client import Histogram
from rapidfuzz import process
from rapidfuzz.distance import Indel
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import SQLModel

from services.common.database import (
    OutboxEvent,
    Statement,
    driver_values,
    insert_columns,
    unnest_columns,
    unnest_values,
)
from services.common.observability import get_logger
from services.common.outbox import outbox_row, record_event
from services.common.runtime import ServiceRuntime
from services.pledges.domain.duplicates import DUPLICATES_LISTED, STORED_CANDIDATES, is_similar, normal_title
from services.pledges.domain.pledge import Outcome, Pledge
from services.pledges.domain.submission import PledgeSubmission, initial_state, submitted_event
from services.pledges.models import PledgeImportRow, PledgeRow
from uncops_contracts.policies import PledgePolicy

# ---------------------------------------------------------------- a pledge's row


def title_values(title: str) -> dict[str, Any]:
    """The title and the column the duplicate lookup reads, which changes with it."""
    return {"title": title, "title_normal": normal_title(title)}


def lifecycle_values(pledge: Pledge, policy: PledgePolicy, now: datetime) -> dict[str, Any]:
    light = pledge.traffic_light(now, policy)
    return {
        "status": pledge.status.value,
        "version": pledge.version,
        **title_values(pledge.title),
        "target_date": pledge.target_date,
        "next_report_due": pledge.next_report_due,
        "missed_reports": pledge.missed_reports,
        "traffic_light": light.value if light else None,
        "delivered": {currency: str(amount) for currency, amount in pledge.delivered.items()},
        "state": pledge.model_dump(mode="json"),
    }


# ---------------------------------------------------------------- new pledges (submitted or imported)


def pledge_rows(
    new: Sequence[tuple[str, PledgeSubmission]],
    duplicates: Sequence[list[str]],
    submitted_by: str,
    now: datetime,
    policy: PledgePolicy,
    traceparent: str | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Values of the pledge rows and of their ``pledge submitted`` outbox rows, as submit_pledge has them."""
    pledges: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for (pledge_id, submission), duplicate_of in zip(new, duplicates, strict=True):
        state = initial_state(pledge_id, submission, now, duplicate_of)
        pledges.append(
            {
                "id": pledge_id,
                "member_state": submission.member_state,
                "co_sponsors": submission.co_sponsors,
                "summit": submission.summit,
                "kind": submission.kind.value,
                "text": submission.text,
                "supports_summit": submission.supports_summit,
                "submitted_by": submitted_by,
                "submitted_at": now,
                "idempotency_key": None,
                "request_fingerprint": None,
                "possible_duplicate_of": duplicate_of,
                **submission.terms.model_dump(),
                **lifecycle_values(state, policy, now),
            }
        )
        events.append(outbox_row(submitted_event(pledge_id, submission, now), pledge_id, traceparent))
    return pledges, events


async def copy_rows(session: AsyncSession, table: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    """Bulk-insert ``rows`` with COPY on the session's connection, inside its transaction.

    Measured with 10,000 pledges: COPY 0.8 s for the pledges and 0.3 s for their outbox rows, where
    ``session.execute(insert(Pledge), rows)`` (an asyncpg executemany) takes 1.8-2.5 s and 0.8 s, and
    record_event (ORM objects, then a flush) 3-4 s for the outbox rows alone.
    """
    if not rows:
        return
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    # The session's transaction begins with its first statement: COPY must not run (and commit) outside it.
    if driver is None or not driver.is_in_transaction():
        raise RuntimeError("copy_rows needs the session's transaction to have begun")
    sa_table = table.__table__  # type: ignore[attr-defined]
    columns = list(rows[0])
    records = [tuple(driver_values(sa_table, row).values()) for row in rows]
    await driver.copy_records_to_table(sa_table.name, records=records, columns=columns)


# ---------------------------------------------------------------- a step, a timer, an import's report


async def store_change(
    sessions: async_sessionmaker[AsyncSession],
    outcome: Outcome,
    policy: PledgePolicy,
    traceparent: str | None,
) -> Pledge | None:
    """A step's or a timer's new pledge state and its events, in one transaction. A retry finds its change
    stored and answers the pledge as the first attempt stored it; None when this call stored it."""
    pledge = outcome.pledge
    async with sessions() as session, session.begin():
        row = await session.get(PledgeRow, pledge.pledge_id, with_for_update=True)
        if row is None:
            raise RuntimeError(f"pledge {pledge.pledge_id} is not stored yet")  # retried
        if row.version >= pledge.version:
            return Pledge.model_validate(row.state)  # a retry of a change already stored
        for name, value in lifecycle_values(pledge, policy, datetime.now(UTC)).items():
            setattr(row, name, value)
        for event in outcome.events:
            record_event(session, event.payload, key=pledge.pledge_id, traceparent=traceparent)
    return None


def add_import(
    session: AsyncSession,
    idempotency_key: str,
    scope: str,
    fingerprint: str,
    status_code: int,
    report: dict[str, Any],
    imported_by: str,
) -> None:
    """An import's report under its Idempotency-Key, so that a retry replays it."""
    session.add(
        PledgeImportRow(
            idempotency_key=idempotency_key,
            scope=scope,
            fingerprint=fingerprint,
            status_code=status_code,
            report=report,
            imported_by=imported_by,
        )
    )


# ---------------------------------------------------------------- intake (POST /pledges)


log = get_logger(__name__)

INTAKE_BATCH = Histogram(
    "uncops_pledge_intake_batch_size",
    "Pledge submissions stored together by one statement",
    buckets=(1, 2, 4, 8, 16, 32),
)

_PLEDGE: Table = PledgeRow.__table__  # type: ignore[attr-defined]
_OUTBOX: Table = OutboxEvent.__table__  # type: ignore[attr-defined]


# The index pledge_state_kind_newest hands over the newest STORED_CANDIDATES titles of the State and kind
# without a sort; those of a length that can reach the threshold come back as two arrays, newest first (one
# row decodes in a fraction of the time of hundreds).
_NEWEST = "ORDER BY submitted_at DESC, id DESC"
_SIMILAR = Statement.of(
    f"SELECT array_agg(id {_NEWEST}), array_agg(title_normal {_NEWEST}) FROM ("  # noqa: S608
    " SELECT id, title_normal, submitted_at FROM pledge"
    f" WHERE member_state = :member_state AND kind = :kind {_NEWEST} LIMIT :stored"
    ") AS stored WHERE char_length(title_normal) BETWEEN :shortest AND :longest"
)


async def similar_stored(connection: Any, submission: PledgeSubmission, threshold: float) -> list[str]:
    """Possible duplicates of one submission among the newest STORED_CANDIDATES stored pledges of its State
    and kind, newest first, DUPLICATES_LISTED at most: what duplicates.flag_duplicates finds.

    RapidFuzz scores the titles the database returns in one call (well under a microsecond a title); the
    few that reach the threshold are confirmed with duplicates.is_similar's whole-number rule.
    """
    normal = normal_title(submission.title)
    # 2 min(a, b) / (a + b) >= threshold bounds the other title's length (rounded outwards).
    values = {
        "member_state": submission.member_state,
        "kind": submission.kind.value,
        "stored": STORED_CANDIDATES,
        "shortest": math.floor(threshold * len(normal) / (2 - threshold)),
        "longest": math.ceil((2 - threshold) * len(normal) / threshold),
    }
    ids, titles = await connection.fetchrow(_SIMILAR.sql, *_SIMILAR.args(values))
    return _closest(normal, ids or [], titles or [], threshold)


def _closest(normal: str, ids: list[str], titles: list[str], threshold: float) -> list[str]:
    """Of ``titles`` (newest first), the ids of those similar to ``normal``, DUPLICATES_LISTED at most."""
    if not ids:
        return []
    scored = process.extract(
        normal, titles, scorer=Indel.normalized_similarity, score_cutoff=threshold - 1e-6, limit=None
    )
    newest_first = sorted(i for _, _, i in scored if is_similar(normal, titles[i], threshold))
    return [ids[i] for i in newest_first[:DUPLICATES_LISTED]]


# The newest STORED_CANDIDATES titles of each State and kind asked for, as two arrays a pair, newest first
# (the length bound of _SIMILAR is left to RapidFuzz's cut-off: the pairs' submissions differ in length).
_SIMILAR_MANY = Statement.of(
    "SELECT asked.member_state, asked.kind, stored.ids, stored.titles"  # noqa: S608
    " FROM unnest(CAST(:member_states AS text[]), CAST(:kinds AS text[])) AS asked (member_state, kind)"
    f" CROSS JOIN LATERAL (SELECT array_agg(id {_NEWEST}) AS ids, array_agg(title_normal {_NEWEST}) AS titles"
    "  FROM (SELECT id, title_normal, submitted_at FROM pledge"
    f"   WHERE member_state = asked.member_state AND kind = asked.kind {_NEWEST} LIMIT :stored) AS newest"
    " ) AS stored"
)


@lru_cache(maxsize=8)
def _insert_statement(pledge_columns: tuple[str, ...], event_columns: tuple[str, ...]) -> Statement:
    pledge_names, pledge_values = insert_columns(_PLEDGE, pledge_columns, "p_")
    event_names, event_values = insert_columns(_OUTBOX, event_columns, "e_")
    # A State's Idempotency-Key already used: no pledge, so no event either (the SELECT finds no row).
    statement = Statement.of(
        f"WITH stored AS (INSERT INTO pledge ({pledge_names}) VALUES ({pledge_values})"  # noqa: S608
        " ON CONFLICT ON CONSTRAINT pledge_idempotency DO NOTHING RETURNING id)"
        f" INSERT INTO outbox ({event_names}) SELECT {event_values} FROM stored RETURNING seq"
    )
    # insert_submitted passes the values in this order, without naming them.
    assert statement.names == (*(f"p_{c}" for c in pledge_columns), *(f"e_{c}" for c in event_columns))
    return statement


async def insert_submitted(connection: Any, pledge: dict[str, Any], event: dict[str, Any]) -> bool:
    """Store a new pledge and its outbox row (values as pledge_rows makes them) in one statement.

    False, with nothing stored, when the pledge's State has already used its Idempotency-Key.
    """
    statement = _insert_statement(tuple(pledge), tuple(event))
    values = [*driver_values(_PLEDGE, pledge).values(), *driver_values(_OUTBOX, event).values()]
    return await connection.fetchval(statement.sql, *values) is not None


@lru_cache(maxsize=8)
def _insert_many_statement(pledge_columns: tuple[str, ...], event_columns: tuple[str, ...]) -> Statement:
    # Rows passed column-wise (one array a column): one statement for any number of submissions. Only the
    # events of pledges stored (not refused for a used Idempotency-Key) are inserted; a pledge's events are
    # keyed by its id. Returns the ids stored.
    pledge_names, pledges = unnest_columns(_PLEDGE, pledge_columns, "p_")
    event_names, events = unnest_columns(_OUTBOX, event_columns, "e_")
    statement = Statement.of(
        f"WITH stored AS (INSERT INTO pledge ({pledge_names}) {pledges}"  # noqa: S608
        " ON CONFLICT ON CONSTRAINT pledge_idempotency DO NOTHING RETURNING id),"
        f" events AS (INSERT INTO outbox ({event_names}) {events}"
        " WHERE outbox.key IN (SELECT id FROM stored)) SELECT id FROM stored"
    )
    # store_many passes the arrays in this order, without naming them.
    assert statement.names == (*(f"p_{c}" for c in pledge_columns), *(f"e_{c}" for c in event_columns))
    return statement


@dataclass(frozen=True, slots=True)
class Submitted:
    """A submission POST /pledges has accepted, to be stored."""

    pledge_id: str
    submission: PledgeSubmission
    submitted_by: str
    submitted_at: datetime
    traceparent: str | None
    idempotency_key: str | None = None


def _rows(
    item: Submitted, duplicates: list[str], policy: PledgePolicy
) -> tuple[dict[str, Any], dict[str, Any]]:
    (pledge,), (event,) = pledge_rows(
        [(item.pledge_id, item.submission)],
        [duplicates],
        item.submitted_by,
        item.submitted_at,
        policy,
        item.traceparent,
    )
    if item.idempotency_key:
        pledge.update(idempotency_key=item.idempotency_key, request_fingerprint=item.submission.fingerprint())
    return pledge, event


async def store_one(connection: Any, item: Submitted, policy: PledgePolicy) -> tuple[dict[str, Any], bool]:
    """Store one submission: its pledge row, and whether it was stored (not if its key was used already)."""
    duplicates = await similar_stored(connection, item.submission, policy.duplicate_title_similarity)
    pledge, event = _rows(item, duplicates, policy)
    return pledge, await insert_submitted(connection, pledge, event)


async def store_many(
    connection: Any, items: list[Submitted], policy: PledgePolicy
) -> list[tuple[dict[str, Any], bool]]:
    """Store several submissions with one lookup and one INSERT; as store_one for each, in order.

    Each is also compared with those before it in ``items`` (newer than anything stored), as an import's rows
    are with each other.
    """
    threshold = policy.duplicate_title_similarity
    pairs = sorted({(item.submission.member_state, item.submission.kind.value) for item in items})
    found = await connection.fetch(
        _SIMILAR_MANY.sql,
        *_SIMILAR_MANY.args(
            {
                "member_states": [p[0] for p in pairs],
                "kinds": [p[1] for p in pairs],
                "stored": STORED_CANDIDATES,
            }
        ),
    )
    newest: dict[tuple[str, str], tuple[list[str], list[str]]] = {
        (row["member_state"], row["kind"]): (row["ids"] or [], row["titles"] or []) for row in found
    }
    rows = []
    for item in items:
        pair = (item.submission.member_state, item.submission.kind.value)
        ids, titles = newest.get(pair, ([], []))
        normal = normal_title(item.submission.title)
        rows.append(_rows(item, _closest(normal, ids, titles, threshold), policy))
        newest[pair] = ([item.pledge_id, *ids], [normal, *titles])
    pledges, events = [pledge for pledge, _ in rows], [event for _, event in rows]
    statement = _insert_many_statement(tuple(pledges[0]), tuple(events[0]))
    arrays = [*unnest_values(_PLEDGE, pledges), *unnest_values(_OUTBOX, events)]
    stored = {record["id"] for record in await connection.fetch(statement.sql, *arrays)}
    return [(pledge, pledge["id"] in stored) for pledge in pledges]


Connect = Callable[[], AbstractAsyncContextManager[Any]]
_Waiting = tuple[Submitted, "asyncio.Future[tuple[dict[str, Any], bool]]"]


class IntakeWriter:
    """Stores submissions as they come, together when they queue up.

    At most ``writers`` batches are being stored at once; a submission that finds one free is stored at once
    (store_one), and those that arrive meanwhile wait and go in the next batch (store_many), ``max_batch``
    at most. If a batch fails, its submissions are stored one by one, so each gets its own answer.
    """

    def __init__(self, connect: Connect, policy: PledgePolicy, writers: int, max_batch: int = 32) -> None:
        self.connect = connect
        self.policy = policy
        self.writers = writers
        self.max_batch = max_batch
        self._waiting: collections.deque[_Waiting] = collections.deque()
        self._busy = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def store(self, item: Submitted) -> tuple[dict[str, Any], bool]:
        """The submission's pledge row, and whether it was stored (not if its key was used already)."""
        future: asyncio.Future[tuple[dict[str, Any], bool]] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._busy < self.writers:
            self._busy += 1
            # A task of its own: a client that goes away cancels its request, not the batch it is in.
            task = asyncio.create_task(self._write())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _write(self) -> None:
        try:
            while self._waiting:
                taken = [self._waiting.popleft() for _ in range(min(self.max_batch, len(self._waiting)))]
                # A request already cancelled (its client went away) is not stored.
                batch = [waiting for waiting in taken if not waiting[1].done()]
                if not batch:
                    continue
                try:
                    await self._store(batch)
                except BaseException as exc:  # this task cancelled, say: no request waits for ever
                    _settle(batch, exc)
                    raise
        finally:
            self._busy -= 1

    async def _store(self, batch: list[_Waiting]) -> None:
        INTAKE_BATCH.observe(len(batch))
        if len(batch) > 1:
            try:
                async with self.connect() as connection:
                    results = await store_many(connection, [item for item, _ in batch], self.policy)
            except (asyncpg.PostgresError, ValueError, TypeError) as refused:
                # Refused by PostgreSQL (the statement is rolled back) or before it was sent (asyncpg's
                # encoding): nothing of the batch is stored, so each is tried alone, for its own answer.
                log.warning("pledge batch refused, storing one by one", size=len(batch), error=repr(refused))
            except Exception as exc:  # the connection, say: whether the batch was stored is not known
                _settle(batch, exc)
                return
            else:
                _settle(batch, results)
                return
        for waiting in batch:
            try:
                async with self.connect() as connection:
                    _settle([waiting], [await store_one(connection, waiting[0], self.policy)])
            except Exception as exc:
                _settle([waiting], exc)


def _settle(batch: list[_Waiting], outcome: list[tuple[dict[str, Any], bool]] | BaseException) -> None:
    for n, (_, future) in enumerate(batch):
        if future.done():
            continue
        if isinstance(outcome, asyncio.CancelledError):
            future.cancel()
        elif isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome[n])


_writers: weakref.WeakKeyDictionary[ServiceRuntime, IntakeWriter] = weakref.WeakKeyDictionary()


def intake_writer(runtime: ServiceRuntime) -> IntakeWriter:
    """The runtime's IntakeWriter, made on first use."""
    writer = _writers.get(runtime)
    if writer is None:
        settings = runtime.settings
        writer = _writers[runtime] = IntakeWriter(
            runtime.driver_connection, settings.pledge_policy, settings.pledge_intake_writers
        )
    return writer
