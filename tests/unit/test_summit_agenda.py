"""Agenda rules (services/summit/domain/agenda.py) and exports (domain/programme.py), without I/O."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import icalendar
import pytest

from services.common.errors import InvalidField
from services.summit.domain.agenda import (
    AgendaIndex,
    ConflictKind,
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
    agenda_conflicts_brute_force,
    check_languages,
    check_session,
    check_session_brute_force,
    programme_changes,
    summit_window,
    unregistered_speakers,
)
from services.summit.domain.plan import VENUE_TIME_ZONE
from services.summit.domain.programme import to_html, to_ics, to_json

WINDOW = summit_window(date(2030, 6, 3), date(2030, 6, 4))
ROOMS = {
    "hall": RoomHours("hall", "General Assembly Hall", 1800, time(8), time(21)),
    "cr4": RoomHours("cr4", "Conference Room 4", 600, time(8), time(21)),
    "cr9": RoomHours("cr9", "Conference Room 9", 70, time(9), time(18)),
}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time on June ``day`` 2030 in New York."""
    return datetime(2030, 6, day, hour, minute, tzinfo=VENUE_TIME_ZONE)


def slot(
    id: str,
    room: str,
    start: datetime,
    end: datetime,
    speakers: tuple[str, ...] = (),
    moderators: tuple[str, ...] = (),
    attendance: int | None = None,
) -> Slot:
    return Slot(id, f"Session {id}", room, start, end, speakers, moderators, attendance)


def kinds(conflicts: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(conflict.kind.value, conflict.session_id) for conflict in conflicts]


AGENDA = [
    slot("opening", "hall", at(3, 10), at(3, 11, 30), speakers=("sg", "chief-gha"), moderators=("usg",)),
    slot("accountability", "cr4", at(3, 15), at(3, 18), speakers=("chief-chn",), moderators=("usg",)),
]


def check(candidate: Slot, agenda: list[Slot] = AGENDA) -> list:  # type: ignore[type-arg]
    return check_session(AgendaIndex(agenda), candidate, ROOMS, WINDOW)


def test_a_session_that_fits_has_no_conflict() -> None:
    # Starts the moment the opening ends, in the same room, with the same moderator: no overlap.
    assert check(slot("new", "hall", at(3, 11, 30), at(3, 13), moderators=("usg",), attendance=900)) == []


def test_the_same_room_twice_at_once() -> None:
    found = check(slot("new", "hall", at(3, 11), at(3, 12)))
    assert kinds(found) == [("room_double_booked", "opening")]
    assert found[0].room_id == "hall" and found[0].checked_session_id == "new"
    assert "Session opening" in found[0].detail


@pytest.mark.parametrize(("person", "role"), [("chief-gha", "speaks at"), ("usg", "moderates")])
def test_the_same_speaker_or_moderator_twice_at_once(person: str, role: str) -> None:
    found = check(slot("new", "cr9", at(3, 11), at(3, 12), speakers=(person,)))
    assert kinds(found) == [("speaker_double_booked", "opening")]
    assert found[0].participant_id == person and role in found[0].detail


def test_outside_the_summit_dates_in_new_york_time() -> None:
    # 23:30 UTC on the last day is 19:30 in New York: inside. The day before the summit is not.
    late = datetime(2030, 6, 4, 23, 30, tzinfo=UTC)
    assert check(slot("late", "cr4", late - timedelta(hours=1), late)) == []
    found = check(slot("early", "cr4", at(2, 10), at(2, 11)))
    assert kinds(found) == [("outside_summit_dates", "early")]
    assert "2030-06-03 to 2030-06-04" in found[0].detail


@pytest.mark.parametrize(
    ("start", "end"),
    [(at(3, 8, 30), at(3, 10)), (at(3, 17), at(3, 18, 30)), (at(3, 17), at(4, 10))],
    ids=["before opening", "after closing", "overnight"],
)
def test_outside_the_room_hours(start: datetime, end: datetime) -> None:
    found = check(slot("new", "cr9", start, end))
    assert ("outside_room_hours", "new") in kinds(found)
    assert "09:00 to 18:00" in found[0].detail


def test_expected_attendance_over_capacity() -> None:
    found = check(slot("new", "cr9", at(4, 10), at(4, 11), attendance=71))
    assert kinds(found) == [("over_capacity", "new")]
    assert found[0].detail == "71 expected, Conference Room 9 seats 70"
    assert check(slot("new", "cr9", at(4, 10), at(4, 11), attendance=70)) == []


def test_every_conflict_is_listed_at_once() -> None:
    candidate = slot(
        "new",
        "hall",
        at(3, 10, 30),
        at(3, 16),
        speakers=("chief-gha", "chief-chn"),
        moderators=("usg",),
        attendance=2000,
    )
    assert sorted(kinds(check(candidate))) == [
        ("over_capacity", "new"),
        ("room_double_booked", "opening"),
        ("speaker_double_booked", "accountability"),
        ("speaker_double_booked", "accountability"),
        ("speaker_double_booked", "opening"),
        ("speaker_double_booked", "opening"),
    ]


def test_a_session_does_not_clash_with_its_own_older_version() -> None:
    moved = slot(
        "opening", "hall", at(3, 10, 30), at(3, 12), speakers=("sg", "chief-gha"), moderators=("usg",)
    )
    assert check(moved) == []


def test_a_whole_agenda_lists_each_clash_once() -> None:
    agenda = [*AGENDA, slot("side", "hall", at(3, 11), at(3, 12), speakers=("sg",))]
    found = agenda_conflicts(agenda, ROOMS, WINDOW)
    assert [(c.kind.value, c.checked_session_id, c.session_id) for c in found] == [
        ("room_double_booked", "side", "opening"),
        ("speaker_double_booked", "side", "opening"),
    ]


def test_speakers_no_longer_registered_are_named() -> None:
    found = unregistered_speakers(AGENDA, registered={"sg", "chief-gha", "usg"})
    assert [(c.kind, c.session_id, c.participant_id) for c in found] == [
        (ConflictKind.SPEAKER_NOT_REGISTERED, "accountability", "chief-chn")
    ]


def test_the_409_lists_each_conflict() -> None:
    error = ScheduleConflict("conflicts", check(slot("new", "hall", at(3, 11), at(3, 12), attendance=5000)))
    body = error.body()
    assert error.status_code == 409
    assert [c["kind"] for c in body["conflicts"]] == ["over_capacity", "room_double_booked"]  # type: ignore[attr-defined]
    assert body["conflicts"][1] == {  # type: ignore[index]
        "kind": "room_double_booked",
        "checked_session_id": "new",
        "session_id": "opening",
        "title": "Session opening",
        "room_id": "hall",
        "participant_id": None,
        "starts_at": "2030-06-03T10:00:00-04:00",
        "ends_at": "2030-06-03T11:30:00-04:00",
        "detail": "the room is booked for 'Session opening' at the same time",
    }


def _random_agenda(rng: random.Random, sessions: int) -> list[Slot]:
    people = [f"p{n}" for n in range(40)]
    agenda = []
    for number in range(sessions):
        day = rng.choice((2, 3, 4, 5))  # some outside the summit
        start = at(day, rng.randrange(7, 21), rng.choice((0, 15, 30, 45)))
        end = start + timedelta(minutes=rng.choice((30, 60, 90, 180, 600)))
        chosen = rng.sample(people, rng.randrange(0, 5))
        split = rng.randrange(0, len(chosen) + 1)
        agenda.append(
            slot(
                f"s{number}",
                rng.choice(list(ROOMS)),
                start,
                end,
                tuple(chosen[:split]),
                tuple(chosen[split:]),
                rng.choice((None, 50, 100, 700, 2000)),
            )
        )
    return agenda


@pytest.mark.parametrize("seed", range(20))
def test_the_index_finds_what_brute_force_finds(seed: int) -> None:
    rng = random.Random(seed)
    agenda = _random_agenda(rng, 120)
    index = AgendaIndex(agenda)
    found_any = 0
    for candidate in _random_agenda(rng, 40) + agenda[:10]:
        efficient = check_session(index, candidate, ROOMS, WINDOW)
        assert efficient == check_session_brute_force(agenda, candidate, ROOMS, WINDOW)
        found_any += len(efficient)
    assert found_any > 0  # the random agendas do clash, so the comparison means something
    assert agenda_conflicts(agenda, ROOMS, WINDOW) == agenda_conflicts_brute_force(agenda, ROOMS, WINDOW)


def _input(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "title": "Opening plenary",
        "kind": "plenary",
        "starts_at": "2030-06-03T10:00:00-04:00",
        "ends_at": "2030-06-03T11:00:00-04:00",
        "room_id": "hall",
        "speakers": ["a", "b"],
        "moderators": ["c"],
        "languages": ["en", "fr"],
    }
    return {**body, **changes}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_at": "2030-06-03T09:00:00-04:00"}, "ends_at"),
        ({"ends_at": "2030-06-03T10:00:00-04:00"}, "ends_at"),
        ({"speakers": ["a", "a"]}, "speakers.1"),
        ({"moderators": ["b"]}, "moderators.0"),
        ({"languages": ["en", "en"]}, "languages"),
    ],
)
def test_bad_session_input_names_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        SessionInput.model_validate(_input(**changes))
    assert caught.value.field == field


def test_session_languages_are_the_summit_working_languages() -> None:
    check_languages(["en", "zh"], [])  # the UN's six when the summit names none
    check_languages(["en"], ["en", "fr"])
    with pytest.raises(InvalidField) as caught:
        check_languages(["en", "zh"], ["en", "fr"])
    assert caught.value.field == "languages.1"


def test_a_room_closes_after_it_opens() -> None:
    with pytest.raises(InvalidField) as caught:
        RoomInput.model_validate({"name": "Annex", "capacity": 40, "opens_at": "18:00", "closes_at": "09:00"})
    assert caught.value.field == "closes_at"


def _programme_session(
    id: str, title: str, start: datetime, room: str = "Conference Room 4"
) -> ProgrammeSession:
    return ProgrammeSession(
        id=id,
        title=title,
        theme="Performance and accountability",
        kind=SessionKind.THEMATIC,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        room=ProgrammeRoom(id=room, name=room, building=None, capacity=600, capacity_basis="illustrative"),
        speakers=[
            ProgrammePerson(
                id="a1b2", full_name="Amina <Diallo>", function="Chief of Police", organisation=None
            )
        ],
        moderators=[],
        languages=["en", "fr"],
        expected_attendance=None,
        description=None,
    )


def test_the_changelog_names_added_changed_and_removed_sessions() -> None:
    first = [_programme_session("a", "Opening", at(3, 10)), _programme_session("b", "Side event", at(3, 13))]
    second = [
        _programme_session("a", "Opening plenary", at(3, 10, 30)),
        _programme_session("c", "Bilateral", at(3, 16)),
    ]
    changes = programme_changes(first, second)
    assert [(c.session_id, c.change, c.title, c.fields) for c in changes] == [
        ("a", "changed", "Opening plenary", ["title", "starts_at", "ends_at"]),
        ("c", "added", "Bilateral", []),
        ("b", "removed", "Side event", []),
    ]
    assert programme_changes(second, second) == []
    moved = [_programme_session("a", "Opening plenary", at(3, 10, 30), room="Conference Room 1"), second[1]]
    assert [c.fields for c in programme_changes(second, moved)] == [["room"]]


def _programme(sessions: list[ProgrammeSession]) -> Programme:
    return Programme(
        summit_id="UNCOPS-III",
        summit_name="UNCOPS III",
        venue="United Nations Headquarters, New York",
        release=2,
        released_at=datetime(2030, 5, 1, tzinfo=UTC),
        sessions=sessions,
    )


def test_the_ics_parses_back_one_event_per_session() -> None:
    programme = _programme(
        [_programme_session("b", "Second", at(4, 10)), _programme_session("a", "First", at(3, 15))]
    )
    calendar = icalendar.Calendar.from_ical(to_ics(programme))
    events = calendar.events
    assert [str(event["SUMMARY"]) for event in events] == ["First", "Second"]
    first = events[0]
    assert first["UID"] == "a@UNCOPS-III.uncops.un.org"
    assert str(first["LOCATION"]) == "Conference Room 4, United Nations Headquarters, New York"
    assert first.decoded("DTSTART") == at(3, 15) and first["DTSTART"].params["TZID"] == "America/New_York"
    assert first["SEQUENCE"] == 2
    [attendee] = first.attendees
    assert attendee.params["CN"] == "Amina <Diallo>" and attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert "Speakers: Amina <Diallo> (Chief of Police)" in str(first["DESCRIPTION"])
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]


def test_the_html_page_escapes_everything_and_has_no_script() -> None:
    page = to_html(_programme([_programme_session("a", "<script>alert(1)</script>", at(3, 15))]))
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "Amina &lt;Diallo&gt;" in page
    assert "@media print" in page and "Monday 03 June 2030" in page and "15:00&ndash;16:00" in page


def test_the_json_gives_new_york_times_in_order() -> None:
    document = to_json(
        _programme(
            [_programme_session("b", "Second", at(4, 10)), _programme_session("a", "First", at(3, 15))]
        )
    )
    sessions = document["sessions"]
    assert [s["id"] for s in sessions] == ["a", "b"]  # type: ignore[attr-defined]
    assert sessions[0]["starts_at"] == "2030-06-03T15:00:00-04:00"  # type: ignore[index]
    assert document["release"] == 2 and document["time_zone"] == "America/New_York"
