"""Writes of the partner gateway's database. The caller (service.py) owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.partners.models import (
    PartnerRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
)

# Delivered to every dispatcher listening (delivered at commit, when the rows become visible).
WAKE_CHANNEL = "webhook_delivery"


async def put_partner(
    session: AsyncSession,
    partner_id: str,
    topics: Sequence[str],
    contact_email: str | None,
    by: str,
    at: datetime,
) -> PartnerRow:
    values = {"topics": list(topics), "contact_email": contact_email, "updated_by": by, "updated_at": at}
    statement = (
        insert(PartnerRow)
        .values(id=partner_id, **values)
        .on_conflict_do_update(index_elements=[col(PartnerRow.id)], set_=values)
        .returning(PartnerRow)
    )
    row: PartnerRow = (await session.execute(select(PartnerRow).from_statement(statement))).scalar_one()
    return row


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


async def delete_subscription(session: AsyncSession, subscription: WebhookSubscriptionRow) -> None:
    """The subscription, its deliveries and their attempts: nothing is sent for it any more."""
    deliveries = select(col(WebhookDeliveryRow.id)).where(
        col(WebhookDeliveryRow.subscription_id) == subscription.id
    )
    await session.execute(delete(WebhookAttemptRow).where(col(WebhookAttemptRow.delivery_id).in_(deliveries)))
    await session.execute(
        delete(WebhookDeliveryRow).where(col(WebhookDeliveryRow.subscription_id) == subscription.id)
    )
    await session.delete(subscription)


_SUBSCRIBED = text(
    """
    SELECT s.id, s.partner_id, coalesce(p.topics, '{}') AS topics
    FROM webhook_subscription s LEFT JOIN partner p ON p.id = s.partner_id
    WHERE :event_type = ANY (s.event_types)
    """
)


async def subscribed(session: AsyncSession, event_type: str) -> list[tuple[str, str, list[str]]]:
    """(subscription id, partner id, topics granted to its partner) of each subscription to ``event_type``."""
    rows = await session.execute(_SUBSCRIBED, {"event_type": event_type})
    return [(r.id, r.partner_id, list(r.topics)) for r in rows]


async def add_deliveries(
    session: AsyncSession,
    subscription_ids: Sequence[str],
    event_id: str,
    event_type: str,
    subject: str,
    body: str,
    at: datetime,
) -> None:
    """A pending delivery of the event per subscription (a repeat of the event adds none), and a wake-up
    for the dispatchers, sent when the transaction commits."""
    if not subscription_ids:
        return
    rows = [
        {
            "id": new_id("dlv"),
            "subscription_id": subscription_id,
            "event_id": event_id,
            "event_type": event_type,
            "subject": subject,
            "body": body,
            "status": "pending",
            "attempts": 0,
            "redeliveries": 0,
            "next_attempt_at": at,
            "created_at": at,
        }
        for subscription_id in subscription_ids
    ]
    await session.execute(insert(WebhookDeliveryRow).values(rows).on_conflict_do_nothing())
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": WAKE_CHANNEL})


# The dispatcher's statements (service.deliver_batch), on asyncpg connections of its own.
SUBSCRIPTION_TO_DELIVER = """
    SELECT partner_id, url, secret, previous_secret, previous_secret_until
    FROM webhook_subscription WHERE id = $1 AND status = 'active'
"""
# The first due delivery of each subject of the subscription (no earlier delivery of that subject pending:
# its previous event must succeed first), oldest first. SKIP LOCKED: a delivery another worker or replica
# holds is passed over, and the next of its subject is not eligible either (the held one is still pending,
# with a lower seq).
CLAIM = """
    SELECT d.id, d.event_id, d.event_type, d.body, d.attempts FROM webhook_delivery d
    WHERE d.subscription_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= now()
      AND NOT EXISTS (
        SELECT 1 FROM webhook_delivery e
        WHERE e.subscription_id = d.subscription_id AND e.subject = d.subject
          AND e.status = 'pending' AND e.seq < d.seq
      )
    ORDER BY d.seq
    LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
"""
RECORD_ATTEMPT = """
    INSERT INTO webhook_attempt (delivery_id, attempt, at, status_code, latency_ms, response_excerpt, error)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
# $3: the next attempt's time while pending (else unchanged); $4: when it was delivered.
RECORD_OUTCOME = """
    UPDATE webhook_delivery
    SET status = $2, attempts = attempts + 1, next_attempt_at = coalesce($3, next_attempt_at),
        delivered_at = $4
    WHERE id = $1
"""
MARK_FAILING = """
    WITH failing AS (
        UPDATE webhook_subscription
        SET status = 'failing', failing_since = now(), updated_at = now(), version = version + 1
        WHERE id = $1
    )
    SELECT contact_email FROM partner WHERE id = $2
"""
NOTIFY_PARTNER = """
    INSERT INTO partner_notification
        (id, partner_id, subscription_id, kind, message, contact_email, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


async def requeue(
    session: AsyncSession,
    subscription_id: str,
    at: datetime,
    delivery_id: str | None = None,
    since: datetime | None = None,
) -> int:
    """Queues deliveries again (one, or all created since ``since``) for an attempt now, with a fresh
    retry schedule; the number queued."""
    conditions = [col(WebhookDeliveryRow.subscription_id) == subscription_id]
    if delivery_id is not None:
        conditions.append(col(WebhookDeliveryRow.id) == delivery_id)
    if since is not None:
        conditions.append(col(WebhookDeliveryRow.created_at) >= since)
    result = await session.execute(
        update(WebhookDeliveryRow)
        .where(*conditions)
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=at,
            delivered_at=None,
            redeliveries=col(WebhookDeliveryRow.redeliveries) + 1,
        )
        .returning(col(WebhookDeliveryRow.id))
    )
    count = len(result.all())
    if count:
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": WAKE_CHANNEL})
    return count


async def wake(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": WAKE_CHANNEL})
