"""A case's attachments: uploaded through a form (the console sends the bytes on to the cases API, which
keeps them by their SHA-256) and downloaded as they were attached."""

from __future__ import annotations

import uuid
from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from services.console.gateway import Refused
from services.console.pages import CsrfChecked, SignedIn, key_after, render, see_other
from services.console.service import cases as service

router = APIRouter(prefix="/cases/{case_id}/attachments", include_in_schema=False)
# What a download may pass on from the cases API's answer.
PASSED_ON = ("content-type", "content-disposition", "content-length", "etag", "last-modified")


def _form(
    request: Request,
    case: dict[str, Any],
    key: str,
    errors: dict[str, str] | None = None,
    refused: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "attachment_new.html",
        status_code=status_code,
        case=case,
        key=key,
        errors=errors or {},
        refused=refused,
        limit=request.app.state.settings.attachment_max_bytes,
    )


@router.get("/new")
async def new_attachment_page(request: Request, person: SignedIn, case_id: str) -> HTMLResponse:
    case = await service.read_case(request.app.state.apis, person, case_id)
    return _form(request, case, str(uuid.uuid4()))


@router.post("/new", dependencies=[CsrfChecked], response_model=None)
async def add_attachment(request: Request, person: SignedIn, case_id: str) -> HTMLResponse | RedirectResponse:
    apis = request.app.state.apis
    case = await service.read_case(apis, person, case_id)
    limit = request.app.state.settings.attachment_max_bytes
    submitted = await request.form(max_files=1, max_fields=10)
    key = str(submitted.get("idempotency_key") or uuid.uuid4())
    upload = submitted.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _form(request, case, key, {"file": "Choose a file"}, status_code=422)
    if upload.size is not None and upload.size > limit:
        return _form(request, case, key, {"file": "The file is too large"}, status_code=413)
    content = await upload.read()
    filename = PurePath(upload.filename.replace("\\", "/")).name[:255]  # a browser may send a path
    try:
        await service.add_attachment(
            apis,
            person,
            case_id,
            filename,
            content,
            upload.content_type or "application/octet-stream",
            str(submitted.get("version", "")),
            key,
        )
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        errors = {"file": refused.detail} if refused.detail else {}
        return _form(request, case, key_after(refused, key), errors, refused, status_code=refused.status)
    return see_other(f"/cases/{case_id}?done=add_attachment")


@router.get("/{attachment_id}")
async def download(request: Request, person: SignedIn, case_id: str, attachment_id: str) -> Response:
    found = await service.attachment(request.app.state.apis, person, case_id, attachment_id)
    headers = {name: found.headers[name] for name in PASSED_ON if name in found.headers}
    headers["Cache-Control"] = "private, no-store"
    return Response(found.content, status_code=200, headers=headers)
