"""A person's calendar feed: a secret URL a calendar application polls without a bearer header.

The token is 32 random bytes; only its SHA-256 is stored, so a copy of the database opens no feed. What a
feed shows is fixed when it is made (the person's role and State), and is read again at each poll: the
published programmes, the milestones for planners, its delegations' registration deadlines for a focal
point. Its ETag is a digest of the version stamps of all that, computed before any calendar is built, so a
poll that finds nothing new is answered 304 from one small query.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from icalendar import Event

from services.summit.domain.agenda import Programme
from services.summit.domain.plan import VENUE_TIME_ZONE
from services.summit.domain.programme import add_sessions, new_calendar

TOKEN_BYTES = 32


def new_token() -> str:
    """A feed's secret: 256 bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """What is stored and looked up: the token's SHA-256 in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def feed_etag(feed_id: str, stamps: Iterable[object]) -> str:
    """A strong ETag from the feed and the version stamps of everything it shows (in a stable order): it
    changes when a release, a milestone or a deadline does, and costs no calendar to compute."""
    digest = hashlib.sha256(feed_id.encode())
    for stamp in stamps:
        digest.update(b"\x1f" + str(stamp).encode())
    return f'"feed-{digest.hexdigest()[:32]}"'


def unchanged(if_none_match: str | None, etag: str) -> bool:
    """Whether a conditional poll holds the current ETag (a list of tags, or *, as RFC 9110 allows)."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


@dataclass(frozen=True)
class MilestoneEntry:
    id: str
    summit_id: str
    summit_name: str
    title: str
    due_at: datetime
    status: str


@dataclass(frozen=True)
class DeadlineEntry:
    delegation_id: str
    summit_id: str
    summit_name: str
    member_state: str
    registration_deadline: datetime


def _all_day(event: Event, moment: datetime) -> None:
    # A due date is a day at the venue, shown across the day rather than at the minute it falls due.
    day: date = moment.astimezone(VENUE_TIME_ZONE).date()
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("transp", "TRANSPARENT")


def feed_ics(
    name: str,
    programmes: Sequence[Programme],
    milestones: Sequence[MilestoneEntry] = (),
    deadlines: Sequence[DeadlineEntry] = (),
    stamp: datetime | None = None,
) -> bytes:
    """One calendar: every published programme's sessions, then milestones and deadlines as all-day events."""
    calendar = new_calendar(name)
    for programme in programmes:
        add_sessions(calendar, programme)
    now = (stamp or datetime.now(UTC)).astimezone(UTC)
    for milestone in milestones:
        event = Event()
        event.add("uid", f"milestone-{milestone.id}@{milestone.summit_id}.uncops.un.org")
        event.add("dtstamp", now)
        _all_day(event, milestone.due_at)
        event.add("summary", f"{milestone.summit_name}: {milestone.title} (milestone, {milestone.status})")
        event.add("categories", ["Milestone"])
        calendar.add_component(event)
    for deadline in deadlines:
        event = Event()
        event.add("uid", f"registration-{deadline.delegation_id}@{deadline.summit_id}.uncops.un.org")
        event.add("dtstamp", now)
        _all_day(event, deadline.registration_deadline)
        event.add(
            "summary",
            f"{deadline.summit_name}: registration deadline of the delegation of {deadline.member_state}",
        )
        event.add("categories", ["Deadline"])
        calendar.add_component(event)
    calendar.add_missing_timezones()
    ical: bytes = calendar.to_ical()
    return ical
