"""Signing in and out. Locally (the development signing secret only) the console mints the token itself, the
same one ``uncops token`` prints."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.common.errors import InvalidField
from services.console.pages import CsrfChecked, render, safe_next, see_other
from services.console.service import SIGN_IN_ROLES, sign_in_locally

router = APIRouter(include_in_schema=False)


def _page(request: Request, next_: str, status_code: int = 200, **context: object) -> HTMLResponse:
    return render(
        request,
        "sign_in.html",
        status_code=status_code,
        roles=[role.value for role in SIGN_IN_ROLES],
        local=request.app.state.settings.local_sign_in,
        next=safe_next(next_),
        **context,
    )


@router.get("/sign-in")
async def sign_in_page(request: Request, next_: Annotated[str, Query(alias="next")] = "/") -> HTMLResponse:
    return _page(request, next_)


@router.post("/sign-in", dependencies=[CsrfChecked], response_model=None)
async def sign_in(
    request: Request,
    role: Annotated[str, Form()] = "",
    member_state: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    next_: Annotated[str, Form(alias="next")] = "/",
) -> HTMLResponse | RedirectResponse:
    try:
        person = sign_in_locally(request.app.state.settings, role, member_state, name)
    except InvalidField as refused:
        values = {"role": role, "member_state": member_state, "name": name}
        return _page(request, next_, 422, errors={refused.field: refused.reason}, values=values)
    language = request.session.get("language")
    request.session.clear()  # a new session for the person: nothing carried over from before
    request.session.update(person=person.session(), csrf=secrets.token_urlsafe(32))
    if language:
        request.session["language"] = language
    return see_other(safe_next(next_))


@router.post("/sign-out", dependencies=[CsrfChecked])
async def sign_out(request: Request) -> RedirectResponse:
    language = request.session.get("language")
    request.session.clear()
    if language:
        request.session["language"] = language
    return see_other("/sign-in")
