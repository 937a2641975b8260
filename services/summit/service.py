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
from sqlmodel import col, delete

from services.common.actor import Actor
from services.common.errors import Conflict, InvalidField, NotFound, VersionConflict
from services.common.observability import current_traceparent
from services.common.temporal import started_before_commit
from services.summit import gateway, queries, store
from services.summit.domain.agenda import (
    AgendaIndex,
    ProgrammeSession,
    RoomInput,
    ScheduleConflict,
    SessionInput,
    Slot,
    agenda_conflicts,
    candidate,
    check_languages,
    check_people,
    check_session,
    ensure_changed,
    programme_changes,
    summit_window,
    unregistered_speakers,
)
from services.summit.domain.budget import BudgetLineCreate, ExchangeRates, ExpenditureCreate, ReceiptCreate
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
    MilestoneStatus,
    SummitCreate,
    SummitReschedule,
    ensure_can_complete,
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
    PlanMilestone,
    RescheduleSummit,
    SummitPlanStart,
    Temporal,
)
from services.summit.models import (
    AgendaSessionRow,
    BudgetLineRow,
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
from uncops_contracts.summit import FundingReceived, ProgrammeReleased

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


async def change_budget_line(
    session: AsyncSession, summit_id: str, line_id: str, body: BudgetLineCreate, expected: int | None
) -> tuple[BudgetLineRow, Decimal]:
    """The changed line, and what was spent against it."""
    line = await session.get(BudgetLineRow, line_id, with_for_update=True)
    if line is None or line.summit_id != summit_id:
        raise NotFound(f"no budget line {line_id} in summit {summit_id}")
    _check_version(expected, line.version, "line", "current", "update")
    line.category, line.title, line.planned = body.category, body.title, body.planned
    line.version += 1
    spent = await queries.spent_on_line(session, line_id)
    await session.commit()
    return line, spent


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
        id=str(uuid.uuid4()), summit_id=summit_id, recorded_by=recorded_by, **body.model_dump()
    )
    session.add(receipt)
    store.record(
        session,
        FundingReceived(receipt_id=receipt.id, summit_id=summit_id, **body.model_dump()),
        key=body.pledge_id or summit_id,
    )
    await session.commit()
    return receipt


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
