"""HTTP routes of pledge intake: thin, the rules are in domain.py."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from services.common.app import (
    IfMatch,
    Route,
    RuntimeDep,
    SessionDep,
    TemporalDep,
    expected_version,
    runtime_of,
)
from services.common.auth import Principal, Role, require_roles
from services.common.errors import Conflict, NotFound
from services.common.observability import current_traceparent
from services.pledges.domain import PledgeSubmission
from services.pledges.follow_up import act_on_pledge
from services.pledges.intake import Submitted, intake_writer
from services.pledges.lifecycle import Actor, Command, allowed_actions
from services.pledges.lifecycle import Pledge as Lifecycle
from services.pledges.models import Pledge
from workflows.pledges.workflows import PledgeCommandRequest

router = APIRouter(prefix="/pledges", tags=["pledges"], route_class=Route)

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
    response_model=PledgePublic,
    responses={200: {"description": "A retry with the same Idempotency-Key: the pledge first created"}},
    summary="Submit a pledge",
)
async def submit_pledge(
    submission: PledgeSubmission,
    request: Request,
    principal: Annotated[Principal, SUBMITTERS],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    if not principal.may_act_for(submission.member_state):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"you act for {principal.member_state} only")
    runtime = runtime_of(request)  # not RuntimeDep: the busiest route spares itself a dependency to solve
    # The busiest write: constant SQL on asyncpg (services.pledges.intake), no ORM, batched under load.
    submitted = Submitted(
        pledge_id=str(uuid.uuid4()),
        submission=submission,
        submitted_by=principal.subject,
        submitted_at=datetime.now(UTC),
        traceparent=current_traceparent(),
        idempotency_key=idempotency_key or None,
    )
    pledge, stored = await intake_writer(runtime).store(submitted)
    if not stored:
        # The State has used this Idempotency-Key before: a retry gets the pledge first created.
        async with runtime.sessions() as session:
            existing = await _by_idempotency_key(session, submission.member_state, str(idempotency_key))
        if existing is None:  # pragma: no cover - a key is never released once used
            raise Conflict("Idempotency-Key was already used for a different pledge submission")
        return _replay(existing, submission)
    view = PledgePublic.model_validate(pledge)
    # The stored lifecycle state is already JSON: its reports and history as GET /pledges/{id} shows them.
    view.reports, view.history = pledge["state"]["reports"], pledge["state"]["history"]
    return _json(view, status.HTTP_201_CREATED, Location=f"/pledges/{submitted.pledge_id}")


async def _by_idempotency_key(session: AsyncSession, member_state: str, key: str) -> Pledge | None:
    result = await session.execute(
        select(Pledge).where(Pledge.member_state == member_state, Pledge.idempotency_key == key)
    )
    return result.scalar_one_or_none()


def _replay(existing: Pledge, submission: PledgeSubmission) -> Response:
    if existing.request_fingerprint != submission.fingerprint():
        raise Conflict("Idempotency-Key was already used for a different pledge submission")
    headers = {"Idempotent-Replayed": "true", "Location": f"/pledges/{existing.id}"}
    return _json(_public(existing), status.HTTP_200_OK, **headers)


def _json(view: PledgePublic, status_code: int, **headers: str) -> Response:
    # Serialised here, once: returning the model would have FastAPI validate it again.
    return Response(view.model_dump_json(), status_code, headers, media_type="application/json")


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
