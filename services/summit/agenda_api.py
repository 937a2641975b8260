"""Routes of the agenda: rooms, sessions with conflict checks, programme releases and exports.

Thin: the rules are in services/summit/agenda.py, the formats in services/summit/exports.py. Writes to one
summit's agenda are serialised by a transaction-scoped advisory lock, so two planners placing sessions at
once cannot both pass the conflict check.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, delete, select

from services.common.app import IfMatch, Route, SessionDep, expected_version
from services.common.auth import Principal, Role
from services.common.errors import Conflict, InvalidField, NotFound
from services.common.observability import current_traceparent
from services.common.outbox import record_event
from services.summit.agenda import (
    AgendaIndex,
    Programme,
    ProgrammePerson,
    ProgrammeRoom,
    ProgrammeSession,
    RoomHours,
    RoomInput,
    ScheduleConflict,
    SessionInput,
    SessionKind,
    Slot,
    agenda_conflicts,
    check_languages,
    check_session,
    programme_changes,
    programme_order,
    summit_window,
    unregistered_speakers,
)
from services.summit.delegations import HOLDING
from services.summit.exports import to_html, to_ics, to_json
from services.summit.models import (
    AgendaSession,
    Delegation,
    Participant,
    ProgrammeRelease,
    Room,
    SessionPerson,
    Summit,
)
from services.summit.store import PLANNERS, READERS, summit_or_404
from uncops_contracts.summit import ProgrammeChange, ProgrammeReleased

router = APIRouter(tags=["agenda"], route_class=Route)


class RoomPublic(BaseModel):
    id: str
    summit_id: str | None = Field(description="None for UN Headquarters' own rooms, offered to every summit")
    name: str
    building: str | None
    capacity: int
    capacity_basis: str = Field(description="confirmed, or illustrative until the venue confirms it")
    opens_at: time
    closes_at: time
    source: str | None


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


class ReleaseInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000, examples=["Room changes after the Bureau's meeting"])


class ReleasePublic(BaseModel):
    summit_id: str
    number: int
    released_at: datetime
    released_by: str
    note: str | None
    sessions: int
    changes: list[ProgrammeChange]


async def _lock_agenda(session: AsyncSession, summit_id: str) -> None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"agenda:{summit_id}"}
    )


async def _rooms(session: AsyncSession, summit_id: str) -> list[Room]:
    query = (
        select(Room)
        .where(or_(col(Room.summit_id).is_(None), col(Room.summit_id) == summit_id))
        .order_by(col(Room.summit_id).nulls_first(), col(Room.name))
    )
    return list((await session.execute(query)).scalars())


def _room_hours(room: Room) -> RoomHours:
    return RoomHours(room.id, room.name, room.capacity, room.opens_at, room.closes_at)


async def _registered(session: AsyncSession, summit_id: str, people: Sequence[str]) -> set[str]:
    """Which of ``people`` are registered participants of the summit: guests, or members of a delegation
    holding places (not invited only, waitlisted, declined, withdrawn or expired)."""
    if not people:
        return set()
    query = (
        select(Participant.id)
        .outerjoin(Delegation, col(Delegation.id) == col(Participant.delegation_id))
        .where(col(Participant.summit_id) == summit_id, col(Participant.id).in_(list(people)))
        .where(
            or_(
                col(Participant.delegation_id).is_(None),
                col(Delegation.status).in_([status.value for status in HOLDING]),
            )
        )
    )
    return set((await session.execute(query)).scalars())


async def _validated(session: AsyncSession, summit: Summit, body: SessionInput) -> Room:
    """The checks that make input bad (422) rather than conflicting (409); returns the session's room."""
    check_languages(body.languages, summit.languages)
    room = await session.get(Room, body.room_id)
    if room is None or room.summit_id not in (None, summit.id):
        raise InvalidField("room_id", f"no room {body.room_id} at summit {summit.id}")
    registered = await _registered(session, summit.id, [*body.speakers, *body.moderators])
    for field, people in (("speakers", body.speakers), ("moderators", body.moderators)):
        for position, person in enumerate(people):
            if person not in registered:
                raise InvalidField(
                    f"{field}.{position}", f"{person} is not a registered participant of {summit.id}"
                )
    return room


async def _draft(
    session: AsyncSession, summit_id: str, during: tuple[datetime, datetime] | None = None
) -> tuple[list[AgendaSession], dict[str, list[SessionPerson]]]:
    """The draft's sessions (only those overlapping ``during`` if given) and their speakers and moderators."""
    query = select(AgendaSession).where(col(AgendaSession.summit_id) == summit_id)
    if during is not None:
        query = query.where(col(AgendaSession.starts_at) < during[1], col(AgendaSession.ends_at) > during[0])
    sessions = list((await session.execute(query.order_by(col(AgendaSession.starts_at)))).scalars())
    people: dict[str, list[SessionPerson]] = defaultdict(list)
    if sessions:
        rows = await session.execute(
            select(SessionPerson)
            .where(col(SessionPerson.session_id).in_([row.id for row in sessions]))
            .order_by(col(SessionPerson.position))
        )
        for person in rows.scalars():
            people[person.session_id].append(person)
    return sessions, people


def _names(people: Sequence[SessionPerson], role: str) -> tuple[str, ...]:
    return tuple(person.participant_id for person in people if person.role == role)


def _slot(row: AgendaSession, people: Sequence[SessionPerson]) -> Slot:
    return Slot(
        id=row.id,
        title=row.title,
        room_id=row.room_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        speakers=_names(people, "speaker"),
        moderators=_names(people, "moderator"),
        expected_attendance=row.expected_attendance,
    )


def _public(row: AgendaSession, people: Sequence[SessionPerson]) -> SessionPublic:
    return SessionPublic(
        id=row.id,
        summit_id=row.summit_id,
        title=row.title,
        theme=row.theme,
        kind=SessionKind(row.kind),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        room_id=row.room_id,
        speakers=list(_names(people, "speaker")),
        moderators=list(_names(people, "moderator")),
        languages=row.languages,
        expected_attendance=row.expected_attendance,
        description=row.description,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        version=row.version,
    )


async def _refuse_conflicts(session: AsyncSession, summit: Summit, room: Room, candidate: Slot) -> None:
    # PostgreSQL narrows the agenda to the sessions overlapping the candidate (by agenda_session_time); the
    # index then finds the double bookings among those few.
    rows, people = await _draft(session, summit.id, (candidate.starts_at, candidate.ends_at))
    index = AgendaIndex(_slot(row, people[row.id]) for row in rows)
    rooms = {room.id: _room_hours(room)}
    conflicts = check_session(index, candidate, rooms, summit_window(summit.starts_on, summit.ends_on))
    if conflicts:
        raise ScheduleConflict(
            f"'{candidate.title}' conflicts with the programme ({len(conflicts)})", conflicts
        )


def _store(session: AsyncSession, row: AgendaSession, body: SessionInput) -> list[SessionPerson]:
    people = [
        SessionPerson(session_id=row.id, participant_id=person, role=role, position=position)
        for role, listed in (("speaker", body.speakers), ("moderator", body.moderators))
        for position, person in enumerate(listed)
    ]
    session.add(row)
    session.add_all(people)
    return people


def _candidate(session_id: str, body: SessionInput) -> Slot:
    return Slot(
        id=session_id,
        title=body.title,
        room_id=body.room_id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        speakers=tuple(body.speakers),
        moderators=tuple(body.moderators),
        expected_attendance=body.expected_attendance,
    )


@router.get("/{summit_id}/rooms", summary="Rooms: UN Headquarters' own and those added for this summit")
async def list_rooms(
    summit_id: str, session: SessionDep, _: Annotated[Principal, READERS]
) -> list[RoomPublic]:
    await summit_or_404(session, summit_id)
    return [
        RoomPublic.model_validate(room, from_attributes=True) for room in await _rooms(session, summit_id)
    ]


@router.post("/{summit_id}/rooms", status_code=status.HTTP_201_CREATED, summary="Add a room for this summit")
async def create_room(
    summit_id: str,
    body: RoomInput,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, PLANNERS],
) -> RoomPublic:
    await summit_or_404(session, summit_id)
    await _lock_agenda(session, summit_id)
    if any(room.name.casefold() == body.name.casefold() for room in await _rooms(session, summit_id)):
        raise Conflict(f"a room named {body.name} already exists for {summit_id}")
    room = Room(
        id=str(uuid.uuid4()),
        summit_id=summit_id,
        name=body.name,
        building=body.building,
        capacity=body.capacity,
        capacity_basis="confirmed" if body.capacity_confirmed else "illustrative",
        opens_at=body.opens_at,
        closes_at=body.closes_at,
        source="added by a planner",
    )
    session.add(room)
    await session.commit()
    response.headers["Location"] = f"/summits/{summit_id}/rooms/{room.id}"
    return RoomPublic.model_validate(room, from_attributes=True)


@router.get("/{summit_id}/sessions", summary="The draft programme's sessions (planners)")
async def list_sessions(
    summit_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS]
) -> list[SessionPublic]:
    await summit_or_404(session, summit_id)
    rows, people = await _draft(session, summit_id)
    return [_public(row, people[row.id]) for row in rows]


@router.post(
    "/{summit_id}/sessions",
    status_code=status.HTTP_201_CREATED,
    summary="Place a session; 409 lists every conflict (double bookings, dates, hours, capacity)",
)
async def create_session(
    summit_id: str,
    body: SessionInput,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
) -> SessionPublic:
    summit = await summit_or_404(session, summit_id)
    room = await _validated(session, summit, body)
    await _lock_agenda(session, summit_id)
    session_id = str(uuid.uuid4())
    await _refuse_conflicts(session, summit, room, _candidate(session_id, body))
    row = AgendaSession(
        id=session_id,
        summit_id=summit_id,
        title=body.title,
        theme=body.theme,
        kind=body.kind.value,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        room_id=body.room_id,
        languages=body.languages,
        expected_attendance=body.expected_attendance,
        description=body.description,
        updated_by=principal.subject,
        updated_at=datetime.now(UTC),
    )
    people = _store(session, row, body)
    await session.commit()
    response.headers["Location"] = f"/summits/{summit_id}/sessions/{row.id}"
    response.headers["ETag"] = f'"{row.version}"'
    return _public(row, people)


async def _session_or_404(session: AsyncSession, summit_id: str, session_id: str) -> AgendaSession:
    row = await session.get(AgendaSession, session_id, with_for_update=True)
    if row is None or row.summit_id != summit_id:
        raise NotFound(f"no session {session_id} in summit {summit_id}")
    return row


def _check_version(row: AgendaSession, if_match: str | None) -> None:
    expected = expected_version(if_match)
    if expected is not None and expected != row.version:
        raise HTTPException(
            status.HTTP_412_PRECONDITION_FAILED, f"the session is at version {row.version}, not {expected}"
        )


@router.get("/{summit_id}/sessions/{session_id}", summary="One session of the draft (planners)")
async def get_session(
    summit_id: str,
    session_id: str,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, PLANNERS],
) -> SessionPublic:
    row = await session.get(AgendaSession, session_id)
    if row is None or row.summit_id != summit_id:
        raise NotFound(f"no session {session_id} in summit {summit_id}")
    people = (
        await session.execute(
            select(SessionPerson)
            .where(col(SessionPerson.session_id) == session_id)
            .order_by(col(SessionPerson.position))
        )
    ).scalars()
    response.headers["ETag"] = f'"{row.version}"'
    return _public(row, list(people))


@router.put(
    "/{summit_id}/sessions/{session_id}",
    summary="Replace a session (If-Match: its version); 409 lists every conflict",
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
    summit = await summit_or_404(session, summit_id)
    room = await _validated(session, summit, body)
    await _lock_agenda(session, summit_id)
    row = await _session_or_404(session, summit_id, session_id)
    _check_version(row, if_match)
    # The agenda still holds the session's old version: the checker skips a session's clash with itself.
    await _refuse_conflicts(session, summit, room, _candidate(session_id, body))
    await session.execute(delete(SessionPerson).where(col(SessionPerson.session_id) == session_id))
    row.title, row.theme, row.kind = body.title, body.theme, body.kind.value
    row.starts_at, row.ends_at, row.room_id = body.starts_at, body.ends_at, body.room_id
    row.languages, row.expected_attendance, row.description = (
        body.languages,
        body.expected_attendance,
        body.description,
    )
    row.updated_by, row.updated_at = principal.subject, datetime.now(UTC)
    row.version += 1
    people = _store(session, row, body)
    await session.commit()
    response.headers["ETag"] = f'"{row.version}"'
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
    await summit_or_404(session, summit_id)
    await _lock_agenda(session, summit_id)
    row = await _session_or_404(session, summit_id, session_id)
    _check_version(row, if_match)
    await session.delete(row)
    await session.commit()


async def _draft_programme(
    session: AsyncSession, summit: Summit
) -> tuple[list[ProgrammeSession], list[Slot], dict[str, Room]]:
    rows, people = await _draft(session, summit.id)
    rooms = {room.id: room for room in await _rooms(session, summit.id)}
    ids = {person.participant_id for listed in people.values() for person in listed}
    participants = (
        {
            participant.id: participant
            for participant in (
                await session.execute(select(Participant).where(col(Participant.id).in_(list(ids))))
            ).scalars()
        }
        if ids
        else {}
    )

    def persons(listed: Sequence[SessionPerson], role: str) -> list[ProgrammePerson]:
        return [
            ProgrammePerson(
                id=person.participant_id,
                full_name=participants[person.participant_id].full_name,
                function=participants[person.participant_id].function,
                organisation=participants[person.participant_id].organisation,
            )
            for person in listed
            if person.role == role
        ]

    sessions = [
        ProgrammeSession(
            id=row.id,
            title=row.title,
            theme=row.theme,
            kind=SessionKind(row.kind),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            room=ProgrammeRoom.model_validate(rooms[row.room_id], from_attributes=True),
            speakers=persons(people[row.id], "speaker"),
            moderators=persons(people[row.id], "moderator"),
            languages=row.languages,
            expected_attendance=row.expected_attendance,
            description=row.description,
        )
        for row in rows
    ]
    slots = [_slot(row, people[row.id]) for row in rows]
    return programme_order(sessions), slots, rooms


async def _last_release(
    session: AsyncSession, summit_id: str, number: int | None = None
) -> ProgrammeRelease | None:
    query = select(ProgrammeRelease).where(col(ProgrammeRelease.summit_id) == summit_id)
    if number is not None:
        query = query.where(col(ProgrammeRelease.number) == number)
    return (
        (await session.execute(query.order_by(col(ProgrammeRelease.number).desc()).limit(1)))
        .scalars()
        .first()
    )


def _release_public(release: ProgrammeRelease) -> ReleasePublic:
    return ReleasePublic(
        summit_id=release.summit_id,
        number=release.number,
        released_at=release.released_at,
        released_by=release.released_by,
        note=release.note,
        sessions=len(release.sessions),
        changes=[ProgrammeChange.model_validate(change) for change in release.changes],
    )


@router.post(
    "/{summit_id}/programme/releases",
    status_code=status.HTTP_201_CREATED,
    summary="Publish the draft as the next numbered release, with its changelog (409 if nothing changed)",
)
async def release_programme(
    summit_id: str,
    body: ReleaseInput,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
) -> ReleasePublic:
    summit = await summit_or_404(session, summit_id)
    await _lock_agenda(session, summit_id)
    current, slots, rooms = await _draft_programme(session, summit)
    # Dates, room hours or a delegation's status may have moved since each session was placed.
    window = summit_window(summit.starts_on, summit.ends_on)
    registered = await _registered(session, summit_id, sorted({p for slot in slots for p in slot.people}))
    conflicts = agenda_conflicts(slots, {key: _room_hours(room) for key, room in rooms.items()}, window)
    conflicts += unregistered_speakers(slots, registered)
    if conflicts:
        raise ScheduleConflict(
            f"the draft programme has {len(conflicts)} conflicts to resolve first", conflicts
        )
    last = await _last_release(session, summit_id)
    previous = [ProgrammeSession.model_validate(entry) for entry in last.sessions] if last else []
    changes = programme_changes(previous, current)
    # A release is a new version of the programme: one that changes nothing would only make noise.
    if not changes:
        raise Conflict(
            f"nothing changed since release {last.number}" if last else "the programme has no sessions",
            state=f"release {last.number}" if last else "empty",
            allowed_actions=("add_session", "change_session", "remove_session"),
        )
    release = ProgrammeRelease(
        summit_id=summit_id,
        number=(last.number if last else 0) + 1,
        released_at=datetime.now(UTC),
        released_by=principal.subject,
        note=body.note,
        sessions=[entry.model_dump(mode="json") for entry in current],
        changes=[change.model_dump(mode="json") for change in changes],
    )
    session.add(release)
    record_event(
        session,
        ProgrammeReleased(
            summit_id=summit_id,
            release=release.number,
            released_at=release.released_at,
            released_by=release.released_by,
            sessions=len(current),
            changes=changes,
            note=body.note,
        ),
        key=summit_id,
        traceparent=current_traceparent(),
    )
    await session.commit()
    response.headers["Location"] = f"/summits/{summit_id}/programme/releases/{release.number}"
    return _release_public(release)


@router.get("/{summit_id}/programme/releases", summary="The programme's releases, newest first")
async def list_releases(
    summit_id: str, session: SessionDep, _: Annotated[Principal, READERS]
) -> list[ReleasePublic]:
    await summit_or_404(session, summit_id)
    query = (
        select(ProgrammeRelease)
        .where(col(ProgrammeRelease.summit_id) == summit_id)
        .order_by(col(ProgrammeRelease.number).desc())
    )
    return [_release_public(release) for release in (await session.execute(query)).scalars()]


@router.get("/{summit_id}/programme/releases/{number}", summary="One release and its changelog")
async def get_release(
    summit_id: str, number: int, session: SessionDep, _: Annotated[Principal, READERS]
) -> ReleasePublic:
    release = await _last_release(session, summit_id, number)
    if release is None:
        raise NotFound(f"no release {number} of the programme of {summit_id}")
    return _release_public(release)


DraftQuery = Annotated[bool, Query(description="The unpublished draft instead of a release (planners)")]
ReleaseQuery = Annotated[int | None, Query(ge=1, description="A given release; the latest by default")]


# A release never changes, so each export of it is rendered once per process (the .ics of 300 sessions takes
# most of a second of CPU, and every State's calendar polls it); the exports print the summit's name and
# venue, so those are part of the key and of the ETag.
_RENDERED: OrderedDict[tuple[str, int, str, str], bytes] = OrderedDict()
_RENDERED_MAX = 32
_FORMATS: dict[str, tuple[str, Callable[[Programme], bytes]]] = {
    "json": ("application/json", lambda programme: orjson.dumps(to_json(programme))),
    "ics": ("text/calendar; charset=utf-8", to_ics),
    "html": ("text/html; charset=utf-8", lambda programme: to_html(programme).encode()),
}


async def _export(
    session: AsyncSession,
    summit_id: str,
    principal: Principal,
    draft: bool,
    number: int | None,
    if_none_match: str | None,
    extension: str,
) -> Response:
    summit = await summit_or_404(session, summit_id)
    media_type, render = _FORMATS[extension]
    headers = {"Cache-Control": "no-store"}
    if draft:
        if not principal.has(Role.PLANNER):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only planners read the unpublished draft")
        sessions, _, _ = await _draft_programme(session, summit)
        draft_programme = Programme(
            summit_id=summit.id,
            summit_name=summit.name,
            venue=summit.venue,
            release=None,
            released_at=None,
            sessions=sessions,
        )
        body, version = render(draft_programme), "draft"
    else:
        # The number first: the snapshot is read and rendered only when this process has not done it yet.
        query = select(ProgrammeRelease.number).where(col(ProgrammeRelease.summit_id) == summit_id)
        if number is not None:
            query = query.where(col(ProgrammeRelease.number) == number)
        found = (await session.execute(query.order_by(col(ProgrammeRelease.number).desc()).limit(1))).scalar()
        if found is None:
            raise NotFound(
                f"no release {number} of {summit_id}"
                if number
                else f"no programme of {summit_id} released yet"
            )
        digest = hashlib.sha256(f"{summit.name}\n{summit.venue}".encode()).hexdigest()[:12]
        headers = {"ETag": f'"release-{found}-{digest}"', "Cache-Control": "no-cache"}
        version = f"release-{found}"
        if if_none_match == headers["ETag"]:
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
        key = (summit_id, found, extension, digest)
        cached = _RENDERED.get(key)
        if cached is None:
            release = await _last_release(session, summit_id, found)
            if release is None:  # releases are never deleted; this is only for the type checker
                raise NotFound(f"no release {found} of {summit_id}")
            cached = _RENDERED[key] = render(
                Programme(
                    summit_id=summit.id,
                    summit_name=summit.name,
                    venue=summit.venue,
                    release=release.number,
                    released_at=release.released_at,
                    sessions=[ProgrammeSession.model_validate(entry) for entry in release.sessions],
                )
            )
            while len(_RENDERED) > _RENDERED_MAX:
                _RENDERED.popitem(last=False)
        else:
            _RENDERED.move_to_end(key)
        body = cached
    if extension == "html":
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    elif extension == "ics":
        headers["Content-Disposition"] = f'attachment; filename="{summit_id}-programme-{version}.ics"'
    return Response(body, media_type=media_type, headers=headers)


IfNoneMatch = Annotated[str | None, Header(description="The ETag of the release's export you already hold")]


@router.get("/{summit_id}/programme.json", summary="The published programme as JSON")
async def programme_json(
    summit_id: str,
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    draft: DraftQuery = False,
    release: ReleaseQuery = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    return await _export(session, summit_id, principal, draft, release, if_none_match, "json")


@router.get(
    "/{summit_id}/programme.ics", summary="The published programme as iCalendar, one event per session"
)
async def programme_ics(
    summit_id: str,
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    draft: DraftQuery = False,
    release: ReleaseQuery = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    return await _export(session, summit_id, principal, draft, release, if_none_match, "ics")


@router.get("/{summit_id}/programme.html", summary="The published programme as a printable page")
async def programme_html(
    summit_id: str,
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    draft: DraftQuery = False,
    release: ReleaseQuery = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    return await _export(session, summit_id, principal, draft, release, if_none_match, "html")
