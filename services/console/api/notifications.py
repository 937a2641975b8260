"""Notifications to people (issue 18): the bell's count on every page, the person's notifications (newest
first, keyset pages, each a link to the page to act on), mark one or all as read, and the preferences: per
kind of event, an email immediately, in a daily digest, or none; and the email address."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.exc import SQLAlchemyError

from services.common.observability import get_logger
from services.console.domain.notifications import AREA_NAMES, DELIVERIES, KIND_NAMES, KINDS, valid_email
from services.console.pages import CsrfChecked, SignedIn, language, render, see_other, translations
from services.console.service import notifications as service
from services.console.service.people import signed_in

router = APIRouter(prefix="/notifications", include_in_schema=False)
log = get_logger(__name__)
_CURSOR_SEPARATOR = "~"


async def count_unread(request: Request) -> None:
    """The bell's count for the signed-in person (request.state.unread, read by pages.render); a page
    still shows, with a bell without a count, while the console's database is away."""
    person = signed_in(request.session)
    if person is None:
        return
    try:
        request.state.unread = await asyncio.wait_for(
            service.unread(request.app.state.runtime.sessions, person.subject), 2
        )
    except (OSError, SQLAlchemyError, TimeoutError) as failed:
        log.warning("unread notifications not counted", error=repr(failed))


def _cursor(before: tuple[datetime, int] | None) -> str | None:
    return f"{before[0].isoformat()}{_CURSOR_SEPARATOR}{before[1]}" if before else None


def _read_cursor(value: str | None) -> tuple[datetime, int] | None:
    if not value:
        return None
    at, _, number = value.partition(_CURSOR_SEPARATOR)
    try:
        return datetime.fromisoformat(at), int(number)
    except ValueError:
        return None


@router.get("")
async def notifications_page(
    request: Request, person: SignedIn, after: Annotated[str | None, Query(max_length=80)] = None
) -> HTMLResponse:
    sessions = request.app.state.runtime.sessions
    shown, more = await service.page_of(sessions, person.subject, language(request), _read_cursor(after))
    return render(
        request,
        "notifications.html",
        items=shown,
        next_cursor=_cursor(more),
        first_page=after is None,
        done=request.query_params.get("done"),
    )


@router.post("/{notification_id}/read", dependencies=[CsrfChecked])
async def mark_one_read(request: Request, person: SignedIn, notification_id: int) -> RedirectResponse:
    await service.mark_read(
        request.app.state.runtime.sessions, person.subject, [notification_id], datetime.now(UTC)
    )
    return see_other("/notifications?done=read")


@router.post("/read", dependencies=[CsrfChecked])
async def mark_all_read(request: Request, person: SignedIn) -> RedirectResponse:
    await service.mark_read(request.app.state.runtime.sessions, person.subject, None, datetime.now(UTC))
    return see_other("/notifications?done=all-read")


def _settings_page(
    request: Request,
    chosen: dict[str, str],
    email: str,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    done: str | None = None,
) -> HTMLResponse:
    groups = [
        (area, AREA_NAMES[area], [(k, KIND_NAMES[k]) for k, a in KINDS.items() if a == area])
        for area in AREA_NAMES
    ]
    return render(
        request,
        "notification_settings.html",
        status_code=status_code,
        groups=groups,
        deliveries=DELIVERIES,
        chosen=chosen,
        email=email,
        errors=errors or {},
        done=done,
    )


@router.get("/settings")
async def settings_page(request: Request, person: SignedIn) -> HTMLResponse:
    chosen, email = await service.choices_of(request.app.state.runtime.sessions, person.subject)
    return _settings_page(request, chosen, email, done=request.query_params.get("done"))


@router.post("/settings", dependencies=[CsrfChecked], response_model=None)
async def save_settings(request: Request, person: SignedIn) -> HTMLResponse | RedirectResponse:
    form = await request.form()
    chosen = {kind: str(form.get(kind, "")) for kind in KINDS}
    email = str(form.get("email", "")).strip()
    errors: dict[str, str] = {}
    gettext = translations(language(request)).gettext
    if email and not valid_email(email):
        errors["email"] = gettext("Enter an email address such as name@example.org")
    for kind, delivery in chosen.items():
        if delivery not in DELIVERIES:
            errors[kind] = gettext("Choose one of the options")
    if errors:
        return _settings_page(request, chosen, email, errors, 422)
    await service.save_choices(request.app.state.runtime.sessions, person, chosen, email or None)
    return see_other("/notifications/settings?done=saved")
