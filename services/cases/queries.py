"""Reading cases: one case as its caller may know it, lists with keyset pages, the statistics, the review
flags and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import DateTime, case, func, inspect, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.cases.domain.case import Case
from services.cases.models import (
    AuditEntryRow,
    CaseRow,
    CaseStatisticsHeadlineRow,
    CaseStatisticsRow,
    ReviewFlag,
    ReviewFlagRow,
    VictimIdentityRow,
)
from services.common.auth import Principal
from services.common.errors import NotFound
from services.common.paging import PageRequest, keyset_page
from uncops_contracts.cases import AllegationType, CaseStatus, MisconductCategory, PersonnelCategory


def may_see(principal: Principal, row: CaseRow) -> bool:
    """Whether the case exists for this caller: a focal point's own State's personnel only, and only the
    missions the caller's token names (all, without a ``missions`` claim)."""
    return principal.may_act_for(row.police_contributing_country) and principal.may_see_mission(row.mission)


async def load_case(session: AsyncSession, case_id: str, principal: Principal) -> Case:
    row = await session.get(CaseRow, case_id)
    # Another State's or another mission's case is not acknowledged to exist.
    if row is None or not may_see(principal, row):
        raise NotFound(f"no case {case_id}")
    return Case.model_validate(row.state)


@dataclass(frozen=True)
class CaseFilters:
    """What a list of cases may be narrowed to; None leaves a dimension open."""

    mission: str | None = None
    # The caller's missions (Principal.missions): a filter every list applies, None for all.
    within_missions: frozenset[str] | None = None
    status: CaseStatus | None = None
    police_contributing_country: str | None = None
    category: MisconductCategory | None = None
    personnel_category: PersonnelCategory | None = None
    allegation_type: AllegationType | None = None
    overdue: bool | None = None
    assigned_officer: str | None = None
    reported_from: date | None = None
    reported_to: date | None = None
    incident_from: date | None = None
    incident_to: date | None = None
    reference: str | None = None  # the reference or its beginning, upper case


# A case's next due date, a case with no running deadline after every due date: the very expression of the
# keyset index case_file_next_due_keyset (migration 0007), written as SQL so that PostgreSQL matches it.
NEXT_DUE = literal_column(
    "coalesce(next_due_at, '9999-12-31 00:00:00+00'::timestamptz)", DateTime(timezone=True)
)


async def list_cases(
    session: AsyncSession,
    filters: CaseFilters,
    sort: Literal["reported_on", "-reported_on", "next_due"],
    page: PageRequest,
) -> tuple[list[Case], str | None]:
    """A page of cases in report order (or next deadline first) and the cursor of the next page (None on
    the last)."""
    conditions: list[Any] = []
    for column, value in (
        (CaseRow.mission, filters.mission),
        (CaseRow.status, filters.status.value if filters.status else None),
        (CaseRow.police_contributing_country, filters.police_contributing_country),
        (CaseRow.category, filters.category.value if filters.category else None),
        (
            CaseRow.personnel_category,
            filters.personnel_category.value if filters.personnel_category else None,
        ),
        (CaseRow.allegation_type, filters.allegation_type.value if filters.allegation_type else None),
        (CaseRow.overdue, filters.overdue),
        (CaseRow.assigned_officer, filters.assigned_officer),
    ):
        if value is not None:
            conditions.append(col(column) == value)
    if filters.within_missions is not None:
        conditions.append(col(CaseRow.mission).in_(sorted(filters.within_missions)))
    if filters.reference is not None:
        conditions.append(col(CaseRow.reference).startswith(filters.reference, autoescape=True))
    for day_column, low, high in (
        (CaseRow.reported_on, filters.reported_from, filters.reported_to),
        (CaseRow.incident_date, filters.incident_from, filters.incident_to),
    ):
        if low is not None:
            conditions.append(col(day_column) >= low)
        if high is not None:
            conditions.append(col(day_column) <= high)
    if sort == "next_due":
        order: tuple[Any, ...] = (NEXT_DUE.asc(), col(CaseRow.id).asc())
    elif sort.startswith("-"):
        order = (col(CaseRow.reported_on).desc(), col(CaseRow.id).desc())
    else:
        order = (col(CaseRow.reported_on).asc(), col(CaseRow.id).asc())
    rows, next_cursor = await keyset_page(session, select(CaseRow).where(*conditions), order, page)
    return [Case.model_validate(r.state) for r in rows], next_cursor


# The statistics' dimensions, as columns of the summaries that case_file's triggers keep (migration 0003).
STAT_DIMENSIONS = {
    "year": "year",
    "mission": "mission",
    "personnel_category": "personnel_category",
    "nationality": "police_contributing_country",
    "allegation_type": "allegation_type",
    "category": "category",
    "result": "result",
}
# Smallest first: a question is answered from the first summary that has all its dimensions.
SUMMARIES = [inspect(CaseStatisticsHeadlineRow).local_table, inspect(CaseStatisticsRow).local_table]


async def statistics(
    session: AsyncSession, by: list[str], missions: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    """Allegations and victims counted by the ``by`` dimensions, in the shape of the UN's public tables;
    only the cases of ``missions`` (the caller's) when given."""
    dimension_names = list(dict.fromkeys(by))
    columns = [STAT_DIMENSIONS[d] for d in dimension_names]
    summary = next(s for s in SUMMARIES if all(c in s.c for c in columns)).c
    dimensions = [summary[c].label(d) for c, d in zip(columns, dimension_names, strict=True)]
    substantiated = case((summary.result == "substantiated", summary.allegations), else_=0)
    query = (
        select(
            *dimensions,
            func.sum(summary.allegations).label("allegations"),
            func.sum(summary.victims_adult).label("victims_adult"),
            func.sum(summary.victims_minor).label("victims_minor"),
            func.sum(substantiated).label("substantiated"),
        )
        .group_by(*dimensions)
        .order_by(*dimensions)
    )
    if missions is not None:  # every summary keeps the mission: both can be narrowed to some
        query = query.where(summary.mission.in_(sorted(missions)))
    return [dict(row._mapping) for row in await session.execute(query)]


async def review_flags(session: AsyncSession, missions: frozenset[str] | None = None) -> list[ReviewFlag]:
    """The review flags raised, newest first. A flag counts a unit's or a country's cases in every mission:
    for a caller limited to ``missions`` it shows only if one of its cases is theirs, with only those cases
    in ``case_ids`` and ``count`` (the others are not acknowledged to exist; ``threshold`` stays the rule's,
    so a count below it says the rest of the flag lies outside the caller's missions)."""
    query = select(ReviewFlagRow).order_by(col(ReviewFlagRow.raised_at).desc())
    flags: list[ReviewFlag] = list((await session.execute(query)).scalars())
    if missions is None:
        return flags
    flagged = {case_id for flag in flags for case_id in flag.case_ids}
    seen = set(
        (
            await session.execute(
                select(col(CaseRow.id)).where(
                    col(CaseRow.id).in_(sorted(flagged)), col(CaseRow.mission).in_(sorted(missions))
                )
            )
        ).scalars()
    )
    scoped = []
    for flag in flags:
        case_ids = [case_id for case_id in flag.case_ids if case_id in seen]
        if case_ids:
            scoped.append(ReviewFlag(**{**flag.model_dump(), "case_ids": case_ids, "count": len(case_ids)}))
    return scoped


async def audit_trail(session: AsyncSession, case_id: str) -> list[AuditEntryRow]:
    """The whole trail, oldest first: what the chain check reads."""
    query = select(AuditEntryRow).where(col(AuditEntryRow.case_id) == case_id)
    return list((await session.execute(query.order_by(col(AuditEntryRow.position)))).scalars())


async def audit_page(
    session: AsyncSession, case_id: str, page: PageRequest
) -> tuple[list[AuditEntryRow], str | None]:
    """A page of the case's audit trail, oldest first (positions are unique within a case)."""
    query = select(AuditEntryRow).where(col(AuditEntryRow.case_id) == case_id)
    return await keyset_page(session, query, (col(AuditEntryRow.position).asc(),), page)


async def sealed_identity(session: AsyncSession, case_id: str, victim_id: str) -> bytes | None:
    """The victim's encrypted identity, if the case recorded one for that victim."""
    stored = await session.get(VictimIdentityRow, victim_id)
    return stored.ciphertext if stored is not None and stored.case_id == case_id else None


# ---- Business gauges (issue 20): read every 30 s by the relay's process (app.py), one query each.
async def open_cases_by_stage(session: AsyncSession) -> dict[str, int]:
    """How many cases are in each stage but closed."""
    rows = await session.execute(
        select(col(CaseRow.status), func.count())
        .where(col(CaseRow.status) != CaseStatus.CLOSED.value)
        .group_by(col(CaseRow.status))
    )
    return {status: count for status, count in rows.tuples()}


async def overdue_cases_by_mission(session: AsyncSession) -> dict[str, int]:
    """How many cases of each mission have a deadline past due (escalated: few rows, found through the
    partial index case_file_overdue_keyset)."""
    rows = await session.execute(
        select(col(CaseRow.mission), func.count()).where(col(CaseRow.overdue)).group_by(col(CaseRow.mission))
    )
    return {mission: count for mission, count in rows.tuples()}


# ---- re-encryption under the primary key (issue 20, `uncops rekey cases`)


async def count_identities(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(VictimIdentityRow)) or 0)


async def identities_after(session: AsyncSession, after: str | None, limit: int) -> list[VictimIdentityRow]:
    """The next ``limit`` sealed identities in victim-id order, locked until the caller's transaction ends."""
    query = (
        select(VictimIdentityRow).order_by(col(VictimIdentityRow.victim_id)).limit(limit).with_for_update()
    )
    if after is not None:
        query = query.where(col(VictimIdentityRow.victim_id) > after)
    return list((await session.scalars(query)).all())
