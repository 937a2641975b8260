"""Reads of the summit service: a summit and its plan, its money, delegations and places, participants, the
agenda's draft and releases, and the material the other services feed in."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Select, cast, func, or_
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from services.common.auth import Principal
from services.common.errors import NotFound
from services.common.paging import PageRequest, keyset_page
from services.summit.domain.agenda import (
    ProgrammePerson,
    ProgrammeRoom,
    ProgrammeSession,
    RoomHours,
    SessionKind,
    Slot,
    programme_order,
)
from services.summit.domain.budget import FundingPledge, FundingPosition, FundingReceiptLine, funding_position
from services.summit.domain.delegations import HOLDING, Delegation
from services.summit.models import (
    AgendaSessionRow,
    BudgetLineRow,
    CalendarFeedRow,
    DelegationRow,
    ExpenditureRow,
    FundingReceiptRow,
    MilestoneRow,
    ParticipantRow,
    ProgrammeReleaseRow,
    PublicAllegationRow,
    RoomRow,
    SessionPersonRow,
    SummitAuditRow,
    SummitPledgeRow,
    SummitRow,
)
from uncops_contracts.summit import DelegationStatus, HeadOfDelegation

EXPORT_BATCH = 500

# --- The summit and its plan -----------------------------------------------------------------------------


async def summit_or_404(session: AsyncSession, summit_id: str, *, for_update: bool = False) -> SummitRow:
    # FOR NO KEY UPDATE: exclusive among the summit's writers, without blocking inserts that name the summit
    # (a registration's participants) nor deadlocking with one (services/summit/store.py).
    summit = await session.get(
        SummitRow, summit_id, with_for_update={"key_share": True} if for_update else False
    )
    if summit is None:
        raise NotFound(f"no summit {summit_id}")
    return summit


async def summits(session: AsyncSession, page: PageRequest) -> tuple[list[SummitRow], str | None]:
    return await keyset_page(session, select(SummitRow), (col(SummitRow.starts_on), col(SummitRow.id)), page)


async def milestones(session: AsyncSession, summit_id: str) -> list[MilestoneRow]:
    rows = await session.execute(
        select(MilestoneRow).where(MilestoneRow.summit_id == summit_id).order_by(col(MilestoneRow.due_at))
    )
    return list(rows.scalars())


async def milestones_page(
    session: AsyncSession, summit_id: str, page: PageRequest
) -> tuple[list[MilestoneRow], str | None]:
    query = select(MilestoneRow).where(col(MilestoneRow.summit_id) == summit_id)
    return await keyset_page(session, query, (col(MilestoneRow.due_at), col(MilestoneRow.id)), page)


async def milestone_or_404(session: AsyncSession, summit_id: str, milestone_id: str) -> MilestoneRow:
    milestone = await session.get(MilestoneRow, milestone_id)
    if milestone is None or milestone.summit_id != summit_id:
        raise NotFound(f"no milestone {milestone_id} in summit {summit_id}")
    return milestone


async def participant_or_404(session: AsyncSession, summit_id: str, participant_id: str) -> ParticipantRow:
    participant = await session.get(ParticipantRow, participant_id)
    if participant is None or participant.summit_id != summit_id:
        raise NotFound(f"no participant {participant_id} in summit {summit_id}")
    return participant


async def milestone_due_at(session: AsyncSession, summit_id: str, key: str) -> Any:
    return (
        await session.execute(
            select(MilestoneRow.due_at).where(
                col(MilestoneRow.summit_id) == summit_id, col(MilestoneRow.key) == key
            )
        )
    ).scalar_one_or_none()


# --- Money -----------------------------------------------------------------------------------------------


async def funding_position_of(session: AsyncSession, summit: SummitRow) -> FundingPosition:
    """The summit's money from its tables: budget lines, spending, the financial pledges supporting it
    (as the pledge service's events described them) and the receipts."""
    budget = (
        await session.execute(
            select(col(BudgetLineRow.planned)).where(col(BudgetLineRow.summit_id) == summit.id)
        )
    ).scalars()
    spent = (
        await session.execute(
            select(col(ExpenditureRow.amount)).where(col(ExpenditureRow.summit_id) == summit.id)
        )
    ).scalars()
    pledges = (
        await session.execute(
            select(SummitPledgeRow).where(
                col(SummitPledgeRow.supports_summit) == summit.id, col(SummitPledgeRow.amount).is_not(None)
            )
        )
    ).scalars()
    receipts = (
        await session.execute(select(FundingReceiptRow).where(col(FundingReceiptRow.summit_id) == summit.id))
    ).scalars()
    return funding_position(
        summit.budget_currency,
        {currency: Decimal(rate) for currency, rate in summit.exchange_rates.items()},
        list(budget),
        list(spent),
        [
            FundingPledge(p.pledge_id, p.member_state, p.status, p.amount, p.currency)
            for p in pledges
            if p.amount is not None and p.currency is not None
        ],
        [FundingReceiptLine(r.pledge_id, r.member_state, r.amount, r.currency) for r in receipts],
    )


async def spent_on_line(session: AsyncSession, line_id: str) -> Decimal:
    spent = await session.scalar(
        select(func.coalesce(func.sum(ExpenditureRow.amount), 0)).where(
            col(ExpenditureRow.budget_line_id) == line_id
        )
    )
    return Decimal(spent or 0)


async def budget_line_or_404(
    session: AsyncSession, summit_id: str, line_id: str, *, for_update: bool = False
) -> BudgetLineRow:
    line = await session.get(BudgetLineRow, line_id, with_for_update=for_update)
    if line is None or line.summit_id != summit_id:
        raise NotFound(f"no budget line {line_id} in summit {summit_id}")
    return line


async def expenditures(
    session: AsyncSession, summit_id: str, line_id: str | None = None
) -> list[ExpenditureRow]:
    query = select(ExpenditureRow).where(col(ExpenditureRow.summit_id) == summit_id)
    if line_id is not None:
        query = query.where(col(ExpenditureRow.budget_line_id) == line_id)
    query = query.order_by(col(ExpenditureRow.spent_on), col(ExpenditureRow.id))
    return list((await session.execute(query)).scalars())


async def expenditures_page(
    session: AsyncSession, summit_id: str, page: PageRequest
) -> tuple[list[ExpenditureRow], str | None]:
    query = select(ExpenditureRow).where(col(ExpenditureRow.summit_id) == summit_id)
    return await keyset_page(session, query, (col(ExpenditureRow.spent_on), col(ExpenditureRow.id)), page)


async def expenditure_or_404(
    session: AsyncSession, summit_id: str, expenditure_id: str, *, for_update: bool = False
) -> ExpenditureRow:
    row = await session.get(ExpenditureRow, expenditure_id, with_for_update=for_update)
    if row is None or row.summit_id != summit_id:
        raise NotFound(f"no expenditure {expenditure_id} in summit {summit_id}")
    return row


# Receipts recorded before recorded_at was kept have none: they sort first within their day.
_NOT_RECORDED = datetime(1970, 1, 1, tzinfo=UTC)


async def receipts(
    session: AsyncSession, summit_id: str, page: PageRequest
) -> tuple[list[FundingReceiptRow], str | None]:
    """Receipts and reversing entries, in the order they were recorded (a reversal after its receipt), and
    for the page's receipts the entries reversing them (wherever those fall), by receipt id."""
    query = select(FundingReceiptRow).where(col(FundingReceiptRow.summit_id) == summit_id)
    order = (
        col(FundingReceiptRow.received_on),
        func.coalesce(col(FundingReceiptRow.recorded_at), _NOT_RECORDED),
        col(FundingReceiptRow.id),
    )
    return await keyset_page(session, query, order, page)


async def reversals_of(session: AsyncSession, receipt_ids: Sequence[str]) -> dict[str, str]:
    """The entry reversing each of these receipts, if any: receipt id to reversal id."""
    if not receipt_ids:
        return {}
    query = select(col(FundingReceiptRow.reverses), col(FundingReceiptRow.id)).where(
        col(FundingReceiptRow.reverses).in_(list(receipt_ids))
    )
    return {reverses: reversal for reverses, reversal in await session.execute(query) if reverses}


async def receipt_or_404(
    session: AsyncSession, summit_id: str, receipt_id: str, *, for_update: bool = False
) -> FundingReceiptRow:
    row = await session.get(FundingReceiptRow, receipt_id, with_for_update=for_update)
    if row is None or row.summit_id != summit_id:
        raise NotFound(f"no receipt {receipt_id} in summit {summit_id}")
    return row


async def reversal_of(session: AsyncSession, receipt_id: str) -> FundingReceiptRow | None:
    query = select(FundingReceiptRow).where(col(FundingReceiptRow.reverses) == receipt_id)
    return (await session.execute(query)).scalars().first()


async def audit(
    session: AsyncSession, summit_id: str, page: PageRequest, subject_id: str | None = None
) -> tuple[list[SummitAuditRow], str | None]:
    query = select(SummitAuditRow).where(col(SummitAuditRow.summit_id) == summit_id)
    if subject_id is not None:
        query = query.where(col(SummitAuditRow.subject_id) == subject_id)
    return await keyset_page(session, query, (col(SummitAuditRow.at), col(SummitAuditRow.id)), page)


async def budget_lines(session: AsyncSession, summit_id: str) -> list[tuple[BudgetLineRow, Decimal]]:
    """The summit's budget lines by category and title, each with what was spent against it."""
    spent_by_line: dict[str, Decimal] = defaultdict(Decimal)
    for line_id, amount in await session.execute(
        select(col(ExpenditureRow.budget_line_id), col(ExpenditureRow.amount)).where(
            col(ExpenditureRow.summit_id) == summit_id
        )
    ):
        spent_by_line[line_id] += amount
    lines = (
        await session.execute(
            select(BudgetLineRow)
            .where(col(BudgetLineRow.summit_id) == summit_id)
            .order_by(col(BudgetLineRow.category), col(BudgetLineRow.title))
        )
    ).scalars()
    return [(line, spent_by_line[line.id]) for line in lines]


async def budget_lines_page(
    session: AsyncSession, summit_id: str, page: PageRequest
) -> tuple[list[tuple[BudgetLineRow, Decimal]], str | None]:
    """A page of the summit's budget lines by category and title, each with what was spent against it."""
    query = select(BudgetLineRow).where(col(BudgetLineRow.summit_id) == summit_id)
    order = (col(BudgetLineRow.category), col(BudgetLineRow.title), col(BudgetLineRow.id))
    lines, next_cursor = await keyset_page(session, query, order, page)
    spent_by_line: dict[str, Decimal] = defaultdict(Decimal)
    if lines:
        for line_id, amount in await session.execute(
            select(col(ExpenditureRow.budget_line_id), col(ExpenditureRow.amount)).where(
                col(ExpenditureRow.budget_line_id).in_([line.id for line in lines])
            )
        ):
            spent_by_line[line_id] += amount
    return [(line, spent_by_line[line.id]) for line in lines], next_cursor


# --- Material fed by the other services ------------------------------------------------------------------

# Accepted at some point: what a follow-up session reports on (rejected and never-reviewed pledges are not).
FOLLOWED_UP = ("accepted", "in_progress", "fulfilled", "lapsed", "withdrawn")
ACCOUNTABILITY_DIMENSIONS = (
    "reported_year",
    "mission",
    "personnel_category",
    "nationality",
    "allegation_type",
    "result",
)


async def summit_pledges(
    session: AsyncSession, summit_id: str, page: PageRequest
) -> tuple[list[SummitPledgeRow], str | None]:
    query = select(SummitPledgeRow).where(
        (SummitPledgeRow.summit == summit_id) | (SummitPledgeRow.supports_summit == summit_id)
    )
    order = (col(SummitPledgeRow.submitted_at), col(SummitPledgeRow.pledge_id))
    return await keyset_page(session, query, order, page)


async def followed_up_pledges(
    session: AsyncSession, made_at: Sequence[str] | None
) -> dict[tuple[str, str], list[SummitPledgeRow]]:
    """Pledges accepted at some point, by (Member State, kind), made at the given summits (default: all)."""
    query = select(SummitPledgeRow).where(col(SummitPledgeRow.status).in_(FOLLOWED_UP))
    if made_at:
        query = query.where(col(SummitPledgeRow.summit).in_(made_at))
    rows = (
        await session.execute(
            query.order_by(
                col(SummitPledgeRow.member_state),
                col(SummitPledgeRow.kind),
                col(SummitPledgeRow.submitted_at),
            )
        )
    ).scalars()
    groups: dict[tuple[str, str], list[SummitPledgeRow]] = defaultdict(list)
    for pledge in rows:
        groups[(pledge.member_state, pledge.kind)].append(pledge)
    return groups


@dataclass(frozen=True)
class Allegations:
    allegations: int
    victims_adult: int
    victims_minor: int
    referred_for_criminal_accountability: int
    tables: dict[str, dict[str, int]]


async def allegations(session: AsyncSession, since_year: int | None) -> Allegations:
    where = [] if since_year is None else [col(PublicAllegationRow.reported_year) >= since_year]
    totals = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(PublicAllegationRow.victims_adult), 0),
                func.coalesce(func.sum(PublicAllegationRow.victims_minor), 0),
                func.count().filter(col(PublicAllegationRow.referred_for_criminal_accountability)),
            ).where(*where)
        )
    ).one()
    tables = {}
    for dimension in ACCOUNTABILITY_DIMENSIONS:
        column = getattr(PublicAllegationRow, dimension)
        counted = await session.execute(
            select(column, func.count()).where(*where).group_by(column).order_by(column)
        )
        tables[dimension] = {str(value) if value is not None else "pending": n for value, n in counted}
    return Allegations(totals[0], totals[1], totals[2], totals[3], tables)


# --- Delegations and places ------------------------------------------------------------------------------


def delegation_state(row: DelegationRow, reminded: list[int] | None = None) -> Delegation:
    return Delegation(
        delegation_id=row.id,
        summit_id=row.summit_id,
        member_state=row.member_state,
        status=DelegationStatus(row.status),
        version=row.version,
        note_verbale=row.note_verbale,
        invited_at=row.invited_at,
        registration_deadline=row.registration_deadline,
        head_of_delegation=HeadOfDelegation(row.head_of_delegation) if row.head_of_delegation else None,
        members=row.members,
        languages=list(row.languages),
        registered_at=row.registered_at,
        waitlisted_at=row.waitlisted_at,
        reason=row.reason,
        reminded=reminded or [],
    )


async def delegation_or_404(
    session: AsyncSession, summit_id: str, delegation_id: str, principal: Principal
) -> DelegationRow:
    row = await session.get(DelegationRow, delegation_id)
    # Another State's delegation is not even acknowledged to exist.
    if row is None or row.summit_id != summit_id or not principal.may_act_for(row.member_state):
        raise NotFound(f"no delegation {delegation_id} in summit {summit_id}")
    return row


async def invited_states(session: AsyncSession, summit_id: str, states: Sequence[str]) -> set[str]:
    return set(
        (
            await session.execute(
                select(DelegationRow.member_state).where(
                    col(DelegationRow.summit_id) == summit_id, col(DelegationRow.member_state).in_(states)
                )
            )
        ).scalars()
    )


def delegations_query(summit_id: str, member_state: str | None) -> SelectOfScalar[DelegationRow]:
    query = select(DelegationRow).where(col(DelegationRow.summit_id) == summit_id)
    if member_state is not None:
        query = query.where(col(DelegationRow.member_state) == member_state)
    return query


def delegations_export(summit_id: str, member_state: str | None) -> SelectOfScalar[DelegationRow]:
    return delegations_query(summit_id, member_state).order_by(col(DelegationRow.member_state))


async def delegations_page(
    session: AsyncSession,
    summit_id: str,
    member_state: str | None,
    status: DelegationStatus | None,
    page: PageRequest,
) -> tuple[list[DelegationRow], str | None]:
    """A page of delegations by Member State."""
    query = delegations_query(summit_id, member_state)
    if status is not None:
        query = query.where(col(DelegationRow.status) == status.value)
    return await keyset_page(session, query, (col(DelegationRow.member_state), col(DelegationRow.id)), page)


async def roster(session: AsyncSession, delegation_id: str) -> list[ParticipantRow]:
    rows = await session.execute(
        select(ParticipantRow)
        .where(col(ParticipantRow.delegation_id) == delegation_id)
        .order_by(col(ParticipantRow.is_head).desc(), col(ParticipantRow.created_at), col(ParticipantRow.id))
    )
    return list(rows.scalars())


async def places_taken(session: AsyncSession, summit_id: str, excluding: str | None = None) -> int:
    query = select(func.coalesce(func.sum(DelegationRow.members), 0)).where(
        col(DelegationRow.summit_id) == summit_id,
        col(DelegationRow.status).in_([s.value for s in HOLDING]),
    )
    if excluding is not None:
        query = query.where(col(DelegationRow.id) != excluding)
    return int((await session.execute(query)).scalar_one())


async def waiting_list(session: AsyncSession, summit_id: str, *, lock: bool = False) -> list[DelegationRow]:
    query = (
        select(DelegationRow)
        .where(col(DelegationRow.summit_id) == summit_id, col(DelegationRow.status) == "waitlisted")
        .order_by(col(DelegationRow.waitlisted_at), col(DelegationRow.id))
    )
    if lock:
        query = query.with_for_update()
    return list((await session.execute(query)).scalars())


async def last_badge_sequence(session: AsyncSession, summit_id: str) -> int:
    last = (
        await session.execute(
            select(
                func.max(cast(func.substring(col(ParticipantRow.badge_number), "[0-9]+$"), Integer))
            ).where(col(ParticipantRow.summit_id) == summit_id, col(ParticipantRow.badge_number).is_not(None))
        )
    ).scalar_one()
    return int(last or 0)


def attending(summit_id: str) -> SelectOfScalar[ParticipantRow]:
    """Participants of delegations holding places, and guests, by Member State (guests last)."""
    return (
        select(ParticipantRow)
        .outerjoin(DelegationRow, col(DelegationRow.id) == col(ParticipantRow.delegation_id))
        .where(col(ParticipantRow.summit_id) == summit_id)
        .where(
            or_(
                col(ParticipantRow.delegation_id).is_(None),
                col(DelegationRow.status).in_([s.value for s in HOLDING]),
            )
        )
        .order_by(
            col(DelegationRow.member_state).nulls_last(),
            col(ParticipantRow.is_head).desc(),
            col(ParticipantRow.created_at),
            col(ParticipantRow.id),
        )
    )


async def participants(
    session: AsyncSession, summit_id: str, member_state: str | None, page: PageRequest
) -> tuple[list[ParticipantRow], str | None]:
    """A page of attending(summit_id)'s participants, in its order (guests, with no State, last)."""
    query = attending(summit_id).order_by(None)
    if member_state is not None:
        query = query.where(col(DelegationRow.member_state) == member_state)
    state = col(DelegationRow.member_state)
    order = (
        state.is_(None).asc(),
        func.coalesce(state, "").asc(),
        col(ParticipantRow.is_head).desc(),
        col(ParticipantRow.created_at).asc(),
        col(ParticipantRow.id).asc(),
    )
    return await keyset_page(session, query, order, page)


def participants_export(summit_id: str, member_state: str | None, internal: bool) -> Select[*tuple[Any, ...]]:
    """Persons attending with their delegation's State and status; published: only those who consented."""
    query = attending(summit_id).add_columns(col(DelegationRow.member_state), col(DelegationRow.status))
    if not internal:
        query = query.where(col(ParticipantRow.consent_to_list).is_(True))
    if member_state is not None:
        query = query.where(col(DelegationRow.member_state) == member_state)
    return query


def badges_export(summit_id: str) -> Select[*tuple[Any, ...]]:
    """Badges to print: accredited and confirmed delegations' persons, and guests, by badge number."""
    return (
        select(ParticipantRow, col(DelegationRow.member_state), col(DelegationRow.status))
        .outerjoin(DelegationRow, col(DelegationRow.id) == col(ParticipantRow.delegation_id))
        .where(col(ParticipantRow.summit_id) == summit_id, col(ParticipantRow.badge_number).is_not(None))
        .where(
            or_(
                col(ParticipantRow.delegation_id).is_(None),
                col(DelegationRow.status).in_(
                    [DelegationStatus.ACCREDITED.value, DelegationStatus.CONFIRMED.value]
                ),
            )
        )
        .order_by(col(ParticipantRow.badge_number))
    )


async def stream(sessions: async_sessionmaker[AsyncSession], query: Any) -> AsyncIterator[Sequence[Any]]:
    """The query's rows in batches, on a session of its own (a streamed response outlives the request's)."""
    async with sessions() as session:
        result = await session.stream(query.execution_options(yield_per=EXPORT_BATCH))
        async for batch in result.partitions(EXPORT_BATCH):
            yield batch


# --- The agenda ------------------------------------------------------------------------------------------


async def rooms(session: AsyncSession, summit_id: str) -> list[RoomRow]:
    query = (
        select(RoomRow)
        .where(or_(col(RoomRow.summit_id).is_(None), col(RoomRow.summit_id) == summit_id))
        .order_by(col(RoomRow.summit_id).nulls_first(), col(RoomRow.name))
    )
    return list((await session.execute(query)).scalars())


async def rooms_page(
    session: AsyncSession, summit_id: str, page: PageRequest
) -> tuple[list[RoomRow], str | None]:
    """UN Headquarters' own rooms first, then the summit's, each by name."""
    query = select(RoomRow).where(or_(col(RoomRow.summit_id).is_(None), col(RoomRow.summit_id) == summit_id))
    order = (col(RoomRow.summit_id).is_not(None), col(RoomRow.name), col(RoomRow.id))
    return await keyset_page(session, query, order, page)


async def room_or_404(
    session: AsyncSession, summit_id: str, room_id: str, *, for_update: bool = False
) -> RoomRow:
    """A room the summit may use: UN Headquarters' own (no summit) or one added for it."""
    room = await session.get(RoomRow, room_id, with_for_update=for_update)
    if room is None or room.summit_id not in (None, summit_id):
        raise NotFound(f"no room {room_id} at summit {summit_id}")
    return room


async def sessions_in_room(session: AsyncSession, room_id: str) -> list[tuple[str, str]]:
    """The draft's sessions placed in a room: (id, title), by start."""
    query = (
        select(AgendaSessionRow.id, AgendaSessionRow.title)
        .where(col(AgendaSessionRow.room_id) == room_id)
        .order_by(col(AgendaSessionRow.starts_at))
    )
    return [(row[0], row[1]) for row in await session.execute(query)]


def room_hours(room: RoomRow) -> RoomHours:
    return RoomHours(room.id, room.name, room.capacity, room.opens_at, room.closes_at)


async def registered(session: AsyncSession, summit_id: str, people: Sequence[str]) -> set[str]:
    """Which of ``people`` are registered participants of the summit: guests, or members of a delegation
    holding places (not invited only, waitlisted, declined, withdrawn or expired)."""
    if not people:
        return set()
    query = (
        select(ParticipantRow.id)
        .outerjoin(DelegationRow, col(DelegationRow.id) == col(ParticipantRow.delegation_id))
        .where(col(ParticipantRow.summit_id) == summit_id, col(ParticipantRow.id).in_(list(people)))
        .where(
            or_(
                col(ParticipantRow.delegation_id).is_(None),
                col(DelegationRow.status).in_([status.value for status in HOLDING]),
            )
        )
    )
    return set((await session.execute(query)).scalars())


async def draft(
    session: AsyncSession, summit_id: str, during: tuple[Any, Any] | None = None
) -> tuple[list[AgendaSessionRow], dict[str, list[SessionPersonRow]]]:
    """The draft's sessions (only those overlapping ``during`` if given) and their speakers and moderators."""
    query = select(AgendaSessionRow).where(col(AgendaSessionRow.summit_id) == summit_id)
    if during is not None:
        query = query.where(
            col(AgendaSessionRow.starts_at) < during[1], col(AgendaSessionRow.ends_at) > during[0]
        )
    sessions = list((await session.execute(query.order_by(col(AgendaSessionRow.starts_at)))).scalars())
    return sessions, await _people_of(session, sessions)


async def _people_of(
    session: AsyncSession, sessions: list[AgendaSessionRow]
) -> dict[str, list[SessionPersonRow]]:
    """The speakers and moderators of ``sessions``, in order, by session id."""
    people: dict[str, list[SessionPersonRow]] = defaultdict(list)
    if sessions:
        rows = await session.execute(
            select(SessionPersonRow)
            .where(col(SessionPersonRow.session_id).in_([row.id for row in sessions]))
            .order_by(col(SessionPersonRow.position))
        )
        for person in rows.scalars():
            people[person.session_id].append(person)
    return people


async def draft_page(
    session: AsyncSession, summit_id: str, page: PageRequest
) -> tuple[list[AgendaSessionRow], dict[str, list[SessionPersonRow]], str | None]:
    """A page of the draft's sessions by start time, their speakers and moderators, the next cursor."""
    query = select(AgendaSessionRow).where(col(AgendaSessionRow.summit_id) == summit_id)
    order = (col(AgendaSessionRow.starts_at), col(AgendaSessionRow.id))
    sessions, next_cursor = await keyset_page(session, query, order, page)
    return sessions, await _people_of(session, sessions), next_cursor


async def session_people(session: AsyncSession, session_id: str) -> list[SessionPersonRow]:
    rows = await session.execute(
        select(SessionPersonRow)
        .where(col(SessionPersonRow.session_id) == session_id)
        .order_by(col(SessionPersonRow.position))
    )
    return list(rows.scalars())


async def agenda_session_or_404(
    session: AsyncSession, summit_id: str, session_id: str, *, for_update: bool = False
) -> AgendaSessionRow:
    row = await session.get(AgendaSessionRow, session_id, with_for_update=for_update)
    if row is None or row.summit_id != summit_id:
        raise NotFound(f"no session {session_id} in summit {summit_id}")
    return row


def _names(people: Sequence[SessionPersonRow], role: str) -> tuple[str, ...]:
    return tuple(person.participant_id for person in people if person.role == role)


def speakers(people: Sequence[SessionPersonRow]) -> tuple[str, ...]:
    return _names(people, "speaker")


def moderators(people: Sequence[SessionPersonRow]) -> tuple[str, ...]:
    return _names(people, "moderator")


def slot(row: AgendaSessionRow, people: Sequence[SessionPersonRow]) -> Slot:
    return Slot(
        id=row.id,
        title=row.title,
        room_id=row.room_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        speakers=speakers(people),
        moderators=moderators(people),
        expected_attendance=row.expected_attendance,
    )


async def draft_programme(
    session: AsyncSession, summit: SummitRow
) -> tuple[list[ProgrammeSession], list[Slot], dict[str, RoomRow]]:
    """The draft as a programme (in the programme's order), as the checker's slots, and the rooms."""
    rows, people = await draft(session, summit.id)
    by_id = {room.id: room for room in await rooms(session, summit.id)}
    ids = {person.participant_id for listed in people.values() for person in listed}
    found = (
        {
            participant.id: participant
            for participant in (
                await session.execute(select(ParticipantRow).where(col(ParticipantRow.id).in_(list(ids))))
            ).scalars()
        }
        if ids
        else {}
    )

    def persons(listed: Sequence[SessionPersonRow], role: str) -> list[ProgrammePerson]:
        return [
            ProgrammePerson(
                id=person.participant_id,
                full_name=found[person.participant_id].full_name,
                function=found[person.participant_id].function,
                organisation=found[person.participant_id].organisation,
            )
            for person in listed
            if person.role == role
        ]

    sessions = [
        ProgrammeSession(
            id=row.id,
            title=row.title,
            theme=row.theme,
            kind=SessionKind(row.kind),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            room=ProgrammeRoom.model_validate(by_id[row.room_id], from_attributes=True),
            speakers=persons(people[row.id], "speaker"),
            moderators=persons(people[row.id], "moderator"),
            languages=row.languages,
            expected_attendance=row.expected_attendance,
            description=row.description,
        )
        for row in rows
    ]
    slots = [slot(row, people[row.id]) for row in rows]
    return programme_order(sessions), slots, by_id


async def release(
    session: AsyncSession, summit_id: str, number: int | None = None
) -> ProgrammeReleaseRow | None:
    """The given release of the summit's programme, or its latest."""
    query = select(ProgrammeReleaseRow).where(col(ProgrammeReleaseRow.summit_id) == summit_id)
    if number is not None:
        query = query.where(col(ProgrammeReleaseRow.number) == number)
    return (
        (await session.execute(query.order_by(col(ProgrammeReleaseRow.number).desc()).limit(1)))
        .scalars()
        .first()
    )


async def release_number(session: AsyncSession, summit_id: str, number: int | None) -> int | None:
    """The number of the given release if it exists, or of the latest: no snapshot is read."""
    query = select(ProgrammeReleaseRow.number).where(col(ProgrammeReleaseRow.summit_id) == summit_id)
    if number is not None:
        query = query.where(col(ProgrammeReleaseRow.number) == number)
    found: int | None = (
        await session.execute(query.order_by(col(ProgrammeReleaseRow.number).desc()).limit(1))
    ).scalar()
    return found


async def releases(
    session: AsyncSession, summit_id: str, page: PageRequest
) -> tuple[list[ProgrammeReleaseRow], str | None]:
    query = select(ProgrammeReleaseRow).where(col(ProgrammeReleaseRow.summit_id) == summit_id)
    return await keyset_page(session, query, (col(ProgrammeReleaseRow.number).desc(),), page)


# --- Calendar feeds ------------------------------------------------------------------------------------


async def feeds_of(
    session: AsyncSession, subject: str, page: PageRequest
) -> tuple[list[CalendarFeedRow], str | None]:
    """A person's feeds, the newest first, revoked ones included (they say when)."""
    query = select(CalendarFeedRow).where(col(CalendarFeedRow.subject) == subject)
    order = (col(CalendarFeedRow.created_at).desc(), col(CalendarFeedRow.id).desc())
    return await keyset_page(session, query, order, page)


async def feed_or_404(session: AsyncSession, subject: str, feed_id: str) -> CalendarFeedRow:
    """One of the person's feeds (another person's is not found)."""
    row = await session.get(CalendarFeedRow, feed_id)
    if row is None or row.subject != subject:
        raise NotFound(f"no calendar feed {feed_id} of yours")
    return row


async def live_feed(session: AsyncSession, digest: str) -> CalendarFeedRow | None:
    """The feed whose token has this SHA-256, unless it was revoked."""
    row: CalendarFeedRow | None = (
        await session.execute(
            select(CalendarFeedRow).where(
                col(CalendarFeedRow.token_sha256) == digest, col(CalendarFeedRow.revoked_at).is_(None)
            )
        )
    ).scalar()
    return row


async def feed_stamps(
    session: AsyncSession, milestones: bool, member_state: str | None
) -> list[tuple[Any, ...]]:
    """The version stamps of everything a feed shows, in a stable order: each summit's latest release and
    version; the milestones' count and versions (planners); the State's delegations' deadlines."""
    latest = (
        select_columns(
            col(ProgrammeReleaseRow.summit_id),
            func.max(ProgrammeReleaseRow.number),
            func.max(SummitRow.version),
        )
        .join(SummitRow, col(SummitRow.id) == col(ProgrammeReleaseRow.summit_id))
        .group_by(col(ProgrammeReleaseRow.summit_id))
        .order_by(col(ProgrammeReleaseRow.summit_id))
    )
    stamps: list[tuple[Any, ...]] = [("release", *row) for row in (await session.execute(latest)).all()]
    if milestones:
        plan = (
            select_columns(
                col(MilestoneRow.summit_id),
                func.count(),
                func.sum(MilestoneRow.version),
                func.max(MilestoneRow.due_at),
                func.max(SummitRow.version),
            )
            .join(SummitRow, col(SummitRow.id) == col(MilestoneRow.summit_id))
            .group_by(col(MilestoneRow.summit_id))
            .order_by(col(MilestoneRow.summit_id))
        )
        stamps += [("plan", *row) for row in (await session.execute(plan)).all()]
    if member_state is not None:
        own = (
            select_columns(
                col(DelegationRow.id), col(DelegationRow.version), col(DelegationRow.registration_deadline)
            )
            .where(col(DelegationRow.member_state) == member_state)
            .order_by(col(DelegationRow.id))
        )
        stamps += [("delegation", *row) for row in (await session.execute(own)).all()]
    return stamps


async def latest_releases(session: AsyncSession) -> list[tuple[SummitRow, ProgrammeReleaseRow]]:
    """Every summit's latest release, by the summit's first day."""
    newest = (
        select(col(ProgrammeReleaseRow.summit_id), func.max(ProgrammeReleaseRow.number).label("number"))
        .group_by(col(ProgrammeReleaseRow.summit_id))
        .subquery()
    )
    rows = await session.execute(
        select(SummitRow, ProgrammeReleaseRow)
        .join(ProgrammeReleaseRow, col(ProgrammeReleaseRow.summit_id) == col(SummitRow.id))
        .join(
            newest,
            (newest.c.summit_id == col(ProgrammeReleaseRow.summit_id))
            & (newest.c.number == col(ProgrammeReleaseRow.number)),
        )
        .order_by(col(SummitRow.starts_on), col(SummitRow.id))
    )
    return [(summit, release) for summit, release in rows.tuples()]


async def all_milestones(session: AsyncSession) -> list[tuple[MilestoneRow, str]]:
    """Every summit's milestones with the summit's name, by due date."""
    rows = await session.execute(
        select(MilestoneRow, col(SummitRow.name))
        .join(SummitRow, col(SummitRow.id) == col(MilestoneRow.summit_id))
        .order_by(col(MilestoneRow.due_at), col(MilestoneRow.id))
    )
    return [(milestone, name) for milestone, name in rows.tuples()]


async def deadlines_of(session: AsyncSession, member_state: str) -> list[tuple[DelegationRow, str]]:
    """A State's delegations with the summit's name."""
    rows = await session.execute(
        select(DelegationRow, col(SummitRow.name))
        .join(SummitRow, col(SummitRow.id) == col(DelegationRow.summit_id))
        .where(col(DelegationRow.member_state) == member_state)
        .order_by(col(DelegationRow.registration_deadline))
    )
    return [(delegation, name) for delegation, name in rows.tuples()]
