"""A case's attachments: documents stored on disk by their SHA-256, recorded on the case."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import FileResponse

from services.cases import queries, service
from services.cases.api.cases import OFFICERS, acting, present
from services.cases.domain.case import CasePublic
from services.cases.domain.commands import attachment_media_type
from services.common.app import IfMatch, Route, RuntimeDep, SessionDep, TemporalDep, expected_version
from services.common.auth import Principal
from services.common.errors import NotFound

router = APIRouter(prefix="/cases", tags=["attachments"], route_class=Route)


@router.post(
    "/{case_id}/attachments",
    summary="Attach a document (stored on disk, SHA-256 recorded)",
    response_model_exclude_unset=True,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "%PDF-1.7 ...",
                }
            },
        }
    },
)
async def add_attachment(
    case_id: str,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, OFFICERS],
    filename: Annotated[str, Query(min_length=1, max_length=255, pattern=r"^[^/\\]+$")],
    if_match: IfMatch = None,
) -> CasePublic:
    """Attaches the request body, the document's bytes (its media type as Content-Type), to a case under
    ``filename``; the file is kept by its SHA-256. Conduct-and-discipline officers only; answers the case."""
    await queries.load_case(session, case_id, principal)  # 404 before reading the body
    content_type = attachment_media_type(request.headers.get("content-type"))
    limit = runtime.settings.attachment_max_bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"attachments are limited to {limit} bytes"
            )
        chunks.append(chunk)
    upload = service.Upload(
        filename=filename,
        content_type=content_type,
        content=b"".join(chunks),
    )
    case = await service.add_attachment(
        session,
        temporal,
        principal,
        acting(principal),
        case_id,
        upload,
        runtime.settings.run_dir / "attachments",
        expected_version(if_match),
        runtime.settings.case_policy,
    )
    return present(case, principal, response)


@router.get(
    "/{case_id}/attachments/{attachment_id}",
    summary="Download an attachment",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The document's bytes, with the media type and file name it was attached with",
            # Any media type: the one it was attached with (application/pdf, image/jpeg...).
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def get_attachment(
    case_id: str,
    attachment_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, OFFICERS],
) -> FileResponse:
    """Downloads one attachment of a case, as it was attached. Conduct-and-discipline officers only."""
    case = await queries.load_case(session, case_id, principal)
    attachment = next((a for a in case.attachments if a.attachment_id == attachment_id), None)
    path = (
        runtime.settings.run_dir / "attachments" / attachment.sha256 if attachment else Path("/nonexistent")
    )
    if attachment is None or not path.exists():
        raise NotFound(f"no attachment {attachment_id} on case {case_id}")
    return FileResponse(path, media_type=attachment.content_type, filename=attachment.filename)
