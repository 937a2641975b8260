"""The planners' agenda page: the draft as a grid of rooms by time for each day, and the form that places or
moves a session, with every conflict listed beside it in words before anything is saved."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.console.domain.forms import StepForm
from services.console.gateway import Refused
from services.console.pages import CsrfChecked, SignedIn, key_after, render, see_other
from services.console.service import agenda as service

router = APIRouter(prefix="/summits", include_in_schema=False)


def _day(found: service.Agenda, wanted: str | None) -> date:
    try:
        day = date.fromisoformat(wanted or "")
    except ValueError:
        return found.days[0]
    return day if day in found.days else found.days[0]


def _page(
    request: Request,
    found: service.Agenda,
    form: StepForm,
    day: date,
    values: dict[str, Any],
    *,
    session_id: str | None,
    version: str = "",
    key: str | None = None,
    errors: dict[str, str] | None = None,
    refused: Refused | None = None,
    conflicts: list[dict[str, Any]] | None = None,
    checked: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "agenda.html",
        status_code=status_code,
        summit=found.summit,
        agenda=found,
        grid=found.grid(day),
        day=day,
        form=form,
        values=values,
        errors=errors or {},
        refused=refused,
        conflicts=conflicts,
        checked=checked,
        session_id=session_id,
        version=version,
        key=key or str(uuid.uuid4()),
        done=request.query_params.get("done"),
    )


@router.get("/{summit_id}/agenda")
async def agenda_page(
    request: Request,
    person: SignedIn,
    summit_id: str,
    day: Annotated[str | None, Query()] = None,
    session: Annotated[str | None, Query(description="the session to move")] = None,
) -> HTMLResponse:
    apis = request.app.state.apis
    found = await service.agenda(apis, person, summit_id)
    form = await service.session_form(apis, found)
    chosen = found.session(session) if session else None
    values = service.values_of(chosen) if chosen else {}
    shown = _day(found, chosen["starts_at"][:10] if chosen and not day else day)
    return _page(
        request,
        found,
        form,
        shown,
        values,
        session_id=chosen["id"] if chosen else None,
        version=str(chosen["version"]) if chosen else "",
    )


async def _posted(request: Request) -> dict[str, Any]:
    posted = await request.form()
    values: dict[str, Any] = {name: str(value) for name, value in posted.items()}
    for name in service.PEOPLE_FIELDS:
        values[name] = [str(v) for v in posted.getlist(name) if str(v)]
    return values


@router.post("/{summit_id}/agenda", dependencies=[CsrfChecked], response_model=None)
async def place_session(
    request: Request, person: SignedIn, summit_id: str
) -> HTMLResponse | RedirectResponse:
    """ "Check" lists the conflicts without saving; "Save" saves, or shows the conflicts the API refused."""
    apis = request.app.state.apis
    values = await _posted(request)
    found = await service.agenda(apis, person, summit_id)
    form = await service.session_form(apis, found)
    session_id = values.get("session_id") or None
    version = str(values.get("version", ""))
    key = str(values.get("idempotency_key") or uuid.uuid4())
    filled = service.read_session(form, values)
    day = _day(found, str(values.get("starts_at", ""))[:10] or values.get("day"))
    common: dict[str, Any] = {"session_id": session_id, "version": version}
    if filled.errors:
        return _page(
            request, found, form, day, values, key=key, errors=filled.errors, status_code=422, **common
        )
    try:
        if values.get("intent") == "check":
            conflicts = await service.check(apis, person, summit_id, filled.body, session_id)
            return _page(
                request, found, form, day, values, key=key, conflicts=conflicts, checked=True, **common
            )
        saved = await service.save(apis, person, summit_id, filled.body, session_id, version, key)
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        return _page(
            request,
            found,
            form,
            day,
            values,
            key=key_after(refused, key),
            errors=refused.field_errors,
            refused=None if refused.status == 409 and service.conflicts_of(refused) else refused,
            conflicts=service.conflicts_of(refused) if refused.status == 409 else None,
            status_code=refused.status,
            **common,
        )
    starts = str(saved.body["starts_at"])[:10]
    return see_other(f"/summits/{summit_id}/agenda?day={starts}&done=saved#grid")


@router.post("/{summit_id}/agenda/check", dependencies=[CsrfChecked], response_model=None)
async def check_session(request: Request, person: SignedIn, summit_id: str) -> HTMLResponse:
    """The conflicts beside the form, as htmx asks for them while the form changes (nothing is saved)."""
    apis = request.app.state.apis
    values = await _posted(request)
    found = await service.agenda(apis, person, summit_id)
    form = await service.session_form(apis, found)
    filled = service.read_session(form, values)
    session_id = values.get("session_id") or None
    conflicts: list[dict[str, Any]] | None = None
    errors = filled.errors
    if not errors:
        try:
            conflicts = await service.check(apis, person, summit_id, filled.body, session_id)
        except Refused as refused:
            if refused.status >= 500:
                raise
            errors = refused.field_errors or {"": refused.detail}
    return render(
        request,
        "agenda_conflicts.html",
        agenda=found,
        conflicts=conflicts,
        checked=not errors,
        check_errors=errors,
    )
