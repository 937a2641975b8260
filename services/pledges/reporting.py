"""Reading pledges back: the filters the list and the export share, summaries per State, kind, status or
traffic light, pledged versus delivered for financial pledges, and a CSV export.

A focal point sees the pledges of its own State (led or co-sponsored), exactly as in the list; planners and
conduct officers see every State's. Everything here reads the pledge rows, which the pledge workflow's
activity keeps up to date (status, traffic light, next report due, missed reports, money delivered).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, func, or_
from sqlmodel import col, select

from services.common.app import Route, RuntimeDep, SessionDep
from services.common.auth import Principal, Role, require_roles
from services.common.errors import InvalidField
from services.pledges.models import Pledge
from uncops_contracts.pledges import PledgeKind, PledgeStatus, TrafficLight

router = APIRouter(prefix="/pledges", tags=["pledges"], route_class=Route)

READERS = require_roles(Role.STATE_FOCAL_POINT, Role.PLANNER, Role.CONDUCT_OFFICER)

LIVE = (PledgeStatus.ACCEPTED.value, PledgeStatus.IN_PROGRESS.value)
# Pledges no longer committed: their amounts do not count as pledged (money received still counts).
WITHDRAWN_OR_REJECTED = (PledgeStatus.REJECTED.value, PledgeStatus.WITHDRAWN.value)

SUMMIT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{1,40}$"
SORT_PATTERN = r"^-?submitted_at$"
Sort = Literal["-submitted_at", "submitted_at"]

E = TypeVar("E", bound=StrEnum)
AnySelect = Select[*tuple[Any, ...]]
Q = TypeVar("Q", bound=AnySelect)


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class PledgeFilters:
    """What the list, the summary, the financial view and the export can be narrowed to."""

    member_state: str | None = None
    kind: PledgeKind | None = None
    summit: str | None = None
    supports_summit: str | None = None
    status: PledgeStatus | None = None
    traffic_light: TrafficLight | None = None
    # Live pledges with a report missed, or due and not yet come.
    overdue: bool | None = None

    @classmethod
    def parse(
        cls,
        *,
        member_state: str | None = None,
        kind: str | None = None,
        summit: str | None = None,
        supports_summit: str | None = None,
        status: str | None = None,
        traffic_light: str | None = None,
        overdue: bool | None = None,
    ) -> PledgeFilters:
        """From query strings: an unknown kind, status or light is an error naming the parameter."""
        return cls(
            member_state=member_state or None,
            kind=_member("kind", PledgeKind, kind),
            summit=summit or None,
            supports_summit=supports_summit or None,
            status=_member("status", PledgeStatus, status),
            traffic_light=_member("traffic_light", TrafficLight, traffic_light),
            overdue=overdue,
        )

    def conditions(self, principal: Principal, now: datetime) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        scope = visible_to(principal)
        if scope is not None:
            found.append(scope)
        if self.member_state:
            found.append(col(Pledge.member_state) == self.member_state)
        if self.kind:
            found.append(col(Pledge.kind) == self.kind.value)
        if self.summit:
            found.append(col(Pledge.summit) == self.summit)
        if self.supports_summit:
            found.append(col(Pledge.supports_summit) == self.supports_summit)
        if self.status:
            found.append(col(Pledge.status) == self.status.value)
        if self.traffic_light:
            found.append(col(Pledge.traffic_light) == self.traffic_light.value)
        if self.overdue is not None:
            due = col(Pledge.next_report_due)
            overdue = col(Pledge.status).in_(LIVE) & (
                (col(Pledge.missed_reports) > 0) | (due.is_not(None) & (due < now))
            )
            not_overdue = col(Pledge.status).not_in(LIVE) | (
                (col(Pledge.missed_reports) == 0) & (due.is_(None) | (due >= now))
            )
            found.append(overdue if self.overdue else not_overdue)
        return found


def _member(name: str, enum: type[E], value: str | None) -> E | None:
    if not value:
        return None
    try:
        return enum(value)
    except ValueError:
        raise InvalidField(name, f"{value!r} is not one of: {', '.join(e.value for e in enum)}") from None


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


def visible_to(principal: Principal) -> ColumnElement[bool] | None:
    """None for the secretariat and conduct officers (every State); a focal point's own State's pledges."""
    if principal.has(Role.PLANNER, Role.CONDUCT_OFFICER):
        return None
    state = principal.member_state or ""
    return or_(col(Pledge.member_state) == state, col(Pledge.co_sponsors).contains([state]))


def ordering(sort: str) -> list[Any]:
    if sort == "submitted_at":
        return [col(Pledge.submitted_at).asc(), col(Pledge.id).asc()]
    return [col(Pledge.submitted_at).desc(), col(Pledge.id).desc()]


def after_cursor(cursor: str, sort: str) -> ColumnElement[bool]:
    """Keyset pagination: the rows after the last one of the previous page, in the same order."""
    at_text, _, last_id = cursor.partition("|")
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError as exc:
        raise InvalidField("cursor", "not a next_cursor this endpoint returned") from exc
    submitted, pledge_id = col(Pledge.submitted_at), col(Pledge.id)
    if sort == "submitted_at":
        return (submitted > at) | ((submitted == at) & (pledge_id > last_id))
    return (submitted < at) | ((submitted == at) & (pledge_id < last_id))


def cursor_of(pledge: Pledge) -> str:
    return f"{pledge.submitted_at.isoformat()}|{pledge.id}"


def filtered(query: Q, filters: PledgeFilters, principal: Principal) -> Q:
    return query.where(*filters.conditions(principal, datetime.now(UTC)))


# ---------------------------------------------------------------- summary


class SummaryBy(StrEnum):
    MEMBER_STATE = "member_state"
    KIND = "kind"
    STATUS = "status"
    TRAFFIC_LIGHT = "traffic_light"


class SummaryGroup(BaseModel):
    key: str | None
    count: int


class PledgeSummary(BaseModel):
    by: SummaryBy
    total: int
    groups: list[SummaryGroup]


@router.get("/summary", summary="Pledge counts per State, kind, status or traffic light")
async def pledge_summary(
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    filters: Filters,
    by: SummaryBy = SummaryBy.MEMBER_STATE,
) -> PledgeSummary:
    """Counts of the pledges the caller may see (a focal point: its own State's), narrowed by the list's
    filters. A pledge not yet accepted, or ended, has no traffic light: its group's key is null."""
    column = col(getattr(Pledge, by.value))
    count = func.count().label("n")
    query = filtered(select(column, count), filters, principal).group_by(column)
    rows = (await session.execute(query.order_by(count.desc(), column.asc().nulls_last()))).all()
    groups = [SummaryGroup(key=row[0], count=row[1]) for row in rows]
    return PledgeSummary(by=by, total=sum(g.count for g in groups), groups=groups)


# ---------------------------------------------------------------- financial


class FinancialPledge(BaseModel):
    id: str
    member_state: str
    co_sponsors: list[str]
    summit: str
    supports_summit: str | None
    title: str
    status: str
    pledged: Decimal
    currency: str
    delivered: dict[str, Decimal]
    # Money received in the pledged currency, and what remains of the amount (never below zero).
    delivered_in_currency: Decimal
    outstanding: Decimal


class CurrencyTotal(BaseModel):
    pledged: Decimal = Decimal(0)
    delivered: Decimal = Decimal(0)
    outstanding: Decimal = Decimal(0)
    pledges: int = 0


class SummitFunding(BaseModel):
    supports_summit: str | None
    totals: dict[str, CurrencyTotal]


class FinancialReport(BaseModel):
    pledges: list[FinancialPledge]
    totals: dict[str, CurrencyTotal]
    by_summit: list[SummitFunding]


FINANCIAL_COLUMNS = (
    "id",
    "member_state",
    "co_sponsors",
    "summit",
    "supports_summit",
    "title",
    "status",
    "amount",
    "currency",
    "delivered",
)


@router.get("/financial", summary="Financial pledges: money pledged versus delivered")
async def financial_pledges(
    session: SessionDep, principal: Annotated[Principal, READERS], filters: Filters
) -> FinancialReport:
    """Every financial-support pledge the caller may see, with the money its State pledged and the money the
    summit service recorded as received for it; totals per currency, and per supported summit.

    Rejected and withdrawn pledges are listed but their amounts are not counted as pledged; money received is
    always counted."""
    columns = [col(getattr(Pledge, name)) for name in FINANCIAL_COLUMNS]
    query = filtered(select(*columns), filters, principal).where(
        col(Pledge.kind) == PledgeKind.FINANCIAL_SUPPORT.value, col(Pledge.amount).is_not(None)
    )
    query = query.order_by(
        col(Pledge.supports_summit).asc().nulls_last(),
        col(Pledge.member_state),
        col(Pledge.submitted_at),
        col(Pledge.id),
    )
    pledges: list[FinancialPledge] = []
    totals: dict[str, CurrencyTotal] = defaultdict(CurrencyTotal)
    by_summit: dict[str | None, dict[str, CurrencyTotal]] = defaultdict(lambda: defaultdict(CurrencyTotal))
    for row in (await session.execute(query)).mappings():
        pledge = _financial(row)
        pledges.append(pledge)
        for bucket in (totals, by_summit[pledge.supports_summit]):
            _add(bucket, pledge)
    return FinancialReport(
        pledges=pledges,
        totals=dict(sorted(totals.items())),
        by_summit=[
            SummitFunding(supports_summit=summit, totals=dict(sorted(currencies.items())))
            for summit, currencies in by_summit.items()
        ],
    )


def _financial(row: Any) -> FinancialPledge:
    delivered = {currency: Decimal(amount) for currency, amount in sorted((row["delivered"] or {}).items())}
    pledged: Decimal = row["amount"]
    received = delivered.get(row["currency"], Decimal(0))
    return FinancialPledge(
        id=row["id"],
        member_state=row["member_state"],
        co_sponsors=list(row["co_sponsors"] or []),
        summit=row["summit"],
        supports_summit=row["supports_summit"],
        title=row["title"],
        status=row["status"],
        pledged=pledged,
        currency=row["currency"],
        delivered=delivered,
        delivered_in_currency=received,
        outstanding=max(pledged - received, Decimal(0)),
    )


def _add(bucket: dict[str, CurrencyTotal], pledge: FinancialPledge) -> None:
    if pledge.status not in WITHDRAWN_OR_REJECTED:
        total = bucket[pledge.currency]
        total.pledged += pledge.pledged
        total.outstanding += pledge.outstanding
        total.pledges += 1
    for currency, amount in pledge.delivered.items():
        bucket[currency].delivered += amount


# ---------------------------------------------------------------- CSV export

EXPORT_COLUMNS = (
    "id",
    "member_state",
    "co_sponsors",
    "summit",
    "supports_summit",
    "kind",
    "title",
    "status",
    "traffic_light",
    "next_report_due",
    "missed_reports",
    "target_date",
    "indicator",
    "baseline",
    "target",
    "unit",
    "amount",
    "currency",
    "delivered",
    "possible_duplicate_of",
    "submitted_at",
    "version",
)
# Free text a State wrote: a spreadsheet must not run it as a formula (CSV injection).
FREE_TEXT = frozenset({"title", "indicator", "unit"})
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_BATCH = 500


@router.get(
    "/export.csv",
    summary="The pledges of the list as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "A CSV file with a header row"}},
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
    columns = [col(getattr(Pledge, name)) for name in EXPORT_COLUMNS]
    query = filtered(select(*columns), filters, principal).order_by(*ordering(sort))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        _csv_rows(runtime, query),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="pledges-{stamp}.csv"'},
    )


async def _csv_rows(runtime: RuntimeDep, query: AnySelect) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield _drain(buffer)
    # Its own session: the request's is closed once the endpoint has returned the response.
    async with runtime.sessions() as session:
        result = await session.stream(query.execution_options(yield_per=EXPORT_BATCH))
        async for batch in result.mappings().partitions(EXPORT_BATCH):
            for row in batch:
                writer.writerow(_csv_cell(name, row[name]) for name in EXPORT_COLUMNS)
            yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _csv_cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "delivered":
        return ";".join(f"{currency} {amount}" for currency, amount in sorted(value.items()))
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ";".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    text = str(value)
    if name in FREE_TEXT and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text
