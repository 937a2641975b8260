"""The programme as iCalendar, JSON and a printable HTML page; every time in the venue's time zone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from html import escape
from itertools import groupby
from urllib.parse import quote

from icalendar import Calendar, Event, vCalAddress, vText

from services.summit.domain.agenda import (
    Programme,
    ProgrammePerson,
    ProgrammeSession,
    programme_order,
)
from services.summit.domain.plan import VENUE_TIME_ZONE

KIND_LABELS = {
    "plenary": "Plenary",
    "thematic": "Thematic session",
    "side_event": "Side event",
    "bilateral": "Bilateral meeting",
}


def _names(people: list[ProgrammePerson]) -> str:
    return "; ".join(
        f"{person.full_name} ({person.function}{', ' + person.organisation if person.organisation else ''})"
        for person in people
    )


def _status(programme: Programme) -> str:
    return f"release {programme.release}" if programme.release is not None else "DRAFT, not published"


def to_ics(programme: Programme) -> bytes:
    """One VEVENT per session: the room as LOCATION, speakers (REQ-PARTICIPANT) and moderators (CHAIR) as
    ATTENDEEs and in the DESCRIPTION; SEQUENCE is the release number so calendars take a new release as an
    update of the same events (same UID)."""
    calendar = new_calendar(f"{programme.summit_name} programme ({_status(programme)})")
    add_sessions(calendar, programme)
    calendar.add_missing_timezones()
    ical: bytes = calendar.to_ical()
    return ical


def new_calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//United Nations//UNCOPS Platform programme//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", VENUE_TIME_ZONE.key)
    return calendar


def add_sessions(calendar: Calendar, programme: Programme) -> None:
    """The programme's sessions as events of ``calendar`` (a programme's own, or a person's feed)."""
    stamp = programme.released_at or datetime.now(UTC)
    for session in programme_order(programme.sessions):
        event = Event()
        event.add("uid", f"{session.id}@{programme.summit_id}.uncops.un.org")
        event.add("dtstamp", stamp.astimezone(UTC))
        event.add("dtstart", session.starts_at.astimezone(VENUE_TIME_ZONE))
        event.add("dtend", session.ends_at.astimezone(VENUE_TIME_ZONE))
        event.add("sequence", programme.release or 0)
        event.add("summary", session.title)
        event.add("location", f"{session.room.name}, {programme.venue}")
        event.add("categories", [KIND_LABELS[session.kind.value]])
        lines = [KIND_LABELS[session.kind.value]]
        if session.theme:
            lines.append(f"Theme: {session.theme}")
        if session.speakers:
            lines.append(f"Speakers: {_names(session.speakers)}")
        if session.moderators:
            lines.append(f"Moderators: {_names(session.moderators)}")
        if session.languages:
            lines.append(f"Languages: {', '.join(session.languages)}")
        if session.description:
            lines.append(session.description)
        event.add("description", "\n".join(lines))
        for role, people in (("REQ-PARTICIPANT", session.speakers), ("CHAIR", session.moderators)):
            for person in people:
                # No e-mail addresses are published: a participant is named by a URN of their id.
                attendee = vCalAddress(_participant_uri(person.id))
                attendee.params["cn"] = vText(person.full_name)
                attendee.params["role"] = vText(role)
                event.add("attendee", attendee, encode=False)
        calendar.add_component(event)


def _participant_uri(participant_id: str) -> str:
    try:
        return f"urn:uuid:{uuid.UUID(participant_id)}"
    except ValueError:
        return f"urn:x-uncops-participant:{quote(participant_id, safe='')}"


def to_json(programme: Programme) -> dict[str, object]:
    ordered = programme.model_copy(update={"sessions": programme_order(programme.sessions)})
    local = [
        session.model_copy(
            update={
                "starts_at": session.starts_at.astimezone(VENUE_TIME_ZONE),
                "ends_at": session.ends_at.astimezone(VENUE_TIME_ZONE),
            }
        )
        for session in ordered.sessions
    ]
    return ordered.model_copy(update={"sessions": local}).model_dump(mode="json")


_STYLE = """
body { font-family: "Helvetica Neue", Arial, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.6em; margin-bottom: 0; }
p.status { color: #555; margin-top: 0.2em; }
h2 { border-bottom: 2px solid #009edb; padding-bottom: 0.2em; margin-top: 1.5em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 0.35em 0.5em; border-bottom: 1px solid #ccc; }
td.time { white-space: nowrap; width: 8em; }
.kind { font-size: 0.85em; color: #555; }
@media print {
  body { margin: 0; font-size: 10pt; }
  section.day { page-break-after: always; }
  section.day:last-child { page-break-after: auto; }
  tr { page-break-inside: avoid; }
}
"""


def to_html(programme: Programme) -> str:
    """A printable page, one section per day; every value is escaped and the page has no script."""
    title = f"{programme.summit_name}: programme"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="status">{escape(programme.venue)} · {escape(_status(programme))} · times in New York'
        f" ({escape(programme.time_zone)})</p>",
    ]
    sessions = programme_order(programme.sessions)

    def day_of(session: ProgrammeSession) -> str:
        return session.starts_at.astimezone(VENUE_TIME_ZONE).strftime("%A %d %B %Y")

    for day, on_day in groupby(sessions, key=day_of):
        parts.append(f'<section class="day"><h2>{escape(day)}</h2><table>')
        parts.append(
            "<thead><tr><th>Time</th><th>Session</th><th>Room</th><th>Speakers</th><th>Moderators</th>"
            "<th>Languages</th></tr></thead><tbody>"
        )
        for session in on_day:
            start = session.starts_at.astimezone(VENUE_TIME_ZONE)
            end = session.ends_at.astimezone(VENUE_TIME_ZONE)
            theme = f"<br>{escape(session.theme)}" if session.theme else ""
            parts.append(
                f'<tr><td class="time">{start:%H:%M}&ndash;{end:%H:%M}</td>'
                f"<td><strong>{escape(session.title)}</strong>"
                f'<br><span class="kind">{escape(KIND_LABELS[session.kind.value])}</span>{theme}</td>'
                f"<td>{escape(session.room.name)}</td>"
                f"<td>{escape(_names(session.speakers))}</td>"
                f"<td>{escape(_names(session.moderators))}</td>"
                f"<td>{escape(', '.join(session.languages))}</td></tr>"
            )
        parts.append("</tbody></table></section>")
    if not sessions:
        parts.append("<p>No sessions.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
