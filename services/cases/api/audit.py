"""A case's audit trail: every step, reading and reveal, hash-chained; and the check of that chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.cases import queries, service
from services.cases.api.cases import OFFICERS
from services.cases.models import AuditEntry
from services.common.app import Route, SessionDep
from services.common.auth import Principal
from services.common.paging import PAGED, Page, PageDep

router = APIRouter(prefix="/cases", tags=["audit"], route_class=Route)


class AuditVerification(BaseModel):
    """Whether a case's audit trail is whole, and if not, where it first breaks."""

    case_id: str
    valid: bool
    entries: int = Field(description="How many entries the trail holds")
    first_broken_position: int | None = Field(
        description="The first entry that does not check; null if valid"
    )
    reason: str | None = Field(description="Why that entry does not check; null if valid")


class AuditPage(Page[AuditEntry]):
    """One page of a case's audit trail, oldest first; ``next_cursor`` fetches the next (null: no more)."""


@router.get("/{case_id}/audit", summary="The case's audit trail", openapi_extra=PAGED)
async def audit_trail(
    case_id: str, session: SessionDep, principal: Annotated[Principal, OFFICERS], page: PageDep
) -> AuditPage:
    """Lists every step, reading and reveal recorded on a case, oldest first, each chained to the one before
    by its hash, a page at a time (``cursor``: the page's ``next_cursor``). Conduct-and-discipline officers
    only."""
    await queries.load_case(session, case_id, principal)
    entries, next_cursor = await queries.audit_page(session, case_id, page)
    return page.answer(
        AuditPage, [AuditEntry.model_validate(e, from_attributes=True) for e in entries], next_cursor
    )


@router.get("/{case_id}/audit/verify", summary="Check the audit trail's hash chain")
async def verify_audit(
    case_id: str, session: SessionDep, principal: Annotated[Principal, OFFICERS]
) -> AuditVerification:
    """Checks the case's audit trail: every hash right, positions consecutive, and as long as the case says.
    Conduct-and-discipline officers only."""
    result = await service.verify_audit(session, principal, case_id)
    return AuditVerification(
        case_id=case_id,
        valid=result.valid,
        entries=result.entries,
        first_broken_position=result.first_broken_position,
        reason=result.reason,
    )
