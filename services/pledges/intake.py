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
    LEVENSHTEIN_MAX_CHARS,
    STORED_CANDIDATES,
    fewest_shared_bigrams,
    title_probe,
)
from services.pledges.models import Pledge

_PLEDGE: Table = Pledge.__table__  # type: ignore[attr-defined]
_OUTBOX: Table = OutboxEvent.__table__  # type: ignore[attr-defined]


@lru_cache(maxsize=4)
def _similar_statement(probed: bool, bounded: bool) -> Statement:
    """The lookup of similar_stored, one statement per shape.

    The index pledge_state_kind_newest hands over the newest STORED_CANDIDATES titles of the State and
    kind without a sort; the length band and the probe pairs rule out most of them at little cost, and
    the edit-distance bound (as a CASE, so that a title longer than fuzzystrmatch accepts never reaches
    it) decides on the rest. The final LIMIT stops reading once enough duplicates are found."""
    probe = "AND title_grams && CAST(:probe AS text[])" if probed else ""
    allowed = "floor(CAST(:slack AS double precision) * (char_length(title_normal) + :length) + 1e-9)::int"
    distance = f"levenshtein_less_equal(title_normal, CAST(:normal AS text), 1, 1, 2, {allowed})"
    bound = (
        f"AND CASE WHEN char_length(title_normal) > :max_chars THEN true ELSE {distance} <= {allowed} END"
        if bounded
        else ""
    )
    measured = "char_length(title_normal) <= :max_chars" if bounded else "false"
    newest = "ORDER BY submitted_at DESC, id DESC"
    # Only the constant fragments above go into the text; every value is a bound parameter.
    return Statement.of(
        f"SELECT id, title_normal, {measured} AS measured FROM ("  # noqa: S608
        " SELECT id, title_normal, title_grams, submitted_at FROM pledge"
        f" WHERE member_state = :member_state AND kind = :kind {newest} LIMIT :stored"
        ") AS stored"
        f" WHERE char_length(title_normal) BETWEEN :shortest AND :longest {probe} {bound}"
        f" {newest} LIMIT :listed"
    )


async def similar_stored(connection: Any, submission: PledgeSubmission, threshold: float) -> list[str]:
    """Possible duplicates of one submission among the newest STORED_CANDIDATES stored pledges of its State
    and kind, newest first, DUPLICATES_LISTED at most: what importing.flag_duplicates finds.

    A similar title is as long as the threshold allows and holds one of the title's probe pairs; the
    database then measures it: fuzzystrmatch's Levenshtein distance with insertions and deletions costing
    1 and substitutions 2 is a + b - 2 LCS, the distance behind domain.title_similarity, and the bound is
    the threshold's. Titles longer than fuzzystrmatch takes come back unmeasured and are checked here.
    """
    normal = normal_title(submission.title)
    # 2 min(a, b) / (a + b) >= threshold bounds the other title's length (rounded outwards).
    shortest = math.floor(threshold * len(normal) / (2 - threshold))
    longest = math.ceil((2 - threshold) * len(normal) / threshold)
    probe = title_probe(title_grams(normal), fewest_shared_bigrams(len(normal), threshold))
    bounded = len(normal) <= LEVENSHTEIN_MAX_CHARS  # fuzzystrmatch refuses longer strings
    statement = _similar_statement(probe is not None, bounded)
    values = {
        "member_state": submission.member_state,
        "kind": submission.kind.value,
        "stored": STORED_CANDIDATES,
        "shortest": shortest,
        "longest": longest,
        "probe": probe,
        "normal": normal,
        "length": len(normal),
        "slack": 1 - threshold,
        "max_chars": LEVENSHTEIN_MAX_CHARS,
        # Stop at the first few only if every title that comes back is measured (unmeasured ones may be
        # ruled out below and must not take a duplicate's place).
        "listed": DUPLICATES_LISTED if longest <= LEVENSHTEIN_MAX_CHARS else STORED_CANDIDATES,
    }
    similar: list[str] = []
    for pledge_id, other, measured in await connection.fetch(statement.sql, *statement.args(values)):
        if measured or is_similar(normal, other, threshold):
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
