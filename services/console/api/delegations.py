"""A summit's delegations: the table by State with the places and the waiting list, inviting States (all 193
at once, or those chosen), the places, each delegation's steps; a focal point's registration of its own
delegation (head and members, the credentials letter) and its accreditation."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import UploadFile

from services.console.domain.forms import FilledForm
from services.console.gateway import Refused
from services.console.pages import CsrfChecked, SignedIn, key_after, render, see_other
from services.console.service import summits as service

router = APIRouter(prefix="/summits/{summit_id}/delegations", include_in_schema=False)
# The credentials letter: what the summits API accepts as a proof document.
PROOF_TYPES = ("application/pdf", "image/jpeg", "image/png")
PROOF_MAX_BYTES = 20 * 1024 * 1024


async def _table(
    request: Request, person: Any, summit_id: str, status: str, cursor: str | None, **context: Any
) -> HTMLResponse:
    apis = request.app.state.apis
    seen = await service.delegations(apis, person, summit_id, status, cursor)
    planner = service.is_planner(person)
    invitation, capacity = (
        (await service.invitation_form(apis), await service.capacity_form(apis)) if planner else (None, None)
    )
    context.setdefault("which", "")
    context.setdefault("values", {})
    context.setdefault("errors", {})
    context.setdefault("refused", None)
    context.setdefault("status_code", 200)
    status_code = context.pop("status_code")
    return render(
        request,
        "delegations.html",
        status_code=status_code,
        summit=seen.summit,
        seen=seen,
        planner=planner,
        status=status if status in service.DELEGATION_STATUSES else "",
        statuses=service.DELEGATION_STATUSES,
        invitation=invitation,
        capacity=capacity,
        states=service.state_names(),
        key=context.pop("key", None) or str(uuid.uuid4()),
        done=request.query_params.get("done"),
        **context,
    )


@router.get("")
async def delegations_page(
    request: Request,
    person: SignedIn,
    summit_id: str,
    status: Annotated[str, Query(max_length=40)] = "",
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> HTMLResponse:
    return await _table(request, person, summit_id, status, cursor)


async def _posted(request: Request) -> tuple[dict[str, str], list[str], str]:
    form = await request.form()
    values = {name: str(value) for name, value in form.items() if name != "states"}
    chosen = [str(v) for v in form.getlist("states")]
    return values, chosen, values.get("idempotency_key") or str(uuid.uuid4())


async def _refused_table(
    request: Request, person: Any, summit_id: str, which: str, values: dict[str, str], key: str, outcome: Any
) -> HTMLResponse:
    if isinstance(outcome, FilledForm):
        return await _table(
            request,
            person,
            summit_id,
            "",
            None,
            which=which,
            values=values,
            errors=outcome.errors,
            key=key,
            status_code=422,
        )
    refused: Refused = outcome
    return await _table(
        request,
        person,
        summit_id,
        "",
        None,
        which=which,
        values=values,
        errors=refused.field_errors,
        refused=refused,
        key=key_after(refused, key),
        status_code=refused.status,
    )


@router.post("/invitations", dependencies=[CsrfChecked], response_model=None)
async def invite(request: Request, person: SignedIn, summit_id: str) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    values, chosen, key = await _posted(request)
    form = await service.invitation_form(apis)
    try:
        outcome = await service.invite(apis, person, summit_id, form, values, chosen, key)
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        return await _refused_table(request, person, summit_id, "invite", values, key, refused)
    if isinstance(outcome, FilledForm):
        return await _refused_table(request, person, summit_id, "invite", values, key, outcome)
    invited = len(outcome.body["invited"])
    return see_other(f"/summits/{summit_id}/delegations?done=invite&invited={invited}")


@router.post("/capacity", dependencies=[CsrfChecked], response_model=None)
async def set_capacity(request: Request, person: SignedIn, summit_id: str) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    values, _, key = await _posted(request)
    form = await service.capacity_form(apis)
    try:
        outcome = await service.set_capacity(apis, person, summit_id, form, values, key)
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        return await _refused_table(request, person, summit_id, "capacity", values, key, refused)
    if isinstance(outcome, FilledForm):
        return await _refused_table(request, person, summit_id, "capacity", values, key, outcome)
    return see_other(f"/summits/{summit_id}/delegations?done=set_capacity")


async def _delegation(
    request: Request, person: Any, summit_id: str, delegation_id: str, **context: Any
) -> HTMLResponse:
    apis = request.app.state.apis
    summit, delegation = await _both(request, person, summit_id, delegation_id)
    registration = (
        await service.registration_form(apis) if "register" in delegation.get("allowed_actions", ()) else None
    )
    context.setdefault("values", service.registered_values(delegation))
    context.setdefault("errors", {})
    context.setdefault("refused", None)
    status_code = context.pop("status_code", 200)
    return render(
        request,
        "delegation.html",
        state_name=service.state_names().get(delegation["member_state"], delegation["member_state"]),
        status_code=status_code,
        summit=summit,
        delegation=delegation,
        registration=registration,
        steps=[a for a in delegation.get("allowed_actions", ()) if a in service.DELEGATION_STEPS],
        with_reason=service.STEPS_WITH_REASON,
        key=context.pop("key", None) or str(uuid.uuid4()),
        done=request.query_params.get("done"),
        **context,
    )


async def _both(
    request: Request, person: Any, summit_id: str, delegation_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    apis = request.app.state.apis
    return await asyncio.gather(
        service.read_summit(apis, person, summit_id),
        service.read_delegation(apis, person, summit_id, delegation_id),
    )


@router.get("/{delegation_id}")
async def delegation_page(
    request: Request, person: SignedIn, summit_id: str, delegation_id: str
) -> HTMLResponse:
    return await _delegation(request, person, summit_id, delegation_id)


@router.post("/{delegation_id}/register", dependencies=[CsrfChecked], response_model=None)
async def register(
    request: Request, person: SignedIn, summit_id: str, delegation_id: str
) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    posted = await request.form()
    values = {k: str(v) for k, v in posted.items() if not isinstance(v, UploadFile)}
    key = values.get("idempotency_key") or str(uuid.uuid4())
    upload = posted.get("proof_document")
    proof = None
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read(PROOF_MAX_BYTES + 1)
        media_type = upload.content_type or ""
        if media_type in PROOF_TYPES and 0 < len(content) <= PROOF_MAX_BYTES:
            proof = (upload.filename, media_type, content)
    form = await service.registration_form(apis)
    try:
        outcome = await service.register(apis, person, summit_id, delegation_id, form, values, proof, key)
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        return await _delegation(
            request,
            person,
            summit_id,
            delegation_id,
            values=values,
            errors=refused.field_errors,
            refused=refused,
            key=key_after(refused, key),
            status_code=refused.status,
        )
    if isinstance(outcome, FilledForm):
        return await _delegation(
            request,
            person,
            summit_id,
            delegation_id,
            values=values,
            errors=outcome.errors,
            key=key,
            status_code=422,
        )
    return see_other(f"/summits/{summit_id}/delegations/{delegation_id}?done=register")


@router.post("/{delegation_id}/steps/{action}", dependencies=[CsrfChecked], response_model=None)
async def take_step(
    request: Request, person: SignedIn, summit_id: str, delegation_id: str, action: str
) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    posted = await request.form()
    values = {k: str(v) for k, v in posted.items()}
    key = values.get("idempotency_key") or str(uuid.uuid4())
    try:
        await service.take_delegation_step(
            apis,
            person,
            summit_id,
            delegation_id,
            action,
            values.get("reason", "").strip(),
            values.get("version", ""),
            key,
        )
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        return await _delegation(
            request,
            person,
            summit_id,
            delegation_id,
            values=values,
            errors=refused.field_errors,
            refused=refused,
            key=key_after(refused, key),
            status_code=refused.status,
        )
    back = values.get("back", "")
    if back == "table":
        return see_other(f"/summits/{summit_id}/delegations?done={action}")
    return see_other(f"/summits/{summit_id}/delegations/{delegation_id}?done={action}")
