"""Routes of delegations: invitation, registration, review, accreditation, waiting list, rosters.

Thin: the rules are in services/summit/delegations.py, each step runs in the delegation's workflow
(workflows/summit/delegations.py). A focal point sees and acts on its own State's delegation only: another
State's answers 404, as if it did not exist. Published participant lists show only persons who consented.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.common.app import (
    IfMatch,
    Route,
    RuntimeDep,
    SessionDep,
    TemporalDep,
    expected_version,
)
from services.common.auth import Principal, Role
from services.common.commands import update_refused
from services.common.errors import Conflict, InvalidField, NotFound
from services.common.observability import current_traceparent
from services.common.outbox import record_event
from services.summit.delegations import (
    ENDED,
    HOLDING,
    ISO_639_1,
    ActionCommand,
    Actor,
    Delegation,
    Register,
    allowed_actions,
    apply,
    invited_event,
    registration_deadline,
)
from services.summit.models import Delegation as DelegationRow
from services.summit.models import Milestone, Participant
from services.summit.store import PLANNERS, READERS, TASK_QUEUE, summit_or_404
from uncops_contracts.policies import SummitPolicy
from uncops_contracts.reference import is_member_state, member_states
from uncops_contracts.summit import DelegationStatus
from workflows.summit.delegation_activities import (
    delegation_state,
    issue_badges,
    places_taken,
    promote_waitlisted,
    waiting_list,
)
from workflows.summit.delegations import (
    DelegationCommandRequest,
    DelegationStart,
    DelegationWorkflow,
    delegation_workflow_id,
)

router = APIRouter(tags=["delegations"], route_class=Route)

# Workflows started at once by a bulk invitation: enough to invite 193 States in a few seconds without
# flooding the Temporal frontend.
START_CONCURRENCY = 16
TASK_TIMEOUT = timedelta(seconds=60)
EXPORT_BATCH = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class InvitationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_states: Literal["all"] | list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]] = Field(
        description='ISO 3166 alpha-3 codes, or "all" for every UN Member State', min_length=1
    )
    note_verbale: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)] = (
        Field(
            description="The note verbale's reference; {member_state} is replaced by each State's code, "
            "so each note has its own reference (required when inviting several States)",
            examples=["PD/UNCOPS-III/2030/{member_state}"],
        )
    )
    registration_deadline: AwareDatetime | None = Field(
        None,
        description="A deadline of this invitation's own (a late invitation); by default the summit's "
        "registration-closes milestone",
    )


class ParticipantPublic(BaseModel):
    id: str
    delegation_id: str | None
    full_name: str
    function: str
    organisation: str | None
    is_head: bool
    languages: list[str]
    consent_to_list: bool
    badge_number: str | None


class DelegationPublic(BaseModel):
    id: str
    summit_id: str
    member_state: str
    status: str
    note_verbale: str
    invited_at: datetime
    registration_deadline: datetime
    head_of_delegation: str | None
    members: int
    languages: list[str]
    proof_document: dict[str, Any] | None
    registered_at: datetime | None
    waitlisted_at: datetime | None
    reason: str | None
    version: int
    allowed_actions: list[str] = []
    participants: list[ParticipantPublic] | None = None


class Invitations(BaseModel):
    invited: list[DelegationPublic]
    already_invited: list[str]


class DelegationPage(BaseModel):
    items: list[DelegationPublic]
    next_cursor: str | None


class WaitingDelegation(BaseModel):
    position: int
    delegation_id: str
    member_state: str
    members: int
    waitlisted_at: datetime


class Places(BaseModel):
    summit_id: str
    capacity: int
    taken: int
    free: int
    waiting: list[WaitingDelegation]
    promoted: list[str] = Field([], description="Delegations this change moved up from the waiting list")


class CapacityChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capacity: int = Field(ge=1, le=100_000)


class GuestCreate(BaseModel):
    """A UN official, moderator or other guest the secretariat registers without a delegation."""

    model_config = ConfigDict(extra="forbid")

    full_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    function: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    organisation: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = (
        Field(examples=["United Nations, Department of Peace Operations"])
    )
    languages: list[str] = Field(min_length=1, max_length=8)
    consent_to_list: bool = False


# ---------------------------------------------------------------- helpers


def actor_of(principal: Principal) -> Actor:
    if Role.ADMIN in principal.roles:
        role = Role.ADMIN.value
    elif Role.PLANNER in principal.roles:
        role = Role.PLANNER.value
    else:
        role = sorted(r.value for r in principal.roles)[0]
    return Actor(subject=principal.subject, role=role, member_state=principal.member_state)


def _public(row: DelegationRow, principal: Principal | None = None) -> DelegationPublic:
    view = DelegationPublic.model_validate(row, from_attributes=True)
    if principal is not None:
        view.allowed_actions = allowed_actions(delegation_state(row), actor_of(principal))
    return view


async def _delegation_or_404(
    session: AsyncSession, summit_id: str, delegation_id: str, principal: Principal
) -> DelegationRow:
    row = await session.get(DelegationRow, delegation_id)
    # Another State's delegation is not even acknowledged to exist.
    if row is None or row.summit_id != summit_id or not principal.may_act_for(row.member_state):
        raise NotFound(f"no delegation {delegation_id} in summit {summit_id}")
    return row


async def _roster(session: AsyncSession, delegation_id: str) -> list[ParticipantPublic]:
    rows = await session.execute(
        select(Participant)
        .where(col(Participant.delegation_id) == delegation_id)
        .order_by(col(Participant.is_head).desc(), col(Participant.created_at), col(Participant.id))
    )
    return [ParticipantPublic.model_validate(p, from_attributes=True) for p in rows.scalars()]


def _focal_point_only(principal: Principal) -> str | None:
    """The State a focal point is limited to; None for the secretariat."""
    if Role.ADMIN in principal.roles or Role.PLANNER in principal.roles:
        return None
    return principal.member_state or "---"


async def _start(temporal: Client, delegation: Delegation, policy: SummitPolicy, trace: str | None) -> None:
    await temporal.start_workflow(
        DelegationWorkflow.run,
        DelegationStart(delegation=delegation, policy=policy, traceparent=trace),
        id=delegation_workflow_id(delegation.delegation_id),
        task_queue=TASK_QUEUE,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        # Inviting all 193 States starts 193 workflows at once: on a busy worker their first tasks queue up,
        # and a task that outlives the default 10 s is retried from scratch, which only adds to the queue.
        task_timeout=TASK_TIMEOUT,
    )


# ---------------------------------------------------------------- invitation


@router.post(
    "/{summit_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    summary="Invite Member States by note verbale (one, several, or all 193)",
)
async def invite(
    summit_id: str,
    body: InvitationRequest,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    _: Annotated[Principal, PLANNERS],
) -> Invitations:
    """States already invited to the summit are listed in ``already_invited`` and left as they are."""
    await summit_or_404(session, summit_id)
    policy = runtime.settings.summit_policy
    if body.member_states == "all":
        states = sorted(member_states())
    else:
        for index, code in enumerate(body.member_states):
            if not is_member_state(code):
                raise InvalidField(f"member_states[{index}]", f"{code} is not a UN Member State")
        states = list(dict.fromkeys(body.member_states))
    if len(states) > 1 and "{member_state}" not in body.note_verbale:
        raise InvalidField("note_verbale", "give {member_state} in the reference: each note has its own")
    now = datetime.now(UTC)
    milestone_due = (
        await session.execute(
            select(Milestone.due_at).where(
                col(Milestone.summit_id) == summit_id,
                col(Milestone.key) == policy.registration_deadline_milestone,
            )
        )
    ).scalar_one_or_none()
    deadline = registration_deadline(milestone_due, body.registration_deadline, now)
    invited_before = set(
        (
            await session.execute(
                select(DelegationRow.member_state).where(
                    col(DelegationRow.summit_id) == summit_id, col(DelegationRow.member_state).in_(states)
                )
            )
        ).scalars()
    )
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
        record_event(session, invited_event(delegation_state(row)), key=row.id, traceparent=trace)
    await session.flush()
    # Workflows start before the commit so no delegation exists without its deadline; should the commit
    # fail, they are terminated (their activities would find no row and retry until then).
    started: list[str] = []
    gate = asyncio.Semaphore(START_CONCURRENCY)

    async def start(row: DelegationRow) -> None:
        async with gate:
            await _start(temporal, delegation_state(row), policy, trace)
            started.append(row.id)

    try:
        await asyncio.gather(*(start(row) for row in rows))
        await session.commit()
    except Exception as exc:
        await asyncio.gather(
            *(_terminate(temporal.get_workflow_handle(delegation_workflow_id(i))) for i in started),
            return_exceptions=True,
        )
        if isinstance(exc, IntegrityError):
            raise Conflict("another invitation of the same States was stored at the same time") from exc
        raise
    return Invitations(invited=[_public(row) for row in rows], already_invited=sorted(invited_before))


async def _terminate(handle: WorkflowHandle[Any, Any]) -> None:
    await handle.terminate("the invitation was not stored")


# ---------------------------------------------------------------- reading


@router.get("/{summit_id}/delegations", summary="Delegations, by Member State, with a status filter")
async def list_delegations(
    summit_id: str,
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    status_: Annotated[DelegationStatus | None, Query(alias="status")] = None,
    after: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> DelegationPage:
    """A focal point sees its own State's delegation only."""
    await summit_or_404(session, summit_id)
    query = select(DelegationRow).where(col(DelegationRow.summit_id) == summit_id)
    own = _focal_point_only(principal)
    if own is not None:
        query = query.where(col(DelegationRow.member_state) == own)
    if status_ is not None:
        query = query.where(col(DelegationRow.status) == status_.value)
    if after is not None:
        query = query.where(col(DelegationRow.member_state) > after)
    rows = list(
        (await session.execute(query.order_by(col(DelegationRow.member_state)).limit(limit + 1))).scalars()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return DelegationPage(
        items=[_public(row, principal) for row in rows],
        next_cursor=rows[-1].member_state if more else None,
    )


@router.get("/{summit_id}/delegations/{delegation_id}", summary="One delegation, with its persons")
async def get_delegation(
    summit_id: str,
    delegation_id: str,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, READERS],
) -> DelegationPublic:
    row = await _delegation_or_404(session, summit_id, delegation_id, principal)
    view = _public(row, principal)
    view.participants = await _roster(session, row.id)
    response.headers["ETag"] = f'"{row.version}"'
    return view


# ---------------------------------------------------------------- steps


@router.post(
    "/{summit_id}/delegations/{delegation_id}/register",
    summary="Register the delegation, or replace its persons (the State until the deadline; planners always)",
)
async def register(
    summit_id: str,
    delegation_id: str,
    body: Register,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, READERS],
    if_match: IfMatch = None,
) -> DelegationPublic:
    """The answer's ``status`` is ``registered``, or ``waitlisted`` when the summit is full. Over the
    delegation's limit, or after the deadline, the answer is 422 naming the field."""
    return await _act(
        session, temporal, runtime, response, summit_id, delegation_id, body, principal, if_match
    )


@router.post(
    "/{summit_id}/delegations/{delegation_id}/actions",
    summary="start_review, accredit (issues badges), confirm, decline, withdraw",
)
async def take_action(
    summit_id: str,
    delegation_id: str,
    command: ActionCommand,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, READERS],
    if_match: IfMatch = None,
) -> DelegationPublic:
    """A step the status does not allow, or that is not the caller's, answers 409 with the status and the
    caller's ``allowed_actions``."""
    return await _act(
        session, temporal, runtime, response, summit_id, delegation_id, command, principal, if_match
    )


async def _act(
    session: AsyncSession,
    temporal: Client,
    runtime: RuntimeDep,
    response: Response,
    summit_id: str,
    delegation_id: str,
    command: Any,
    principal: Principal,
    if_match: str | None,
) -> DelegationPublic:
    row = await _delegation_or_404(session, summit_id, delegation_id, principal)
    stored = delegation_state(row)
    await session.rollback()  # no transaction held while the workflow works
    policy = runtime.settings.summit_policy
    actor = actor_of(principal)
    if stored.status in ENDED:
        # Its workflow has ended: the rules answer here (nothing is allowed on an ended delegation).
        apply(stored, command, actor, datetime.now(UTC), policy)
        raise Conflict(f"the delegation is {stored.status.value}", stored.status.value, [])
    request = DelegationCommandRequest(
        command=command,
        actor=actor,
        policy=policy,
        expected_version=expected_version(if_match),
        traceparent=current_traceparent(),
        stored=stored,
    )
    handle = temporal.get_workflow_handle(delegation_workflow_id(stored.delegation_id))
    for attempt in range(2):
        try:
            view = await handle.execute_update(DelegationWorkflow.act, request)
            break
        except WorkflowUpdateFailedError as exc:
            raise update_refused(exc) from exc
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND or attempt:
                raise
            # Its workflow is missing (it never started): start it from the stored delegation.
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await _start(temporal, stored, policy, request.traceparent)
    await session.refresh(row)
    result = _public(row, principal)
    result.allowed_actions = view.allowed_actions
    result.participants = await _roster(session, stored.delegation_id)
    response.headers["ETag"] = f'"{row.version}"'
    return result


# ---------------------------------------------------------------- places


async def _places(
    session: AsyncSession, summit_id: str, capacity: int, promoted: Sequence[str] = ()
) -> Places:
    taken = await places_taken(session, summit_id)
    waiting = await waiting_list(session, summit_id)
    return Places(
        summit_id=summit_id,
        capacity=capacity,
        taken=taken,
        free=max(capacity - taken, 0),
        waiting=[
            WaitingDelegation(
                position=position,
                delegation_id=row.id,
                member_state=row.member_state,
                members=row.members,
                waitlisted_at=row.waitlisted_at or row.invited_at,
            )
            for position, row in enumerate(waiting, start=1)
        ],
        promoted=list(promoted),
    )


@router.get("/{summit_id}/waiting-list", summary="Places taken and free, and the waiting list in order")
async def get_waiting_list(summit_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS]) -> Places:
    summit = await summit_or_404(session, summit_id)
    return await _places(session, summit_id, summit.capacity)


@router.put("/{summit_id}/capacity", summary="Set the summit's places; more places move the waiting list up")
async def set_capacity(
    summit_id: str,
    body: CapacityChange,
    session: SessionDep,
    temporal: TemporalDep,
    _: Annotated[Principal, PLANNERS],
) -> Places:
    """Fewer places than are taken removes no one: new registrations wait until enough are free."""
    summit = await summit_or_404(session, summit_id, for_update=True)
    summit.capacity = body.capacity
    change_id = f"capacity-{uuid.uuid4()}"
    promoted = await promote_waitlisted(session, summit, change_id, datetime.now(UTC), current_traceparent())
    await session.commit()
    for delegation in promoted:
        # The row is the truth; the signal keeps the workflow's view (and its allowed steps) in step.
        handle = temporal.get_workflow_handle(delegation_workflow_id(delegation.delegation_id))
        try:
            await handle.signal(DelegationWorkflow.promoted, delegation)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
    return await _places(session, summit_id, body.capacity, [d.delegation_id for d in promoted])


# ---------------------------------------------------------------- participants and guests


@router.post(
    "/{summit_id}/participants",
    status_code=status.HTTP_201_CREATED,
    summary="Register a guest (UN official, moderator) without a delegation; the badge is issued at once",
)
async def add_guest(
    summit_id: str, body: GuestCreate, session: SessionDep, _: Annotated[Principal, PLANNERS]
) -> ParticipantPublic:
    for language in body.languages:
        if language not in ISO_639_1:
            raise InvalidField("languages", f"{language!r} is not an ISO 639-1 language code")
    await summit_or_404(session, summit_id, for_update=True)  # badges are numbered under the summit's lock
    guest = Participant(
        id=str(uuid.uuid4()), summit_id=summit_id, created_at=datetime.now(UTC), **body.model_dump()
    )
    await issue_badges(session, summit_id, [guest])
    session.add(guest)
    await session.commit()
    return ParticipantPublic.model_validate(guest, from_attributes=True)


@router.get(
    "/{summit_id}/participants", summary="Participants: delegates of delegations holding places, and guests"
)
async def list_participants(
    summit_id: str, session: SessionDep, principal: Annotated[Principal, READERS]
) -> list[ParticipantPublic]:
    """The secretariat's working list (everyone, consent or not); a focal point gets its own delegation's."""
    await summit_or_404(session, summit_id)
    query = _attending(summit_id)
    own = _focal_point_only(principal)
    if own is not None:
        query = query.where(col(DelegationRow.member_state) == own)
    rows = await session.execute(query)
    return [ParticipantPublic.model_validate(p, from_attributes=True) for p in rows.scalars()]


def _attending(summit_id: str) -> SelectOfScalar[Participant]:
    return (
        select(Participant)
        .outerjoin(DelegationRow, col(DelegationRow.id) == col(Participant.delegation_id))
        .where(col(Participant.summit_id) == summit_id)
        .where(
            or_(
                col(Participant.delegation_id).is_(None),
                col(DelegationRow.status).in_([s.value for s in HOLDING]),
            )
        )
        .order_by(
            col(DelegationRow.member_state).nulls_last(),
            col(Participant.is_head).desc(),
            col(Participant.created_at),
            col(Participant.id),
        )
    )


# ---------------------------------------------------------------- exports

DELEGATION_COLUMNS = (
    "member_state",
    "status",
    "note_verbale",
    "registration_deadline",
    "head_of_delegation",
    "members",
    "languages",
    "registered_at",
    "waitlisted_at",
    "reason",
    "version",
)
PUBLISHED_COLUMNS = (
    "member_state",
    "organisation",
    "full_name",
    "function",
    "head_of_delegation",
    "languages",
)
INTERNAL_COLUMNS = (
    *PUBLISHED_COLUMNS,
    "participant_id",
    "delegation_status",
    "consent_to_list",
    "badge_number",
)
BADGE_COLUMNS = (
    "badge_number",
    "full_name",
    "function",
    "member_state",
    "organisation",
    "head_of_delegation",
)


def _csv_response(rows: AsyncIterator[str], name: str) -> StreamingResponse:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    text = str(value)
    # Names and functions are typed by the States: a spreadsheet must not run them (CSV injection).
    return "'" + text if text.startswith(FORMULA_STARTS) else text


async def _csv(runtime: RuntimeDep, query: Any, columns: Sequence[str], shape: Any) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    yield _drain(buffer)
    # Its own session: the request's is closed once the endpoint has returned the response.
    async with runtime.sessions() as session:
        result = await session.stream(query.execution_options(yield_per=EXPORT_BATCH))
        async for batch in result.partitions(EXPORT_BATCH):
            for row in batch:
                values = shape(*row)
                writer.writerow(_cell(values[c]) for c in columns)
            yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


@router.get(
    "/{summit_id}/delegations.csv",
    summary="Delegations as CSV (a focal point: its own)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "A CSV file with a header row"}},
)
async def delegations_csv(
    summit_id: str, session: SessionDep, runtime: RuntimeDep, principal: Annotated[Principal, READERS]
) -> StreamingResponse:
    await summit_or_404(session, summit_id)
    query = select(DelegationRow).where(col(DelegationRow.summit_id) == summit_id)
    own = _focal_point_only(principal)
    if own is not None:
        query = query.where(col(DelegationRow.member_state) == own)
    query = query.order_by(col(DelegationRow.member_state))

    def shape(row: DelegationRow) -> dict[str, Any]:
        return {c: getattr(row, c) for c in DELEGATION_COLUMNS}

    return _csv_response(_csv(runtime, query, DELEGATION_COLUMNS, shape), f"delegations-{summit_id}")


@router.get(
    "/{summit_id}/participants.csv",
    summary="The participant list as CSV: published (consenting persons only) or internal",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "A CSV file with a header row"}},
)
async def participants_csv(
    summit_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, READERS],
    internal: Annotated[bool, Query(description="Everyone, consent or not, with badges (planners)")] = False,
) -> StreamingResponse:
    """The published list has the delegates of delegations holding places and the guests who agreed to be
    listed, nothing else about them. ``internal=true`` (planners only) lists everyone attending, with
    their consent and badge, for the secretariat's own use. A focal point gets its own delegation's part
    of the published list."""
    await summit_or_404(session, summit_id)
    own = _focal_point_only(principal)
    if internal and own is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the internal participant list is the secretariat's")
    query = _attending(summit_id).add_columns(col(DelegationRow.member_state), col(DelegationRow.status))
    if not internal:
        query = query.where(col(Participant.consent_to_list).is_(True))
    if own is not None:
        query = query.where(col(DelegationRow.member_state) == own)
    columns = INTERNAL_COLUMNS if internal else PUBLISHED_COLUMNS
    return _csv_response(_csv(runtime, query, columns, _participant_shape), f"participants-{summit_id}")


def _participant_shape(person: Participant, member_state: str | None, status_: str | None) -> dict[str, Any]:
    return {
        "member_state": member_state,
        "organisation": person.organisation,
        "full_name": person.full_name,
        "function": person.function,
        "head_of_delegation": person.is_head,
        "languages": person.languages,
        "participant_id": person.id,
        "delegation_status": status_,
        "consent_to_list": person.consent_to_list,
        "badge_number": person.badge_number,
    }


@router.get(
    "/{summit_id}/badges.csv",
    summary="Badges to print as CSV: accredited and confirmed delegations, and guests (planners)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "A CSV file with a header row"}},
)
async def badges_csv(
    summit_id: str, session: SessionDep, runtime: RuntimeDep, _: Annotated[Principal, PLANNERS]
) -> StreamingResponse:
    await summit_or_404(session, summit_id)
    query = (
        select(Participant, col(DelegationRow.member_state), col(DelegationRow.status))
        .outerjoin(DelegationRow, col(DelegationRow.id) == col(Participant.delegation_id))
        .where(col(Participant.summit_id) == summit_id, col(Participant.badge_number).is_not(None))
        .where(
            or_(
                col(Participant.delegation_id).is_(None),
                col(DelegationRow.status).in_(
                    [DelegationStatus.ACCREDITED.value, DelegationStatus.CONFIRMED.value]
                ),
            )
        )
        .order_by(col(Participant.badge_number))
    )
    return _csv_response(_csv(runtime, query, BADGE_COLUMNS, _participant_shape), f"badges-{summit_id}")
