"""A subscription's deliveries with each attempt, redelivery (one, or everything since a time), and the
notices sent to the partner's contact."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.common.app import Route, SessionDep
from services.common.auth import Principal
from services.common.paging import PAGED, Page, PageDep
from services.partners import queries, service
from services.partners.api.partners import PARTNERS
from services.partners.api.subscriptions import SubscriptionId
from services.partners.models import PartnerNotificationRow, WebhookAttemptRow, WebhookDeliveryRow

router = APIRouter(prefix="/webhooks", tags=["deliveries"], route_class=Route)

DeliveryId = Annotated[str, Path(pattern=r"^dlv_[0-9a-f]{32}$", description="The delivery's id")]


class AttemptPublic(BaseModel):
    attempt: int = Field(description="1 for the first attempt since the delivery was (re)queued")
    at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; null when none came back")
    latency_ms: int
    response_excerpt: str | None = Field(description="The first KB of the receiver's answer")
    error: str | None

    @classmethod
    def of(cls, row: WebhookAttemptRow) -> AttemptPublic:
        return cls.model_validate(row, from_attributes=True)


class DeliveryPublic(BaseModel):
    id: str
    event_id: str = Field(description="Also the webhook-id header of every attempt")
    event_type: str
    subject: str = Field(description="The aggregate's id: its events are delivered in order")
    status: str = Field(description="pending, delivered or failed (its retries spent)")
    next_attempt_at: datetime | None = Field(description="When it is tried next, while pending")
    created_at: datetime
    delivered_at: datetime | None
    redeliveries: int
    attempts: list[AttemptPublic] = Field(description="Every attempt, oldest first")

    @classmethod
    def of(cls, row: WebhookDeliveryRow, attempts: list[WebhookAttemptRow]) -> DeliveryPublic:
        return cls(
            id=row.id,
            event_id=row.event_id,
            event_type=row.event_type,
            subject=row.subject,
            status=row.status,
            next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            redeliveries=row.redeliveries,
            attempts=[AttemptPublic.of(a) for a in attempts],
        )


class DeliveryPage(Page[DeliveryPublic]):
    """One page of a subscription's deliveries, newest first."""


class RedeliverSince(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"since": "2026-12-01T00:00:00Z"}]}
    )

    since: AwareDatetime = Field(description="Every delivery made since then (delivered, failed or pending)")


class Redelivery(BaseModel):
    queued: int = Field(description="How many deliveries were queued for an attempt now")


class NotificationPublic(BaseModel):
    id: str
    subscription_id: str
    kind: str = Field(description="subscription_failing")
    message: str
    contact_email: str | None = Field(description="The partner's contact when it was sent, if set")
    created_at: datetime

    @classmethod
    def of(cls, row: PartnerNotificationRow) -> NotificationPublic:
        return cls.model_validate(row, from_attributes=True)


class NotificationPage(Page[NotificationPublic]):
    """One page of the notices to the caller, newest first."""


@router.get(
    "/subscriptions/{subscription_id}/deliveries", summary="A subscription's deliveries", openapi_extra=PAGED
)
async def list_deliveries(
    subscription_id: SubscriptionId,
    session: SessionDep,
    principal: Annotated[Principal, PARTNERS],
    page: PageDep,
) -> DeliveryPage:
    """The subscription's deliveries, newest first, each with every attempt (status code, latency, the
    first KB of the answer, the error), a page at a time."""
    await queries.subscription(session, principal.subject, subscription_id)
    rows, next_cursor = await queries.deliveries_page(session, subscription_id, page)
    attempts = await queries.attempts_of(session, [r.id for r in rows])
    return page.answer(DeliveryPage, [DeliveryPublic.of(r, attempts[r.id]) for r in rows], next_cursor)


@router.post(
    "/subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver", summary="Send one delivery again"
)
async def redeliver_one(
    subscription_id: SubscriptionId,
    delivery_id: DeliveryId,
    session: SessionDep,
    principal: Annotated[Principal, PARTNERS],
) -> Redelivery:
    """Queues the delivery for an attempt now with a fresh retry schedule, delivered or not, with the same
    webhook-id. Sent once the subscription is active."""
    return Redelivery(
        queued=await service.redeliver(session, principal.subject, subscription_id, delivery_id)
    )


@router.post("/subscriptions/{subscription_id}/redeliver", summary="Send everything since a time again")
async def redeliver_since(
    subscription_id: SubscriptionId,
    body: RedeliverSince,
    session: SessionDep,
    principal: Annotated[Principal, PARTNERS],
) -> Redelivery:
    """Queues every delivery of the subscription made since ``since`` for an attempt now, in their order,
    with the same webhook-ids: how a partner that lost data gets it again."""
    queued = await service.redeliver(session, principal.subject, subscription_id, since=body.since)
    return Redelivery(queued=queued)


@router.get("/notifications", summary="Notices to the caller", openapi_extra=PAGED)
async def list_notifications(
    session: SessionDep, principal: Annotated[Principal, PARTNERS], page: PageDep
) -> NotificationPage:
    """What the gateway told the caller's contact (a subscription failing), newest first, a page at a time."""
    rows, next_cursor = await queries.notifications_page(session, principal.subject, page)
    return page.answer(NotificationPage, [NotificationPublic.of(r) for r in rows], next_cursor)
