"""The event feed's cursor and order.

A cursor is the next offset to read in each partition of one topic, as URL-safe base64 of JSON: opaque to
partners, checked when it comes back. "In order" means: within a partition, offset order (one aggregate's
events share a key, hence a partition, so they arrive in the order they happened); across partitions, a
page merges the partitions' next events by their timestamp, then partition number (stable: the same cursor
gives the same page). A cursor never skips or repeats an event, whatever the timestamps.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_CURSOR_LENGTH = 4096


class BadCursor(ValueError):
    pass


def encode_cursor(topic: str, offsets: Mapping[int, int]) -> str:
    text = json.dumps(
        {"t": topic, "o": {str(p): o for p, o in sorted(offsets.items())}}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, topic: str) -> dict[int, int]:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadCursor("longer than any cursor this feed returns")
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("not a cursor this feed returned") from None
    if not isinstance(document, dict) or not isinstance(document.get("o"), dict):
        raise BadCursor("not a cursor this feed returned")
    if document.get("t") != topic:
        raise BadCursor(f"a cursor of another topic, not of {topic}")
    offsets: dict[int, int] = {}
    for partition, offset in document["o"].items():
        if not (isinstance(partition, str) and partition.isdigit()) or len(partition) > 6:
            raise BadCursor("not a cursor this feed returned")
        if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset < 2**63:
            raise BadCursor("not a cursor this feed returned")
        offsets[int(partition)] = offset
    return offsets


@dataclass(frozen=True)
class Positioned:
    """An event read at ``partition``/``offset`` with the record's timestamp (ms)."""

    partition: int
    offset: int
    timestamp: int
    event: Any


def merged(per_partition: Mapping[int, Sequence[Positioned]], limit: int) -> list[Positioned]:
    """The first ``limit`` events of the partitions' runs (each in offset order), merged by timestamp, then
    partition. Only a partition with nothing more to read may run dry before the page is full: the caller
    reads at least ``limit`` events of every partition that has them."""
    runs: Iterable[Sequence[Positioned]] = per_partition.values()
    ordered = heapq.merge(*runs, key=lambda p: (p.timestamp, p.partition, p.offset))
    return [p for _, p in zip(range(limit), ordered, strict=False)]


def advanced(offsets: Mapping[int, int], page: Iterable[Positioned]) -> dict[int, int]:
    """The cursor's offsets after ``page``."""
    after = dict(offsets)
    for positioned in page:
        after[positioned.partition] = max(after.get(positioned.partition, 0), positioned.offset + 1)
    return after
