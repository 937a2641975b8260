"""The conduct-and-discipline officer's pages: the queue of cases, a case, and its steps as buttons and forms.
A focal point sees the same pages with what the cases API gives a State (its own cases, its part)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.console import service
from services.console.domain.forms import FilledForm
from services.console.gateway import Refused
from services.console.pages import CsrfChecked, SignedIn, render, see_other

router = APIRouter(prefix="/cases", include_in_schema=False)


@router.get("")
async def queue(
    request: Request,
    person: SignedIn,
    cursor: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    filters = {name: request.query_params.get(name, "") for name in service.QUEUE_FILTERS}
    page = await service.queue(request.app.state.apis, person, filters, cursor)
    return render(request, "cases.html", page=page, filters=filters, choices=service.queue_choices())


@router.get("/new")
async def new_case_page(request: Request, person: SignedIn) -> HTMLResponse:
    form = await service.intake_form(request.app.state.apis)
    return _new_case(request, form, FilledForm(), {}, str(uuid.uuid4()))


def _new_case(
    request: Request,
    form: Any,
    filled: FilledForm,
    values: dict[str, str],
    key: str,
    refused: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "new_case.html",
        status_code=status_code,
        form=form,
        errors=filled.errors,
        values=values,
        key=key,
        refused=refused,
    )


@router.post("/new", dependencies=[CsrfChecked], response_model=None)
async def open_case(request: Request, person: SignedIn) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    form = await service.intake_form(apis)
    values = {name: str(value) for name, value in (await request.form()).items()}
    key = values.get("idempotency_key") or str(uuid.uuid4())
    try:
        outcome = await service.open_case(apis, person, form, values, key)
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        again = key if refused.status == 503 else str(uuid.uuid4())
        filled = FilledForm(errors=refused.field_errors)
        return _new_case(request, form, filled, values, again, refused, status_code=refused.status)
    if isinstance(outcome, FilledForm):
        return _new_case(request, form, outcome, values, key, status_code=422)
    return see_other(f"/cases/{outcome.body['case_id']}?done=open_case")


@router.get("/{case_id}")
async def case_page(
    request: Request,
    person: SignedIn,
    case_id: str,
    audit: Annotated[str | None, Query(description="the audit trail's page")] = None,
    verify: bool = False,
) -> HTMLResponse:
    apis = request.app.state.apis
    # The case and its audit trail at once: the page waits for the slower of the two, not for both.
    case, forms, trail = await asyncio.gather(
        service.read_case(apis, person, case_id),
        service.case_steps(apis),
        service.audit_trail(apis, person, case_id, audit),
    )
    steps = [forms[action] for action in case.get("allowed_actions", ()) if action in forms]
    pages = service.OWN_PAGES
    verified = await service.verify_audit(apis, person, case_id) if verify and trail is not None else None
    return render(
        request,
        "case.html",
        case=case,
        steps=steps,
        done=request.query_params.get("done"),
        key=str(uuid.uuid4()),
        trail=trail,
        verified=verified,
        pages=pages,
    )


@router.get("/{case_id}/steps/{action}")
async def step_page(request: Request, person: SignedIn, case_id: str, action: str) -> HTMLResponse:
    case, form = await service.step_of(request.app.state.apis, person, case_id, action)
    return _step(request, case, form, FilledForm(), {}, str(uuid.uuid4()))


def _step(
    request: Request,
    case: dict[str, Any],
    form: Any,
    filled: FilledForm,
    values: dict[str, str],
    key: str,
    refused: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "step.html",
        status_code=status_code,
        case=case,
        form=form,
        errors=filled.errors,
        values=values,
        key=key,
        refused=refused,
    )


@router.post("/{case_id}/steps/{action}", dependencies=[CsrfChecked], response_model=None)
async def take_step(
    request: Request, person: SignedIn, case_id: str, action: str
) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    case, form = await service.step_of(apis, person, case_id, action)
    submitted = await request.form()
    values = {name: str(value) for name, value in submitted.items()}
    key = values.get("idempotency_key") or str(uuid.uuid4())
    try:
        outcome = await service.take_step(apis, person, case_id, form, values, values.get("version", ""), key)
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        filled = FilledForm(errors=refused.field_errors)
        # A refusal is a finished request: the corrected form is a new one, with a new key. An outcome not
        # known in time (503) is sent again under the same key, so it is applied once.
        again = key if refused.status == 503 else str(uuid.uuid4())
        return _step(request, case, form, filled, values, again, refused, status_code=refused.status)
    if isinstance(outcome, FilledForm):
        return _step(request, case, form, outcome, values, key, status_code=422)
    return see_other(f"/cases/{case_id}?done={action}")
