"""Across cases: counts in the shape of the UN's public misconduct tables, and the review flags raised.
Listed before the cases router: these fixed paths would otherwise be read as a case id."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from services.cases import queries
from services.cases.api.cases import OFFICERS
from services.cases.models import ReviewFlag
from services.common.app import Route, SessionDep
from services.common.auth import Principal

router = APIRouter(prefix="/cases", tags=["cases"], route_class=Route)


@router.get("/statistics", summary="Counts in the shape of the UN's public misconduct tables")
async def statistics(
    session: SessionDep,
    principal: Annotated[Principal, OFFICERS],
    by: Annotated[list[Literal[*tuple(queries.STAT_DIMENSIONS)]], Query()] = ["year", "mission"],  # type: ignore[valid-type]  # noqa: B006
) -> list[dict[str, Any]]:
    return await queries.statistics(session, by, principal.missions)


@router.get("/review-flags", summary="Security Council resolution 2272 review flags")
async def review_flags(session: SessionDep, principal: Annotated[Principal, OFFICERS]) -> list[ReviewFlag]:
    return await queries.review_flags(session, principal.missions)
