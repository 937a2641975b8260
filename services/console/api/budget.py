"""A summit's budget: its lines, its spending, the funding pledged, received and spent and the gap (a table
and a bar chart drawn on the server), the gap alert; adding a line, recording spending and money received,
each through a form laid out from the summits API's schema."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.console.domain.charts import bar_chart
from services.console.domain.forms import FilledForm
from services.console.gateway import Refused
from services.console.pages import CsrfChecked, SignedIn, key_after, language, render, see_other, translations
from services.console.service import summits as service

router = APIRouter(prefix="/summits/{summit_id}/budget", include_in_schema=False)
# The funding position's figures, in the order the chart shows them.
FIGURES = ("budget", "pledged", "received", "spent", "gap")


async def _page(
    request: Request, person: Any, summit_id: str, cursor: str | None, **context: Any
) -> HTMLResponse:
    apis = request.app.state.apis
    seen = await service.budget(apis, person, summit_id, cursor)
    funding = seen.funding
    words = translations(language(request)).gettext
    # Whole units of the budget currency: the table beside the chart gives the exact amounts.
    chart = bar_chart(
        [(words(name.capitalize()), max(int(Decimal(str(funding[name]))), 0)) for name in FIGURES],
        largest_first=False,
    )
    forms = {
        kind: await service.budget_form(apis, kind, funding["budget_lines"]) for kind in service.BUDGET_FORMS
    }
    status_code = context.pop("status_code", 200)
    context.setdefault("which", "")
    context.setdefault("values", {})
    context.setdefault("errors", {})
    context.setdefault("refused", None)
    return render(
        request,
        "budget.html",
        status_code=status_code,
        summit=seen.summit,
        seen=seen,
        funding=funding,
        line_titles={line["id"]: line["title"] for line in funding["budget_lines"]},
        chart=chart,
        forms=forms,
        gap_alert=service.gap_alert(funding),
        key=context.pop("key", None) or str(uuid.uuid4()),
        done=request.query_params.get("done"),
        **context,
    )


@router.get("")
async def budget_page(
    request: Request,
    person: SignedIn,
    summit_id: str,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> HTMLResponse:
    return await _page(request, person, summit_id, cursor)


@router.post("/{kind}", dependencies=[CsrfChecked], response_model=None)
async def record(
    request: Request, person: SignedIn, summit_id: str, kind: str
) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    values = {k: str(v) for k, v in (await request.form()).items()}
    key = values.get("idempotency_key") or str(uuid.uuid4())
    seen = await service.budget(apis, person, summit_id, None)
    form = await service.budget_form(apis, kind, seen.funding["budget_lines"])
    try:
        outcome = await service.record(apis, person, summit_id, kind, form, values, key)
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        return await _page(
            request,
            person,
            summit_id,
            None,
            which=kind,
            values=values,
            errors=refused.field_errors,
            refused=refused,
            key=key_after(refused, key),
            status_code=refused.status,
        )
    if isinstance(outcome, FilledForm):
        return await _page(
            request,
            person,
            summit_id,
            None,
            which=kind,
            values=values,
            errors=outcome.errors,
            key=key,
            status_code=422,
        )
    return see_other(f"/summits/{summit_id}/budget?done={service.BUDGET_FORMS[kind][0]}")
