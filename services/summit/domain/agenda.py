"""Agenda rules in plain Python: session input, conflict detection and the release changelog.

Times are stored timezone-aware; the summit's days and the rooms' opening hours are read in the venue's
time zone (UN Headquarters, New York), whatever offset a planner sends.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from services.common.errors import Conflict, InvalidField
from services.summit.domain.plan import UN_LANGUAGES, VENUE_TIME_ZONE, SummitTime
from uncops_contracts.summit import ProgrammeChange

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
ParticipantId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class SessionKind(StrEnum):
    PLENARY = "plenary"
    THEMATIC = "thematic"
    SIDE_EVENT = "side_event"
    BILATERAL = "bilateral"


class ConflictKind(StrEnum):
    ROOM_DOUBLE_BOOKED = "room_double_booked"
    SPEAKER_DOUBLE_BOOKED = "speaker_double_booked"  # a speaker or a moderator, in two places at once
    OUTSIDE_SUMMIT_DATES = "outside_summit_dates"
    OUTSIDE_ROOM_HOURS = "outside_room_hours"
    OVER_CAPACITY = "over_capacity"
    # Only when releasing: a speaker whose delegation was declined or withdrawn after the session was planned.
    SPEAKER_NOT_REGISTERED = "speaker_not_registered"


class SessionInput(BaseModel):
    """A session as a planner writes it (POST creates, PUT replaces)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Opening plenary",
                    "theme": "Performance and accountability",
                    "kind": "plenary",
                    "starts_at": "2030-06-04T10:00:00-04:00",
                    "ends_at": "2030-06-04T12:00:00-04:00",
                    "room_id": "room-ga-hall",
                    "speakers": ["Secretary-General"],
                    "languages": ["en", "fr"],
                    "expected_attendance": 400,
                }
            ]
        },
    )

    title: Text
    theme: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = Field(
        None, examples=["Performance and accountability"]
    )
    kind: SessionKind
    starts_at: SummitTime
    ends_at: SummitTime
    room_id: str = Field(min_length=1, max_length=100)
    speakers: list[ParticipantId] = Field(default_factory=list, max_length=50)
    moderators: list[ParticipantId] = Field(default_factory=list, max_length=10)
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]] = Field(
        default_factory=list, max_length=6, description="Interpretation languages (ISO 639-1)"
    )
    expected_attendance: int | None = Field(None, ge=1, le=10_000)
    description: str | None = Field(None, max_length=4000)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise InvalidField("ends_at", f"{self.ends_at.isoformat()} is not after starts_at")
        for listed, people in (("speakers", self.speakers), ("moderators", self.moderators)):
            seen: set[str] = set()
            for position, person in enumerate(people):
                if person in seen:
                    raise InvalidField(f"{listed}.{position}", f"{person} is listed twice")
                seen.add(person)
        for position, person in enumerate(self.moderators):
            if person in self.speakers:
                raise InvalidField(f"moderators.{position}", f"{person} is already a speaker of this session")
        if len(set(self.languages)) != len(self.languages):
            raise InvalidField("languages", "a language is listed twice")
        return self


def check_languages(languages: Sequence[str], summit_languages: Sequence[str]) -> None:
    """A session is interpreted into the summit's working languages (the UN's six if none are set)."""
    allowed = list(summit_languages) or list(UN_LANGUAGES)
    for position, language in enumerate(languages):
        if language not in allowed:
            raise InvalidField(f"languages.{position}", f"{language} is not a working language ({allowed})")


def _venue_local(value: time) -> time:
    """Opening hours are the venue's local wall-clock time: an offset would name a different hour in summer
    and in winter, so a time with one is refused rather than guessed."""
    if value.tzinfo is not None:
        raise ValueError(
            f"give the venue's local time ({VENUE_TIME_ZONE.key}) without an offset, e.g. "
            f"{value.replace(tzinfo=None).isoformat(timespec='minutes')}"
        )
    return value


# A time of day at the venue, e.g. "08:00"; "14:04:15.2Z" (with an offset) is refused, naming the field.
# Declared as a pattern, not JSON Schema's format "time": that format is RFC 3339's full-time, whose offset
# is required, so "08:00:00" would not validate against it (found by schemathesis).
VenueTime = Annotated[
    time,
    AfterValidator(_venue_local),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            "description": f"A time of day at the venue ({VENUE_TIME_ZONE.key}), without an offset",
            "examples": ["08:00"],
        }
    ),
]


class RoomInput(BaseModel):
    """A room a planner adds for one summit (an annex, a hotel ballroom for a side event...)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Conference Room 4",
                    "building": "Conference Building",
                    "capacity": 300,
                    "capacity_confirmed": True,
                }
            ]
        },
    )

    name: Text
    building: str | None = Field(None, max_length=200)
    capacity: int = Field(ge=1, le=10_000)
    capacity_confirmed: bool = False
    opens_at: VenueTime = time(8, 0)
    closes_at: VenueTime = time(21, 0)

    @model_validator(mode="after")
    def _hours(self) -> Self:
        if self.closes_at <= self.opens_at:
            raise InvalidField("closes_at", f"{self.closes_at} is not after opens_at {self.opens_at}")
        return self


class RoomPatch(BaseModel):
    """The fields of a room to change; the others stay as they are (the result is checked as a whole)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"capacity": 280}]})

    name: Text | None = None
    building: str | None = Field(None, max_length=200)
    capacity: int | None = Field(None, ge=1, le=10_000)
    capacity_confirmed: bool | None = None
    opens_at: VenueTime | None = None
    closes_at: VenueTime | None = None


def patched_room(current: RoomInput, patch: RoomPatch) -> RoomInput:
    """The room with the patch's fields applied, validated again (closing after opening)."""
    changes = {name: value for name, value in patch.model_dump(exclude_unset=True).items()}
    for name in ("name", "capacity", "capacity_confirmed", "opens_at", "closes_at"):
        if name in changes and changes[name] is None:
            raise InvalidField(name, "cannot be null")
    return RoomInput.model_validate({**current.model_dump(), **changes})


class RoomInUse(Conflict):
    """409 naming the sessions placed in a room that is to be removed."""

    def __init__(self, room_id: str, sessions: Sequence[tuple[str, str]]) -> None:
        super().__init__(
            f"room {room_id} holds {len(sessions)} sessions of the draft: move or remove them first",
            state="in_use",
            allowed_actions=("update",),
        )
        self.sessions = list(sessions)

    def body(self) -> dict[str, object]:
        return {**super().body(), "sessions": [{"id": i, "title": t} for i, t in self.sessions]}


@dataclass(frozen=True, slots=True)
class RoomHours:
    """What the checker needs of a room."""

    id: str
    name: str
    capacity: int
    opens_at: time
    closes_at: time


@dataclass(frozen=True, slots=True)
class Slot:
    """A session as the conflict checker sees it."""

    id: str
    title: str
    room_id: str
    starts_at: datetime
    ends_at: datetime
    speakers: tuple[str, ...] = ()
    moderators: tuple[str, ...] = ()
    expected_attendance: int | None = None
    # POSIX seconds of the start and end: cheaper to compare than aware datetimes in another time zone.
    start: float = field(init=False, repr=False, compare=False)
    end: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", self.starts_at.timestamp())
        object.__setattr__(self, "end", self.ends_at.timestamp())

    @property
    def people(self) -> tuple[str, ...]:
        return self.speakers + self.moderators


@dataclass(frozen=True, slots=True)
class ScheduleConflictItem:
    """One reason a session cannot be placed.

    ``session_id``, ``title`` and the times name the session it clashes with (a double booking) or the
    checked session itself (outside the dates or hours, over capacity, speaker not registered).
    """

    kind: ConflictKind
    checked_session_id: str
    session_id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    detail: str
    room_id: str | None = None
    participant_id: str | None = None

    def sort_key(self) -> tuple[str, str, datetime, str, str]:
        return (
            self.checked_session_id,
            self.kind.value,
            self.starts_at,
            self.session_id,
            self.participant_id or "",
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "checked_session_id": self.checked_session_id,
            "session_id": self.session_id,
            "title": self.title,
            "room_id": self.room_id,
            "participant_id": self.participant_id,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "detail": self.detail,
        }


class ScheduleConflict(Conflict):
    """409 listing every conflict, so a planner fixes them all at once rather than one per attempt."""

    def __init__(self, detail: str, conflicts: Sequence[ScheduleConflictItem]) -> None:
        super().__init__(detail, state="draft", allowed_actions=())
        self.conflicts = list(conflicts)

    def body(self) -> dict[str, object]:
        return {**super().body(), "conflicts": [conflict.as_json() for conflict in self.conflicts]}


def summit_window(starts_on: date, ends_on: date) -> tuple[datetime, datetime]:
    """From midnight of the first day to midnight after the last, in the venue's time zone."""
    start = datetime.combine(starts_on, time(0), VENUE_TIME_ZONE)
    end = datetime.combine(ends_on + timedelta(days=1), time(0), VENUE_TIME_ZONE)
    return start, end


def own_conflicts(
    slot: Slot, room: RoomHours, window: tuple[datetime, datetime]
) -> list[ScheduleConflictItem]:
    """What is wrong with a session on its own: its dates, its room's hours, its room's size."""
    found: list[ScheduleConflictItem] = []

    def conflict(kind: ConflictKind, detail: str) -> None:
        found.append(
            ScheduleConflictItem(
                kind, slot.id, slot.id, slot.title, slot.starts_at, slot.ends_at, detail, room_id=room.id
            )
        )

    if slot.starts_at < window[0] or slot.ends_at > window[1]:
        first, last = window[0].date(), (window[1] - timedelta(days=1)).date()
        conflict(ConflictKind.OUTSIDE_SUMMIT_DATES, f"the summit runs from {first} to {last} (New York time)")
    local_start = slot.starts_at.astimezone(VENUE_TIME_ZONE)
    local_end = slot.ends_at.astimezone(VENUE_TIME_ZONE)
    # A room closes every night: a session running past midnight is outside its hours.
    same_day = local_end.date() == local_start.date()
    if not same_day or local_start.time() < room.opens_at or local_end.time() > room.closes_at:
        conflict(
            ConflictKind.OUTSIDE_ROOM_HOURS,
            f"{room.name} is open from {room.opens_at:%H:%M} to {room.closes_at:%H:%M} (New York time)",
        )
    if slot.expected_attendance is not None and slot.expected_attendance > room.capacity:
        conflict(
            ConflictKind.OVER_CAPACITY,
            f"{slot.expected_attendance} expected, {room.name} seats {room.capacity}",
        )
    return found


def _room_clash(slot: Slot, other: Slot) -> ScheduleConflictItem:
    return ScheduleConflictItem(
        ConflictKind.ROOM_DOUBLE_BOOKED,
        slot.id,
        other.id,
        other.title,
        other.starts_at,
        other.ends_at,
        f"the room is booked for '{other.title}' at the same time",
        room_id=other.room_id,
    )


def _person_clash(slot: Slot, other: Slot, person: str) -> ScheduleConflictItem:
    role = "moderates" if person in other.moderators else "speaks at"
    return ScheduleConflictItem(
        ConflictKind.SPEAKER_DOUBLE_BOOKED,
        slot.id,
        other.id,
        other.title,
        other.starts_at,
        other.ends_at,
        f"{person} {role} '{other.title}' at the same time",
        room_id=other.room_id,
        participant_id=person,
    )


class _Timeline:
    """The sessions of one room or one person, sorted by start (POSIX seconds, so comparisons are cheap).

    Any session overlapping [start, end) starts before ``end`` and after ``start - longest``: two bisections
    bound the candidates, whatever the sessions' own overlaps.
    """

    __slots__ = ("ends", "longest", "slots", "starts")

    def __init__(self, slots: Iterable[Slot]) -> None:
        ordered = sorted(slots, key=lambda slot: slot.start)
        self.slots = ordered
        self.starts = [slot.start for slot in ordered]
        self.ends = [slot.end for slot in ordered]
        self.longest = max((slot.end - slot.start for slot in ordered), default=0.0)

    def overlapping(self, start: float, end: float) -> Iterator[Slot]:
        low = bisect_right(self.starts, start - self.longest)
        high = bisect_left(self.starts, end)
        for position in range(low, high):
            if self.ends[position] > start:
                yield self.slots[position]


class AgendaIndex:
    """Per-room and per-person timelines of an agenda: a new session is checked in O(log n + clashes)."""

    def __init__(self, slots: Iterable[Slot]) -> None:
        by_room: dict[str, list[Slot]] = defaultdict(list)
        by_person: dict[str, list[Slot]] = defaultdict(list)
        for slot in slots:
            by_room[slot.room_id].append(slot)
            for person in slot.people:
                by_person[person].append(slot)
        self._rooms = {room: _Timeline(booked) for room, booked in by_room.items()}
        self._people = {person: _Timeline(booked) for person, booked in by_person.items()}

    def clashes(self, slot: Slot) -> list[ScheduleConflictItem]:
        start, end = slot.start, slot.end
        found: list[ScheduleConflictItem] = []
        room = self._rooms.get(slot.room_id)
        if room is not None:
            found.extend(
                _room_clash(slot, other) for other in room.overlapping(start, end) if other.id != slot.id
            )
        for person in slot.people:
            timeline = self._people.get(person)
            if timeline is not None:
                found.extend(
                    _person_clash(slot, other, person)
                    for other in timeline.overlapping(start, end)
                    if other.id != slot.id
                )
        return found


def check_session(
    index: AgendaIndex, slot: Slot, rooms: Mapping[str, RoomHours], window: tuple[datetime, datetime]
) -> list[ScheduleConflictItem]:
    """Every conflict of ``slot`` with the indexed agenda (which may contain an older version of it)."""
    found = own_conflicts(slot, rooms[slot.room_id], window) + index.clashes(slot)
    return sorted(found, key=ScheduleConflictItem.sort_key)


def check_session_brute_force(
    agenda: Sequence[Slot], slot: Slot, rooms: Mapping[str, RoomHours], window: tuple[datetime, datetime]
) -> list[ScheduleConflictItem]:
    """The same answer as :func:`check_session` by comparing with every session: the benchmark's baseline
    and the tests' oracle."""
    found = own_conflicts(slot, rooms[slot.room_id], window)
    for other in agenda:
        if other.id == slot.id or not (other.start < slot.end and slot.start < other.end):
            continue
        if other.room_id == slot.room_id:
            found.append(_room_clash(slot, other))
        found.extend(_person_clash(slot, other, person) for person in slot.people if person in other.people)
    return sorted(found, key=ScheduleConflictItem.sort_key)


def agenda_conflicts(
    agenda: Sequence[Slot], rooms: Mapping[str, RoomHours], window: tuple[datetime, datetime]
) -> list[ScheduleConflictItem]:
    """Every conflict in a whole agenda, each clash once (from the later-listed session's side), as the
    programme stands before a release: dates or room hours may have moved since a session was placed."""
    index = AgendaIndex(agenda)
    position = {slot.id: number for number, slot in enumerate(agenda)}
    found: list[ScheduleConflictItem] = []
    for number, slot in enumerate(agenda):
        found.extend(own_conflicts(slot, rooms[slot.room_id], window))
        found.extend(clash for clash in index.clashes(slot) if position[clash.session_id] < number)
    return sorted(found, key=ScheduleConflictItem.sort_key)


def agenda_conflicts_brute_force(
    agenda: Sequence[Slot], rooms: Mapping[str, RoomHours], window: tuple[datetime, datetime]
) -> list[ScheduleConflictItem]:
    found: list[ScheduleConflictItem] = []
    for number, slot in enumerate(agenda):
        found.extend(check_session_brute_force(agenda[:number], slot, rooms, window))
    return sorted(found, key=ScheduleConflictItem.sort_key)


def unregistered_speakers(agenda: Sequence[Slot], registered: set[str]) -> list[ScheduleConflictItem]:
    """Speakers and moderators who are no longer registered participants (their delegation withdrew...)."""
    return [
        ScheduleConflictItem(
            ConflictKind.SPEAKER_NOT_REGISTERED,
            slot.id,
            slot.id,
            slot.title,
            slot.starts_at,
            slot.ends_at,
            f"{person} is no longer a registered participant",
            room_id=slot.room_id,
            participant_id=person,
        )
        for slot in agenda
        for person in slot.people
        if person not in registered
    ]


# Release snapshots: what the published programme says of each session.


class ProgrammeRoom(BaseModel):
    id: str
    name: str
    building: str | None
    capacity: int
    capacity_basis: str


class ProgrammePerson(BaseModel):
    id: str
    full_name: str
    function: str
    organisation: str | None


class ProgrammeSession(BaseModel):
    id: str
    title: str
    theme: str | None
    kind: SessionKind
    starts_at: datetime
    ends_at: datetime
    room: ProgrammeRoom
    speakers: list[ProgrammePerson]
    moderators: list[ProgrammePerson]
    languages: list[str]
    expected_attendance: int | None
    description: str | None


class Programme(BaseModel):
    """The programme as published by a release (or the draft, for planners)."""

    summit_id: str
    summit_name: str
    venue: str
    time_zone: str = VENUE_TIME_ZONE.key
    release: int | None = Field(description="The release number; None for the unpublished draft")
    released_at: datetime | None
    sessions: list[ProgrammeSession]


def check_people(body: SessionInput, registered: set[str], summit_id: str) -> None:
    """Speakers and moderators are registered participants of the summit (``registered``: those who are)."""
    for role, people in (("speakers", body.speakers), ("moderators", body.moderators)):
        for position, person in enumerate(people):
            if person not in registered:
                raise InvalidField(
                    f"{role}.{position}", f"{person} is not a registered participant of {summit_id}"
                )


def candidate(session_id: str, body: SessionInput) -> Slot:
    """A session as a planner wrote it, as the conflict checker sees it."""
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


def ensure_changed(changes: Sequence[ProgrammeChange], last_release: int | None) -> None:
    """A release is a new version of the programme: one that changes nothing would only make noise."""
    if not changes:
        raise Conflict(
            f"nothing changed since release {last_release}"
            if last_release
            else "the programme has no sessions",
            state=f"release {last_release}" if last_release else "empty",
            allowed_actions=("add_session", "change_session", "remove_session"),
        )


def programme_changes(
    previous: Sequence[ProgrammeSession], current: Sequence[ProgrammeSession]
) -> list[ProgrammeChange]:
    """The changelog of a release against the last one: added and changed in the new programme's order,
    then removed in the old one's; a change names the fields that differ."""
    before = {session.id: session.model_dump(mode="json") for session in previous}
    now_ids = {session.id for session in current}
    changes: list[ProgrammeChange] = []
    for session in current:
        dumped = session.model_dump(mode="json")
        old = before.get(session.id)
        if old is None:
            changes.append(ProgrammeChange(session_id=session.id, change="added", title=session.title))
            continue
        fields = [name for name in dumped if name != "id" and dumped[name] != old.get(name)]
        if fields:
            changes.append(
                ProgrammeChange(session_id=session.id, change="changed", title=session.title, fields=fields)
            )
    changes.extend(
        ProgrammeChange(session_id=session.id, change="removed", title=session.title)
        for session in previous
        if session.id not in now_ids
    )
    return changes


def programme_order(sessions: Iterable[ProgrammeSession]) -> list[ProgrammeSession]:
    """The printed order: by start, then room, then title."""
    return sorted(sessions, key=lambda s: (s.starts_at, s.room.name, s.title, s.id))


class ReleaseInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "Speakers of the second day confirmed"}]}
    )

    note: str | None = Field(None, max_length=2000, examples=["Room changes after the Bureau's meeting"])
