"""What the partner gateway takes from events: every event of every topic, fanned out to a delivery per
webhook subscription to its type (service.fan_out), in the inbox's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from services.common.consumer import Subscription
from services.partners import service
from uncops_contracts.registry import EVENT_TYPES
from uncops_contracts.topics import TOPICS

SUBSCRIPTIONS: Sequence[Subscription] = [
    Subscription(
        name="partners.webhooks",
        topics=sorted(TOPICS),
        handlers=dict.fromkeys(EVENT_TYPES, service.fan_out),
    )
]
