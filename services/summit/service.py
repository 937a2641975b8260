"""The summit's use cases, called by the routes: plan a summit and move it, add and complete milestones, the
budget and its funding, invite States and take a delegation's steps, places and guests, the agenda and its
programme releases. Each owns its transaction: rows, outbox events and workflow starts (through the gateway,
started before the commit); the rules are in domain/, the writes in store.py, the reads in queries.py."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, delete, select

from services.common.actor import Actor
from services.common.auth import Principal, Role
from services.common.errors import Conflict, InvalidField, VersionConflict
from services.common.observability import current_traceparent
from services.common.temporal import started_before_commit
from services.summit import gateway, queries, store
from services.summit.domain.agenda import (
    AgendaIndex,
    ProgrammeSession,
    RoomInput,
    RoomInUse,
    RoomPatch,
    ScheduleConflict,
    ScheduleConflictItem,
    SessionInput,
    Slot,
    agenda_conflicts,
    candidate,
    check_languages,
    check_people,
    check_session,
    ensure_changed,
    patched_room,
    programme_changes,
    summit_window,
    unregistered_speakers,
)
from services.summit.domain.budget import (
    BudgetLineCreate,
    BudgetLinePatch,
    ExchangeRates,
    ExpenditureCreate,
    ExpenditurePatch,
    ReceiptCreate,
    ReceiptReversal,
    patched,
    reversing_amount,
)
from services.summit.domain.calendars import new_token, token_digest
from services.summit.domain.delegations import (
    ENDED,
    Command,
    Delegation,
    GuestCreate,
    InvitationRequest,
    apply,
    check_guest_languages,
    invited_event,
    invited_states,
    registration_deadline,
)
from services.summit.domain.plan import (
    MilestoneCreate,
    MilestoneReschedule,
    MilestoneStatus,
    SummitCreate,
    SummitReschedule,
    ensure_can_complete,
    ensure_can_reschedule,
    moved_warning,
    plan_from_template,
    replanned,
    warning_time,
)
from services.summit.gateway import (
    AddPlanMilestone,
    CompleteMilestone,
    CompletePlanMilestone,
    DelegationCommandRequest,
    DelegationStart,
    DelegationView,
    MilestoneMove,
    MilestonePlan,
    MoveMilestone,
    PlanMilestone,
    RescheduleSummit,
    SummitPlanStart,
    Temporal,
)
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
    RoomRow,
    SessionPersonRow,
    SummitPledgeRow,
    SummitRow,
)
from uncops_contracts.policies import SummitPolicy
from uncops_contracts.reference import is_member_state
from uncops_contracts.summit import FundingReceiptReversed, FundingReceived, ProgrammeReleased

# Workflows started at once by a bulk invitation: enough to invite 193 States in a few seconds without
# flooding the Temporal frontend.
START_CONCURRENCY = 16


def _check_version(expected: int | None, current: int, what: str, state: str, action: str) -> None:
    if expected is not None and expected != current:
        raise Conflict(f"the {what} is at version {current}, not {expected}", state, [action])


# --- The summit and its plan -----------------------------------------------------------------------------


async def plan_summit(
    session: AsyncSession, temporal: Temporal, policy: SummitPolicy, body: SummitCreate
) -> SummitRow:
    """Stores the summit with the milestones of the template, and starts its plan."""
    summit = SummitRow(
        **body.model_dump(exclude={"capacity"}), capacity=body.capacity or policy.default_capacity
    )
    session.add(summit)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"summit {body.id} already exists") from exc
    milestones = store.add_plan(
        session,
        summit,
        plan_from_template(policy.milestones, body.starts_on, body.ends_on),
        datetime.now(UTC),
    )
    await session.flush()
    # The plan starts before the commit so a summit never exists without its timers.
    async with started_before_commit(session, "summit was not stored") as started:
        started.append(
            await gateway.start_plan(
                temporal,
                SummitPlanStart(
                    summit_id=summit.id,
                    milestones=[
                        PlanMilestone(
                            milestone_id=m.id,
                            key=m.key,
                            title=m.title,
                            owner=m.owner,
                            due_at=m.due_at,
                            warn_at=m.warn_at,
                        )
                        for m in milestones
                    ],
                ),
            )
        )
    return summit


async def reschedule_summit(
    session: AsyncSession,
    temporal: Temporal,
    policy: SummitPolicy,
    summit_id: str,
    body: SummitReschedule,
    requested_by: str,
    expected: int | None,
) -> SummitRow:
    """Moves the summit's dates; its plan moves every pending milestone with them (its activity writes)."""
    summit = await queries.summit_or_404(session, summit_id)
    _check_version(expected, summit.version, "summit", "planned", "reschedule")
    moves = replanned(
        await queries.milestones(session, summit_id),
        policy.milestones,
        summit.starts_on,
        body.starts_on,
        body.ends_on,
        datetime.now(UTC),
    )
    await session.rollback()  # release the snapshot: the workflow's activity does the writing
    await gateway.reschedule_plan(
        temporal,
        summit_id,
        RescheduleSummit(
            starts_on=body.starts_on,
            ends_on=body.ends_on,
            moves=[
                MilestoneMove(milestone_id=m.milestone_id, due_at=m.due_at, warn_at=m.warn_at) for m in moves
            ],
            requested_by=requested_by,
            traceparent=current_traceparent(),
        ),
    )
    return await queries.summit_or_404(session, summit_id)


async def add_milestone(
    session: AsyncSession, temporal: Temporal, summit_id: str, body: MilestoneCreate
) -> MilestoneRow:
    await queries.summit_or_404(session, summit_id)
    now = datetime.now(UTC)
    planned = PlanMilestone(
        milestone_id=str(uuid.uuid4()),
        title=body.title,
        due_at=body.due_at,
        warn_at=warning_time(body.due_at, timedelta(days=body.warn_before_days), now),
    )
    await session.rollback()
    added = await gateway.add_to_plan(
        temporal, summit_id, AddPlanMilestone(milestone=planned, traceparent=current_traceparent())
    )
    if not added:
        # A summit planned before plans existed, or whose plan has ended: the milestone runs on its own.
        session.add(
            MilestoneRow(
                id=planned.milestone_id,
                summit_id=summit_id,
                title=planned.title,
                due_at=planned.due_at,
                warn_at=planned.warn_at,
            )
        )
        await session.flush()
        async with started_before_commit(session, "milestone was not stored") as started:
            started.append(
                await gateway.start_milestone(
                    temporal,
                    MilestonePlan(
                        milestone_id=planned.milestone_id,
                        summit_id=summit_id,
                        title=planned.title,
                        due_at=planned.due_at,
                        warn_at=planned.warn_at,
                    ),
                )
            )
    milestone = await session.get(MilestoneRow, planned.milestone_id)
    assert milestone is not None  # stored by the workflow's activity before the update returned
    return milestone


async def reschedule_milestone(
    session: AsyncSession,
    temporal: Temporal,
    summit_id: str,
    milestone_id: str,
    body: MilestoneReschedule,
    requested_by: str,
) -> MilestoneRow:
    """Moves one milestone of the plan to a new date; the plan's activity writes it and its event."""
    milestone = await queries.milestone_or_404(session, summit_id, milestone_id)
    ensure_can_reschedule(MilestoneStatus(milestone.status))
    warn_at = moved_warning(
        milestone.due_at, milestone.warn_at, body.due_at, body.warn_before_days, datetime.now(UTC)
    )
    await session.rollback()  # release the snapshot: the workflow's activity does the writing
    await gateway.move_in_plan(
        temporal,
        summit_id,
        MoveMilestone(
            milestone_id=milestone_id,
            due_at=body.due_at,
            warn_at=warn_at,
            requested_by=requested_by,
            traceparent=current_traceparent(),
        ),
    )
    stored = await session.get(MilestoneRow, milestone_id)
    assert stored is not None
    return stored


async def complete_milestone(
    session: AsyncSession, temporal: Temporal, summit_id: str, milestone_id: str, completed_by: str
) -> MilestoneRow:
    milestone = await queries.milestone_or_404(session, summit_id, milestone_id)
    ensure_can_complete(MilestoneStatus(milestone.status))
    await session.rollback()
    traceparent = current_traceparent()
    completed = await gateway.complete_in_plan(
        temporal,
        summit_id,
        CompletePlanMilestone(milestone_id=milestone_id, completed_by=completed_by, traceparent=traceparent),
    )
    if not completed:
        await gateway.complete_milestone(
            temporal, milestone_id, CompleteMilestone(completed_by=completed_by, traceparent=traceparent)
        )
    stored = await session.get(MilestoneRow, milestone_id)
    assert stored is not None
    return stored


# --- Budget and funding ----------------------------------------------------------------------------------


async def add_budget_line(session: AsyncSession, summit_id: str, body: BudgetLineCreate) -> BudgetLineRow:
    await queries.summit_or_404(session, summit_id)
    line = BudgetLineRow(id=str(uuid.uuid4()), summit_id=summit_id, **body.model_dump())
    session.add(line)
    try:
        await session.commit()
    except IntegrityError as exc:
        raise InvalidField("title", f"{body.category} already has a line titled {body.title!r}") from exc
    return line


def _line_values(line: BudgetLineRow) -> dict[str, object]:
    return {"category": line.category, "title": line.title, "planned": line.planned}


async def change_budget_line(
    session: AsyncSession,
    summit_id: str,
    line_id: str,
    body: BudgetLineCreate | BudgetLinePatch,
    expected: int | None,
    by: str,
) -> tuple[BudgetLineRow, Decimal]:
    """The changed line (PUT replaces it, PATCH changes the fields it names), audited; and what was spent
    against it."""
    line = await queries.budget_line_or_404(session, summit_id, line_id, for_update=True)
    _check_version(expected, line.version, "line", "current", "update")
    before = _line_values(line)
    wanted = BudgetLineCreate.model_validate(patched(before, body))
    line.category, line.title, line.planned = wanted.category, wanted.title, wanted.planned
    line.version += 1
    store.audit(session, summit_id, "budget_line", line.id, "changed", by, before, _line_values(line))
    spent = await queries.spent_on_line(session, line_id)
    try:
        await session.commit()
    except IntegrityError as exc:
        raise InvalidField("title", f"{wanted.category} already has a line titled {wanted.title!r}") from exc
    return line, spent


async def remove_budget_line(
    session: AsyncSession, summit_id: str, line_id: str, expected: int | None, by: str
) -> None:
    """Removes a line nothing was spent against (spending keeps its line: 409 naming how much)."""
    line = await queries.budget_line_or_404(session, summit_id, line_id, for_update=True)
    _check_version(expected, line.version, "line", "current", "delete")
    spending = await queries.expenditures(session, summit_id, line_id)
    if spending:
        raise Conflict(
            f"{len(spending)} expenditures are recorded against budget line {line_id}: correct them first",
            "spent",
            ["update"],
        )
    store.audit(session, summit_id, "budget_line", line.id, "removed", by, _line_values(line), None)
    await session.delete(line)
    await session.commit()


async def record_expenditure(
    session: AsyncSession, summit_id: str, body: ExpenditureCreate, recorded_by: str
) -> ExpenditureRow:
    line = await session.get(BudgetLineRow, body.budget_line_id)
    if line is None or line.summit_id != summit_id:
        raise InvalidField("budget_line_id", f"no budget line {body.budget_line_id} in summit {summit_id}")
    expenditure = ExpenditureRow(
        id=str(uuid.uuid4()), summit_id=summit_id, recorded_by=recorded_by, **body.model_dump()
    )
    session.add(expenditure)
    await session.commit()
    return expenditure


def _expenditure_values(row: ExpenditureRow) -> dict[str, object]:
    return {
        "budget_line_id": row.budget_line_id,
        "amount": row.amount,
        "spent_on": row.spent_on,
        "description": row.description,
    }


async def correct_expenditure(
    session: AsyncSession,
    summit_id: str,
    expenditure_id: str,
    body: ExpenditurePatch,
    expected: int | None,
    by: str,
) -> ExpenditureRow:
    """Corrects spending recorded by mistake; the values before are kept in the audit."""
    row = await queries.expenditure_or_404(session, summit_id, expenditure_id, for_update=True)
    _check_version(expected, row.version, "expenditure", "recorded", "update")
    before = _expenditure_values(row)
    wanted = ExpenditureCreate.model_validate(patched(before, body))
    if wanted.budget_line_id != row.budget_line_id:
        line = await session.get(BudgetLineRow, wanted.budget_line_id)
        if line is None or line.summit_id != summit_id:
            raise InvalidField(
                "budget_line_id", f"no budget line {wanted.budget_line_id} in summit {summit_id}"
            )
    row.budget_line_id, row.amount = wanted.budget_line_id, wanted.amount
    row.spent_on, row.description = wanted.spent_on, wanted.description
    row.version += 1
    store.audit(session, summit_id, "expenditure", row.id, "changed", by, before, _expenditure_values(row))
    await session.commit()
    return row


async def set_exchange_rates(session: AsyncSession, summit_id: str, body: ExchangeRates) -> SummitRow:
    summit = await queries.summit_or_404(session, summit_id, for_update=True)
    if summit.budget_currency in body.rates:
        raise InvalidField(f"rates.{summit.budget_currency}", "the budget currency needs no rate")
    summit.exchange_rates = {currency: str(rate) for currency, rate in body.rates.items()}
    summit.version += 1
    await session.commit()
    return summit


async def record_receipt(
    session: AsyncSession, summit_id: str, body: ReceiptCreate, recorded_by: str
) -> FundingReceiptRow:
    await queries.summit_or_404(session, summit_id)
    if not is_member_state(body.member_state):
        raise InvalidField("member_state", f"{body.member_state} is not a UN Member State")
    if body.pledge_id is not None:
        pledge = await session.get(SummitPledgeRow, body.pledge_id)
        if pledge is not None and pledge.member_state != body.member_state:
            raise InvalidField("member_state", f"pledge {body.pledge_id} was made by {pledge.member_state}")
    receipt = FundingReceiptRow(
        id=str(uuid.uuid4()),
        summit_id=summit_id,
        recorded_by=recorded_by,
        recorded_at=datetime.now(UTC),
        **body.model_dump(),
    )
    session.add(receipt)
    store.record(
        session,
        FundingReceived(receipt_id=receipt.id, summit_id=summit_id, **body.model_dump()),
        key=body.pledge_id or summit_id,
    )
    await session.commit()
    return receipt


async def reverse_receipt(
    session: AsyncSession, summit_id: str, receipt_id: str, body: ReceiptReversal, by: str
) -> FundingReceiptRow:
    """Reverses a receipt recorded by mistake with a reversing entry (its negative), audited and published
    as ``funding_receipt_reversed``: money records are never changed or deleted. Once per receipt."""
    await queries.summit_or_404(session, summit_id, for_update=True)  # one reversal at a time
    receipt = await queries.receipt_or_404(session, summit_id, receipt_id)
    if receipt.reverses is not None:
        raise Conflict(f"{receipt_id} is itself a reversing entry", "reversal", [])
    if (earlier := await queries.reversal_of(session, receipt_id)) is not None:
        raise Conflict(f"receipt {receipt_id} was already reversed by {earlier.id}", "reversed", [])
    now = datetime.now(UTC)
    reversal = FundingReceiptRow(
        id=str(uuid.uuid4()),
        summit_id=summit_id,
        member_state=receipt.member_state,
        pledge_id=receipt.pledge_id,
        amount=reversing_amount(receipt.amount),
        currency=receipt.currency,
        received_on=now.date(),
        recorded_by=by,
        recorded_at=now,
        reverses=receipt.id,
        reason=body.reason,
    )
    session.add(reversal)
    store.audit(
        session,
        summit_id,
        "funding_receipt",
        receipt.id,
        "reversed",
        by,
        {"amount": receipt.amount, "currency": receipt.currency, "pledge_id": receipt.pledge_id},
        {"reversed_by_entry": reversal.id},
        body.reason,
    )
    store.record(
        session,
        FundingReceiptReversed(
            receipt_id=reversal.id,
            reverses_receipt_id=receipt.id,
            summit_id=summit_id,
            member_state=receipt.member_state,
            pledge_id=receipt.pledge_id,
            amount=receipt.amount,
            currency=receipt.currency,
            reason=body.reason,
            reversed_at=now,
            reversed_by=by,
        ),
        key=receipt.pledge_id or summit_id,  # the receipt's own key: after it, in order
    )
    await session.commit()
    return reversal


# --- Delegations, places and guests ----------------------------------------------------------------------


async def invite(
    session: AsyncSession, temporal: Temporal, policy: SummitPolicy, summit_id: str, body: InvitationRequest
) -> tuple[list[DelegationRow], list[str]]:
    """Invites the States not yet invited, each with its delegation's workflow; returns the new delegations
    and the States invited before (left as they are)."""
    await queries.summit_or_404(session, summit_id)
    states = invited_states(body)
    now = datetime.now(UTC)
    milestone_due = await queries.milestone_due_at(session, summit_id, policy.registration_deadline_milestone)
    deadline = registration_deadline(milestone_due, body.registration_deadline, now)
    invited_before = await queries.invited_states(session, summit_id, states)
    rows = [
        DelegationRow(
            id=str(uuid.uuid4()),
            summit_id=summit_id,
            member_state=state,
            note_verbale=body.note_verbale.replace("{member_state}", state),
            invited_at=now,
            registration_deadline=deadline,
        )
        for state in states
        if state not in invited_before
    ]
    trace = current_traceparent()
    for row in rows:
        session.add(row)
        store.record(session, invited_event(queries.delegation_state(row)), key=row.id)
    await session.flush()
    # Workflows start before the commit so no delegation exists without its deadline.
    gate = asyncio.Semaphore(START_CONCURRENCY)
    try:
        async with started_before_commit(session, "the invitation was not stored") as started:

            async def start(row: DelegationRow) -> None:
                async with gate:
                    started.append(
                        await gateway.start_delegation(
                            temporal,
                            DelegationStart(
                                delegation=queries.delegation_state(row), policy=policy, traceparent=trace
                            ),
                        )
                    )

            await asyncio.gather(*(start(row) for row in rows))
    except IntegrityError as exc:
        raise Conflict("another invitation of the same States was stored at the same time") from exc
    return rows, sorted(invited_before)


async def act_on_delegation(
    session: AsyncSession,
    temporal: Temporal,
    policy: SummitPolicy,
    row: DelegationRow,
    command: Command,
    actor: Actor,
    expected: int | None,
) -> tuple[DelegationRow, DelegationView]:
    """Takes a step (a registration or an action) in the delegation's workflow; the row as it now is."""
    stored = queries.delegation_state(row)
    await session.rollback()  # no transaction held while the workflow works
    if stored.status in ENDED:
        # Its workflow has ended: the rules answer here (nothing is allowed on an ended delegation).
        apply(stored, command, actor, datetime.now(UTC), policy)
        raise Conflict(f"the delegation is {stored.status.value}", stored.status.value, [])
    request = DelegationCommandRequest(
        command=command,
        actor=actor,
        policy=policy,
        expected_version=expected,
        traceparent=current_traceparent(),
        stored=stored,
    )
    view = await gateway.act_on_delegation(temporal, request, stored)
    await session.refresh(row)
    return row, view


async def set_capacity(
    session: AsyncSession, temporal: Temporal, summit_id: str, capacity: int
) -> list[Delegation]:
    """Sets the summit's places and moves the waiting list up into those freed; the delegations promoted.
    Fewer places than are taken removes no one: new registrations wait until enough are free."""
    summit = await queries.summit_or_404(session, summit_id, for_update=True)
    summit.capacity = capacity
    change_id = f"capacity-{uuid.uuid4()}"
    promoted = await store.promote_waitlisted(
        session, summit, change_id, datetime.now(UTC), current_traceparent()
    )
    await session.commit()
    for delegation in promoted:
        await gateway.tell_promoted(temporal, delegation)
    return promoted


async def add_guest(session: AsyncSession, summit_id: str, body: GuestCreate) -> ParticipantRow:
    check_guest_languages(body.languages)
    await queries.summit_or_404(
        session, summit_id, for_update=True
    )  # badges are numbered under the summit's lock
    guest = ParticipantRow(
        id=str(uuid.uuid4()), summit_id=summit_id, created_at=datetime.now(UTC), **body.model_dump()
    )
    await store.issue_badges(session, summit_id, [guest])
    session.add(guest)
    await session.commit()
    return guest


# --- The agenda ------------------------------------------------------------------------------------------


async def add_room(session: AsyncSession, summit_id: str, body: RoomInput) -> RoomRow:
    await queries.summit_or_404(session, summit_id)
    await store.lock_agenda(session, summit_id)
    if any(room.name.casefold() == body.name.casefold() for room in await queries.rooms(session, summit_id)):
        raise Conflict(f"a room named {body.name} already exists for {summit_id}")
    room = RoomRow(
        id=str(uuid.uuid4()),
        summit_id=summit_id,
        name=body.name,
        building=body.building,
        capacity=body.capacity,
        capacity_basis="confirmed" if body.capacity_confirmed else "illustrative",
        opens_at=body.opens_at,
        closes_at=body.closes_at,
        source="added by a planner",
    )
    session.add(room)
    await session.commit()
    return room


def _room_input(room: RoomRow) -> RoomInput:
    return RoomInput(
        name=room.name,
        building=room.building,
        capacity=room.capacity,
        capacity_confirmed=room.capacity_basis == "confirmed",
        opens_at=room.opens_at,
        closes_at=room.closes_at,
    )


async def _own_room(session: AsyncSession, summit_id: str, room_id: str, expected: int | None) -> RoomRow:
    room = await queries.room_or_404(session, summit_id, room_id, for_update=True)
    if room.summit_id is None:
        raise Conflict(
            f"{room.name} is one of UN Headquarters' own rooms, shared by every summit: add a room instead",
            "shared",
            [],
        )
    if expected is not None and expected != room.version:
        raise VersionConflict(f"the room is at version {room.version}, not {expected}")
    return room


async def change_room(
    session: AsyncSession, summit_id: str, room_id: str, body: RoomPatch, expected: int | None, by: str
) -> RoomRow:
    """Changes a room added for this summit, audited. Sessions already placed stay; hours or a capacity that
    no longer fit them are listed as conflicts when the programme is next released."""
    await queries.summit_or_404(session, summit_id)
    await store.lock_agenda(session, summit_id)
    room = await _own_room(session, summit_id, room_id, expected)
    current = _room_input(room)
    wanted = patched_room(current, body)
    if wanted.name.casefold() != room.name.casefold() and any(
        other.name.casefold() == wanted.name.casefold() for other in await queries.rooms(session, summit_id)
    ):
        raise Conflict(f"a room named {wanted.name} already exists for {summit_id}")
    room.name, room.building, room.capacity = wanted.name, wanted.building, wanted.capacity
    room.capacity_basis = "confirmed" if wanted.capacity_confirmed else "illustrative"
    room.opens_at, room.closes_at = wanted.opens_at, wanted.closes_at
    room.version += 1
    store.audit(session, summit_id, "room", room.id, "changed", by, current.model_dump(), wanted.model_dump())
    await session.commit()
    return room


async def remove_room(
    session: AsyncSession, summit_id: str, room_id: str, expected: int | None, by: str
) -> None:
    """Removes a room added for this summit when no session of the draft uses it (409 naming them)."""
    await queries.summit_or_404(session, summit_id)
    await store.lock_agenda(session, summit_id)
    room = await _own_room(session, summit_id, room_id, expected)
    placed = await queries.sessions_in_room(session, room_id)
    if placed:
        raise RoomInUse(room_id, placed)
    store.audit(session, summit_id, "room", room.id, "removed", by, _room_input(room).model_dump(), None)
    await session.delete(room)
    await session.commit()


async def _validated(session: AsyncSession, summit: SummitRow, body: SessionInput) -> RoomRow:
    """The checks that make input bad (422) rather than conflicting (409); returns the session's room."""
    check_languages(body.languages, summit.languages)
    room = await session.get(RoomRow, body.room_id)
    if room is None or room.summit_id not in (None, summit.id):
        raise InvalidField("room_id", f"no room {body.room_id} at summit {summit.id}")
    check_people(
        body, await queries.registered(session, summit.id, [*body.speakers, *body.moderators]), summit.id
    )
    return room


async def _refuse_conflicts(session: AsyncSession, summit: SummitRow, room: RoomRow, candidate: Slot) -> None:
    # PostgreSQL narrows the agenda to the sessions overlapping the candidate (by agenda_session_time); the
    # index then finds the double bookings among those few.
    rows, people = await queries.draft(session, summit.id, (candidate.starts_at, candidate.ends_at))
    index = AgendaIndex(queries.slot(row, people[row.id]) for row in rows)
    rooms = {room.id: queries.room_hours(room)}
    conflicts = check_session(index, candidate, rooms, summit_window(summit.starts_on, summit.ends_on))
    if conflicts:
        raise ScheduleConflict(
            f"'{candidate.title}' conflicts with the programme ({len(conflicts)})", conflicts
        )


async def place_session(
    session: AsyncSession, summit_id: str, body: SessionInput, by: str
) -> tuple[AgendaSessionRow, list[SessionPersonRow]]:
    summit = await queries.summit_or_404(session, summit_id)
    room = await _validated(session, summit, body)
    await store.lock_agenda(session, summit_id)
    session_id = str(uuid.uuid4())
    await _refuse_conflicts(session, summit, room, candidate(session_id, body))
    row = AgendaSessionRow(
        id=session_id,
        summit_id=summit_id,
        title=body.title,
        theme=body.theme,
        kind=body.kind.value,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        room_id=body.room_id,
        languages=body.languages,
        expected_attendance=body.expected_attendance,
        description=body.description,
        updated_by=by,
        updated_at=datetime.now(UTC),
    )
    people = store.add_session(session, row, body)
    await session.commit()
    return row, people


def _check_session_version(row: AgendaSessionRow, expected: int | None) -> None:
    if expected is not None and expected != row.version:
        raise VersionConflict(f"the session is at version {row.version}, not {expected}")


async def replace_session(
    session: AsyncSession, summit_id: str, session_id: str, body: SessionInput, by: str, expected: int | None
) -> tuple[AgendaSessionRow, list[SessionPersonRow]]:
    summit = await queries.summit_or_404(session, summit_id)
    room = await _validated(session, summit, body)
    await store.lock_agenda(session, summit_id)
    row = await queries.agenda_session_or_404(session, summit_id, session_id, for_update=True)
    _check_session_version(row, expected)
    # The agenda still holds the session's old version: the checker skips a session's clash with itself.
    await _refuse_conflicts(session, summit, room, candidate(session_id, body))
    await session.execute(delete(SessionPersonRow).where(col(SessionPersonRow.session_id) == session_id))
    row.title, row.theme, row.kind = body.title, body.theme, body.kind.value
    row.starts_at, row.ends_at, row.room_id = body.starts_at, body.ends_at, body.room_id
    row.languages, row.expected_attendance, row.description = (
        body.languages,
        body.expected_attendance,
        body.description,
    )
    row.updated_by, row.updated_at = by, datetime.now(UTC)
    row.version += 1
    people = store.add_session(session, row, body)
    await session.commit()
    return row, people


async def remove_session(
    session: AsyncSession, summit_id: str, session_id: str, expected: int | None
) -> None:
    await queries.summit_or_404(session, summit_id)
    await store.lock_agenda(session, summit_id)
    row = await queries.agenda_session_or_404(session, summit_id, session_id, for_update=True)
    _check_session_version(row, expected)
    await session.delete(row)
    await session.commit()


async def release_programme(
    session: AsyncSession, summit_id: str, note: str | None, by: str
) -> ProgrammeReleaseRow:
    """Publishes the draft as the next numbered release, with its changelog against the last one."""
    summit = await queries.summit_or_404(session, summit_id)
    await store.lock_agenda(session, summit_id)
    current, slots, rooms = await queries.draft_programme(session, summit)
    # Dates, room hours or a delegation's status may have moved since each session was placed.
    window = summit_window(summit.starts_on, summit.ends_on)
    registered = await queries.registered(
        session, summit_id, sorted({p for slot in slots for p in slot.people})
    )
    conflicts = agenda_conflicts(
        slots, {key: queries.room_hours(room) for key, room in rooms.items()}, window
    )
    conflicts += unregistered_speakers(slots, registered)
    if conflicts:
        raise ScheduleConflict(
            f"the draft programme has {len(conflicts)} conflicts to resolve first", conflicts
        )
    last = await queries.release(session, summit_id)
    previous = [ProgrammeSession.model_validate(entry) for entry in last.sessions] if last else []
    changes = programme_changes(previous, current)
    ensure_changed(changes, last.number if last else None)
    release = ProgrammeReleaseRow(
        summit_id=summit_id,
        number=(last.number if last else 0) + 1,
        released_at=datetime.now(UTC),
        released_by=by,
        note=note,
        sessions=[entry.model_dump(mode="json") for entry in current],
        changes=[change.model_dump(mode="json") for change in changes],
    )
    session.add(release)
    store.record(
        session,
        ProgrammeReleased(
            summit_id=summit_id,
            release=release.number,
            released_at=release.released_at,
            released_by=release.released_by,
            sessions=len(current),
            changes=changes,
            note=note,
        ),
        key=summit_id,
    )
    await session.commit()
    return release


async def check_placement(
    session: AsyncSession, summit_id: str, body: SessionInput, session_id: str | None
) -> list[ScheduleConflictItem]:
    """Every conflict the session would have if it were placed (or, with ``session_id``, moved), saving
    nothing: what ``place_session`` and ``replace_session`` would refuse, asked beforehand."""
    summit = await queries.summit_or_404(session, summit_id)
    room = await _validated(session, summit, body)
    if session_id is not None:
        await queries.agenda_session_or_404(session, summit_id, session_id)
    checked = candidate(session_id or "new", body)
    rows, people = await queries.draft(session, summit.id, (checked.starts_at, checked.ends_at))
    index = AgendaIndex(queries.slot(row, people[row.id]) for row in rows)
    rooms = {room.id: queries.room_hours(room)}
    return check_session(index, checked, rooms, summit_window(summit.starts_on, summit.ends_on))


# --- Calendar feeds ------------------------------------------------------------------------------------


def _feed_role(roles: frozenset[Role]) -> Role:
    # The widest of the person's roles decides what the feed shows.
    return next(role for role in (Role.ADMIN, Role.PLANNER, Role.STATE_FOCAL_POINT) if role in roles)


async def create_feed(
    session: AsyncSession, principal: Principal, label: str | None, idempotency_key: str | None
) -> tuple[CalendarFeedRow, str, bool]:
    """A new feed for the caller and its token (shown once: only its SHA-256 is kept). A retry under the
    same Idempotency-Key finds the feed it made and gives it a new token (the first answer was lost, so its
    token was never seen): one feed, and no token stored anywhere. The flag says it was a retry."""
    token = new_token()
    if idempotency_key is not None:
        found = (
            await session.execute(
                select(CalendarFeedRow)
                .where(
                    col(CalendarFeedRow.subject) == principal.subject,
                    col(CalendarFeedRow.idempotency_key) == idempotency_key,
                )
                .with_for_update()
            )
        ).scalar()
        if found is not None:
            if found.revoked_at is not None:
                raise Conflict(f"feed {found.id}, made under this Idempotency-Key, is revoked", "revoked")
            found.token_sha256 = token_digest(token)
            await session.commit()
            return found, token, True
    role = _feed_role(principal.roles)
    row = CalendarFeedRow(
        id=str(uuid.uuid4()),
        token_sha256=token_digest(token),
        subject=principal.subject,
        role=role.value,
        member_state=principal.member_state if role == Role.STATE_FOCAL_POINT else None,
        label=label,
        idempotency_key=idempotency_key,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    try:
        await session.commit()
    except IntegrityError as exc:  # the same key, sent twice at once: the other request made it
        raise Conflict("another request under this Idempotency-Key made the feed: retry", "made") from exc
    return row, token, False


async def revoke_feed(session: AsyncSession, subject: str, feed_id: str) -> CalendarFeedRow:
    """Revokes one of the caller's feeds (another person's is not found): its URL answers 404 from now on."""
    row = await queries.feed_or_404(session, subject, feed_id)
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await session.commit()
    return row
