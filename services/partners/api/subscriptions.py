"""Webhook subscriptions: a partner's URL and the event types sent to it, signed with its secret."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from services.common.app import Route, RuntimeDep, SessionDep
from services.common.auth import Principal
from services.common.paging import PAGED, Page, PageDep
from services.partners import queries, service
from services.partners.api.partners import PARTNERS
from services.partners.models import WebhookSubscriptionRow

router = APIRouter(prefix="/webhooks/subscriptions", tags=["subscriptions"], route_class=Route)

SubscriptionId = Annotated[str, Path(pattern=r"^sub_[0-9a-f]{32}$", description="The subscription's id")]
EXAMPLE_TYPES: list[JsonValue] = [
    "org.un.uncops.cases.allegation_recorded.v1",
    "org.un.uncops.pledges.pledge_submitted.v1",
]
EventTypes = Annotated[
    list[Annotated[str, Field(max_length=200)]],
    Field(
        min_length=1,
        max_length=100,
        description="CloudEvents types (uncops_contracts.registry), each of a topic the partner may read",
    ),
]
Url = Annotated[str, Field(min_length=8, max_length=2000, description="Where to POST: http(s)")]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://partner.example.org/uncops", "event_types": EXAMPLE_TYPES}]
        },
    )

    url: Url
    event_types: EventTypes


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"event_types": ["org.un.uncops.pledges.pledge_accepted.v1"]},
                {"url": "https://partner.example.org/uncops/v2"},
            ]
        },
    )

    url: Url | None = None
    event_types: EventTypes | None = None


class SubscriptionPublic(BaseModel):
    id: str
    url: str
    event_types: list[str]
    status: str = Field(
        description="active; paused (events wait); failing (a delivery spent its retries: events wait for "
        "a resume)"
    )
    created_at: datetime
    updated_at: datetime
    failing_since: datetime | None
    secret_rotated_until: datetime | None = Field(
        description="Until then the previous secret signs too, beside the current one"
    )

    @classmethod
    def of(cls, row: WebhookSubscriptionRow) -> SubscriptionPublic:
        return cls(
            id=row.id,
            url=row.url,
            event_types=row.event_types,
            status=row.status,
            created_at=row.created_at,
            updated_at=row.updated_at,
            failing_since=row.failing_since,
            secret_rotated_until=row.previous_secret_until,
        )


class SubscriptionWithSecret(SubscriptionPublic):
    """The subscription and the secret that signs its deliveries: shown here and on rotation only."""

    secret: str = Field(description="whsec_ and base64 of the key (Standard Webhooks)")

    @classmethod
    def of(cls, row: WebhookSubscriptionRow) -> SubscriptionWithSecret:
        return cls(**SubscriptionPublic.of(row).model_dump(), secret=row.secret)


class SubscriptionPage(Page[SubscriptionPublic]):
    """One page of the caller's subscriptions, oldest first."""


@router.post("", status_code=status.HTTP_201_CREATED, summary="Subscribe a URL to event types")
async def create_subscription(
    body: SubscriptionCreate,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, PARTNERS],
) -> SubscriptionWithSecret:
    """Creates a subscription and its signing secret (``whsec_``). Every later event of the types named is
    POSTed to the URL as a CloudEvent in structured JSON (``application/cloudevents+json``) with the
    Standard Webhooks headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``. An event type
    of a topic the partner may not read is refused with 403; in production a loopback, private or
    link-local target is refused with 422."""
    row = await service.create_subscription(
        session, runtime.settings, principal.subject, body.url, body.event_types
    )
    response.headers["Location"] = f"/webhooks/subscriptions/{row.id}"
    return SubscriptionWithSecret.of(row)


@router.get("", summary="The caller's subscriptions", openapi_extra=PAGED)
async def list_subscriptions(
    session: SessionDep, principal: Annotated[Principal, PARTNERS], page: PageDep
) -> SubscriptionPage:
    """The caller's webhook subscriptions, oldest first, a page at a time (secrets are not shown)."""
    rows, next_cursor = await queries.subscriptions_page(session, principal.subject, page)
    return page.answer(SubscriptionPage, [SubscriptionPublic.of(r) for r in rows], next_cursor)


@router.get("/{subscription_id}", summary="A subscription")
async def get_subscription(
    subscription_id: SubscriptionId, session: SessionDep, principal: Annotated[Principal, PARTNERS]
) -> SubscriptionPublic:
    """One of the caller's subscriptions (its secret is not shown)."""
    return SubscriptionPublic.of(await queries.subscription(session, principal.subject, subscription_id))


@router.patch("/{subscription_id}", summary="Change a subscription's URL or event types")
async def update_subscription(
    subscription_id: SubscriptionId,
    body: SubscriptionUpdate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, PARTNERS],
) -> SubscriptionPublic:
    """Changes the URL, the event types, or both, checked as on creation. Events already queued keep
    going to the subscription (to its new URL)."""
    row = await service.update_subscription(
        session, runtime.settings, principal.subject, subscription_id, body.url, body.event_types
    )
    return SubscriptionPublic.of(row)


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a subscription")
async def delete_subscription(
    subscription_id: SubscriptionId, session: SessionDep, principal: Annotated[Principal, PARTNERS]
) -> None:
    """Deletes the subscription with its queued deliveries and their history: nothing more is sent."""
    await service.delete_subscription(session, principal.subject, subscription_id)


@router.post("/{subscription_id}/pause", summary="Pause deliveries")
async def pause_subscription(
    subscription_id: SubscriptionId, session: SessionDep, principal: Annotated[Principal, PARTNERS]
) -> SubscriptionPublic:
    """Stops sending: events of the subscription's types are still queued, and delivered in order once it
    is resumed. 409 if it is paused already."""
    return SubscriptionPublic.of(await service.pause(session, principal.subject, subscription_id))


@router.post("/{subscription_id}/resume", summary="Resume deliveries")
async def resume_subscription(
    subscription_id: SubscriptionId, session: SessionDep, principal: Annotated[Principal, PARTNERS]
) -> SubscriptionPublic:
    """Sends again, a paused or failing subscription, starting with what waited (each subject's events in
    order). Deliveries that failed stay failed: redeliver them. 409 if it is active already."""
    return SubscriptionPublic.of(await service.resume(session, principal.subject, subscription_id))


@router.post("/{subscription_id}/rotate-secret", summary="Rotate the signing secret")
async def rotate_secret(
    subscription_id: SubscriptionId,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, PARTNERS],
) -> SubscriptionWithSecret:
    """A new secret, returned here, signs every delivery from now on; the previous one keeps signing beside
    it (two signatures in ``webhook-signature``) until ``secret_rotated_until`` (24 hours by default), so a
    receiver can switch without losing a delivery."""
    row = await service.rotate_secret(session, runtime.settings, principal.subject, subscription_id)
    return SubscriptionWithSecret.of(row)
