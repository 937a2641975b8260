"""Routes of the published programme: numbered releases with their changelogs, and the programme as JSON,
iCalendar and a printable page (domain/programme.py renders them)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, HTTPException, Path, Query, Response, status
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import Route, SessionDep
from services.common.auth import Principal, Role
from services.common.errors import NotFound
from services.common.media import CalendarResponse, HTMLResponse
from services.common.paging import PAGED, Page, PageDep
from services.summit import queries, service
from services.summit.api.access import PLANNERS, READERS
from services.summit.domain.agenda import Programme, ProgrammeSession, ReleaseInput
from services.summit.domain.programme import to_html, to_ics, to_json
from services.summit.models import ProgrammeReleaseRow
from uncops_contracts.summit import ProgrammeChange

router = APIRouter(prefix="/summits", tags=["programme"], route_class=Route)


class ReleasePublic(BaseModel):
    summit_id: str
    number: int
    released_at: datetime
    released_by: str
    note: str | None
    sessions: int
    changes: list[ProgrammeChange]


def _release_public(release: ProgrammeReleaseRow) -> ReleasePublic:
    return ReleasePublic(
        summit_id=release.summit_id,
        number=release.number,
        released_at=release.released_at,
        released_by=release.released_by,
        note=release.note,
        sessions=len(release.sessions),
        changes=[ProgrammeChange.model_validate(change) for change in release.changes],
    )


@router.post(
    "/{summit_id}/programme/releases",
    status_code=status.HTTP_201_CREATED,
    summary="Publish the draft as the next numbered release, with its changelog (409 if nothing changed)",
)
async def release_programme(
    summit_id: str,
    body: ReleaseInput,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
) -> ReleasePublic:
    """Publishes the draft programme as a new numbered release, with the changes since the previous one."""
    release = await service.release_programme(session, summit_id, body.note, principal.subject)
    response.headers["Location"] = f"/summits/{summit_id}/programme/releases/{release.number}"
    return _release_public(release)


class ReleasePage(Page[ReleasePublic]):
    """One page of the programme's releases, newest first; ``next_cursor`` fetches the next."""


@router.get(
    "/{summit_id}/programme/releases", summary="The programme's releases, newest first", openapi_extra=PAGED
)
async def list_releases(
    summit_id: str, session: SessionDep, _: Annotated[Principal, READERS], page: PageDep
) -> ReleasePage:
    """The programme's releases, newest first, each with its changelog, a page at a time."""
    await queries.summit_or_404(session, summit_id)
    releases, next_cursor = await queries.releases(session, summit_id, page)
    return page.answer(ReleasePage, [_release_public(release) for release in releases], next_cursor)


# Release numbers are PostgreSQL integers: a number beyond them is refused (422 naming it), never sent.
INT4_MAX = 2**31 - 1
ReleaseNumber = Annotated[int, Path(ge=1, le=INT4_MAX, description="The release's number: 1, 2, 3...")]


@router.get("/{summit_id}/programme/releases/{number}", summary="One release and its changelog")
async def get_release(
    summit_id: str, number: ReleaseNumber, session: SessionDep, _: Annotated[Principal, READERS]
) -> ReleasePublic:
    """One release of the programme and its changelog."""
    release = await queries.release(session, summit_id, number)
    if release is None:
        raise NotFound(f"no release {number} of the programme of {summit_id}")
    return _release_public(release)


DraftQuery = Annotated[bool, Query(description="The unpublished draft instead of a release (planners)")]
ReleaseQuery = Annotated[
    int | None, Query(ge=1, le=INT4_MAX, description="A given release; the latest by default")
]


# A release never changes, so each export of it is rendered once per process (the .ics of 300 sessions takes
# most of a second of CPU, and every State's calendar polls it); the exports print the summit's name and
# venue, so those are part of the key and of the ETag.
_RENDERED: OrderedDict[tuple[str, int, str, str], bytes] = OrderedDict()
_RENDERED_MAX = 32
_FORMATS: dict[str, tuple[str, Callable[[Programme], bytes]]] = {
    "json": ("application/json", lambda programme: orjson.dumps(to_json(programme))),
    "ics": ("text/calendar; charset=utf-8", to_ics),
    "html": ("text/html; charset=utf-8", lambda programme: to_html(programme).encode()),
}


async def _export(
    session: AsyncSession,
    summit_id: str,
    principal: Principal,
    draft: bool,
    number: int | None,
    if_none_match: str | None,
    extension: str,
) -> Response:
    summit = await queries.summit_or_404(session, summit_id)
    media_type, render = _FORMATS[extension]
    headers = {"Cache-Control": "no-store"}
    if draft:
        if not principal.has(Role.PLANNER):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only planners read the unpublished draft")
        sessions, _, _ = await queries.draft_programme(session, summit)
        draft_programme = Programme(
            summit_id=summit.id,
            summit_name=summit.name,
            venue=summit.venue,
            release=None,
            released_at=None,
            sessions=sessions,
        )
        body, version = render(draft_programme), "draft"
    else:
        # The number first: the snapshot is read and rendered only when this process has not done it yet.
        found = await queries.release_number(session, summit_id, number)
        if found is None:
            raise NotFound(
                f"no release {number} of {summit_id}"
                if number
                else f"no programme of {summit_id} released yet"
            )
        digest = hashlib.sha256(f"{summit.name}\n{summit.venue}".encode()).hexdigest()[:12]
        headers = {"ETag": f'"release-{found}-{digest}"', "Cache-Control": "no-cache"}
        version = f"release-{found}"
        if if_none_match == headers["ETag"]:
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
        key = (summit_id, found, extension, digest)
        cached = _RENDERED.get(key)
        if cached is None:
            release = await queries.release(session, summit_id, found)
            if release is None:  # releases are never deleted; this is only for the type checker
                raise NotFound(f"no release {found} of {summit_id}")
            cached = _RENDERED[key] = render(
                Programme(
                    summit_id=summit.id,
                    summit_name=summit.name,
                    venue=summit.venue,
                    release=release.number,
                    released_at=release.released_at,
                    sessions=[ProgrammeSession.model_validate(entry) for entry in release.sessions],
                )
            )
            while len(_RENDERED) > _RENDERED_MAX:
                _RENDERED.popitem(last=False)
        else:
            _RENDERED.move_to_end(key)
        body = cached
    if extension == "html":
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    elif extension == "ics":
        headers["Content-Disposition"] = f'attachment; filename="{summit_id}-programme-{version}.ics"'
    return Response(body, media_type=media_type, headers=headers)


IfNoneMatch = Annotated[str | None, Header(description="The ETag of the release's export you already hold")]


@router.get(
    "/{summit_id}/programme.json",
    summary="The published programme as JSON",
    responses={200: {"model": Programme, "description": "The programme"}},
)
async def programme_json(
    summit_id: str,
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    draft: DraftQuery = False,
    release: ReleaseQuery = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The latest release (or ``release``, or the draft for planners) as JSON; its ``ETag`` lets a client
    ask ``If-None-Match`` and get 304."""
    return await _export(session, summit_id, principal, draft, release, if_none_match, "json")


@router.get(
    "/{summit_id}/programme.ics",
    summary="The published programme as iCalendar, one event per session",
    response_class=CalendarResponse,
)
async def programme_ics(
    summit_id: str,
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    draft: DraftQuery = False,
    release: ReleaseQuery = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The latest release (or ``release``, or the draft for planners) as an iCalendar file, one event per
    session, in the venue's time zone."""
    return await _export(session, summit_id, principal, draft, release, if_none_match, "ics")


@router.get(
    "/{summit_id}/programme.html",
    summary="The published programme as a printable page",
    response_class=HTMLResponse,
)
async def programme_html(
    summit_id: str,
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    draft: DraftQuery = False,
    release: ReleaseQuery = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The latest release (or ``release``, or the draft for planners) as a printable HTML page."""
    return await _export(session, summit_id, principal, draft, release, if_none_match, "html")
