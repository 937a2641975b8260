"""The event feed: CloudEvents in structured JSON, read from the topics themselves, from the beginning of
a topic (to rebuild a view) or from a cursor (to catch up), and live as Server-Sent Events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from services.common.app import Route, RuntimeDep, SessionDep
from services.common.auth import Principal
from services.common.errors import InvalidField
from services.common.paging import DEFAULT_LIMIT, LINK_HEADER, LimitQuery, Page, next_link
from services.partners import service
from services.partners.api.partners import PARTNERS
from services.partners.domain import feed
from uncops_contracts.topics import TOPICS

router = APIRouter(prefix="/events", tags=["events"], route_class=Route)

TopicQuery = Annotated[
    str,
    Query(
        max_length=200,
        description="The topic to read: uncops.pledges.v1, uncops.cases.public.v1, uncops.summit.v1 (every "
        "partner), uncops.cases.v1 (only a partner granted it)",
        json_schema_extra={"enum": sorted(TOPICS)},
    ),
]
_CURSOR = "The next_cursor of the page before (opaque); absent: from the beginning of the topic"
AfterQuery = Annotated[str | None, Query(max_length=feed.MAX_CURSOR_LENGTH, description=_CURSOR)]
CursorQuery = Annotated[
    str | None, Query(max_length=feed.MAX_CURSOR_LENGTH, description=f"The same as after. {_CURSOR}")
]


class CloudEventPublic(BaseModel):
    """A CloudEvents 1.0 event in structured JSON mode."""

    id: str
    source: str = Field(examples=["/uncops/cases"])
    type: str = Field(examples=["org.un.uncops.cases.allegation_recorded.v1"])
    specversion: str = Field(examples=["1.0"])
    subject: str = Field(description="The aggregate's id (the Kafka key)")
    time: datetime
    datacontenttype: str = Field(examples=["application/json"])
    dataschema: str = Field(description="The JSON Schema of data; its path is served by this gateway")
    data: dict[str, Any]


class EventPage(Page[CloudEventPublic]):
    """Events in feed order: each partition's in offset order (an aggregate's events in the order they
    happened), partitions merged by time."""

    next_cursor: str | None = Field(
        description="Never null: where to read on from, now or later (a page shorter than limit means the "
        "topic was read to its end for now)"
    )


def _offsets(topic: str, cursor: str | None, field: str) -> dict[int, int]:
    if not cursor:
        return {}
    try:
        return feed.decode_cursor(cursor, topic)
    except feed.BadCursor as exc:
        raise InvalidField(field, str(exc)) from None


async def _scoped(session: SessionDep, principal: Principal, topic: str) -> None:
    # Its own transaction, ended before Kafka is read: a stream must not hold a database connection.
    async with session.begin():
        readable = await service.readable_topics(session, principal.subject)
    service.check_topic(topic, readable)


@router.get(
    "",
    summary="Events of a topic from a cursor",
    openapi_extra={"responses": {"200": {"headers": LINK_HEADER}}},
)
async def list_events(
    topic: TopicQuery,
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, PARTNERS],
    after: AfterQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> EventPage:
    """Up to ``limit`` CloudEvents of the topic after the cursor (from the beginning of the topic without
    one), in feed order, and ``next_cursor`` to read on from. Read from the Kafka topic itself, which keeps
    the public topics' events indefinitely: a partner rebuilds its view by reading from the start. A
    restricted topic the partner was not granted is refused with 403."""
    await _scoped(session, principal, topic)
    field = "after" if after else "cursor"
    offsets = _offsets(topic, after or cursor, field)
    page, advanced = await service.read_feed(runtime.settings, topic, offsets, limit)
    next_cursor = feed.encode_cursor(topic, advanced)
    if len(page) == limit:
        response.headers["Link"] = next_link(request, next_cursor)
    items = [
        CloudEventPublic.model_validate(service.structured(p.event)) for p in page if p.event is not None
    ]
    return EventPage(items=items, next_cursor=next_cursor)


class EventStreamResponse(StreamingResponse):
    """Server-Sent Events (text/event-stream)."""

    media_type = "text/event-stream"


@router.get(
    "/stream",
    summary="Events of a topic as they happen (Server-Sent Events)",
    response_class=EventStreamResponse,
    responses={
        200: {
            "description": "An endless stream: each event's data is a CloudEvent in structured JSON, its id "
            "the cursor just after it; a comment every 15 s keeps the connection open",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def stream_events(
    topic: TopicQuery,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, PARTNERS],
    after: AfterQuery = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID", max_length=feed.MAX_CURSOR_LENGTH, description="Resume after this event"
        ),
    ] = None,
) -> EventStreamResponse:
    """Tails the topic live: from now on, or right after ``Last-Event-ID`` (sent by a reconnecting
    EventSource) or ``after`` (a cursor of the feed or of this stream). Every event's ``id:`` is a cursor,
    so a reconnect resumes exactly after the last event received."""
    await _scoped(session, principal, topic)
    resume = last_event_id or after
    offsets = _offsets(topic, resume, "Last-Event-ID" if last_event_id else "after") if resume else None
    events = service.stream_feed(runtime.settings, topic, offsets, request.is_disconnected)
    return EventStreamResponse(events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
