"""A person's calendar feeds: made, listed and revoked through the summit API as the person; the feed itself
is polled by calendar applications at /calendars/{token}.ics, which the console passes on to the summit API
without a session (services/console/api/calendars.py)."""

from __future__ import annotations

import re
from typing import Any

from services.console.domain.person import Person
from services.console.gateway import Answer, Apis

FEEDS_PAGE = 50
# What a feed token looks like (the summit API's 32 random bytes, URL-safe): anything else is not sent on.
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")


async def feeds(apis: Apis, person: Person) -> list[dict[str, Any]]:
    answer = await apis.call(person, "summit", "GET", "/calendars", params={"limit": FEEDS_PAGE})
    return list(answer.body["items"])


async def create(apis: Apis, person: Person, label: str, key: str) -> Answer:
    """A new feed; its token is in this answer only."""
    return await apis.call(
        person,
        "summit",
        "POST",
        "/calendars",
        json={"label": label.strip() or None},
        headers={"Idempotency-Key": key},
    )


async def revoke(apis: Apis, person: Person, feed_id: str, key: str) -> None:
    await apis.call(person, "summit", "DELETE", f"/calendars/{feed_id}", headers={"Idempotency-Key": key})


def feed_urls(host: str, secure: bool, path: str) -> dict[str, str]:
    """The addresses to give a calendar application: webcal:// (it subscribes) and https:// (paste it)."""
    return {"webcal": f"webcal://{host}{path}", "web": f"{'https' if secure else 'http'}://{host}{path}"}
