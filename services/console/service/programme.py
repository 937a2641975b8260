"""The published programme: its releases with their changelogs, releasing the draft as the next one, the
summit API's exports passed on to the browser (which holds no bearer token), and the printable programme in
the person's language, as HTML and as a PDF."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from services.console.domain.person import Person
from services.console.gateway import Answer, Apis

RELEASES_PAGE = 20
# The summit API's files a planner downloads here, by the name they are saved under.
EXPORTS = (
    "programme.ics",
    "programme.html",
    "programme.json",
    "delegations.csv",
    "participants.csv",
    "badges.csv",
)


@dataclass(frozen=True)
class Releases:
    items: list[dict[str, Any]]
    next_cursor: str | None


async def releases(apis: Apis, person: Person, summit_id: str, cursor: str | None) -> Releases:
    """The releases, newest first, each with its changelog."""
    answer = await apis.call(
        person,
        "summit",
        "GET",
        f"/summits/{summit_id}/programme/releases",
        params={"limit": RELEASES_PAGE, "cursor": cursor},
    )
    return Releases(list(answer.body["items"]), answer.body.get("next_cursor"))


async def release(apis: Apis, person: Person, summit_id: str, note: str, key: str) -> Answer:
    """Publishes the draft as the next numbered release (409: nothing changed, or conflicts to resolve)."""
    return await apis.call(
        person,
        "summit",
        "POST",
        f"/summits/{summit_id}/programme/releases",
        json={"note": note.strip() or None},
        headers={"Idempotency-Key": key},
    )


async def export(apis: Apis, person: Person, summit_id: str, name: str) -> httpx.Response:
    """One of ``EXPORTS`` of the summit as the summit API gives it to the person."""
    return await apis.fetch_file(person, "summit", f"/summits/{summit_id}/{name}")


async def published(apis: Apis, person: Person, summit_id: str) -> dict[str, Any]:
    """The latest release as the summit API's programme.json (times at the venue)."""
    answer = await apis.call(person, "summit", "GET", f"/summits/{summit_id}/programme.json")
    programme: dict[str, Any] = answer.body
    return programme
