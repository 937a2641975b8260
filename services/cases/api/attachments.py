"""A case's attachments: documents encrypted and kept in the object store, recorded on the case with the
SHA-256 of their plaintext."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from services.cases import queries, service
from services.cases.api.cases import OFFICERS, acting, present
from services.cases.domain.case import CasePublic
from services.cases.domain.commands import attachment_media_type
from services.common.app import IfMatch, Route, RuntimeDep, SessionDep, TemporalDep, expected_version
from services.common.auth import Principal

router = APIRouter(prefix="/cases", tags=["attachments"], route_class=Route)


@router.post(
    "/{case_id}/attachments",
    summary="Attach a document (encrypted in the object store, SHA-256 recorded)",
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
    ``filename``; the document is encrypted and kept in the object store, its SHA-256 recorded.
    Conduct-and-discipline officers only; answers the case."""
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
        runtime.objects(),
        service.key_ring(runtime.settings),
        expected_version(if_match),
        runtime.settings.case_policy,
    )
    return present(case, principal, response)


@router.get(
    "/{case_id}/attachments/{attachment_id}",
    summary="Download an attachment",
    response_class=Response,
    responses={
        200: {
            "description": "The document's bytes, with the media type and file name it was attached with",
            # Any media type: the one it was attached with (application/pdf, image/jpeg...).
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        # The object store answered a document that does not open or whose SHA-256 is not the recorded one.
        502: {"description": "The stored document failed its integrity check: never served"},
        503: {"description": "The object store did not answer: retry after Retry-After"},
    },
)
async def get_attachment(
    case_id: str,
    attachment_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, OFFICERS],
) -> Response:
    """Downloads one attachment of a case, as it was attached: decrypted, and served only if its SHA-256 is
    the one recorded. Conduct-and-discipline officers only."""
    attachment, content = await service.read_attachment(
        session, principal, case_id, attachment_id, runtime.objects(), service.key_ring(runtime.settings)
    )
    return Response(
        content,
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": _disposition(attachment.filename),
            "Cache-Control": "no-store",
        },
    )


def _disposition(filename: str) -> str:
    # As Starlette's FileResponse wrote it before (issue 20 serves bytes, not a file): RFC 6266 for non-ASCII.
    quoted = quote(filename)
    return (
        f'attachment; filename="{filename}"'
        if quoted == filename
        else f"attachment; filename*=utf-8''{quoted}"
    )
