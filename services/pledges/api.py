"""HTTP routes of pledge intake: thin, the rules are in domain.py."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.common.app import IfMatch, RuntimeDep, SessionDep, TemporalDep, expected_version
from services.common.auth import Principal, Role, require_roles
from services.common.errors import Conflict, NotFound
from services.common.observability import current_traceparent
from services.common.outbox import record_event
from services.pledges.domain import PledgeSubmission, initial_state, submitted_event
from services.pledges.follow_up import act_on_pledge
from services.pledges.importing import similar_stored
from services.pledges.lifecycle import Actor, Command, allowed_actions
from services.pledges.lifecycle import Pledge as Lifecycle
from services.pledges.models import Pledge
from services.pledges.store import title_values
from uncops_contracts.policies import PledgePolicy
from workflows.pledges.workflows import PledgeCommandRequest

router = APIRouter(prefix="/pledges", tags=["pledges"])

SUBMITTERS = require_roles(Role.STATE_FOCAL_POINT, Role.PLANNER)
READERS = require_roles(Role.STATE_FOCAL_POINT, Role.PLANNER, Role.CONDUCT_OFFICER)


class PledgePublic(BaseModel):
    id: str
    member_state: str
    co_sponsors: list[str]
    summit: str
    kind: str
    title: str
    text: str
    indicator: str | None
    baseline: Decimal | None
    target: Decimal | None
    unit: str | None
    target_date: date | None
    resources: str | None
    amount: Decimal | None
    currency: str | None
    supports_summit: str | None
    status: str
    submitted_at: datetime
    version: int
    next_report_due: datetime | None = None
    missed_reports: int = 0
    traffic_light: str | None = None
    delivered: dict[str, Decimal] = {}
    possible_duplicate_of: list[str] = []
    reports: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    allowed_actions: list[str] = []


class PledgePage(BaseModel):
    items: list[PledgePublic]
    next_cursor: str | None


def _public(pledge: Pledge, principal: Principal | None = None) -> PledgePublic:
    view = PledgePublic.model_validate(pledge, from_attributes=True)
    if pledge.state:
        state = Lifecycle.model_validate(pledge.state)
        view.reports = [r.model_dump(mode="json") for r in state.reports]
        view.history = [h.model_dump(mode="json") for h in state.history]
        if principal is not None:
            view.allowed_actions = allowed_actions(state, actor_of(principal))
    return view


def actor_of(principal: Principal) -> Actor:
    if Role.ADMIN in principal.roles:
        role = Role.ADMIN.value
    elif Role.PLANNER in principal.roles:
        role = Role.PLANNER.value
    else:
        role = sorted(r.value for r in principal.roles)[0]
    return Actor(subject=principal.subject, role=role, member_state=principal.member_state)


def _visible(pledge: Pledge, principal: Principal) -> bool:
    states = {pledge.member_state, *pledge.co_sponsors}
    return any(principal.may_act_for(state) for state in states)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A retry with the same Idempotency-Key: the pledge first created"}},
    summary="Submit a pledge",
)
async def submit_pledge(
    submission: PledgeSubmission,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, SUBMITTERS],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> PledgePublic:
    if not principal.may_act_for(submission.member_state):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"you act for {principal.member_state} only")
    if idempotency_key:
        existing = await _by_idempotency_key(session, submission.member_state, idempotency_key)
        if existing is not None:
            return _replay(existing, submission, response)
    now = datetime.now(UTC)
    pledge_id = str(uuid.uuid4())
    duplicates = await possible_duplicates(session, submission, runtime.settings.pledge_policy)
    state = initial_state(pledge_id, submission, now, duplicates)
    pledge = Pledge(
        id=pledge_id,
        member_state=submission.member_state,
        co_sponsors=submission.co_sponsors,
        summit=submission.summit,
        kind=submission.kind.value,
        **title_values(submission.title),
        text=submission.text,
        supports_summit=submission.supports_summit,
        submitted_by=principal.subject,
        submitted_at=now,
        idempotency_key=idempotency_key,
        request_fingerprint=submission.fingerprint() if idempotency_key else None,
        possible_duplicate_of=duplicates,
        state=state.model_dump(mode="json"),
        **submission.terms.model_dump(),
    )
    session.add(pledge)
    record_event(session, submitted_event(pledge.id, submission, now), key=pledge.id)
    try:
        await session.commit()
    except IntegrityError:
        # A concurrent retry with the same key won the race: answer with its pledge.
        await session.rollback()
        assert idempotency_key is not None
        existing = await _by_idempotency_key(session, submission.member_state, idempotency_key)
        if existing is None:
            raise
        return _replay(existing, submission, response)
    response.headers["Location"] = f"/pledges/{pledge.id}"
    return _public(pledge)


async def possible_duplicates(
    session: SessionDep, submission: PledgeSubmission, policy: PledgePolicy
) -> list[str]:
    """Same State, same kind, near-identical title: flagged for the secretariat, never dropped."""
    return await similar_stored(session, submission, policy.duplicate_title_similarity)


async def _by_idempotency_key(session: SessionDep, member_state: str, key: str) -> Pledge | None:
    result = await session.execute(
        select(Pledge).where(Pledge.member_state == member_state, Pledge.idempotency_key == key)
    )
    return result.scalar_one_or_none()


def _replay(existing: Pledge, submission: PledgeSubmission, response: Response) -> PledgePublic:
    if existing.request_fingerprint != submission.fingerprint():
        raise Conflict("Idempotency-Key was already used for a different pledge submission")
    response.status_code = status.HTTP_200_OK
    response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/pledges/{existing.id}"
    return _public(existing)


@router.get("/{pledge_id}", summary="One pledge")
async def get_pledge(
    pledge_id: str, session: SessionDep, response: Response, principal: Annotated[Principal, READERS]
) -> PledgePublic:
    pledge = await session.get(Pledge, pledge_id)
    # Another State's pledge is not even acknowledged to exist.
    if pledge is None or not _visible(pledge, principal):
        raise NotFound(f"no pledge {pledge_id}")
    response.headers["ETag"] = f'"{pledge.version}"'
    return _public(pledge, principal)


@router.post("/{pledge_id}/actions", summary="Review, accept, report progress, confirm fulfilment...")
async def take_action(
    pledge_id: str,
    command: Command,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, READERS],
    if_match: IfMatch = None,
) -> PledgePublic:
    row = await session.get(Pledge, pledge_id)
    if row is None or not _visible(row, principal):
        raise NotFound(f"no pledge {pledge_id}")
    # Only the lead State acts for a joint pledge; co-sponsors read it.
    if Role.STATE_FOCAL_POINT in principal.roles and not principal.may_act_for(row.member_state):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"{row.member_state} leads this pledge and reports on it"
        )
    stored = Lifecycle.model_validate(row.state)
    await session.rollback()  # no transaction held while the workflow works
    request = PledgeCommandRequest(
        command=command,
        actor=actor_of(principal),
        policy=runtime.settings.pledge_policy,
        expected_version=expected_version(if_match),
        traceparent=current_traceparent(),
    )
    view = await act_on_pledge(temporal, stored, runtime.settings.pledge_policy, request)
    await session.refresh(row)
    result = _public(row, principal)
    result.allowed_actions = view.allowed_actions
    response.headers["ETag"] = f'"{result.version}"'
    return result


@router.get("", summary="Pledges, newest (or oldest) first, with filters and keyset pagination")
async def list_pledges(
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    member_state: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    kind: Annotated[str | None, Query(description="A pledge kind, e.g. financial_support")] = None,
    summit: Annotated[str | None, Query(description="Made at this summit")] = None,
    supports_summit: Annotated[str | None, Query(description="Supporting this summit")] = None,
    status: Annotated[str | None, Query(description="e.g. accepted, in_progress, fulfilled")] = None,
    traffic_light: Annotated[str | None, Query(description="green, amber, red or inactive")] = None,
    overdue: Annotated[
        bool | None, Query(description="true: a live pledge with a report missed or past due")
    ] = None,
    sort: Annotated[
        str, Query(pattern=r"^-?submitted_at$", description="-submitted_at (newest first) or submitted_at")
    ] = "-submitted_at",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> PledgePage:
    # The filters are reporting's, shared with the summary and the CSV export.
    from services.pledges import reporting

    filters = reporting.PledgeFilters.parse(
        member_state=member_state,
        kind=kind,
        summit=summit,
        supports_summit=supports_summit,
        status=status,
        traffic_light=traffic_light,
        overdue=overdue,
    )
    query = reporting.filtered(select(Pledge), filters, principal)
    if cursor:
        query = query.where(reporting.after_cursor(cursor, sort))
    query = query.order_by(*reporting.ordering(sort)).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    items, more = rows[:limit], len(rows) > limit
    next_cursor = reporting.cursor_of(items[-1]) if more else None
    return PledgePage(items=[_public(p) for p in items], next_cursor=next_cursor)
