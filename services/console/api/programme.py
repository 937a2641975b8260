"""The programme page: releases with their changelogs, releasing the draft, the downloads (passed on from the
summit API as the person), and the printable programme in the person's language as HTML and as a PDF."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.console.domain.agenda import programme_days
from services.console.domain.printing import footer_css, pdf
from services.console.gateway import Refused
from services.console.pages import (
    CsrfChecked,
    SignedIn,
    environment,
    key_after,
    language,
    render,
    see_other,
    translations,
)
from services.console.service import agenda as summits
from services.console.service import programme as service

router = APIRouter(prefix="/summits", include_in_schema=False)
PRINT_CSS = Path(__file__).parent.parent / "static" / "programme_print.css"


async def _page(
    request: Request,
    person: SignedIn,
    summit_id: str,
    cursor: str | None,
    key: str | None = None,
    refused: Refused | None = None,
    note: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    apis = request.app.state.apis
    summit, releases = await asyncio.gather(
        summits.summit(apis, person, summit_id), service.releases(apis, person, summit_id, cursor)
    )
    return render(
        request,
        "programme.html",
        status_code=status_code,
        summit=summit,
        releases=releases,
        exports=service.EXPORTS,
        key=key or str(uuid.uuid4()),
        refused=refused,
        conflicts=(refused.problem.get("conflicts") or []) if refused else [],
        errors={},
        note=note,
        done=request.query_params.get("done"),
    )


@router.get("/{summit_id}/programme")
async def programme_page(
    request: Request, person: SignedIn, summit_id: str, cursor: Annotated[str | None, Query()] = None
) -> HTMLResponse:
    return await _page(request, person, summit_id, cursor)


@router.post("/{summit_id}/programme/releases", dependencies=[CsrfChecked], response_model=None)
async def release(request: Request, person: SignedIn, summit_id: str) -> HTMLResponse | RedirectResponse:
    form = await request.form()
    note = str(form.get("note", ""))
    key = str(form.get("idempotency_key") or uuid.uuid4())
    try:
        released = await service.release(request.app.state.apis, person, summit_id, note, key)
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        return await _page(
            request, person, summit_id, None, key_after(refused, key), refused, note, refused.status
        )
    return see_other(f"/summits/{summit_id}/programme?done={released.body['number']}")


@router.get("/{summit_id}/programme/downloads/{name}")
async def download(request: Request, person: SignedIn, summit_id: str, name: str) -> Response:
    """A file of the summit API, passed on with its media type and file name."""
    if name not in service.EXPORTS:
        return render(request, "error.html", status_code=404, kind="not_found")
    answer = await service.export(request.app.state.apis, person, summit_id, name)
    headers = {
        "Content-Disposition": f'attachment; filename="{summit_id}-{name}"',
        "Cache-Control": "no-store",
    }
    media = answer.headers.get("content-type", "application/octet-stream")
    return Response(answer.content, media_type=media, headers=headers)


async def _printable(request: Request, person: SignedIn, summit_id: str, for_pdf: bool) -> str:
    programme = await service.published(request.app.state.apis, person, summit_id)
    chosen = language(request)
    return (
        environment(chosen)
        .get_template("programme_print.html")
        .render(programme=programme, days=programme_days(programme["sessions"]), for_pdf=for_pdf)
    )


@router.get("/{summit_id}/programme/print")
async def printable(request: Request, person: SignedIn, summit_id: str) -> HTMLResponse:
    """The latest release as a page to print, in the person's language."""
    html = await _printable(request, person, summit_id, for_pdf=False)
    return HTMLResponse(html, headers={"Content-Language": language(request)})


@router.get("/{summit_id}/programme/print.pdf")
async def printable_pdf(request: Request, person: SignedIn, summit_id: str) -> Response:
    """The latest release as a paginated PDF in the person's language, page numbers in the footer."""
    html = await _printable(request, person, summit_id, for_pdf=True)
    chosen = language(request)
    words = translations(chosen).gettext("Page %(page)s of %(pages)s")
    # Drawing takes a CPU for a while: off the event loop, so other pages keep answering.
    drawn = await run_in_threadpool(pdf, html, [PRINT_CSS.read_text(), footer_css(str(words))])
    name = f"{summit_id}-programme-{chosen}.pdf"
    return Response(
        drawn,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Content-Language": chosen},
    )
