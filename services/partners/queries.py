"""Reads of the partner gateway's database."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.errors import NotFound
from services.common.paging import PageRequest, SortTerm, keyset_page
from services.partners.models import (
    PartnerNotificationRow,
    PartnerRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
)


async def partner(session: AsyncSession, partner_id: str) -> PartnerRow | None:
    return await session.get(PartnerRow, partner_id)


async def partners_page(session: AsyncSession, page: PageRequest) -> tuple[list[PartnerRow], str | None]:
    return await keyset_page(session, select(PartnerRow), [col(PartnerRow.id)], page)


async def subscription(
    session: AsyncSession, partner_id: str, subscription_id: str
) -> WebhookSubscriptionRow:
    """The partner's subscription; 404 for another partner's, as for one that does not exist."""
    found = await session.get(WebhookSubscriptionRow, subscription_id)
    if found is None or found.partner_id != partner_id:
        raise NotFound(f"no webhook subscription {subscription_id}")
    return found


async def subscriptions_page(
    session: AsyncSession, partner_id: str, page: PageRequest
) -> tuple[list[WebhookSubscriptionRow], str | None]:
    query = select(WebhookSubscriptionRow).where(col(WebhookSubscriptionRow.partner_id) == partner_id)
    order = [col(WebhookSubscriptionRow.created_at), col(WebhookSubscriptionRow.id)]
    return await keyset_page(session, query, order, page)


async def deliveries_page(
    session: AsyncSession, subscription_id: str, page: PageRequest
) -> tuple[list[WebhookDeliveryRow], str | None]:
    """Newest first."""
    query = select(WebhookDeliveryRow).where(col(WebhookDeliveryRow.subscription_id) == subscription_id)
    return await keyset_page(session, query, [col(WebhookDeliveryRow.seq).desc()], page)


async def delivery(session: AsyncSession, subscription_id: str, delivery_id: str) -> WebhookDeliveryRow:
    found = await session.get(WebhookDeliveryRow, delivery_id)
    if found is None or found.subscription_id != subscription_id:
        raise NotFound(f"no delivery {delivery_id} of subscription {subscription_id}")
    return found


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[str]
) -> dict[str, list[WebhookAttemptRow]]:
    """Each delivery's attempts, oldest first."""
    found: dict[str, list[WebhookAttemptRow]] = {d: [] for d in delivery_ids}
    if not delivery_ids:
        return found
    query = (
        select(WebhookAttemptRow)
        .where(col(WebhookAttemptRow.delivery_id).in_(list(delivery_ids)))
        .order_by(col(WebhookAttemptRow.id))
    )
    for attempt in (await session.execute(query)).scalars():
        found[attempt.delivery_id].append(attempt)
    return found


async def notifications_page(
    session: AsyncSession, partner_id: str, page: PageRequest
) -> tuple[list[PartnerNotificationRow], str | None]:
    query = select(PartnerNotificationRow).where(col(PartnerNotificationRow.partner_id) == partner_id)
    order: list[SortTerm] = [
        col(PartnerNotificationRow.created_at).desc(),
        col(PartnerNotificationRow.id).desc(),
    ]
    return await keyset_page(session, query, order, page)


_DUE = text(
    """
    SELECT DISTINCT d.subscription_id
    FROM webhook_delivery d JOIN webhook_subscription s ON s.id = d.subscription_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND s.status = 'active'
    """
)
_NEXT_DUE = text(
    """
    SELECT extract(epoch FROM min(d.next_attempt_at) - now())
    FROM webhook_delivery d JOIN webhook_subscription s ON s.id = d.subscription_id
    WHERE d.status = 'pending' AND s.status = 'active'
    """
)


async def due_subscriptions(session: AsyncSession) -> tuple[list[str], float | None]:
    """The active subscriptions with a delivery due now, and the seconds until the next one falls due."""
    due = list((await session.execute(_DUE)).scalars())
    wait = (await session.execute(_NEXT_DUE)).scalar()
    return due, None if wait is None else float(wait)
