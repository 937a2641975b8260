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

from sqlalchemy import Table

from services.common.database import OutboxEvent, Statement, driver_values, insert_columns
from services.pledges.domain import PledgeSubmission, is_similar, normal_title, title_grams
from services.pledges.importing import (
    DUPLICATES_LISTED,
    STORED_CANDIDATES,
    fewest_shared_bigrams,
    title_probe,
)
from services.pledges.models import Pledge

_PLEDGE: Table = Pledge.__table__  # type: ignore[attr-defined]
_OUTBOX: Table = OutboxEvent.__table__  # type: ignore[attr-defined]


@lru_cache(maxsize=2)
def _similar_statement(probed: bool) -> Statement:
    """The lookup of similar_stored, with or without a probe.

    The index pledge_state_kind_newest hands over the newest STORED_CANDIDATES titles of the State and
    kind without a sort; the length band and the probe pairs rule out most of them in the database."""
    probe = "AND title_grams && CAST(:probe AS text[])" if probed else ""
    newest = "ORDER BY submitted_at DESC, id DESC"
    # Only the constant fragments above go into the text; every value is a bound parameter.
    return Statement.of(
        "SELECT id, title_normal FROM ("  # noqa: S608
        " SELECT id, title_normal, title_grams, submitted_at FROM pledge"
        f" WHERE member_state = :member_state AND kind = :kind {newest} LIMIT :stored"
        ") AS stored"
        f" WHERE char_length(title_normal) BETWEEN :shortest AND :longest {probe} {newest}"
    )


async def similar_stored(connection: Any, submission: PledgeSubmission, threshold: float) -> list[str]:
    """Possible duplicates of one submission among the newest STORED_CANDIDATES stored pledges of its State
    and kind, newest first, DUPLICATES_LISTED at most: what importing.flag_duplicates finds.

    The database returns the titles as long as the threshold allows that hold one of the title's probe
    pairs (a similar title holds one); domain.is_similar (RapidFuzz, about a microsecond a title)
    decides.
    """
    normal = normal_title(submission.title)
    # 2 min(a, b) / (a + b) >= threshold bounds the other title's length (rounded outwards).
    shortest = math.floor(threshold * len(normal) / (2 - threshold))
    longest = math.ceil((2 - threshold) * len(normal) / threshold)
    probe = title_probe(title_grams(normal), fewest_shared_bigrams(len(normal), threshold))
    statement = _similar_statement(probe is not None)
    values = {
        "member_state": submission.member_state,
        "kind": submission.kind.value,
        "stored": STORED_CANDIDATES,
        "shortest": shortest,
        "longest": longest,
        "probe": probe,
    }
    similar: list[str] = []
    for pledge_id, other in await connection.fetch(statement.sql, *statement.args(values)):
        if is_similar(normal, other, threshold):
            similar.append(pledge_id)
            if len(similar) == DUPLICATES_LISTED:
                break
    return similar


@lru_cache(maxsize=8)
def _insert_statement(pledge_columns: tuple[str, ...], event_columns: tuple[str, ...]) -> Statement:
    pledge_names, pledge_values = insert_columns(_PLEDGE, pledge_columns, "p_")
    event_names, event_values = insert_columns(_OUTBOX, event_columns, "e_")
    # A State's Idempotency-Key already used: no pledge, so no event either (the SELECT finds no row).
    return Statement.of(
        f"WITH stored AS (INSERT INTO pledge ({pledge_names}) VALUES ({pledge_values})"  # noqa: S608
        " ON CONFLICT ON CONSTRAINT pledge_idempotency DO NOTHING RETURNING id)"
        f" INSERT INTO outbox ({event_names}) SELECT {event_values} FROM stored RETURNING seq"
    )


async def insert_submitted(connection: Any, pledge: dict[str, Any], event: dict[str, Any]) -> bool:
    """Store a new pledge and its outbox row (values as importing.pledge_rows makes them) in one statement.

    False, with nothing stored, when the pledge's State has already used its Idempotency-Key.
    """
    statement = _insert_statement(tuple(pledge), tuple(event))
    values = {f"p_{name}": value for name, value in driver_values(_PLEDGE, pledge).items()}
    values.update({f"e_{name}": value for name, value in driver_values(_OUTBOX, event).items()})
    return await connection.fetchval(statement.sql, *statement.args(values)) is not None
