"""Cases: record a new one, find them, read one, take a step on one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status

from services.cases import queries, service
from services.cases.domain.case import Case, CasePublic, visible
from services.cases.domain.commands import AddAttachment, AddVictim, Command
from services.cases.domain.intake import CaseIntake
from services.common.actor import Actor
from services.common.app import IfMatch, Route, RuntimeDep, SessionDep, TemporalDep, expected_version
from services.common.auth import Principal, Role, actor_of, require_roles
from services.common.errors import InvalidField
from services.common.paging import PAGED, Page, PageDep
from uncops_contracts.cases import AllegationType, CaseStatus, MisconductCategory, PersonnelCategory

router = APIRouter(prefix="/cases", tags=["cases"], route_class=Route)

OFFICERS = require_roles(Role.CONDUCT_OFFICER)
READERS = require_roles(Role.CONDUCT_OFFICER, Role.STATE_FOCAL_POINT)


def acting(principal: Principal) -> Actor:
    return actor_of(principal, (Role.CONDUCT_OFFICER, Role.ADMIN))


def present(case: Case, principal: Principal, response: Response | None = None) -> CasePublic:
    """The case as this caller may see it (with its version as the ETag when answering for one case). A route
    answering with it declares ``response_model_exclude_unset=True``: what is hidden from the caller is left
    out of the body, not sent as null."""
    if response is not None:
        response.headers["ETag"] = f'"{case.version}"'
    return visible(case, acting(principal), datetime.now(UTC))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Record a new case",
    response_model_exclude_unset=True,
)
async def open_new_case(
    intake: CaseIntake,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, OFFICERS],
) -> CasePublic:
    """Records an allegation as a new case, which starts its workflow and deadlines; answers the case with
    its Location and ETag. Conduct-and-discipline officers only, in the missions they serve."""
    if not principal.may_see_mission(intake.mission):
        # 403, not 422: the mission is a real one, only not this caller's (as a focal point's other State).
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"mission: {intake.mission} is not one of the missions you serve "
            f"({', '.join(sorted(principal.missions or ()))})",
        )
    case = await service.open_new_case(
        session, temporal, acting(principal), intake, runtime.settings.case_policy
    )
    response.headers["Location"] = f"/cases/{case.case_id}"
    return present(case, principal, response)


class CasePage(Page[CasePublic]):
    """One page of cases, as the caller may see each; ``next_cursor`` fetches the next (null: no more)."""


@router.get(
    "",
    summary="Cases, with filters and keyset pagination",
    response_model_exclude_unset=True,
    openapi_extra=PAGED,
)
async def list_cases(
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    page: PageDep,
    mission: str | None = None,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    police_contributing_country: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    category: MisconductCategory | None = None,
    personnel_category: PersonnelCategory | None = None,
    allegation_type: AllegationType | None = None,
    overdue: bool | None = None,
    assigned_officer: str | None = None,
    reported_from: date | None = None,
    reported_to: date | None = None,
    incident_from: date | None = None,
    incident_to: date | None = None,
    reference: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=40,
            pattern=r"^[A-Za-z0-9-]+$",
            description="A case's reference, or its beginning (e.g. `MINUSCA-2026-00`), in any case",
        ),
    ] = None,
    sort: Annotated[
        Literal["reported_on", "-reported_on", "next_due"],
        Query(description="`next_due`: the case whose next deadline falls first (overdue ones) first"),
    ] = "-reported_on",
) -> CasePage:
    """Lists the cases matching the filters, a page at a time. Officers see the cases of their missions; a
    Member State's focal point sees only its own personnel's cases, and only the State's part of each."""
    if Role.CONDUCT_OFFICER not in principal.roles and Role.ADMIN not in principal.roles:
        police_contributing_country = principal.member_state  # a State lists its own personnel's cases
    filters = queries.CaseFilters(
        mission=mission,
        within_missions=principal.missions,
        status=status_,
        police_contributing_country=police_contributing_country,
        category=category,
        personnel_category=personnel_category,
        allegation_type=allegation_type,
        overdue=overdue,
        assigned_officer=assigned_officer,
        reported_from=reported_from,
        reported_to=reported_to,
        incident_from=incident_from,
        incident_to=incident_to,
        reference=reference.upper() if reference else None,
    )
    cases, next_cursor = await queries.list_cases(session, filters, sort, page)
    return page.answer(CasePage, [present(case, principal) for case in cases], next_cursor)


@router.get("/{case_id}", summary="One case", response_model_exclude_unset=True)
async def get_case(
    case_id: str, session: SessionDep, response: Response, principal: Annotated[Principal, READERS]
) -> CasePublic:
    """Reads one case, with its version as the ETag. Officers, and the focal point of the State whose
    personnel it concerns (who sees only the State's part)."""
    return present(await queries.load_case(session, case_id, principal), principal, response)


@router.post(
    "/{case_id}/actions",
    summary="Take the next step on a case (or record something on it)",
    response_model_exclude_unset=True,
)
async def take_action(
    case_id: str,
    command: Command,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, READERS],
    if_match: IfMatch = None,
) -> CasePublic:
    """Takes one step on a case (``action`` names it; the case's ``allowed_actions`` lists those open to the
    caller now) and answers the case after it. Officers; a focal point only the State's own steps."""
    if isinstance(command, AddVictim | AddAttachment):
        raise InvalidField(
            "action",
            f"use POST /cases/{case_id}/{'victims' if isinstance(command, AddVictim) else 'attachments'}",
        )
    case = await service.take_step(
        session,
        temporal,
        principal,
        acting(principal),
        case_id,
        command,
        expected_version(if_match),
        runtime.settings.case_policy,
    )
    return present(case, principal, response)
