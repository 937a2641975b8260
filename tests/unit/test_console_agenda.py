"""The agenda grid (services/console/domain/agenda.py): rooms as columns, time slots as rows, each session
spanning its slots in its room; times read and shown in New York time; the programme by day;
the PDF footer.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any, cast

import pytest

from services.console.domain.agenda import (
    VENUE_TIME_ZONE,
    PlacedSession,
    days,
    field_value,
    grid,
    placed,
    programme_days,
    venue_local,
)
from services.console.domain.person import Person
from services.console.domain.printing import footer_css
from services.console.gateway import Answer, Apis
from services.console.service import agenda as agenda_service

DAY = date(2030, 6, 4)
ROOMS = [("ga", "General Assembly Hall"), ("cr4", "Conference Room 4"), ("tc", "Trusteeship Council")]


def session(sid: str, room: str, start: str, end: str, day: date = DAY) -> PlacedSession:
    def at(clock: str) -> datetime:
        return datetime.combine(day, time.fromisoformat(clock), VENUE_TIME_ZONE)

    return PlacedSession(sid, f"Session {sid}", "plenary", room, at(start), at(end))


def test_rooms_with_a_session_that_day_are_the_columns_in_their_order() -> None:
    laid = grid(DAY, [session("b", "tc", "10:00", "11:00"), session("a", "ga", "09:00", "10:00")], ROOMS)
    assert laid.rooms == (("ga", "General Assembly Hall"), ("tc", "Trusteeship Council"))
    assert laid.sessions == 2


def test_a_session_spans_its_slots_and_the_rows_it_covers_leave_its_room_out() -> None:
    laid = grid(DAY, [session("a", "ga", "10:00", "11:30")], ROOMS)
    by_time = {row.starts_at: dict(row.cells) for row in laid.rows}
    cell = by_time[time(10, 0)]["ga"]
    assert cell is not None and cell.rows == 3 and [s.id for s in cell.sessions] == ["a"]
    assert "ga" not in by_time[time(10, 30)] and "ga" not in by_time[time(11, 0)]
    assert by_time[time(11, 30)]["ga"] is None  # free again


def test_the_day_runs_from_nine_to_six_widened_to_its_sessions() -> None:
    plain = grid(DAY, [], ROOMS)
    assert plain.rows[0].starts_at == time(9, 0) and plain.rows[-1].starts_at == time(17, 30)
    early = grid(DAY, [session("a", "ga", "07:15", "08:00"), session("b", "ga", "19:00", "20:10")], ROOMS)
    assert early.rows[0].starts_at == time(7, 0) and early.rows[-1].starts_at == time(20, 0)


def test_overlapping_sessions_of_one_room_share_one_cell() -> None:
    laid = grid(DAY, [session("a", "cr4", "10:00", "11:00"), session("b", "cr4", "10:30", "12:00")], ROOMS)
    cells = [cell for row in laid.rows for room, cell in row.cells if room == "cr4" and cell]
    assert len(cells) == 1 and [s.id for s in cells[0].sessions] == ["a", "b"] and cells[0].rows == 4


def test_every_row_has_one_cell_per_room_not_covered() -> None:
    sessions = [
        session(str(n), ROOMS[n % 3][0], f"{9 + n % 8:02d}:00", f"{10 + n % 8:02d}:30") for n in range(9)
    ]
    laid = grid(DAY, sessions, ROOMS)
    covered = sum(cell.rows for row in laid.rows for _, cell in row.cells if cell)
    free = sum(1 for row in laid.rows for _, cell in row.cells if cell is None)
    assert covered + free == len(laid.rows) * len(laid.rooms)


def test_only_the_days_sessions_are_laid_out() -> None:
    other = session("x", "ga", "10:00", "11:00", day=date(2030, 6, 5))
    assert grid(DAY, [other], ROOMS).sessions == 0


def test_the_api_answer_is_read_in_new_york_time() -> None:
    found = placed(
        {
            "id": "s1",
            "title": "Opening",
            "kind": "plenary",
            "room_id": "ga",
            "starts_at": "2030-06-04T14:00:00Z",
            "ends_at": "2030-06-04T15:00:00+00:00",
            "speakers": ["p1"],
            "version": 3,
        }
    )
    assert found.starts_at.hour == 10 and found.speakers == ("p1",) and found.version == 3
    assert field_value("2030-06-04T14:00:00Z") == "2030-06-04T10:00"


def test_a_browser_time_is_new_york_time_with_the_offset_of_that_day() -> None:
    assert venue_local("2030-06-04T10:00") == "2030-06-04T10:00:00-04:00"  # summer
    assert venue_local("2030-01-15T10:00") == "2030-01-15T10:00:00-05:00"  # winter
    assert venue_local("2030-06-04T10:00:00+02:00") == "2030-06-04T10:00:00+02:00"
    assert venue_local("soon") == "soon"


def test_the_summit_days() -> None:
    assert days(date(2030, 6, 3), date(2030, 6, 4)) == [date(2030, 6, 3), date(2030, 6, 4)]


def test_the_programme_by_day_in_time_order() -> None:
    sessions = [
        {"title": "B", "starts_at": "2030-06-05T09:00:00-04:00"},
        {"title": "A", "starts_at": "2030-06-04T15:00:00-04:00"},
        {"title": "C", "starts_at": "2030-06-04T09:00:00-04:00"},
    ]
    grouped = programme_days(sessions)
    assert [(day, [s["title"] for s in listed]) for day, listed in grouped] == [
        (date(2030, 6, 4), ["C", "A"]),
        (date(2030, 6, 5), ["B"]),
    ]


def test_the_pdf_footer_numbers_pages_in_the_language_and_escapes_quotes() -> None:
    assert footer_css("Page %(page)s sur %(pages)s") == (
        '@page { @bottom-center { content: "Page " counter(page) " sur " counter(pages) ""; } }'
    )
    assert '\\"' in footer_css('"%(page)s"')


class CountingApis:
    """The summit API's rooms and participants lists, counting the calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def call(self, person: Person, service: str, method: str, path: str, **_: Any) -> Answer:
        self.calls.append(path)
        return Answer(200, {"items": [{"id": path}], "next_cursor": None}, {})


async def test_the_rooms_and_participants_serve_the_persons_next_pages_for_a_few_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    person = Person(role="planner", subject=f"planner-{uuid.uuid4()}", token="t", expires_at=2**40)
    apis = CountingApis()
    clock = [1000.0]
    monkeypatch.setattr(agenda_service, "clock", lambda: clock[0])
    first = await agenda_service._directory(cast(Apis, apis), person, "UNCOPS-X")
    again = await agenda_service._directory(cast(Apis, apis), person, "UNCOPS-X")
    assert first == again and len(apis.calls) == 2  # rooms and participants, once
    other = Person(role="planner", subject=f"planner-{uuid.uuid4()}", token="u", expires_at=2**40)
    await agenda_service._directory(cast(Apis, apis), other, "UNCOPS-X")
    assert len(apis.calls) == 4  # another person reads with their own token
    clock[0] += agenda_service.DIRECTORY_SECONDS + 0.1
    await agenda_service._directory(cast(Apis, apis), person, "UNCOPS-X")
    assert len(apis.calls) == 6  # stale: read afresh
