"""Agenda benchmark, pure Python (no servers): conflict checking of a session added to a 300-session
agenda with the indexed checker against brute force over the same agenda in the same run, the whole-agenda
check a release runs, and the programme's exports (.ics, JSON, HTML) of 300 sessions.

    .venv/bin/python -m bench.summit_agenda [--sessions 300] [--candidates 2000] [--seed 2030] [--http]

With --http it also starts a stack of its own (ports 45732/49392/47533/48303, folder .run/bench-agenda),
places the same 300 sessions through the summit API, then times POST /summits/{id}/sessions of candidates
against that agenda (409 when they clash; a 201 is deleted again, untimed, so the agenda stays at 300) and
GET programme.ics?draft=true of the 300 sessions (rendered every time), then of a release of them (rendered
once, then served from the process's cache).

The agenda is realistic and conflict-free: three days at UN Headquarters in the 20 rooms of
services/summit/data/un_hq_rooms.csv, plenaries in the General Assembly Hall, thematic sessions in the large
rooms, side events and bilaterals in the small ones, 400 participants of whom each session has 1-5 speakers
and at most one moderator. Candidates are drawn the same way; the agenda being full, most clash with
something (the results say how many), which is when the checkers have the most to report.
Results go to bench/results/summit_agenda-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import os
import random
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from typing import Any

import httpx
import icalendar
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import REPO, dumps, machine, summary_ms
from deploy.stack import LocalStack, Ports
from services.common.auth import Role, issue_token
from services.common.database import create_engine
from services.common.settings import Settings
from services.summit.domain.agenda import (
    AgendaIndex,
    Programme,
    ProgrammePerson,
    ProgrammeRoom,
    ProgrammeSession,
    RoomHours,
    SessionKind,
    Slot,
    agenda_conflicts,
    agenda_conflicts_brute_force,
    check_session,
    check_session_brute_force,
    summit_window,
)
from services.summit.domain.plan import VENUE_TIME_ZONE
from services.summit.domain.programme import to_html, to_ics, to_json
from services.summit.models import ParticipantRow as Participant

ROOMS_CSV = REPO / "services" / "summit" / "data" / "un_hq_rooms.csv"
DAYS = (3, 4, 5)  # June 2030


def load_rooms() -> tuple[dict[str, RoomHours], dict[str, dict[str, str]]]:
    with ROOMS_CSV.open(encoding="utf-8", newline="") as rows:
        raw = {row["id"]: row for row in csv.DictReader(rows)}
    hours = {
        key: RoomHours(
            key,
            row["name"],
            int(row["capacity"]),
            time_of_day.fromisoformat(row["opens_at"]),
            time_of_day.fromisoformat(row["closes_at"]),
        )
        for key, row in raw.items()
    }
    return hours, raw


def draw_session(number: int, rng: random.Random, rooms: dict[str, RoomHours], people: list[str]) -> Slot:
    kind = rng.choices(list(SessionKind), weights=(1, 4, 8, 6))[0]
    by_size = sorted(rooms.values(), key=lambda room: room.capacity, reverse=True)
    if kind is SessionKind.PLENARY:
        room, minutes = by_size[0], rng.choice((90, 120, 180))
    elif kind is SessionKind.THEMATIC:
        room, minutes = rng.choice(by_size[1:6]), rng.choice((90, 120, 150))
    elif kind is SessionKind.SIDE_EVENT:
        room, minutes = rng.choice(by_size[4:]), rng.choice((60, 75, 90))
    else:
        room, minutes = rng.choice(by_size[-8:]), rng.choice((30, 45))
    opens = room.opens_at.hour * 60 + room.opens_at.minute
    closes = room.closes_at.hour * 60 + room.closes_at.minute
    start_minute = rng.randrange(max(opens, 8 * 60), min(closes, 19 * 60) - minutes + 1, 15)
    day = rng.choice(DAYS)
    start = datetime(2030, 6, day, tzinfo=VENUE_TIME_ZONE) + timedelta(minutes=start_minute)
    listed = rng.sample(people, rng.randrange(1, 6) + (kind is not SessionKind.BILATERAL))
    moderators = (listed.pop(),) if kind is not SessionKind.BILATERAL else ()
    return Slot(
        id=f"session-{number:04d}",
        title=f"{kind.value.replace('_', ' ').title()} {number}",
        room_id=room.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        speakers=tuple(listed),
        moderators=moderators,
        expected_attendance=rng.randrange(room.capacity // 3, room.capacity + 1),
    )


def build_agenda(
    size: int,
    rng: random.Random,
    rooms: dict[str, RoomHours],
    people: list[str],
    window: tuple[datetime, datetime],
) -> list[Slot]:
    """Draws sessions and keeps those that fit, as a planner would, until the agenda holds ``size``."""
    agenda: list[Slot] = []
    drawn = 0
    while len(agenda) < size:
        candidate = draw_session(drawn, rng, rooms, people)
        drawn += 1
        if not check_session_brute_force(agenda, candidate, rooms, window):
            agenda.append(candidate)
        if drawn > size * 200:
            raise RuntimeError(f"could not place {size} sessions without conflicts")
    return agenda


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def programme_of(agenda: list[Slot], raw_rooms: dict[str, dict[str, str]]) -> Programme:
    def person(key: str) -> ProgrammePerson:
        return ProgrammePerson(
            id=key, full_name=f"Participant {key}", function="Chief of Police", organisation="National Police"
        )

    sessions = [
        ProgrammeSession(
            id=slot.id,
            title=slot.title,
            theme="Performance and accountability",
            kind=SessionKind.THEMATIC,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            room=ProgrammeRoom(
                id=slot.room_id,
                name=raw_rooms[slot.room_id]["name"],
                building=raw_rooms[slot.room_id]["building"],
                capacity=int(raw_rooms[slot.room_id]["capacity"]),
                capacity_basis=raw_rooms[slot.room_id]["capacity_basis"],
            ),
            speakers=[person(key) for key in slot.speakers],
            moderators=[person(key) for key in slot.moderators],
            languages=["en", "fr", "es", "zh"],
            expected_attendance=slot.expected_attendance,
            description="Synthetic benchmark session.",
        )
        for slot in agenda
    ]
    return Programme(
        summit_id="UNCOPS-BENCH",
        summit_name="UNCOPS benchmark summit",
        venue="United Nations Headquarters, New York",
        release=1,
        released_at=datetime.now(UTC),
        sessions=sessions,
    )


def run(sessions: int, candidates: int, seed: int, http: bool = False) -> dict[str, Any]:
    load_at_start = [round(load, 2) for load in os.getloadavg()]
    rng = random.Random(seed)
    rooms, raw_rooms = load_rooms()
    window = summit_window(datetime(2030, 6, DAYS[0]).date(), datetime(2030, 6, DAYS[-1]).date())
    people = [f"participant-{n:03d}" for n in range(400)]
    agenda = build_agenda(sessions, rng, rooms, people, window)
    drawn = [draw_session(sessions + n, rng, rooms, people) for n in range(candidates)]

    build_times = []
    for _ in range(50):
        elapsed, index = timed(lambda: AgendaIndex(agenda))
        build_times.append(elapsed)
    index = AgendaIndex(agenda)
    efficient_times, brute_times = [], []
    clashing = mismatches = 0
    gc.collect()
    # Interleaved, so both checkers see the same machine load at the same moments.
    for candidate in drawn:
        fast, found = timed(lambda c=candidate: check_session(index, c, rooms, window))  # type: ignore[misc]
        slow, expected = timed(lambda c=candidate: check_session_brute_force(agenda, c, rooms, window))  # type: ignore[misc]
        efficient_times.append(fast)
        brute_times.append(slow)
        clashing += bool(found)
        mismatches += found != expected

    whole_efficient, whole_brute = [], []
    for _ in range(20):
        fast, found = timed(lambda: agenda_conflicts(agenda, rooms, window))
        slow, expected = timed(lambda: agenda_conflicts_brute_force(agenda, rooms, window))
        whole_efficient.append(fast)
        whole_brute.append(slow)
        mismatches += found != expected or found != []

    programme = programme_of(agenda, raw_rooms)
    exports: dict[str, Any] = {}
    for name, export in (("ics", to_ics), ("json", to_json), ("html", to_html)):
        times, output = [], None
        for _ in range(20):
            elapsed, output = timed(lambda e=export: e(programme))  # type: ignore[misc]
            times.append(elapsed)
        size = len(output) if isinstance(output, bytes | str) else len(dumps(output))
        exports[name] = {"bytes": size, **summary_ms(times)}
    events = len(list(icalendar.Calendar.from_ical(to_ics(programme)).walk("VEVENT")))

    def ratio(slow: dict[str, float | None], fast: dict[str, float | None], key: str) -> float | None:
        numerator, denominator = slow[key], fast[key]
        return round(numerator / denominator, 1) if numerator and denominator else None

    efficient, brute = summary_ms(efficient_times), summary_ms(brute_times)
    whole_fast, whole_slow = summary_ms(whole_efficient), summary_ms(whole_brute)
    return {
        "benchmark": "summit_agenda",
        "command": " ".join([".venv/bin/python -m bench.summit_agenda", *sys.argv[1:]]),
        "started_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "load_average_at_start": load_at_start,
        "agenda": {
            "sessions": len(agenda),
            "rooms": len(rooms),
            "days": len(DAYS),
            "participants": len(people),
            "people_per_session": round(sum(len(s.people) for s in agenda) / len(agenda), 2),
            "seed": seed,
        },
        "add_one_session": {
            "candidates": len(drawn),
            "with_conflicts": clashing,
            "indexed_check": efficient,
            "brute_force_check": brute,
            "p50_ratio": ratio(brute, efficient, "p50_ms"),
            "p99_ratio": ratio(brute, efficient, "p99_ms"),
            "index_build_300": summary_ms(build_times),
        },
        "whole_agenda_check": {
            "runs": len(whole_efficient),
            "indexed": whole_fast,
            "brute_force_all_pairs": whole_slow,
            "p50_ratio": ratio(whole_slow, whole_fast, "p50_ms"),
        },
        "exports_300_sessions": {**exports, "ics_events_parsed_back": events},
        "mismatches_between_checkers": mismatches,
        # The same agenda and the first 300 candidates, through the API (PostgreSQL with fsync on).
        "http": http_benchmark(agenda, drawn[:300], people) if http else None,
    }


HTTP_PORTS = Ports(45732, 49392, 49393, 47533, 48533, 48301, 48302, 48303, 48300)


async def _http_run(
    stack: LocalStack, agenda: list[Slot], drawn: list[Slot], people: list[str]
) -> dict[str, Any]:
    settings = Settings()
    planner = {"Authorization": f"Bearer {issue_token(settings, Role.PLANNER, subject='bench')}"}
    base = f"http://127.0.0.1:{stack.ports.summit}/summits"
    summit_id = f"UNCOPS-BENCH-{uuid.uuid4().hex[:6]}"
    ids = {person: str(uuid.uuid4()) for person in people}
    engine = create_engine(stack.database_url("summit"), pool_size=1)

    def body(slot: Slot) -> dict[str, Any]:
        return {
            "title": slot.title,
            "kind": "thematic",
            "starts_at": slot.starts_at.isoformat(),
            "ends_at": slot.ends_at.isoformat(),
            "room_id": slot.room_id,
            "speakers": [ids[person] for person in slot.speakers],
            "moderators": [ids[person] for person in slot.moderators],
            "languages": ["en", "fr"],
            "expected_attendance": slot.expected_attendance,
        }

    async with httpx.AsyncClient(timeout=60) as http:
        created = await http.post(
            base,
            headers=planner,
            json={
                "id": summit_id,
                "name": "Benchmark summit",
                "starts_on": "2030-06-03",
                "ends_on": "2030-06-05",
            },
        )
        created.raise_for_status()
        # Participants are the delegations part's; as guests of the secretariat they count as registered.
        async with AsyncSession(engine) as session:
            now = datetime.now(UTC)
            session.add_all(
                Participant(id=key, summit_id=summit_id, full_name=name, function="Delegate", created_at=now)
                for name, key in ids.items()
            )
            await session.commit()
        await engine.dispose()
        for slot in agenda:
            placed = await http.post(f"{base}/{summit_id}/sessions", headers=planner, json=body(slot))
            if placed.status_code != 201:
                raise RuntimeError(f"the agenda did not load: {placed.status_code} {placed.text}")
        refused, accepted = [], []
        for slot in drawn:
            started = time.perf_counter()
            answer = await http.post(f"{base}/{summit_id}/sessions", headers=planner, json=body(slot))
            elapsed = time.perf_counter() - started
            if answer.status_code == 409:
                refused.append(elapsed)
            elif answer.status_code == 201:
                accepted.append(elapsed)
                removed = await http.delete(
                    f"{base}/{summit_id}/sessions/{answer.json()['id']}", headers=planner
                )
                removed.raise_for_status()
            else:
                raise RuntimeError(f"unexpected answer {answer.status_code}: {answer.text}")
        ics_times = []
        for _ in range(10):
            started = time.perf_counter()
            export = await http.get(
                f"{base}/{summit_id}/programme.ics", headers=planner, params={"draft": "true"}
            )
            ics_times.append(time.perf_counter() - started)
            export.raise_for_status()
        release = await http.post(f"{base}/{summit_id}/programme/releases", headers=planner, json={})
        release.raise_for_status()
        released_times = []
        for _ in range(10):
            started = time.perf_counter()
            export = await http.get(f"{base}/{summit_id}/programme.ics", headers=planner)
            released_times.append(time.perf_counter() - started)
            export.raise_for_status()
    return {
        "post_session_refused_409": {"requests": len(refused), **summary_ms(refused)},
        "post_session_accepted_201": {"requests": len(accepted), **summary_ms(accepted)},
        "get_programme_ics_draft_300": {"requests": len(ics_times), **summary_ms(ics_times)},
        # The first request renders the release, the others are served from the process's cache.
        "get_programme_ics_release_300": {"requests": len(released_times), **summary_ms(released_times)},
    }


def http_benchmark(agenda: list[Slot], drawn: list[Slot], people: list[str]) -> dict[str, Any]:
    run_dir = REPO / ".run" / "bench-agenda"
    stack = LocalStack(run_dir, HTTP_PORTS, fast_postgres=False, echo=lambda line: print(line, flush=True))
    stack.acquire()
    for child in run_dir.iterdir():  # fresh databases every run
        if child.name != "stack.pid":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    stack.logs.mkdir(parents=True, exist_ok=True)
    try:
        stack.start_infrastructure()
        stack.start_service("summit", "serve", UNCOPS_BACKGROUND="false")
        return asyncio.run(_http_run(stack, agenda, drawn, people))
    finally:
        stack.stop_all()
        stack.release()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2030)
    parser.add_argument("--http", action="store_true", help="also time the summit API on a stack of its own")
    args = parser.parse_args(argv)
    results = run(args.sessions, args.candidates, args.seed, args.http)
    add, whole, exports = (
        results["add_one_session"],
        results["whole_agenda_check"],
        results["exports_300_sessions"],
    )
    print(f"agenda: {results['agenda']}; load average at start {results['load_average_at_start']}")
    print(
        f"add one session ({add['candidates']} candidates, {add['with_conflicts']} with conflicts): "
        f"indexed p50 {add['indexed_check']['p50_ms']} ms, p99 {add['indexed_check']['p99_ms']} ms; "
        f"brute force p50 {add['brute_force_check']['p50_ms']} ms, "
        f"p99 {add['brute_force_check']['p99_ms']} ms; "
        f"ratio p50 {add['p50_ratio']}x, p99 {add['p99_ratio']}x; "
        f"index build p50 {add['index_build_300']['p50_ms']} ms"
    )
    print(
        f"whole agenda: indexed p50 {whole['indexed']['p50_ms']} ms, "
        f"brute force (all pairs) p50 {whole['brute_force_all_pairs']['p50_ms']} ms ({whole['p50_ratio']}x)"
    )
    for name in ("ics", "json", "html"):
        print(
            f"export {name}: p50 {exports[name]['p50_ms']} ms, p99 {exports[name]['p99_ms']} ms, "
            f"{exports[name]['bytes']} bytes"
        )
    print(
        f".ics parsed back: {exports['ics_events_parsed_back']} events; checker mismatches: "
        f"{results['mismatches_between_checkers']}"
    )
    if results["http"]:
        for name, figures in results["http"].items():
            print(
                f"http {name}: {figures['requests']} requests, "
                f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms"
            )
    out = REPO / "bench" / "results" / f"summit_agenda-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(dumps(results))
    print(f"results: {out.relative_to(REPO)}")
    return 1 if results["mismatches_between_checkers"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
