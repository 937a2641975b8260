"""The reports across cases: the UN's public statistics (a table and a bar chart) and the SCR 2272 review
flags. Registered before the case pages, whose ``/cases/{case_id}`` would take these paths."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.console.domain.charts import bar_chart
from services.console.domain.words import in_words
from services.console.pages import SignedIn, language, render, translations
from services.console.service import cases as service

router = APIRouter(prefix="/cases", include_in_schema=False)


@router.get("/statistics")
async def statistics(
    request: Request, person: SignedIn, by: Annotated[str, Query(max_length=40)] = "year"
) -> HTMLResponse:
    if by not in service.STATISTICS_BY:
        by = "year"
    rows = await service.statistics(request.app.state.apis, person, by)
    words = translations(language(request)).gettext

    def label(row: dict[str, object]) -> str:
        value = row.get(by)
        if value is None:
            return words("Not given")
        return str(value) if by in ("year", "mission", "nationality") else words(in_words(str(value)))

    chart = bar_chart([(label(row), int(str(row["allegations"]))) for row in rows], largest_first=False)
    labelled = [(label(row), row) for row in rows]
    return render(
        request, "statistics.html", by=by, choices=service.STATISTICS_BY, rows=labelled, chart=chart
    )


@router.get("/review-flags")
async def review_flags(request: Request, person: SignedIn) -> HTMLResponse:
    flags = await service.review_flags(request.app.state.apis, person)
    return render(request, "review_flags.html", flags=flags)
