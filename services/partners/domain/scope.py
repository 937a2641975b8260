"""Which topics a partner may read.

The public topics (every topic not marked restricted in uncops_contracts.topics) are every partner's; a
restricted topic (``uncops.cases.v1``, full case detail) only a partner an administrator granted it to, by
name, in its partner record (``PUT /partners/{partner_id}``). A partner without a record reads the public
topics: a new partner can start at once, and nobody reads case detail by default.
"""

from __future__ import annotations

from collections.abc import Iterable

from uncops_contracts.registry import EVENT_TYPES
from uncops_contracts.topics import TOPICS

PUBLIC_TOPICS = frozenset(name for name, topic in TOPICS.items() if not topic.restricted)
RESTRICTED_TOPICS = frozenset(name for name, topic in TOPICS.items() if topic.restricted)


def readable_topics(granted: Iterable[str], everything: bool = False) -> frozenset[str]:
    """The public topics and those of ``granted`` that exist; every topic for an administrator."""
    if everything:
        return frozenset(TOPICS)
    return PUBLIC_TOPICS | (frozenset(granted) & frozenset(TOPICS))


def topic_of(event_type: str) -> str | None:
    """The topic an event type travels on; None for a type this contracts version does not know."""
    payload = EVENT_TYPES.get(event_type)
    return None if payload is None else payload.topic


def unknown_topics(names: Iterable[str]) -> list[str]:
    return sorted(set(names) - set(TOPICS))
