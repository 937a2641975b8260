"""Storing one submitted pledge (POST /pledges): its possible duplicates and its rows, as constant SQL
run on asyncpg directly.

Single submissions are the service's busiest write, and the ORM's unit of work and statement building
cost several times the database's own work there. A submission takes two statements, each committing on
its own: the duplicate lookup, then one INSERT of the pledge and of its ``pledge submitted`` outbox row
together (a data-modifying WITH: one statement, so both rows are stored or neither is).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import Indel
from sqlalchemy import Table

from services.common.database import OutboxEvent, Statement, driver_values, insert_columns
from services.pledges.domain import PledgeSubmission, is_similar, normal_title
from services.pledges.importing import DUPLICATES_LISTED, STORED_CANDIDATES
from services.pledges.models import Pledge

_PLEDGE: Table = Pledge.__table__  # type: ignore[attr-defined]
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
    and kind, newest first, DUPLICATES_LISTED at most: what importing.flag_duplicates finds.

    RapidFuzz scores the titles the database returns in one call (well under a microsecond a title); the
    few that reach the threshold are confirmed with domain.is_similar's whole-number rule.
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
    if not ids:
        return []
    scored = process.extract(
        normal, titles, scorer=Indel.normalized_similarity, score_cutoff=threshold - 1e-6, limit=None
    )
    newest_first = sorted(i for _, _, i in scored if is_similar(normal, titles[i], threshold))
    return [ids[i] for i in newest_first[:DUPLICATES_LISTED]]


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
    """Store a new pledge and its outbox row (values as importing.pledge_rows makes them) in one statement.

    False, with nothing stored, when the pledge's State has already used its Idempotency-Key.
    """
    statement = _insert_statement(tuple(pledge), tuple(event))
    values = [*driver_values(_PLEDGE, pledge).values(), *driver_values(_OUTBOX, event).values()]
    return await connection.fetchval(statement.sql, *values) is not None
