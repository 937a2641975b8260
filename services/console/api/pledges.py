"""The pledge pages: the secretariat's review queue and a focal point's own State's pledges, a pledge with
its steps as buttons and forms, submitting a pledge with its SMART terms explained, the follow-up (traffic
lights, reports due and overdue, pledged versus fulfilled), the CSV export, and a bulk import previewed
(a dry run) before it runs chunk by chunk with its progress shown."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from services.console.domain.charts import paired_bar_chart
from services.console.domain.pledge_import import UnreadableFile, read_csv
from services.console.domain.words import in_words
from services.console.gateway import Refused
from services.console.pages import (
    CsrfChecked,
    SignedIn,
    form_page,
    language,
    render,
    see_other,
    submit_form,
    translations,
)
from services.console.service import pledges as service

router = APIRouter(prefix="/pledges", include_in_schema=False)
# What the export may pass on from the pledges API's answer.
PASSED_ON = ("content-type", "content-disposition")
IMPORT_MAX_BYTES = 8 * 1024 * 1024
# A kind said in words is long ("Police représentative et responsable"): the kind chart's label margin.
KIND_LABEL_WIDTH = 300


def _imports(request: Request) -> service.Imports:
    """This console process's previews and runs of imports, made on first use."""
    imports = getattr(request.app.state, "pledge_imports", None)
    if imports is None:
        imports = request.app.state.pledge_imports = service.Imports()
    return imports


@router.get("")
async def queue(
    request: Request, person: SignedIn, cursor: Annotated[str | None, Query(max_length=500)] = None
) -> HTMLResponse:
    filters = {name: request.query_params.get(name, "") for name in service.QUEUE_FILTERS}
    page = await service.queue(request.app.state.apis, person, filters, cursor)
    return render(
        request,
        "pledges.html",
        page=page,
        filters=filters,
        choices=service.choices(),
        awaiting=service.AWAITING_SECRETARIAT,
    )


@router.get("/new")
async def new_pledge_page(request: Request, person: SignedIn) -> HTMLResponse:
    form, groups = await service.submission_form(request.app.state.apis, person)
    return form_page(request, "pledge_new.html", form, groups=groups)


@router.post("/new", dependencies=[CsrfChecked], response_model=None)
async def submit_pledge(request: Request, person: SignedIn) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    form, groups = await service.submission_form(apis, person)
    return await submit_form(
        request,
        "pledge_new.html",
        form,
        lambda values, key: service.submit_pledge(apis, person, form, values, key),
        lambda submitted: f"/pledges/{submitted.body['id']}?done=submit_pledge",
        groups=groups,
    )


@router.get("/follow-up")
async def follow_up(
    request: Request, person: SignedIn, cursor: Annotated[str | None, Query(max_length=500)] = None
) -> HTMLResponse:
    filters = {name: request.query_params.get(name, "") for name in service.FOLLOW_UP_FILTERS}
    found = await service.follow_up(request.app.state.apis, person, filters, cursor)
    words = translations(language(request)).gettext
    by_state = paired_bar_chart([(d.key, d.pledged, d.fulfilled) for d in found["by_state"][:20]])
    kinds = [(words(in_words(d.key)), d.pledged, d.fulfilled) for d in found["by_kind"]]
    by_kind = paired_bar_chart(kinds, label_width=KIND_LABEL_WIDTH)
    return render(
        request,
        "pledge_follow_up.html",
        choices=service.choices(),
        by_state_chart=by_state,
        by_kind_chart=by_kind,
        **found,
    )


@router.get("/export.csv")
async def export(request: Request, person: SignedIn) -> Response:
    found = await service.export_csv(request.app.state.apis, person, request.query_params)
    headers = {name: found.headers[name] for name in PASSED_ON if name in found.headers}
    headers["Cache-Control"] = "private, no-store"
    return Response(found.content, status_code=200, headers=headers)


# ---------------------------------------------------------------- bulk import


def _import_page(
    request: Request, error: str | None = None, refused: Refused | None = None, status_code: int = 200
) -> HTMLResponse:
    errors = {"file": error} if error else {}
    return render(request, "pledge_import.html", status_code=status_code, errors=errors, refused=refused)


@router.get("/import")
async def import_page(request: Request, person: SignedIn) -> HTMLResponse:
    return _import_page(request)


@router.post("/import", dependencies=[CsrfChecked], response_model=None)
async def preview_import(request: Request, person: SignedIn) -> HTMLResponse | RedirectResponse:
    """Reads the uploaded CSV and has the pledges API validate it without storing anything."""
    submitted = await request.form(max_files=1, max_fields=10, max_part_size=IMPORT_MAX_BYTES)
    upload = submitted.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _import_page(request, "Choose a file", status_code=422)
    if upload.size is not None and upload.size > IMPORT_MAX_BYTES:
        return _import_page(request, "The file is too large", status_code=413)
    try:
        file = read_csv(await upload.read())
    except UnreadableFile as unreadable:
        return _import_page(request, str(unreadable), status_code=422)
    try:
        preview = await _imports(request).dry_run(request.app.state.apis, person, file)
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        reasons = refused.field_errors
        reason = "; ".join(reasons.values()) or refused.detail
        return _import_page(request, reason or None, refused, status_code=refused.status)
    return see_other(f"/pledges/import/{preview.id}")


@router.get("/import/runs/{run_id}")
async def import_run(request: Request, person: SignedIn, run_id: str) -> HTMLResponse:
    run = _imports(request).run(person, run_id)
    return render(request, "pledge_import_run.html", run=run, rejected=run.rejections)


@router.get("/import/runs/{run_id}/rejected.csv")
async def run_rejected_rows(request: Request, person: SignedIn, run_id: str) -> Response:
    run = _imports(request).run(person, run_id)
    return _csv(service.rejected_csv(run.file, run.rejections), "rejected-pledges.csv")


@router.get("/import/{preview_id}")
async def import_preview(request: Request, person: SignedIn, preview_id: str) -> HTMLResponse:
    preview = _imports(request).preview(person, preview_id)
    return render(
        request,
        "pledge_import_preview.html",
        preview=preview,
        key=str(uuid.uuid4()),
        rejected=preview.rejections,
    )


@router.get("/import/{preview_id}/rejected.csv")
async def preview_rejected_rows(request: Request, person: SignedIn, preview_id: str) -> Response:
    preview = _imports(request).preview(person, preview_id)
    return _csv(service.rejected_csv(preview.file, preview.rejections), "rejected-pledges.csv")


@router.post("/import/{preview_id}/run", dependencies=[CsrfChecked])
async def run_import(request: Request, person: SignedIn, preview_id: str) -> RedirectResponse:
    """Starts the previewed import (once: a second click finds the run already going)."""
    imports = _imports(request)
    run = imports.start(request.app.state.apis, person, imports.preview(person, preview_id))
    return see_other(f"/pledges/import/runs/{run.id}")


def _csv(text: str, filename: str) -> Response:
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


# ---------------------------------------------------------------- one pledge


@router.get("/{pledge_id}")
async def pledge_page(request: Request, person: SignedIn, pledge_id: str) -> HTMLResponse:
    apis = request.app.state.apis
    pledge = await service.read_pledge(apis, person, pledge_id)
    forms = await service.pledge_steps(apis)
    steps = [forms[action] for action in pledge.get("allowed_actions", ()) if action in forms]
    return render(
        request,
        "pledge.html",
        pledge=pledge,
        steps=steps,
        resembled=await service.resembled(apis, person, pledge),
        done=request.query_params.get("done"),
        key=str(uuid.uuid4()),
    )


@router.get("/{pledge_id}/steps/{action}")
async def step_page(request: Request, person: SignedIn, pledge_id: str, action: str) -> HTMLResponse:
    pledge, form = await service.step_of(request.app.state.apis, person, pledge_id, action)
    return form_page(request, "pledge_step.html", form, pledge=pledge)


@router.post("/{pledge_id}/steps/{action}", dependencies=[CsrfChecked], response_model=None)
async def take_step(
    request: Request, person: SignedIn, pledge_id: str, action: str
) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    pledge, form = await service.step_of(apis, person, pledge_id, action)
    return await submit_form(
        request,
        "pledge_step.html",
        form,
        lambda values, key: service.take_step(
            apis, person, pledge_id, form, values, values.get("version", ""), key
        ),
        lambda _: f"/pledges/{pledge_id}?done={action}",
        pledge=pledge,
    )
