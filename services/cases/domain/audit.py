"""The audit trail's hash chain: each entry's hash covers its content and the previous entry's hash, so an
edited, inserted or deleted entry breaks every hash after it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainLink:
    case_id: str
    position: int
    at: datetime
    actor: str
    actor_role: str
    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    previous_hash: str


def entry_hash(link: ChainLink) -> str:
    canonical = json.dumps(
        [
            link.previous_hash,
            link.case_id,
            link.position,
            link.at.astimezone(UTC).isoformat(),
            link.actor,
            link.actor_role,
            link.action,
            link.before,
            link.after,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Verification:
    valid: bool
    entries: int
    first_broken_position: int | None
    reason: str | None


def verify_chain(links: Iterable[tuple[ChainLink, str]]) -> Verification:
    """Checks positions are consecutive from 1, each previous hash matches, and each stored hash is right."""
    expected_previous = GENESIS
    count = 0
    ordered: Sequence[tuple[ChainLink, str]] = sorted(links, key=lambda pair: pair[0].position)
    total = len(ordered)
    for expected_position, (link, stored_hash) in enumerate(ordered, start=1):
        count += 1
        if link.position != expected_position:
            return Verification(False, total, expected_position, "an entry is missing")
        if link.previous_hash != expected_previous:
            return Verification(
                False, len(ordered), link.position, "the link to the previous entry is broken"
            )
        if entry_hash(link) != stored_hash:
            return Verification(
                False, len(ordered), link.position, "the entry was changed after it was written"
            )
        expected_previous = stored_hash
    return Verification(True, count, None, None)
