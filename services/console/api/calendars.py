"""Calendar subscriptions: a page to make, copy and revoke one's feeds, and the feed itself,
/calendars/{token}.ics, the only page of the console without a session (a calendar application polls it;
the secret token is its credential), passed on to the summit API with If-None-Match so a poll that finds
nothing new is a 304."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.gateway import Refused
from services.console.pages import CsrfChecked, SignedIn, key_after, render, see_other
from services.console.service import calendars as service

router = APIRouter(prefix="/calendars", include_in_schema=False)
PASSED_ON = ("etag", "cache-control", "content-type")


@router.get("/{token}.ics")
async def calendar_feed(request: Request, token: str) -> Response:
    """No session: the token is the credential. Unknown, revoked or malformed: 404, as the API says."""
    if not service.TOKEN.fullmatch(token):
        return Response("no such calendar feed\n", status_code=404, media_type="text/plain")
    answer = await request.app.state.apis.calendar_feed(token, request.headers.get("if-none-match"))
    headers = {name: answer.headers[name] for name in PASSED_ON if name in answer.headers}
    if answer.status_code == 304:
        return Response(status_code=304, headers={k: v for k, v in headers.items() if k != "content-type"})
    if answer.status_code != 200:
        status = 404 if answer.status_code == 404 else 503
        return Response(
            "no such calendar feed\n" if status == 404 else "", status_code=status, media_type="text/plain"
        )
    return Response(answer.content, status_code=200, headers=headers)


def _page(
    request: Request,
    feeds: list[dict[str, object]],
    created: dict[str, object] | None = None,
    refused: Refused | None = None,
    key: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    urls = None
    if created is not None:
        urls = service.feed_urls(request.url.netloc, request.url.scheme == "https", str(created["path"]))
    return render(
        request,
        "calendars.html",
        status_code=status_code,
        feeds=feeds,
        created=created,
        urls=urls,
        refused=refused,
        errors={},
        key=key or str(uuid.uuid4()),
        done=request.query_params.get("done"),
    )


@router.get("")
async def calendars_page(request: Request, person: SignedIn) -> HTMLResponse:
    return _page(request, await service.feeds(request.app.state.apis, person))


@router.post("", dependencies=[CsrfChecked], response_model=None)
async def create_feed(request: Request, person: SignedIn) -> HTMLResponse:
    """The new feed's address is shown on this answer only (the API keeps no token to show it again)."""
    apis = request.app.state.apis
    form = await request.form()
    key = str(form.get("idempotency_key") or uuid.uuid4())
    try:
        created = await service.create(apis, person, str(form.get("label", "")), key)
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        feeds = await service.feeds(apis, person)
        return _page(request, feeds, refused=refused, key=key_after(refused, key), status_code=refused.status)
    feeds = await service.feeds(apis, person)
    return _page(request, feeds, created=created.body, status_code=201)


@router.post("/{feed_id}/revoke", dependencies=[CsrfChecked], response_model=None)
async def revoke_feed(request: Request, person: SignedIn, feed_id: str) -> RedirectResponse:
    form = await request.form()
    await service.revoke(
        request.app.state.apis, person, feed_id, str(form.get("idempotency_key") or uuid.uuid4())
    )
    return see_other("/calendars?done=revoked")
