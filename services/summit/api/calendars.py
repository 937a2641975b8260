"""Routes of calendar feeds: a person makes, lists and revokes their secret feed URLs (with their bearer
token); a calendar application polls ``/calendars/{token}.ics`` with none (the token is the credential).
The rules are in domain/calendars.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.app import Route, SessionDep
from services.common.auth import Principal, Role
from services.common.errors import NotFound
from services.common.idempotency import not_replayed
from services.common.media import CalendarResponse
from services.common.paging import PAGED, Page, PageDep
from services.summit import queries, service
from services.summit.api.access import READERS
from services.summit.domain.agenda import Programme, ProgrammeSession
from services.summit.domain.calendars import (
    DeadlineEntry,
    MilestoneEntry,
    feed_etag,
    feed_ics,
    token_digest,
    unchanged,
)
from services.summit.models import CalendarFeedRow

router = APIRouter(prefix="/calendars", tags=["calendars"], route_class=Route)


class CalendarFeedInput(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"label": "My phone"}]})

    label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = Field(
        None, description="A name the person knows the feed by (the calendar it is in)"
    )


class CalendarFeedPublic(BaseModel):
    id: str
    label: str | None
    role: str = Field(description="What the feed shows follows this role (and member_state)")
    member_state: str | None
    created_at: datetime
    revoked_at: datetime | None
    token: str | None = Field(
        None, description="The feed's secret, in the answer that made it only: just its SHA-256 is kept"
    )
    path: str | None = Field(
        None, description="/calendars/{token}.ics, to poll without a bearer header (with the token only)"
    )


class CalendarFeedPage(Page[CalendarFeedPublic]):
    """One page of the caller's feeds, the newest first; ``next_cursor`` fetches the next."""


def _public(row: CalendarFeedRow, token: str | None = None) -> CalendarFeedPublic:
    public = CalendarFeedPublic.model_validate(row, from_attributes=True)
    if token is not None:
        public.token, public.path = token, f"/calendars/{token}.ics"
    return public


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Make a calendar feed for the caller (its token shown once)",
    response_model=CalendarFeedPublic,
    responses={
        200: {
            "model": CalendarFeedPublic,
            "description": "A retry with the same Idempotency-Key: the same feed, with a new token",
        }
    },
)
@not_replayed  # the feed keeps its key; a retry re-issues the token rather than storing it (service.py)
async def create_feed(
    body: CalendarFeedInput,
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200, pattern=r"^[!-~]+$")] = None,
) -> JSONResponse:
    """A secret feed URL for the caller: the published programmes, with the milestones for a planner and its
    delegation's registration deadline for a focal point. The token is in this answer only."""
    row, token, retried = await service.create_feed(session, principal, body.label, idempotency_key)
    created = _public(row, token)
    headers = {"Location": f"/calendars/{row.id}", "Cache-Control": "no-store"}
    if retried:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(
        created.model_dump(mode="json"),
        status_code=status.HTTP_200_OK if retried else status.HTTP_201_CREATED,
        headers=headers,
    )


@router.get("", summary="The caller's calendar feeds (never their tokens)", openapi_extra=PAGED)
async def list_feeds(
    session: SessionDep, principal: Annotated[Principal, READERS], page: PageDep
) -> CalendarFeedPage:
    """The caller's feeds, the newest first, the revoked ones with when, a page at a time."""
    rows, next_cursor = await queries.feeds_of(session, principal.subject, page)
    return page.answer(CalendarFeedPage, [_public(row) for row in rows], next_cursor)


Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get(
    "/{token}.ics",
    summary="A calendar feed, polled without a bearer header (the token is the credential)",
    response_class=CalendarResponse,
    responses={
        304: {"description": "Nothing new since the ETag given in If-None-Match"},
        404: {"description": "No such feed, or it was revoked"},
    },
    openapi_extra={"security": []},
)
async def calendar_feed(
    token: Token,
    session: SessionDep,
    if_none_match: Annotated[str | None, Header(description="The ETag of the feed you hold")] = None,
) -> Response:
    """The feed's calendar as the person it was made for may see it, read afresh at each poll; its ``ETag``
    comes from version stamps alone, so a poll with a current ``If-None-Match`` is 304 at the cost of one
    small query."""
    row = await queries.live_feed(session, token_digest(token))
    if row is None:
        raise NotFound("no such calendar feed (it may have been revoked)")
    planner = row.role in (Role.PLANNER.value, Role.ADMIN.value)
    state = row.member_state if row.role == Role.STATE_FOCAL_POINT.value else None
    etag = feed_etag(row.id, await queries.feed_stamps(session, planner, state))
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if unchanged(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    programmes = [
        Programme(
            summit_id=summit.id,
            summit_name=summit.name,
            venue=summit.venue,
            release=release.number,
            released_at=release.released_at,
            sessions=[ProgrammeSession.model_validate(entry) for entry in release.sessions],
        )
        for summit, release in await queries.latest_releases(session)
    ]
    milestones = (
        [
            MilestoneEntry(m.id, m.summit_id, name, m.title, m.due_at, m.status)
            for m, name in await queries.all_milestones(session)
        ]
        if planner
        else []
    )
    deadlines = (
        [
            DeadlineEntry(d.id, d.summit_id, name, d.member_state, d.registration_deadline)
            for d, name in await queries.deadlines_of(session, state)
        ]
        if state
        else []
    )
    name = f"UNCOPS: {row.label}" if row.label else "UNCOPS summits"
    body = feed_ics(name, programmes, milestones, deadlines)
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


@router.get("/{feed_id}", summary="One of the caller's calendar feeds (never its token)")
async def get_feed(
    feed_id: Annotated[str, Path(max_length=100)],
    session: SessionDep,
    principal: Annotated[Principal, READERS],
) -> CalendarFeedPublic:
    """One of the caller's feeds; another person's is 404."""
    return _public(await queries.feed_or_404(session, principal.subject, feed_id))


@router.delete(
    "/{feed_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke one of the caller's calendar feeds: its URL answers 404 from then on",
)
async def revoke_feed(
    feed_id: Annotated[str, Path(max_length=100)],
    session: SessionDep,
    principal: Annotated[Principal, READERS],
) -> None:
    """Revokes the feed (again: nothing more happens); another person's feed is 404."""
    await service.revoke_feed(session, principal.subject, feed_id)
