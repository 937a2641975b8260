"""Across cases: counts in the shape of the UN's public misconduct tables, and the review flags raised.
Listed before the cases router: these fixed paths would otherwise be read as a case id."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from services.cases import queries
from services.cases.api.cases import OFFICERS
from services.cases.models import ReviewFlag
from services.common.app import Route, SessionDep
from services.common.auth import Principal
from services.common.paging import bounded
from uncops_contracts.cases import AllegationType, MisconductCategory, PersonnelCategory

router = APIRouter(prefix="/cases", tags=["statistics"], route_class=Route)


class StatisticsRow(BaseModel):
    """One row of counts: a value of each dimension asked for in ``by`` (the others are absent), then the
    counts of the cases that have those values."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "year": 2026,
                    "mission": "MINUSCA",
                    "allegations": 4,
                    "victims_adult": 3,
                    "victims_minor": 2,
                    "substantiated": 1,
                }
            ]
        }
    )

    year: int | None = Field(None, description="The year the allegation was reported")
    mission: str | None = None
    personnel_category: PersonnelCategory | None = None
    nationality: str | None = Field(None, description="The police-contributing country (ISO 3166 alpha-3)")
    allegation_type: AllegationType | None = None
    category: MisconductCategory | None = None
    result: str | None = Field(None, description="The finding, or pending while there is none")
    allegations: int
    victims_adult: int
    victims_minor: int
    substantiated: int = Field(description="The allegations found substantiated")


@router.get(
    "/statistics",
    summary="Counts in the shape of the UN's public misconduct tables",
    response_model_exclude_unset=True,
    openapi_extra=bounded("one row per combination of the by dimensions' values"),
)
async def statistics(
    session: SessionDep,
    principal: Annotated[Principal, OFFICERS],
    by: Annotated[list[Literal[*tuple(queries.STAT_DIMENSIONS)]], Query()] = ["year", "mission"],  # type: ignore[valid-type]  # noqa: B006
) -> list[StatisticsRow]:
    """Counts allegations and victims by the dimensions in ``by``, over the cases of the caller's missions.
    Conduct-and-discipline officers only. Bounded: one row per combination of the dimensions' values; not
    paged."""
    return [
        StatisticsRow.model_validate(row) for row in await queries.statistics(session, by, principal.missions)
    ]


@router.get(
    "/review-flags",
    summary="Security Council resolution 2272 review flags",
    openapi_extra=bounded("at most one flag per unit or contributing country per review window"),
)
async def review_flags(session: SessionDep, principal: Annotated[Principal, OFFICERS]) -> list[ReviewFlag]:
    """Lists the review flags raised under Security Council resolution 2272 (a unit or a country with
    repeated allegations), newest first, as far as the caller's missions go. Officers only. Bounded: at
    most one flag per unit or contributing country per review window; not paged."""
    return await queries.review_flags(session, principal.missions)
