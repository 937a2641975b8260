"""A case's audit trail: every step, reading and reveal, hash-chained; and the check of that chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from services.cases import queries, service
from services.cases.api.cases import OFFICERS
from services.cases.models import AuditEntry
from services.common.app import Route, SessionDep
from services.common.auth import Principal

router = APIRouter(prefix="/cases", tags=["cases"], route_class=Route)


@router.get("/{case_id}/audit", summary="The case's audit trail")
async def audit_trail(
    case_id: str, session: SessionDep, principal: Annotated[Principal, OFFICERS]
) -> list[AuditEntry]:
    await queries.load_case(session, case_id, principal)
    return list(await queries.audit_trail(session, case_id))


@router.get("/{case_id}/audit/verify", summary="Check the audit trail's hash chain")
async def verify_audit(
    case_id: str, session: SessionDep, principal: Annotated[Principal, OFFICERS]
) -> dict[str, Any]:
    result = await service.verify_audit(session, principal, case_id)
    return {
        "case_id": case_id,
        "valid": result.valid,
        "entries": result.entries,
        "first_broken_position": result.first_broken_position,
        "reason": result.reason,
    }
