"""The summit planners' pages: the summits, planning one, a summit's overview (and moving it), its plan of
milestones as a timeline. A focal point sees the summits with its State's delegation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.console.gateway import Refused
from services.console.pages import CsrfChecked, SignedIn, form_page, key_after, render, see_other, submit_form
from services.console.service import summits as service

router = APIRouter(prefix="/summits", include_in_schema=False)


@router.get("")
async def summits_page(
    request: Request, person: SignedIn, cursor: Annotated[str | None, Query(max_length=400)] = None
) -> HTMLResponse:
    apis = request.app.state.apis
    listing = await service.summits(apis, person, cursor)
    own = await service.own_delegations(apis, person, [s["id"] for s in listing.items])
    return render(request, "summits.html", listing=listing, own=own, planner=service.is_planner(person))


@router.get("/new")
async def new_summit_page(request: Request, person: SignedIn) -> HTMLResponse:
    return form_page(request, "summit_new.html", await service.new_summit_form(request.app.state.apis))


@router.post("/new", dependencies=[CsrfChecked], response_model=None)
async def plan_summit(request: Request, person: SignedIn) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    form = await service.new_summit_form(apis)
    return await submit_form(
        request,
        "summit_new.html",
        form,
        lambda values, key: service.plan_summit(apis, person, form, values, key),
        lambda planned: f"/summits/{planned.body['id']}?done=plan_summit",
    )


@router.get("/{summit_id}")
async def summit_page(request: Request, person: SignedIn, summit_id: str) -> HTMLResponse:
    apis = request.app.state.apis
    seen = await service.overview(apis, person, summit_id)
    return form_page(
        request,
        "summit.html",
        await service.reschedule_form(apis),
        values={"starts_on": seen.summit["starts_on"], "ends_on": seen.summit["ends_on"]},
        done=request.query_params.get("done"),
        **_overview(request, seen),
    )


def _overview(request: Request, seen: service.Overview) -> dict[str, Any]:
    milestones = seen.milestones
    return {
        "summit": seen.summit,
        "overview": seen,
        "pending": [m for m in milestones if m["status"] in ("due", "overdue")],
        "gap_alert": service.gap_alert(seen.funding),
        "planner": seen.funding is not None,
    }


@router.post("/{summit_id}/reschedule", dependencies=[CsrfChecked], response_model=None)
async def reschedule_summit(
    request: Request, person: SignedIn, summit_id: str
) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    form = await service.reschedule_form(apis)
    seen = await service.overview(apis, person, summit_id)
    return await submit_form(
        request,
        "summit.html",
        form,
        lambda values, key: service.reschedule_summit(apis, person, summit_id, form, values, key),
        lambda _: f"/summits/{summit_id}?done=reschedule",
        **_overview(request, seen),
    )


@router.get("/{summit_id}/milestones")
async def milestones_page(request: Request, person: SignedIn, summit_id: str) -> HTMLResponse:
    apis = request.app.state.apis
    plan = await service.plan(apis, person, summit_id)
    return form_page(
        request,
        "milestones.html",
        await service.milestone_form(apis),
        summit=plan.summit,
        plan=plan,
        planner=service.is_planner(person),
        done=request.query_params.get("done"),
    )


@router.post("/{summit_id}/milestones", dependencies=[CsrfChecked], response_model=None)
async def add_milestone(
    request: Request, person: SignedIn, summit_id: str
) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    form = await service.milestone_form(apis)
    plan = await service.plan(apis, person, summit_id)
    return await submit_form(
        request,
        "milestones.html",
        form,
        lambda values, key: service.add_milestone(apis, person, summit_id, form, values, key),
        lambda _: f"/summits/{summit_id}/milestones?done=add_milestone",
        summit=plan.summit,
        plan=plan,
        planner=service.is_planner(person),
    )


@router.post(
    "/{summit_id}/milestones/{milestone_id}/complete", dependencies=[CsrfChecked], response_model=None
)
async def complete_milestone(
    request: Request, person: SignedIn, summit_id: str, milestone_id: str
) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    key = str((await request.form()).get("idempotency_key") or uuid.uuid4())
    try:
        await service.complete_milestone(apis, person, summit_id, milestone_id, key)
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        plan = await service.plan(apis, person, summit_id)
        return form_page(
            request,
            "milestones.html",
            await service.milestone_form(apis),
            key=key_after(refused, key),
            refused=refused,
            status_code=refused.status,
            summit=plan.summit,
            plan=plan,
            planner=service.is_planner(person),
            done=None,
        )
    return see_other(f"/summits/{summit_id}/milestones?done=complete")


@router.get("/{summit_id}/milestones/{milestone_id}/reschedule")
async def reschedule_milestone_page(
    request: Request, person: SignedIn, summit_id: str, milestone_id: str
) -> HTMLResponse:
    apis = request.app.state.apis
    summit = await service.read_summit(apis, person, summit_id)
    milestone = await service.read_milestone(apis, person, summit_id, milestone_id)
    return form_page(
        request,
        "milestone_reschedule.html",
        await service.milestone_reschedule_form(apis),
        values={"due_at": milestone["due_at"][:16]},
        summit=summit,
        milestone=milestone,
    )


@router.post(
    "/{summit_id}/milestones/{milestone_id}/reschedule", dependencies=[CsrfChecked], response_model=None
)
async def reschedule_milestone(
    request: Request, person: SignedIn, summit_id: str, milestone_id: str
) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    form = await service.milestone_reschedule_form(apis)
    summit = await service.read_summit(apis, person, summit_id)
    milestone = await service.read_milestone(apis, person, summit_id, milestone_id)
    return await submit_form(
        request,
        "milestone_reschedule.html",
        form,
        lambda values, key: service.reschedule_milestone(
            apis, person, summit_id, milestone_id, form, values, key
        ),
        lambda _: f"/summits/{summit_id}/milestones?done=reschedule_milestone",
        summit=summit,
        milestone=milestone,
    )
