"""Routes of the agenda: rooms, and the draft programme's sessions with their conflict checks.

The rules are in domain/agenda.py; placing, replacing and removing a session are use cases of service.py,
serialised per summit so two planners cannot both pass the conflict check.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from services.common.app import IfMatch, Route, SessionDep, expected_version
from services.common.auth import Principal
from services.common.idempotency import not_replayed
from services.common.paging import PAGED, Page, PageDep
from services.common.problems import Problem
from services.summit import queries, service
from services.summit.api.access import PLANNERS, READERS, etag
from services.summit.domain.agenda import (
    ConflictKind,
    RoomInput,
    RoomPatch,
    SessionInput,
    SessionKind,
    VenueTime,
)
from services.summit.models import AgendaSessionRow, SessionPersonRow

router = APIRouter(prefix="/summits", tags=["agenda"], route_class=Route)


class RoomPublic(BaseModel):
    id: str
    summit_id: str | None = Field(description="None for UN Headquarters' own rooms, offered to every summit")
    name: str
    building: str | None
    capacity: int
    capacity_basis: str = Field(description="confirmed, or illustrative until the venue confirms it")
    opens_at: VenueTime
    closes_at: VenueTime
    source: str | None
    version: int


class SessionPublic(BaseModel):
    id: str
    summit_id: str
    title: str
    theme: str | None
    kind: SessionKind
    starts_at: datetime
    ends_at: datetime
    room_id: str
    speakers: list[str]
    moderators: list[str]
    languages: list[str]
    expected_attendance: int | None
    description: str | None
    updated_by: str
    updated_at: datetime
    version: int


class ScheduleConflictPublic(BaseModel):
    """One reason a session cannot be placed: the session it clashes with (a double booking), or the checked
    session itself (outside the dates or hours, over capacity)."""

    kind: ConflictKind
    checked_session_id: str
    session_id: str
    title: str
    room_id: str | None
    participant_id: str | None
    starts_at: datetime
    ends_at: datetime
    detail: str


class ScheduleProblem(Problem):
    """A refused session: every conflict in ``conflicts``, so a planner fixes them all at once (a reused
    Idempotency-Key or another refusal answers the same problem without them)."""

    conflicts: list[ScheduleConflictPublic] | None = Field(None, description="Every clash found")


# Declared on the routes that check the schedule, so a generated client reads the conflicts typed.
SCHEDULE_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ScheduleProblem, "description": "The session clashes: see conflicts"}
}


def _public(row: AgendaSessionRow, people: Sequence[SessionPersonRow]) -> SessionPublic:
    return SessionPublic(
        id=row.id,
        summit_id=row.summit_id,
        title=row.title,
        theme=row.theme,
        kind=SessionKind(row.kind),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        room_id=row.room_id,
        speakers=list(queries.speakers(people)),
        moderators=list(queries.moderators(people)),
        languages=row.languages,
        expected_attendance=row.expected_attendance,
        description=row.description,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        version=row.version,
    )


class RoomPage(Page[RoomPublic]):
    """One page of rooms (Headquarters' own first, each by name); ``next_cursor`` fetches the next."""


class SessionPage(Page[SessionPublic]):
    """One page of the draft's sessions, by start time; ``next_cursor`` fetches the next (null: no more)."""


@router.get(
    "/{summit_id}/rooms",
    summary="Rooms: UN Headquarters' own and those added for this summit",
    openapi_extra=PAGED,
)
async def list_rooms(
    summit_id: str, session: SessionDep, _: Annotated[Principal, READERS], page: PageDep
) -> RoomPage:
    """The rooms sessions may use: UN Headquarters' own, then those added for this summit, each by name, a
    page at a time."""
    await queries.summit_or_404(session, summit_id)
    rooms, next_cursor = await queries.rooms_page(session, summit_id, page)
    return page.answer(
        RoomPage, [RoomPublic.model_validate(r, from_attributes=True) for r in rooms], next_cursor
    )


@router.post("/{summit_id}/rooms", status_code=status.HTTP_201_CREATED, summary="Add a room for this summit")
async def create_room(
    summit_id: str,
    body: RoomInput,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, PLANNERS],
) -> RoomPublic:
    """A room added for this summit, with its capacity; ``Location`` names it."""
    room = await service.add_room(session, summit_id, body)
    response.headers["Location"] = f"/summits/{summit_id}/rooms/{room.id}"
    etag(response, room.version)
    return RoomPublic.model_validate(room, from_attributes=True)


@router.get("/{summit_id}/rooms/{room_id}", summary="One room (ETag: its version)")
async def get_room(
    summit_id: str, room_id: str, session: SessionDep, response: Response, _: Annotated[Principal, READERS]
) -> RoomPublic:
    """One room; its ``ETag`` is its version."""
    room = await queries.room_or_404(session, summit_id, room_id)
    etag(response, room.version)
    return RoomPublic.model_validate(room, from_attributes=True)


@router.patch(
    "/{summit_id}/rooms/{room_id}",
    summary="Change a room added for this summit (If-Match: its version); audited",
)
async def patch_room(
    summit_id: str,
    room_id: str,
    body: RoomPatch,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
    if_match: IfMatch = None,
) -> RoomPublic:
    """UN Headquarters' own rooms are shared by every summit and answer 409. Sessions already placed stay
    where they are; hours or a capacity that no longer fit them are conflicts at the next release."""
    room = await service.change_room(
        session, summit_id, room_id, body, expected_version(if_match), principal.subject
    )
    etag(response, room.version)
    return RoomPublic.model_validate(room, from_attributes=True)


@router.delete(
    "/{summit_id}/rooms/{room_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a room added for this summit; 409 naming the sessions placed in it",
)
async def delete_room(
    summit_id: str,
    room_id: str,
    session: SessionDep,
    principal: Annotated[Principal, PLANNERS],
    if_match: IfMatch = None,
) -> None:
    """Removes a room added for this summit that no session uses; the removal is audited and evented."""
    await service.remove_room(session, summit_id, room_id, expected_version(if_match), principal.subject)


@router.get("/{summit_id}/sessions", summary="The draft programme's sessions (planners)", openapi_extra=PAGED)
async def list_sessions(
    summit_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS], page: PageDep
) -> SessionPage:
    """The sessions of the draft programme, by start time, a page at a time."""
    await queries.summit_or_404(session, summit_id)
    rows, people, next_cursor = await queries.draft_page(session, summit_id, page)
    return page.answer(SessionPage, [_public(row, people[row.id]) for row in rows], next_cursor)


@router.post(
    "/{summit_id}/sessions",
    status_code=status.HTTP_201_CREATED,
    summary="Place a session; 409 lists every conflict (double bookings, dates, hours, capacity)",
    responses=SCHEDULE_CONFLICT,
)
async def create_session(
    summit_id: str,
    body: SessionInput,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
) -> SessionPublic:
    """A session of the draft programme: its time, room and people. A clash of room or speaker answers 409
    naming the conflicts."""
    row, people = await service.place_session(session, summit_id, body, principal.subject)
    response.headers["Location"] = f"/summits/{summit_id}/sessions/{row.id}"
    etag(response, row.version)
    return _public(row, people)


class SessionCheck(BaseModel):
    """What placing (or moving) the session would meet: every conflict, none when it can be saved."""

    conflicts: list[ScheduleConflictPublic]


@router.post(
    "/{summit_id}/sessions/check",
    summary="Check a session against the draft without saving it: every conflict it would meet",
)
@not_replayed  # it saves nothing, so a retry simply checks again
async def check_session(
    summit_id: str,
    body: SessionInput,
    session: SessionDep,
    _: Annotated[Principal, PLANNERS],
    session_id: Annotated[
        str | None,
        Query(max_length=100, description="The session being moved (its own place is no clash)"),
    ] = None,
) -> SessionCheck:
    """The conflicts ``POST`` (or ``PUT`` of ``session_id``) would answer 409 with, as a list; nothing is
    stored. Bad input is still 422 naming the field (an unknown room, a speaker who is not registered)."""
    conflicts = await service.check_placement(session, summit_id, body, session_id)
    return SessionCheck(conflicts=[ScheduleConflictPublic.model_validate(c.as_json()) for c in conflicts])


@router.get("/{summit_id}/sessions/{session_id}", summary="One session of the draft (planners)")
async def get_session(
    summit_id: str,
    session_id: str,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, PLANNERS],
) -> SessionPublic:
    """One session of the draft programme, with its people."""
    row = await queries.agenda_session_or_404(session, summit_id, session_id)
    people = await queries.session_people(session, session_id)
    etag(response, row.version)
    return _public(row, people)


@router.put(
    "/{summit_id}/sessions/{session_id}",
    summary="Replace a session (If-Match: its version); 409 lists every conflict",
    responses=SCHEDULE_CONFLICT,
)
async def replace_session(
    summit_id: str,
    session_id: str,
    body: SessionInput,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
    if_match: IfMatch = None,
) -> SessionPublic:
    """Replaces a session of the draft programme; a clash of room or speaker answers 409 naming the
    conflicts."""
    row, people = await service.replace_session(
        session, summit_id, session_id, body, principal.subject, expected_version(if_match)
    )
    etag(response, row.version)
    return _public(row, people)


@router.delete(
    "/{summit_id}/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a session from the draft (If-Match: its version)",
)
async def delete_session(
    summit_id: str,
    session_id: str,
    session: SessionDep,
    _: Annotated[Principal, PLANNERS],
    if_match: IfMatch = None,
) -> None:
    """Removes a session from the draft programme; published releases keep it."""
    await service.remove_session(session, summit_id, session_id, expected_version(if_match))
