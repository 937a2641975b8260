"""The planners' agenda: the draft's sessions laid out as a grid, a session placed or moved through a form
laid out from the summit API's ``SessionInput``, and every conflict the API finds, asked for before saving
(``POST …/sessions/check``) and answered again by a refused save (409). The API decides every conflict."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from services.console.domain.agenda import Grid, days, field_value, grid, placed, venue_local
from services.console.domain.forms import FilledForm, StepForm, read_form, step_form, with_choices
from services.console.domain.person import Person
from services.console.gateway import Answer, Apis, Refused

PAGE = 500  # the summit API's largest page: 300 sessions come in one call
PEOPLE_FIELDS = ("speakers", "moderators")
TIME_FIELDS = ("starts_at", "ends_at")


async def _all(apis: Apis, person: Person, path: str) -> list[dict[str, Any]]:
    """Every item of a paged list, a page of ``PAGE`` at a time."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        answer = await apis.call(person, "summit", "GET", path, params={"limit": PAGE, "cursor": cursor})
        items += answer.body["items"]
        cursor = answer.body.get("next_cursor")
        if not cursor:
            return items


async def summit(apis: Apis, person: Person, summit_id: str) -> dict[str, Any]:
    answer = await apis.call(person, "summit", "GET", f"/summits/{summit_id}")
    found: dict[str, Any] = answer.body
    return found


@dataclass
class Agenda:
    summit: dict[str, Any]
    rooms: dict[str, dict[str, Any]]  # by id
    people: dict[str, str]  # participant id -> name
    sessions: list[dict[str, Any]]
    days: list[date] = field(default_factory=list)

    def grid(self, day: date) -> Grid:
        order = [(room_id, str(room["name"])) for room_id, room in self.rooms.items()]
        return grid(day, (placed(s) for s in self.sessions), order)

    def session(self, session_id: str) -> dict[str, Any] | None:
        return next((s for s in self.sessions if s["id"] == session_id), None)


# Who may speak and where, as the person last read them: a summit's rooms and its participants (1,600 when 160
# delegations of ten have registered: four pages of the API) change far more seldom than a planner turns the
# agenda's days or saves a session, so each person's copy serves their next pages for a few seconds. A new
# registrant is offered as a speaker at most DIRECTORY_SECONDS later; sessions are always read afresh.
DIRECTORY_SECONDS = 15.0
DIRECTORY_ENTRIES = 256
clock = time.monotonic  # tests move it on
_directories: dict[tuple[str, str], tuple[float, list[dict[str, Any]], list[dict[str, Any]]]] = {}


async def _directory(
    apis: Apis, person: Person, summit_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    key = (person.subject, summit_id)
    now = clock()
    kept = _directories.get(key)
    if kept is not None and kept[0] > now:
        return kept[1], kept[2]
    rooms, people = await asyncio.gather(
        _all(apis, person, f"/summits/{summit_id}/rooms"),
        _all(apis, person, f"/summits/{summit_id}/participants"),
    )
    _directories.pop(key, None)
    while len(_directories) >= DIRECTORY_ENTRIES:
        _directories.pop(next(iter(_directories)))  # the oldest: dicts keep insertion order
    _directories[key] = (now + DIRECTORY_SECONDS, rooms, people)
    return rooms, people


async def agenda(apis: Apis, person: Person, summit_id: str) -> Agenda:
    """The summit, its rooms, its participants and the draft's sessions, asked for at once (the rooms and the
    participants from the person's copy while it is fresh)."""
    found, (rooms, people), sessions = await asyncio.gather(
        summit(apis, person, summit_id),
        _directory(apis, person, summit_id),
        _all(apis, person, f"/summits/{summit_id}/sessions"),
    )
    return Agenda(
        summit=found,
        rooms={str(room["id"]): room for room in rooms},
        people={str(p["id"]): f"{p['full_name']} ({p['function']})" for p in people},
        sessions=sessions,
        days=days(date.fromisoformat(found["starts_on"]), date.fromisoformat(found["ends_on"])),
    )


async def session_form(apis: Apis, found: Agenda) -> StepForm:
    """The session's form from the summit API's ``SessionInput``, its room and people chosen by name."""
    document = await apis.document("summit")
    schemas = document["components"]["schemas"]
    form = step_form("session", schemas["SessionInput"], schemas)
    rooms = {
        room_id: f"{room['name']} ({room['capacity']})"
        for room_id, room in sorted(found.rooms.items(), key=lambda item: str(item[1]["name"]))
    }
    form = with_choices(form, "room_id", rooms)
    people = dict(sorted(found.people.items(), key=lambda item: item[1]))
    for name in PEOPLE_FIELDS:
        # Chosen among the registered participants (several at once: see templates/session_form.html).
        form = with_choices(form, name, people)
    return StepForm(
        form.action,
        tuple(replace(spec, required=False) if spec.name in PEOPLE_FIELDS else spec for spec in form.fields),
    )


def values_of(session: dict[str, Any]) -> dict[str, Any]:
    """A session of the API as the form's values (times as New York wall-clock time)."""
    values: dict[str, Any] = {}
    for name, value in session.items():
        if name in TIME_FIELDS:
            values[name] = field_value(value)
        elif isinstance(value, list):
            values[name] = value if name in PEOPLE_FIELDS else "\n".join(str(v) for v in value)
        elif value is not None:
            values[name] = str(value)
    return values


def read_session(form: StepForm, values: dict[str, Any]) -> FilledForm:
    """The ``SessionInput`` body of the form: times read as New York time, people as lists of ids."""
    text = {
        name: "\n".join(value) if isinstance(value, list) else str(value) for name, value in values.items()
    }
    for name in TIME_FIELDS:
        if name in text:
            text[name] = venue_local(text[name])
    people = {name: text.pop(name, "") for name in PEOPLE_FIELDS}
    filled = read_form(
        StepForm(form.action, tuple(f for f in form.fields if f.name not in PEOPLE_FIELDS)), text
    )
    filled.body.pop("action", None)
    for name, chosen in people.items():
        filled.body[name] = [line for line in chosen.splitlines() if line.strip()]
    return filled


async def check(
    apis: Apis, person: Person, summit_id: str, body: dict[str, Any], session_id: str | None
) -> list[dict[str, Any]]:
    """What saving would meet, nothing saved: the summit API's conflicts (none: it can be saved)."""
    answer = await apis.call(
        person,
        "summit",
        "POST",
        f"/summits/{summit_id}/sessions/check",
        params={"session_id": session_id},
        json=body,
    )
    return list(answer.body["conflicts"])


async def save(
    apis: Apis,
    person: Person,
    summit_id: str,
    body: dict[str, Any],
    session_id: str | None,
    version: str,
    key: str,
) -> Answer:
    """Places the session (or replaces it, If-Match its version) under the form's Idempotency-Key. A clash
    is refused (409) with every conflict in the problem's ``conflicts``, and nothing is saved."""
    headers = {"Idempotency-Key": key}
    if session_id is None:
        return await apis.call(
            person, "summit", "POST", f"/summits/{summit_id}/sessions", json=body, headers=headers
        )
    headers["If-Match"] = f'"{version}"'
    return await apis.call(
        person, "summit", "PUT", f"/summits/{summit_id}/sessions/{session_id}", json=body, headers=headers
    )


def conflicts_of(refused: Refused) -> list[dict[str, Any]]:
    return [c for c in refused.problem.get("conflicts") or () if isinstance(c, dict)]
