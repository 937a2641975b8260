"""Reading pledges in bulk: counts per State, kind, status or traffic light, financial pledges (money
pledged versus delivered), and the list as CSV. The filters are the list's (queries.PledgeFilters)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import RowMapping

from services.common.app import Route, RuntimeDep, SessionDep
from services.common.auth import Principal, Role, require_roles
from services.common.media import CsvResponse
from services.common.spreadsheet import CsvWriter, neutralised
from services.pledges import queries
from services.pledges.queries import (
    EXPORT_COLUMNS,
    FinancialReport,
    PledgeFilters,
    PledgeSummary,
    SummaryBy,
)
from uncops_contracts.pledges import PledgeKind, PledgeStatus, TrafficLight

router = APIRouter(prefix="/pledges", tags=["reports"], route_class=Route)

READERS = require_roles(Role.STATE_FOCAL_POINT, Role.PLANNER, Role.CONDUCT_OFFICER)

SUMMIT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{1,40}$"
Sort = Literal["-submitted_at", "submitted_at"]


def _enum_query(enum: type[StrEnum], description: str) -> Any:
    return Query(description=description, json_schema_extra={"enum": [e.value for e in enum]})


async def pledge_filters(
    member_state: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    kind: Annotated[str | None, _enum_query(PledgeKind, "Kind of pledge")] = None,
    summit: Annotated[str | None, Query(pattern=SUMMIT_PATTERN, description="Made at this summit")] = None,
    supports_summit: Annotated[
        str | None, Query(pattern=SUMMIT_PATTERN, description="Supporting this summit")
    ] = None,
    status: Annotated[str | None, _enum_query(PledgeStatus, "Status")] = None,
    traffic_light: Annotated[str | None, _enum_query(TrafficLight, "Reporting health")] = None,
    overdue: Annotated[
        bool | None, Query(description="true: a live pledge with a report missed or past due")
    ] = None,
) -> PledgeFilters:
    return PledgeFilters.parse(
        member_state=member_state,
        kind=kind,
        summit=summit,
        supports_summit=supports_summit,
        status=status,
        traffic_light=traffic_light,
        overdue=overdue,
    )


Filters = Annotated[PledgeFilters, Depends(pledge_filters)]
SortQuery = Annotated[Sort, Query(description="submitted_at (oldest first) or -submitted_at (newest first)")]


@router.get("/summary", summary="Pledge counts per State, kind, status or traffic light")
async def pledge_summary(
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    filters: Filters,
    by: SummaryBy = SummaryBy.MEMBER_STATE,
) -> PledgeSummary:
    """Counts of the pledges the caller may see (a focal point: its own State's), narrowed by the list's
    filters. A pledge not yet accepted, or ended, has no traffic light: its group's key is null."""
    return await queries.summary(session, filters, principal, by)


@router.get("/financial", summary="Financial pledges: money pledged versus delivered")
async def financial_pledges(
    session: SessionDep, principal: Annotated[Principal, READERS], filters: Filters
) -> FinancialReport:
    """Every financial-support pledge the caller may see, with the money its State pledged and the money the
    summit service recorded as received for it; totals per currency, and per supported summit.

    Rejected and withdrawn pledges are listed but their amounts are not counted as pledged; money received is
    always counted."""
    return await queries.financial(session, filters, principal)


# ---------------------------------------------------------------- CSV export

# Free text a State wrote: a spreadsheet must not run it as a formula (CSV injection).
FREE_TEXT = frozenset({"title", "indicator", "unit"})


@router.get(
    "/export.csv",
    summary="The pledges of the list as CSV",
    response_class=CsvResponse,
    responses={200: {"description": "A CSV file with a header row"}},
)
async def export_pledges(
    runtime: RuntimeDep,
    principal: Annotated[Principal, READERS],
    filters: Filters,
    sort: SortQuery = "-submitted_at",
) -> StreamingResponse:
    """The list's filters and order, every matching pledge (no pagination), streamed: one row per pledge,
    lists joined with ``;``, money delivered as ``USD 1000.00;EUR 5.00``. A focal point exports its own
    State's pledges only."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        _csv_rows(queries.export_batches(runtime.sessions, filters, principal, sort)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="pledges-{stamp}.csv"'},
    )


async def _csv_rows(batches: AsyncIterator[Sequence[RowMapping]]) -> AsyncIterator[str]:
    writer = CsvWriter()  # UTF-8 with a BOM, for spreadsheets
    yield writer.rows([EXPORT_COLUMNS])
    async for batch in batches:
        yield writer.rows([_csv_cell(name, row[name]) for name in EXPORT_COLUMNS] for row in batch)


def _csv_cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "delivered":
        return ";".join(f"{currency} {amount}" for currency, amount in sorted(value.items()))
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ";".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return neutralised(str(value)) if name in FREE_TEXT else str(value)
