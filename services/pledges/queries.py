"""Reading pledges back: the filters the list, the summary and the export share (with keyset pages),
summaries per State, kind, status or traffic light, pledged versus delivered for financial pledges, the
export's rows, and the reads of intake and import (a pledge by Idempotency-Key, titles to compare with).

A focal point sees the pledges of its own State (led or co-sponsored), exactly as in the list; planners and
conduct officers see every State's. Everything here reads the pledge rows, which the pledge workflow's
activity keeps up to date (status, traffic light, next report due, missed reports, money delivered).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, RowMapping, Select, func, or_, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from services.common.auth import Principal, Role
from services.common.errors import InvalidField, NotFound
from services.common.paging import PageRequest, keyset_page
from services.pledges.domain.duplicates import STORED_CANDIDATES
from services.pledges.domain.pledge import LIVE
from services.pledges.models import PledgeImportRow, PledgeRow
from uncops_contracts.pledges import PledgeKind, PledgeStatus, TrafficLight

LIVE_VALUES = sorted(status.value for status in LIVE)
# Pledges no longer committed: their amounts do not count as pledged (money received still counts).
WITHDRAWN_OR_REJECTED = (PledgeStatus.REJECTED.value, PledgeStatus.WITHDRAWN.value)

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
            found.append(col(PledgeRow.member_state) == self.member_state)
        if self.kind:
            found.append(col(PledgeRow.kind) == self.kind.value)
        if self.summit:
            found.append(col(PledgeRow.summit) == self.summit)
        if self.supports_summit:
            found.append(col(PledgeRow.supports_summit) == self.supports_summit)
        if self.status:
            found.append(col(PledgeRow.status) == self.status.value)
        if self.traffic_light:
            found.append(col(PledgeRow.traffic_light) == self.traffic_light.value)
        if self.overdue is not None:
            due = col(PledgeRow.next_report_due)
            overdue = col(PledgeRow.status).in_(LIVE_VALUES) & (
                (col(PledgeRow.missed_reports) > 0) | (due.is_not(None) & (due < now))
            )
            not_overdue = col(PledgeRow.status).not_in(LIVE_VALUES) | (
                (col(PledgeRow.missed_reports) == 0) & (due.is_(None) | (due >= now))
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


def visible_to(principal: Principal) -> ColumnElement[bool] | None:
    """None for the secretariat and conduct officers (every State); a focal point's own State's pledges."""
    if principal.has(Role.PLANNER, Role.CONDUCT_OFFICER):
        return None
    state = principal.member_state or ""
    return or_(col(PledgeRow.member_state) == state, col(PledgeRow.co_sponsors).contains([state]))


def ordering(sort: str) -> list[Any]:
    if sort == "submitted_at":
        return [col(PledgeRow.submitted_at).asc(), col(PledgeRow.id).asc()]
    return [col(PledgeRow.submitted_at).desc(), col(PledgeRow.id).desc()]


def filtered(query: Q, filters: PledgeFilters, principal: Principal) -> Q:
    return query.where(*filters.conditions(principal, datetime.now(UTC)))


# ---------------------------------------------------------------- one pledge, a page of them


async def visible_pledge(session: AsyncSession, pledge_id: str, principal: Principal) -> PledgeRow:
    """The pledge, if the principal may see it. Another State's pledge is not even acknowledged to exist."""
    pledge = await session.get(PledgeRow, pledge_id)
    if pledge is None or not may_see(pledge, principal):
        raise NotFound(f"no pledge {pledge_id}")
    return pledge


def may_see(pledge: PledgeRow, principal: Principal) -> bool:
    states = {pledge.member_state, *pledge.co_sponsors}
    return any(principal.may_act_for(state) for state in states)


async def pledge_page(
    session: AsyncSession,
    filters: PledgeFilters,
    principal: Principal,
    sort: str,
    page: PageRequest,
) -> tuple[list[PledgeRow], str | None]:
    """A page of the pledges the principal may see, and the cursor of the next page (None on the last)."""
    return await keyset_page(session, filtered(select(PledgeRow), filters, principal), ordering(sort), page)


async def by_idempotency_key(session: AsyncSession, member_state: str, key: str) -> PledgeRow | None:
    result = await session.execute(
        select(PledgeRow).where(PledgeRow.member_state == member_state, PledgeRow.idempotency_key == key)
    )
    return result.scalar_one_or_none()


async def import_by_key(session: AsyncSession, idempotency_key: str) -> PledgeImportRow | None:
    return await session.get(PledgeImportRow, idempotency_key)


async def stored_titles(
    session: AsyncSession, groups: set[tuple[str, str]]
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Id and title of the stored pledges of each (State, kind): its newest STORED_CANDIDATES first."""
    if not groups:
        return {}
    ranked = (
        sa_select(
            col(PledgeRow.id),
            col(PledgeRow.title),
            col(PledgeRow.member_state),
            col(PledgeRow.kind),
            func.row_number()
            .over(
                partition_by=(col(PledgeRow.member_state), col(PledgeRow.kind)),
                order_by=(col(PledgeRow.submitted_at).desc(), col(PledgeRow.id).desc()),
            )
            .label("rank"),
        )
        .where(tuple_(col(PledgeRow.member_state), col(PledgeRow.kind)).in_(sorted(groups)))
        .subquery()
    )
    rows = await session.execute(
        sa_select(ranked.c.id, ranked.c.title, ranked.c.member_state, ranked.c.kind)
        .where(ranked.c.rank <= STORED_CANDIDATES)
        .order_by(ranked.c.rank)
    )
    found: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for pledge_id, title, member_state, kind in rows:
        found[(member_state, kind)].append((pledge_id, title))
    return found


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


async def summary(
    session: AsyncSession, filters: PledgeFilters, principal: Principal, by: SummaryBy
) -> PledgeSummary:
    column = col(getattr(PledgeRow, by.value))
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


async def financial(session: AsyncSession, filters: PledgeFilters, principal: Principal) -> FinancialReport:
    columns = [col(getattr(PledgeRow, name)) for name in FINANCIAL_COLUMNS]
    query = filtered(select(*columns), filters, principal).where(
        col(PledgeRow.kind) == PledgeKind.FINANCIAL_SUPPORT.value, col(PledgeRow.amount).is_not(None)
    )
    query = query.order_by(
        col(PledgeRow.supports_summit).asc().nulls_last(),
        col(PledgeRow.member_state),
        col(PledgeRow.submitted_at),
        col(PledgeRow.id),
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


# ---------------------------------------------------------------- export


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
EXPORT_BATCH = 500


def export_batches(
    sessions: async_sessionmaker[AsyncSession], filters: PledgeFilters, principal: Principal, sort: str
) -> AsyncIterator[Sequence[RowMapping]]:
    """Every pledge of the list's filters and order (no pagination), EXPORT_COLUMNS, EXPORT_BATCH at a time;
    the query is made now, read as the batches are asked for."""
    columns = [col(getattr(PledgeRow, name)) for name in EXPORT_COLUMNS]
    return _batches(sessions, filtered(select(*columns), filters, principal).order_by(*ordering(sort)))


async def _batches(
    sessions: async_sessionmaker[AsyncSession], query: AnySelect
) -> AsyncIterator[Sequence[RowMapping]]:
    # Its own session: the request's is closed once the endpoint has returned the response.
    async with sessions() as session:
        result = await session.stream(query.execution_options(yield_per=EXPORT_BATCH))
        async for batch in result.mappings().partitions(EXPORT_BATCH):
            yield batch


# ---- Business gauges (issue 20): read every 30 s by the relay's process (app.py).
async def pledges_by_traffic_light(session: AsyncSession) -> dict[str, int]:
    """How many pledges show each traffic light (pledges not yet followed up have none)."""
    rows = await session.execute(
        sa_select(col(PledgeRow.traffic_light), func.count())
        .where(col(PledgeRow.traffic_light).is_not(None))
        .group_by(col(PledgeRow.traffic_light))
    )
    return {str(light): count for light, count in rows.tuples()}
