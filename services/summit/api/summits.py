"""Routes of the summit itself: plan one (its milestones come from the template), read it, move its dates."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from services.common.app import IfMatch, Route, RuntimeDep, SessionDep, TemporalDep, expected_version
from services.common.auth import Principal
from services.common.paging import PAGED, Page, PageDep
from services.summit import queries, service
from services.summit.api.access import PLANNERS, READERS, etag
from services.summit.domain.plan import SummitCreate, SummitReschedule
from services.summit.models import SummitRow

router = APIRouter(prefix="/summits", tags=["summits"], route_class=Route)


class SummitPublic(BaseModel):
    id: str
    name: str
    venue: str
    starts_on: date
    ends_on: date
    host_support: str | None
    languages: list[str]
    capacity: int
    budget_currency: str
    exchange_rates: dict[str, str]
    version: int


def summit_public(summit: SummitRow) -> SummitPublic:
    return SummitPublic.model_validate(summit, from_attributes=True)


@router.post(
    "", status_code=status.HTTP_201_CREATED, summary="Plan a summit: its milestones come from the template"
)
async def create_summit(
    body: SummitCreate,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    _: Annotated[Principal, PLANNERS],
) -> SummitPublic:
    """A new summit, with its dates, venue and currency; its plan's standard milestones are laid out from
    its dates."""
    summit = await service.plan_summit(session, temporal, runtime.settings.summit_policy, body)
    response.headers["Location"] = f"/summits/{summit.id}"
    etag(response, summit.version)
    return summit_public(summit)


class SummitPage(Page[SummitPublic]):
    """One page of summits, by start date; ``next_cursor`` fetches the next (null: no more)."""


@router.get("", summary="Summits", openapi_extra=PAGED)
async def list_summits(session: SessionDep, _: Annotated[Principal, READERS], page: PageDep) -> SummitPage:
    """Every summit, with its dates, venue and capacity, by start date, a page at a time."""
    summits, next_cursor = await queries.summits(session, page)
    return page.answer(SummitPage, [summit_public(s) for s in summits], next_cursor)


@router.get("/{summit_id}", summary="One summit")
async def get_summit(
    summit_id: str, session: SessionDep, response: Response, _: Annotated[Principal, READERS]
) -> SummitPublic:
    """One summit; its ``ETag`` is its version."""
    summit = await queries.summit_or_404(session, summit_id)
    etag(response, summit.version)
    return summit_public(summit)


@router.post("/{summit_id}/reschedule", summary="Move the summit's dates: every pending milestone moves too")
async def reschedule_summit(
    summit_id: str,
    body: SummitReschedule,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
    if_match: IfMatch = None,
) -> SummitPublic:
    """New dates for the summit: every milestone not yet completed moves with it."""
    summit = await service.reschedule_summit(
        session,
        temporal,
        runtime.settings.summit_policy,
        summit_id,
        body,
        principal.subject,
        expected_version(if_match),
    )
    etag(response, summit.version)
    return summit_public(summit)
