"""Routes of the material the other services feed in: the summit's pledges, the pledge follow-up report,
and the public misconduct statistics for the performance-and-accountability session."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.common.app import Route, SessionDep
from services.common.auth import Principal
from services.common.paging import PAGED, Page, PageDep
from services.summit import queries
from services.summit.api.access import PLANNERS

router = APIRouter(prefix="/summits", tags=["material"], route_class=Route)


class SummitPledgePublic(BaseModel):
    pledge_id: str
    member_state: str
    summit: str
    supports_summit: str | None
    kind: str
    title: str
    amount: Decimal | None
    currency: str | None
    submitted_at: datetime
    status: str
    traffic_light: str | None


class FollowUpLine(BaseModel):
    member_state: str
    kind: str
    pledges: int
    by_status: dict[str, int]
    by_traffic_light: dict[str, int]
    items: list[SummitPledgePublic]


class FollowUpReport(BaseModel):
    """The material of the pledge follow-up session: accepted pledges by State and kind."""

    summit_id: str
    made_at: list[str]
    generated_at: datetime
    totals: dict[str, int]
    lines: list[FollowUpLine]


class AccountabilityTable(BaseModel):
    dimension: str
    rows: dict[str, int]


class AccountabilityMaterial(BaseModel):
    """Allegations against UN Police as the UN publishes them: counts only, nothing that names a person."""

    summit_id: str
    allegations: int
    victims_adult: int
    victims_minor: int
    referred_for_criminal_accountability: int
    tables: list[AccountabilityTable]


class SummitPledgePage(Page[SummitPledgePublic]):
    """One page of a summit's pledges, by submission; ``next_cursor`` fetches the next (null: no more)."""


@router.get("/{summit_id}/pledges", summary="Pledges made at or supporting this summit", openapi_extra=PAGED)
async def list_summit_pledges(
    summit_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS], page: PageDep
) -> SummitPledgePage:
    """The pledges made at this summit or supporting it, as the pledges service reported them, in the
    order submitted, a page at a time."""
    pledges, next_cursor = await queries.summit_pledges(session, summit_id, page)
    return page.answer(
        SummitPledgePage,
        [SummitPledgePublic.model_validate(p, from_attributes=True) for p in pledges],
        next_cursor,
    )


@router.get("/{summit_id}/follow-up", summary="Pledge follow-up material: accepted pledges by State and kind")
async def follow_up_report(
    summit_id: str,
    session: SessionDep,
    _: Annotated[Principal, PLANNERS],
    made_at: Annotated[
        list[str] | None, Query(description="Summits whose pledges to report; default: all")
    ] = None,
) -> FollowUpReport:
    """Accepted pledges grouped by Member State and kind, with counts by status and traffic light: the
    material of the pledge follow-up session."""
    await queries.summit_or_404(session, summit_id)
    totals: Counter[str] = Counter()
    lines = []
    for (member_state, kind), pledges in (await queries.followed_up_pledges(session, made_at)).items():
        by_status = Counter(p.status for p in pledges)
        totals.update(by_status)
        lines.append(
            FollowUpLine(
                member_state=member_state,
                kind=kind,
                pledges=len(pledges),
                by_status=dict(by_status),
                by_traffic_light=dict(Counter(p.traffic_light or "none" for p in pledges)),
                items=[SummitPledgePublic.model_validate(p, from_attributes=True) for p in pledges],
            )
        )
    return FollowUpReport(
        summit_id=summit_id,
        made_at=sorted(made_at or []),
        generated_at=datetime.now(UTC),
        totals=dict(totals),
        lines=lines,
    )


@router.get(
    "/{summit_id}/accountability",
    summary="Misconduct statistics for the performance-and-accountability session (public data only)",
)
async def accountability_material(
    summit_id: str,
    session: SessionDep,
    _: Annotated[Principal, PLANNERS],
    since_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> AccountabilityMaterial:
    """Allegations of misconduct against UN Police as the UN publishes them (counts, never a name), by
    year and category: the material of the performance-and-accountability session."""
    await queries.summit_or_404(session, summit_id)
    found = await queries.allegations(session, since_year)
    return AccountabilityMaterial(
        summit_id=summit_id,
        allegations=found.allegations,
        victims_adult=found.victims_adult,
        victims_minor=found.victims_minor,
        referred_for_criminal_accountability=found.referred_for_criminal_accountability,
        tables=[AccountabilityTable(dimension=d, rows=rows) for d, rows in found.tables.items()],
    )
