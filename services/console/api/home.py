"""The way in: ``/`` sends a visitor who is not signed in to the sign-in page, a focal point to its desk (what
its State owes now), anyone else to their first area; the language switch."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.exc import SQLAlchemyError

from services.console.domain.person import LANGUAGES
from services.console.pages import CsrfChecked, render, safe_next, see_other
from services.console.service import desk, notifications
from services.console.service.people import signed_in

router = APIRouter(include_in_schema=False)


@router.get("/", response_model=None)
async def home(request: Request) -> RedirectResponse | HTMLResponse:
    person = signed_in(request.session)
    if person is None:
        return see_other("/sign-in")
    if person.role == "state_focal_point":
        # A focal point's work spans the three areas: its desk says what its State owes now.
        return render(request, "desk.html", desk=await desk.desk(request.app.state.apis, person))
    if person.areas:
        return see_other(f"/{person.areas[0]}")
    return render(request, "home.html")  # a role the console has no pages for yet


@router.post("/language", dependencies=[CsrfChecked])
async def choose_language(
    request: Request, language: Annotated[str, Form()], next_: Annotated[str, Form(alias="next")] = "/"
) -> RedirectResponse:
    if language in LANGUAGES:
        request.session["language"] = language
        person = signed_in(request.session)
        if person is not None:
            # Notifications to people (issue 18): their emails follow the language they last chose.
            with contextlib.suppress(OSError, SQLAlchemyError, TimeoutError):
                sessions = request.app.state.runtime.sessions
                await asyncio.wait_for(notifications.record_language(sessions, person.subject, language), 2)
    return see_other(safe_next(next_))
