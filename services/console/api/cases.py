"""The conduct-and-discipline officer's pages: the queue of cases, a case, and its steps as buttons and forms.
A focal point sees the same pages with what the cases API gives a State (its own cases, its part)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.console.pages import CsrfChecked, SignedIn, form_page, render, submit_form
from services.console.service import cases as service

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
    return form_page(request, "new_case.html", await service.intake_form(request.app.state.apis))


@router.post("/new", dependencies=[CsrfChecked], response_model=None)
async def open_case(request: Request, person: SignedIn) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    form = await service.intake_form(apis)
    return await submit_form(
        request,
        "new_case.html",
        form,
        lambda values, key: service.open_case(apis, person, form, values, key),
        lambda opened: f"/cases/{opened.body['case_id']}?done=open_case",
    )


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
    return form_page(request, "step.html", form, case=case)


@router.post("/{case_id}/steps/{action}", dependencies=[CsrfChecked], response_model=None)
async def take_step(
    request: Request, person: SignedIn, case_id: str, action: str
) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    case, form = await service.step_of(apis, person, case_id, action)
    return await submit_form(
        request,
        "step.html",
        form,
        lambda values, key: service.take_step(
            apis, person, case_id, form, values, values.get("version", ""), key
        ),
        lambda _: f"/cases/{case_id}?done={action}",
        case=case,
    )
