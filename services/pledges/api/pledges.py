"""HTTP routes of pledges: submit one, read one, list them, take a step on one."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from pydantic import BaseModel

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
from services.common.idempotency import not_replayed
from services.common.paging import PAGED, Page, PageDep
from services.pledges import queries, service
from services.pledges.domain.commands import Command
from services.pledges.domain.pledge import HistoryEntry, Pledge, Report, allowed_actions
from services.pledges.domain.submission import PledgeSubmission
from services.pledges.models import PledgeRow
from uncops_contracts.pledges import PledgeKind, PledgeStatus, TrafficLight

router = APIRouter(prefix="/pledges", tags=["pledges"], route_class=Route)

SUBMITTERS = require_roles(Role.STATE_FOCAL_POINT, Role.PLANNER)
READERS = require_roles(Role.STATE_FOCAL_POINT, Role.PLANNER, Role.CONDUCT_OFFICER)


class PledgePublic(BaseModel):
    id: str
    member_state: str
    co_sponsors: list[str]
    summit: str
    kind: PledgeKind
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
    status: PledgeStatus
    submitted_at: datetime
    version: int
    next_report_due: datetime | None = None
    missed_reports: int = 0
    traffic_light: TrafficLight | None = None
    delivered: dict[str, Decimal] = {}
    possible_duplicate_of: list[str] = []
    reports: list[Report] = []
    history: list[HistoryEntry] = []
    allowed_actions: list[str] = []


class PledgePage(Page[PledgePublic]):
    """One page of pledges; ``next_cursor`` fetches the next (null: no more)."""


def _public(pledge: PledgeRow, principal: Principal | None = None) -> PledgePublic:
    view = PledgePublic.model_validate(pledge, from_attributes=True)
    if pledge.state:
        state = Pledge.model_validate(pledge.state)
        view.reports = state.reports
        view.history = state.history
        if principal is not None:
            view.allowed_actions = allowed_actions(state, service.actor(principal))
    return view


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PledgePublic,
    responses={
        200: {
            "model": PledgePublic,
            "description": "A retry with the same Idempotency-Key: the pledge first created",
        }
    },
    summary="Submit a pledge",
)
@not_replayed  # the intake keeps the key with the pledge, in its own transaction (services/pledges/store.py)
async def submit_pledge(
    submission: PledgeSubmission,
    request: Request,
    principal: Annotated[Principal, SUBMITTERS],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """A Member State's pledge, as its focal point (or the secretariat) submits it: 201 with the pledge
    and its ``Location``. The review workflow starts with it. A retry with the same Idempotency-Key
    answers 200 with the pledge first created."""
    if not principal.may_act_for(submission.member_state):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"you act for {principal.member_state} only")
    runtime = runtime_of(request)  # not RuntimeDep: the busiest route spares itself a dependency to solve
    pledge = await service.submit_pledge(runtime, submission, principal, idempotency_key)
    if isinstance(pledge, PledgeRow):  # a retry with the same Idempotency-Key: the pledge first created
        headers = {"Idempotent-Replayed": "true", "Location": f"/pledges/{pledge.id}"}
        return _json(_public(pledge), status.HTTP_200_OK, **headers)
    view = PledgePublic.model_validate(pledge)
    # The stored lifecycle state is already JSON: its reports and history as GET /pledges/{id} shows them.
    view.reports, view.history = pledge["state"]["reports"], pledge["state"]["history"]
    return _json(view, status.HTTP_201_CREATED, Location=f"/pledges/{pledge['id']}")


def _json(view: PledgePublic, status_code: int, **headers: str) -> Response:
    # Serialised here, once: returning the model would have FastAPI validate it again.
    return Response(view.model_dump_json(), status_code, headers, media_type="application/json")


@router.get("/{pledge_id}", summary="One pledge")
async def get_pledge(
    pledge_id: str, session: SessionDep, response: Response, principal: Annotated[Principal, READERS]
) -> PledgePublic:
    """One pledge with its reports, history and the actions the caller may take now; its ``ETag`` is its
    version, for ``If-Match`` on the next action."""
    pledge = await queries.visible_pledge(session, pledge_id, principal)
    response.headers["ETag"] = f'"{pledge.version}"'
    return _public(pledge, principal)


@router.post("/{pledge_id}/actions", summary="Review, accept, report progress, confirm fulfilment...")
async def take_pledge_action(
    pledge_id: str,
    command: Command,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, READERS],
    if_match: IfMatch = None,
) -> PledgePublic:
    """One step of the pledge's life cycle, named by ``action`` in the body. A step the status does not
    allow, or that is not the caller's, answers 409; with ``If-Match``, a pledge changed since it was read
    answers 412."""
    row = await queries.visible_pledge(session, pledge_id, principal)
    # Only the lead State acts for a joint pledge; co-sponsors read it.
    if Role.STATE_FOCAL_POINT in principal.roles and not principal.may_act_for(row.member_state):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"{row.member_state} leads this pledge and reports on it"
        )
    policy = runtime.settings.pledge_policy
    view = await service.take_action(
        session, temporal, policy, row, command, principal, expected_version(if_match)
    )
    result = _public(row, principal)
    result.allowed_actions = view.allowed_actions
    response.headers["ETag"] = f'"{result.version}"'
    return result


@router.get(
    "", summary="Pledges, newest (or oldest) first, with filters and keyset pagination", openapi_extra=PAGED
)
async def list_pledges(
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    page: PageDep,
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
) -> PledgePage:
    """Pledges matching the filters, newest first unless ``sort`` says otherwise, a page at a time: pass
    the page's ``next_cursor`` as ``cursor`` for the next one. A focal point sees its own State's pledges."""
    # The filters are the summary's and the CSV export's too.
    filters = queries.PledgeFilters.parse(
        member_state=member_state,
        kind=kind,
        summit=summit,
        supports_summit=supports_summit,
        status=status,
        traffic_light=traffic_light,
        overdue=overdue,
    )
    items, next_cursor = await queries.pledge_page(session, filters, principal, sort, page)
    return page.answer(PledgePage, [_public(p) for p in items], next_cursor)
