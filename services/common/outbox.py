"""Writing events to the outbox, inside the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.database import OutboxEvent
from services.common.observability import current_traceparent
from uncops_contracts import CloudEvent, EventPayload
from uncops_contracts.envelope import encode_data

# Fired by a trigger on insert (see the outbox migration), so the relay wakes at commit, not on a poll.
NOTIFY_CHANNEL = "uncops_outbox"


def outbox_row(payload: EventPayload, key: str, traceparent: str | None) -> dict[str, Any]:
    """The outbox row of ``payload`` as column values, for COPY or a constant INSERT (see record_event)."""
    return _row(CloudEvent.of(payload, subject=key, traceparent=traceparent), payload.topic, key)


def record_event(
    session: AsyncSession, payload: EventPayload, key: str, traceparent: str | None = None
) -> CloudEvent:
    """Add ``payload`` to the outbox; it is published only if the caller's transaction commits.

    ``key`` is the aggregate id: the Kafka key and the CloudEvents subject, so one aggregate's events stay
    in order.
    """
    # An activity passes the trace of the request that caused it; elsewhere the current span is that trace.
    event = CloudEvent.of(payload, subject=key, traceparent=traceparent or current_traceparent())
    session.add(OutboxEvent(**_row(event, payload.topic, key)))
    return event


def _row(event: CloudEvent, topic: str, key: str) -> dict[str, Any]:
    return {
        "event_id": uuid.UUID(event.id),
        "topic": topic,
        "key": key,
        "type": event.type,
        "source": event.source,
        "subject": event.subject,
        "dataschema": event.dataschema,
        "time": event.time,
        "value": encode_data(event.data),
        "traceparent": event.traceparent,
    }
