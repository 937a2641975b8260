"""Writing events to the outbox, inside the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.database import OutboxEvent
from services.common.observability import current_traceparent
from uncops_contracts import EventPayload

# Sent by a trigger on insert while a relay sleeps (services/common/schema.py), so the relay wakes at
# commit, not on a poll.
NOTIFY_CHANNEL = "uncops_outbox"
# The advisory lock a sleeping relay holds: an insert notifies only while one does. Under load no relay
# sleeps, and no insert pays for a notification (each serialised every notifying commit of the database).
SLEEP_LOCK = 0x55_4E_43_4F_50_53  # "UNCOPS"


def outbox_row(payload: EventPayload, key: str, traceparent: str | None) -> dict[str, Any]:
    """The outbox row of ``payload`` as column values: the CloudEvent's attributes and its data as JSON, from
    which the relay makes the Kafka message (uncops_contracts.envelope). For record_event, COPY or a constant
    INSERT.

    ``key`` is the aggregate id: the Kafka key and the CloudEvents subject, so one aggregate's events stay
    in order.
    """
    # Made from the validated payload directly: building and validating a CloudEvent model on the way
    # (CloudEvent.of) cost the busiest write several times as much.
    return {
        "event_id": uuid.uuid4(),
        "topic": payload.topic,
        "key": key,
        "type": payload.event_type(),
        "source": payload.source,
        "subject": key,
        "dataschema": payload.dataschema(),
        "time": datetime.now(UTC),
        # pydantic's own JSON: the document encode_data(payload.model_dump(mode="json")) makes.
        "value": payload.model_dump_json().encode(),
        "traceparent": traceparent,
    }


def continued_trace(given: str | None, current: str | None) -> str | None:
    """The trace an event continues. The current span when it is in the trace the caller gives (in an
    activity, the Temporal interceptor's RunActivity span, a child of the request's: issue 20), or when the
    caller gives none; the caller's when it names another trace: a timer's activity runs in the trace that
    started the workflow, but its events continue the request that set the timer."""
    if given is None or current is None:
        return current or given
    return current if current.split("-")[1:2] == given.split("-")[1:2] else given


def record_event(
    session: AsyncSession, payload: EventPayload, key: str, traceparent: str | None = None
) -> OutboxEvent:
    """Add ``payload`` to the outbox; it is published only if the caller's transaction commits."""
    row = OutboxEvent(**outbox_row(payload, key, continued_trace(traceparent, current_traceparent())))
    session.add(row)
    return row
