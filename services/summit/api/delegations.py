"""Routes of delegations: invitation, registration, review, accreditation, waiting list, participants.

Each step runs in the delegation's workflow (workflows/summit/delegations.py) through service.py; the rules
are in domain/delegations.py. A focal point sees and acts on its own State's delegation only: another
State's answers 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import IfMatch, Route, RuntimeDep, SessionDep, TemporalDep, expected_version
from services.common.auth import Principal
from services.common.paging import MAX_CURSOR_LENGTH, PAGED, Page, PageDep
from services.summit import queries, service
from services.summit.api.access import PLANNERS, READERS, actor, etag, focal_point_only
from services.summit.domain.delegations import (
    ActionCommand,
    CapacityChange,
    Command,
    GuestCreate,
    InvitationRequest,
    ProofDocument,
    Register,
    allowed_actions,
)
from services.summit.models import DelegationRow, ParticipantRow
from uncops_contracts.summit import DelegationStatus

router = APIRouter(prefix="/summits", tags=["delegations"], route_class=Route)


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
    status: DelegationStatus
    note_verbale: str
    invited_at: datetime
    registration_deadline: datetime
    head_of_delegation: str | None
    members: int
    languages: list[str]
    proof_document: ProofDocument | None
    registered_at: datetime | None
    waitlisted_at: datetime | None
    reason: str | None
    version: int
    allowed_actions: list[str] = []
    participants: list[ParticipantPublic] | None = None


class Invitations(BaseModel):
    invited: list[DelegationPublic]
    already_invited: list[str]


class DelegationPage(Page[DelegationPublic]):
    """One page of delegations, by Member State; ``next_cursor`` fetches the next (null: no more)."""


class ParticipantPage(Page[ParticipantPublic]):
    """One page of participants, by Member State (guests last); ``next_cursor`` fetches the next."""


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


def _public(row: DelegationRow, principal: Principal | None = None) -> DelegationPublic:
    view = DelegationPublic.model_validate(row, from_attributes=True)
    if principal is not None:
        view.allowed_actions = allowed_actions(queries.delegation_state(row), actor(principal))
    return view


def _participants(rows: Sequence[ParticipantRow]) -> list[ParticipantPublic]:
    return [ParticipantPublic.model_validate(p, from_attributes=True) for p in rows]


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
    response: Response,
    _: Annotated[Principal, PLANNERS],
) -> Invitations:
    """States already invited to the summit are listed in ``already_invited`` and left as they are."""
    rows, invited_before = await service.invite(
        session, temporal, runtime.settings.summit_policy, summit_id, body
    )
    # One State invited: its delegation; several: the list they are in.
    response.headers["Location"] = (
        f"/summits/{summit_id}/delegations/{rows[0].id}"
        if len(rows) == 1
        else f"/summits/{summit_id}/delegations"
    )
    return Invitations(invited=[_public(row) for row in rows], already_invited=invited_before)


@router.get(
    "/{summit_id}/delegations",
    summary="Delegations, by Member State, with a status filter",
    openapi_extra=PAGED,
)
async def list_delegations(
    summit_id: str,
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    page: PageDep,
    status_: Annotated[DelegationStatus | None, Query(alias="status")] = None,
    after: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_LENGTH, deprecated=True, description="The old name of cursor: use cursor"
        ),
    ] = None,
) -> DelegationPage:
    """The summit's delegations by Member State, a page at a time; a focal point sees its own State's
    delegation only."""
    await queries.summit_or_404(session, summit_id)
    if page.cursor is None and after:
        page = replace(page, cursor=after)
    rows, next_cursor = await queries.delegations_page(
        session, summit_id, focal_point_only(principal), status_, page
    )
    return page.answer(DelegationPage, [_public(row, principal) for row in rows], next_cursor)


@router.get("/{summit_id}/delegations/{delegation_id}", summary="One delegation, with its persons")
async def get_delegation(
    summit_id: str,
    delegation_id: str,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, READERS],
) -> DelegationPublic:
    """One delegation with its persons; a focal point reads its own State's only. Its ``ETag`` is its
    version."""
    row = await queries.delegation_or_404(session, summit_id, delegation_id, principal)
    view = _public(row, principal)
    view.participants = _participants(await queries.roster(session, row.id))
    etag(response, row.version)
    return view


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
async def take_delegation_action(
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
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    summit_id: str,
    delegation_id: str,
    command: Command,
    principal: Principal,
    if_match: str | None,
) -> DelegationPublic:
    row = await queries.delegation_or_404(session, summit_id, delegation_id, principal)
    row, view = await service.act_on_delegation(
        session,
        temporal,
        runtime.settings.summit_policy,
        row,
        command,
        actor(principal),
        expected_version(if_match),
    )
    result = _public(row, principal)
    result.allowed_actions = view.allowed_actions
    result.participants = _participants(await queries.roster(session, row.id))
    etag(response, row.version)
    return result


async def _places(
    session: AsyncSession, summit_id: str, capacity: int, promoted: Sequence[str] = ()
) -> Places:
    taken = await queries.places_taken(session, summit_id)
    waiting = await queries.waiting_list(session, summit_id)
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
    """How many places the summit has, how many are taken, and the delegations waiting, in order."""
    summit = await queries.summit_or_404(session, summit_id)
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
    promoted = await service.set_capacity(session, temporal, summit_id, body.capacity)
    return await _places(session, summit_id, body.capacity, [d.delegation_id for d in promoted])


@router.post(
    "/{summit_id}/participants",
    status_code=status.HTTP_201_CREATED,
    summary="Register a guest (UN official, moderator) without a delegation; the badge is issued at once",
)
async def add_guest(
    summit_id: str,
    body: GuestCreate,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, PLANNERS],
) -> ParticipantPublic:
    """A guest (not part of a delegation) attending the summit; ``Location`` names the participant."""
    guest = await service.add_guest(session, summit_id, body)
    response.headers["Location"] = f"/summits/{summit_id}/participants/{guest.id}"
    return ParticipantPublic.model_validate(guest, from_attributes=True)


@router.get(
    "/{summit_id}/participants/{participant_id}", summary="One participant: a guest or a delegate (planners)"
)
async def get_participant(
    summit_id: str, participant_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS]
) -> ParticipantPublic:
    """One participant: a delegate or a guest."""
    participant = await queries.participant_or_404(session, summit_id, participant_id)
    return ParticipantPublic.model_validate(participant, from_attributes=True)


@router.get(
    "/{summit_id}/participants",
    summary="Participants: delegates of delegations holding places, and guests",
    openapi_extra=PAGED,
)
async def list_participants(
    summit_id: str, session: SessionDep, principal: Annotated[Principal, READERS], page: PageDep
) -> ParticipantPage:
    """The secretariat's working list (everyone, consent or not); a focal point gets its own delegation's.
    By Member State, guests last, a page at a time."""
    await queries.summit_or_404(session, summit_id)
    rows, next_cursor = await queries.participants(session, summit_id, focal_point_only(principal), page)
    return page.answer(ParticipantPage, _participants(rows), next_cursor)
