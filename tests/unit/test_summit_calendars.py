"""Calendar feeds (services/summit/domain/calendars.py): the token stored only as its SHA-256, the ETag from
version stamps (changes when they do, and only then), If-None-Match read as RFC 9110 says, and the feed's
calendar read back by the icalendar library."""

from __future__ import annotations

from datetime import UTC, datetime

import icalendar

from services.summit.domain.calendars import (
    DeadlineEntry,
    MilestoneEntry,
    feed_etag,
    feed_ics,
    new_token,
    token_digest,
    unchanged,
)


def test_a_token_is_long_random_and_stored_as_its_digest() -> None:
    first, second = new_token(), new_token()
    assert first != second and len(first) >= 43
    assert token_digest(first) != first and len(token_digest(first)) == 64
    assert token_digest(first) == token_digest(first)


def test_the_etag_follows_the_stamps() -> None:
    stamps = [("release", "UNCOPS-III", 2, 1)]
    assert feed_etag("f1", stamps) == feed_etag("f1", list(stamps))
    assert feed_etag("f1", stamps) != feed_etag("f1", [("release", "UNCOPS-III", 3, 1)])
    assert feed_etag("f1", stamps) != feed_etag("f2", stamps)
    assert feed_etag("f1", []) != feed_etag("f1", [("plan", "UNCOPS-III", 0, None, 1)])


def test_if_none_match() -> None:
    etag = feed_etag("f1", [])
    assert unchanged(etag, etag)
    assert unchanged(f'"other", {etag}', etag)
    assert unchanged(f"W/{etag}", etag)
    assert unchanged("*", etag)
    assert not unchanged(None, etag) and not unchanged('"other"', etag)


def test_the_feed_holds_milestones_and_deadlines_as_all_day_events() -> None:
    ics = feed_ics(
        "UNCOPS summits",
        [],
        [
            MilestoneEntry(
                "m1", "S1", "UNCOPS III", "Invitations sent", datetime(2030, 3, 1, 3, 0, tzinfo=UTC), "due"
            )
        ],
        [DeadlineEntry("d1", "S1", "UNCOPS III", "GHA", datetime(2030, 5, 1, 12, tzinfo=UTC))],
    )
    calendar = icalendar.Calendar.from_ical(ics)
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    milestone = events["milestone-m1@S1.uncops.un.org"]
    # 03:00 UTC on 1 March is still 28 February in New York: the day at the venue.
    assert str(milestone.decoded("dtstart")) == "2030-02-28"
    assert "Invitations sent" in str(milestone["summary"])
    assert "GHA" in str(events["registration-d1@S1.uncops.un.org"]["summary"])
    assert str(calendar["x-wr-calname"]) == "UNCOPS summits"
