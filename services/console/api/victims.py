"""A case's victims: added by pseudonym (the identity sealed at rest by the cases API), and the audited
reveal that asks why, then shows the identity once and keeps it nowhere (no cache, no idempotent replay)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.console.gateway import Refused
from services.console.pages import CsrfChecked, SignedIn, form_page, render, submit_form
from services.console.service import cases as service

router = APIRouter(prefix="/cases/{case_id}/victims", include_in_schema=False)
# A revealed identity must not stay in a browser's or a proxy's cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.get("/new")
async def new_victim_page(request: Request, person: SignedIn, case_id: str) -> HTMLResponse:
    apis = request.app.state.apis
    case = await service.read_case(apis, person, case_id)
    return form_page(request, "victim_new.html", await service.victim_form(apis), case=case)


@router.post("/new", dependencies=[CsrfChecked], response_model=None)
async def add_victim(request: Request, person: SignedIn, case_id: str) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    case = await service.read_case(apis, person, case_id)
    form = await service.victim_form(apis)
    return await submit_form(
        request,
        "victim_new.html",
        form,
        lambda values, key: service.add_victim(
            apis, person, case_id, form, values, values.get("version", ""), key
        ),
        lambda _: f"/cases/{case_id}?done=add_victim",
        case=case,
    )


@router.get("/{victim_id}/reveal")
async def reveal_page(request: Request, person: SignedIn, case_id: str, victim_id: str) -> HTMLResponse:
    case = await service.read_case(request.app.state.apis, person, case_id)
    victim = _victim(case, victim_id)
    return render(request, "victim_reveal.html", case=case, victim=victim, errors={}, values={})


@router.post("/{victim_id}/reveal", dependencies=[CsrfChecked])
async def reveal(
    request: Request,
    person: SignedIn,
    case_id: str,
    victim_id: str,
    purpose: Annotated[str, Form()] = "",
) -> HTMLResponse:
    apis = request.app.state.apis
    case = await service.read_case(apis, person, case_id)
    victim = _victim(case, victim_id)
    try:
        identity = await service.reveal_victim(apis, person, case_id, victim_id, purpose.strip())
    except Refused as refused:
        if refused.status != 422:
            raise
        errors = refused.field_errors or {"purpose": refused.detail}
        return render(
            request,
            "victim_reveal.html",
            status_code=422,
            case=case,
            victim=victim,
            errors=errors,
            values={"purpose": purpose},
            refused=refused,
        )
    answer = render(request, "victim_identity.html", case=case, victim=victim, identity=identity)
    answer.headers.update(NO_STORE)
    return answer


def _victim(case: dict[str, Any], victim_id: str) -> dict[str, Any]:
    for victim in case.get("victims") or ():
        if victim.get("victim_id") == victim_id:
            return dict(victim)
    raise Refused(404, {"detail": f"no victim {victim_id} on this case"})
