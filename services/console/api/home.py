"""The way in: ``/`` sends a visitor who is not signed in to the sign-in page, a signed-in person to their
first area; the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from services.console.domain.person import LANGUAGES
from services.console.pages import CsrfChecked, safe_next, see_other
from services.console.service import signed_in

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request) -> RedirectResponse:
    person = signed_in(request.session)
    if person is None:
        return see_other("/sign-in")
    return see_other(f"/{person.areas[0]}" if person.areas else "/sign-in")


@router.post("/language", dependencies=[CsrfChecked])
async def choose_language(
    request: Request, language: Annotated[str, Form()], next_: Annotated[str, Form(alias="next")] = "/"
) -> RedirectResponse:
    if language in LANGUAGES:
        request.session["language"] = language
    return see_other(safe_next(next_))
