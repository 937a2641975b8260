"""The agenda as a grid of rooms by time for one day: a table whose rows are time slots (row headers) and
whose columns are rooms (column headers), each session in its room's column spanning the slots it covers.
Pure: it lays out what the summit API answered, in the venue's time zone, and decides nothing about
conflicts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

# The summit API's venue (UN Headquarters): sessions are placed, and read, in New York time.
VENUE_TIME_ZONE = ZoneInfo("America/New_York")
SLOT_MINUTES = 30
# The day shown at least, so an empty day still reads as a day; sessions outside it widen it.
DAY_STARTS, DAY_ENDS = time(9, 0), time(18, 0)


@dataclass(frozen=True)
class PlacedSession:
    id: str
    title: str
    kind: str
    room_id: str
    starts_at: datetime  # in the venue's time zone
    ends_at: datetime
    speakers: tuple[str, ...] = ()
    moderators: tuple[str, ...] = ()
    version: int = 1


@dataclass
class Cell:
    """The sessions of one room starting in a slot (more than one only if they overlap), over ``rows``."""

    sessions: list[PlacedSession]
    rows: int


@dataclass
class Row:
    starts_at: time
    # Per room, in column order: a Cell that starts here, None for a free slot; a room whose cell started in
    # an earlier row is left out (the table's rowspan covers it).
    cells: list[tuple[str, Cell | None]] = field(default_factory=list)


@dataclass(frozen=True)
class Grid:
    day: date
    rooms: tuple[tuple[str, str], ...]  # (id, name), the columns
    rows: tuple[Row, ...]
    sessions: int


def placed(session: Mapping[str, Any]) -> PlacedSession:
    """A session of the summit API's answer, its times in the venue's time zone."""
    return PlacedSession(
        id=str(session["id"]),
        title=str(session["title"]),
        kind=str(session["kind"]),
        room_id=str(session["room_id"]),
        starts_at=_venue(session["starts_at"]),
        ends_at=_venue(session["ends_at"]),
        speakers=tuple(session.get("speakers") or ()),
        moderators=tuple(session.get("moderators") or ()),
        version=int(session.get("version", 1)),
    )


def _venue(value: str | datetime) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(VENUE_TIME_ZONE)


def days(starts_on: date, ends_on: date) -> list[date]:
    """The summit's days, first to last."""
    return [starts_on + timedelta(days=n) for n in range((ends_on - starts_on).days + 1)]


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _slot_of(minutes: int) -> int:
    return minutes // SLOT_MINUTES


def grid(
    day: date,
    sessions: Iterable[PlacedSession],
    rooms: Sequence[tuple[str, str]],
) -> Grid:
    """The day's grid. Columns: ``rooms`` in their order that hold a session that day, then rooms named by
    a session but unknown to ``rooms`` (by id). Rows: ``SLOT_MINUTES`` slots from 09:00 to 18:00, widened to
    the day's earliest start and latest end. A session running past midnight is cut at the day's end."""
    todays = sorted(
        (s for s in sessions if s.starts_at.date() == day), key=lambda s: (s.starts_at, s.ends_at, s.id)
    )
    used = {s.room_id for s in todays}
    names = dict(rooms)
    columns = [(room_id, name) for room_id, name in rooms if room_id in used]
    columns += sorted((room_id, room_id) for room_id in used if room_id not in names)

    def span(session: PlacedSession) -> tuple[int, int]:
        start = _minutes(session.starts_at.time())
        end = 24 * 60 if session.ends_at.date() > day else _minutes(session.ends_at.time())
        return start, max(end, start + 1)

    first = min([_minutes(DAY_STARTS), *(span(s)[0] for s in todays)])
    last = max([_minutes(DAY_ENDS), *(span(s)[1] for s in todays)])
    first_slot, last_slot = _slot_of(first), _slot_of(last - 1)

    # Per room, blocks of overlapping sessions: each block is one cell from its first slot to its last.
    starts: dict[tuple[str, int], Cell] = {}
    covered: set[tuple[str, int]] = set()
    for room_id, _ in columns:
        block: list[PlacedSession] = []
        block_end = -1
        for session in (s for s in todays if s.room_id == room_id):
            start, end = span(session)
            if block and start < block_end:
                block.append(session)
                block_end = max(block_end, end)
                continue
            if block:
                _place(room_id, block, block_end, starts, covered, span)
            block, block_end = [session], end
        if block:
            _place(room_id, block, block_end, starts, covered, span)

    rows = []
    for slot in range(first_slot, last_slot + 1):
        minutes = slot * SLOT_MINUTES
        row = Row(time(minutes // 60, minutes % 60))
        for room_id, _ in columns:
            if (room_id, slot) in starts:
                row.cells.append((room_id, starts[(room_id, slot)]))
            elif (room_id, slot) not in covered:
                row.cells.append((room_id, None))
        rows.append(row)
    return Grid(day, tuple(columns), tuple(rows), len(todays))


def _place(
    room_id: str,
    block: list[PlacedSession],
    block_end: int,
    starts: dict[tuple[str, int], Cell],
    covered: set[tuple[str, int]],
    span: Any,
) -> None:
    first = _slot_of(span(block[0])[0])
    last = _slot_of(block_end - 1)
    starts[(room_id, first)] = Cell(list(block), last - first + 1)
    covered.update((room_id, slot) for slot in range(first + 1, last + 1))


def venue_local(value: str) -> str:
    """A browser's date-and-time field (no zone) read as New York time, as ISO 8601 with the offset of that
    day (summer or winter time); a value that already has a zone, or is not a date, is left as it is."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if moment.tzinfo is not None:
        return value
    return moment.replace(tzinfo=VENUE_TIME_ZONE).isoformat()


def field_value(value: str | datetime) -> str:
    """A time for a date-and-time field: New York wall-clock time, to the minute."""
    return _venue(value).strftime("%Y-%m-%dT%H:%M")


@lru_cache(maxsize=4096)
def venue_time(value: str | datetime | time, locale: str) -> str:
    """A time of day at the venue as the language writes it. Kept: a grid of 300 sessions names the same few
    dozen times over and over, and Babel's formatting is most of the page's own time without it."""
    if isinstance(value, time):
        return format_time(value, format="short", locale=locale)
    return format_time(_venue(value).timetz(), format="short", locale=locale)


def long_day(value: date, locale: str) -> str:
    """A summit day in full: Tuesday 4 June 2030, mardi 4 juin 2030."""
    return format_date(value, format="full", locale=locale)


def programme_days(sessions: Iterable[Mapping[str, Any]]) -> list[tuple[date, list[Mapping[str, Any]]]]:
    """A programme's sessions (the summit API's programme.json) by day at the venue, in time order."""
    by_day: dict[date, list[Mapping[str, Any]]] = {}
    for session in sorted(sessions, key=lambda s: (_venue(s["starts_at"]), str(s["title"]))):
        by_day.setdefault(_venue(session["starts_at"]).date(), []).append(session)
    return sorted(by_day.items())
