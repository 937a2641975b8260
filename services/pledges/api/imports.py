"""HTTP route of bulk import: a summit's pledges from CSV or JSON (the rules in domain/importing.py, the use
case in service.import_pledges). The body is read here, with a byte limit; all-or-nothing or
accept-the-valid, duplicates flagged (never dropped), and a retry with the same Idempotency-Key replays the
first report instead of importing twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.app import Route, RuntimeDep, SessionDep
from services.common.auth import Principal, Role, require_roles
from services.common.idempotency import not_replayed
from services.pledges import service
from services.pledges.domain.importing import CSV_COLUMNS, ImportMode, ImportReport

router = APIRouter(prefix="/pledges", tags=["imports"], route_class=Route)

IMPORTERS = require_roles(Role.STATE_FOCAL_POINT, Role.PLANNER)

CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv"})
JSON_MEDIA_TYPES = frozenset({"application/json"})


class ImportLimits(BaseSettings):
    """The byte limit of one import request (the row limit is ``PledgePolicy.import_max_rows``)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    max_bytes: int = Field(32 * 1024 * 1024, ge=1, validation_alias="UNCOPS_PLEDGE_IMPORT_MAX_BYTES")


@lru_cache
def import_limits() -> ImportLimits:
    return ImportLimits()


# ---------------------------------------------------------------- reading the body


class TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the import is larger than {limit} bytes: split it (uncops import-pledges --chunk)")


def check_declared_size(content_length: str | None, limit: int) -> None:
    """Refuse before reading when the client declares a body over the limit."""
    if content_length is None:
        return
    try:
        declared = int(content_length)
    except ValueError:
        return  # the server rejects a malformed Content-Length itself; the stream limit still applies
    if declared > limit:
        raise TooLarge(limit)


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body, read as it streams in; stops as soon as it passes ``limit`` bytes."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise TooLarge(limit)
    return bytes(body)


def body_format(content_type: str | None) -> str:
    """ "csv" or "json" from the Content-Type header."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in CSV_MEDIA_TYPES:
        return "csv"
    if media in JSON_MEDIA_TYPES or media.endswith("+json"):
        return "json"
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        f"send the pledges as text/csv or application/json, not {media or 'no Content-Type'}",
    )


_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "member_state,kind,title,target_date\nGHA,gender_parity,Women in FPUs,2030-12-31",
            },
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "array", "items": {"$ref": "#/components/schemas/PledgeSubmission"}},
                        {
                            "type": "object",
                            "properties": {
                                "pledges": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/PledgeSubmission"},
                                }
                            },
                        },
                    ]
                },
                "example": [
                    {
                        "member_state": "GHA",
                        "summit": "UNCOPS-III",
                        "kind": "gender_parity",
                        "title": "Women in formed police units",
                    }
                ],
            },
        },
    }
}


@router.post(
    "/import",
    summary="Import a summit's pledges from CSV or JSON",
    description=(
        "CSV: a header row naming columns among " + ", ".join(CSV_COLUMNS) + " (co_sponsors separated by "
        '";"; an unknown column is an error). JSON: a list of pledges shaped like a single submission, or '
        '{"pledges": [...]}. Every row is validated; `all_or_nothing` stores nothing if any row is rejected '
        "(422 with the report), `accept_valid` stores the valid rows. A State's focal point imports its own "
        "State's pledges only. Possible duplicates are flagged, never dropped. With an Idempotency-Key, the "
        "same key and body replay the first report. With `dry_run=true` the rows are read and validated "
        "and the report (what would be accepted, every rejected row) is answered with 200, but nothing is "
        "stored and no key is kept: a preview before the real import."
    ),
    status_code=status.HTTP_201_CREATED,
    response_model=ImportReport,
    responses={
        200: {
            "model": ImportReport,
            "description": "Nothing to create (every row rejected), a replay, or a dry run's report",
        },
        413: {"description": "The body is larger than the configured limit"},
        415: {"description": "Neither text/csv nor application/json"},
        422: {
            "model": ImportReport,
            "description": "all_or_nothing with rejected rows: nothing was stored (or, as a problem with "
            "errors [{field, reason}], a file that cannot be read: unknown column, bad JSON, too many rows)",
        },
    },
    openapi_extra=_BODY_DOC,
)
@not_replayed  # the report is kept under the key with the import, in its own transaction
async def import_pledges(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, IMPORTERS],
    mode: Annotated[ImportMode, Query()] = ImportMode.ALL_OR_NOTHING,
    dry_run: Annotated[
        bool,
        Query(
            description="true: validate and report only, store nothing (``accepted``: the rows that would be)"
        ),
    ] = False,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    fmt = body_format(request.headers.get("content-type"))
    limit = import_limits().max_bytes
    try:
        check_declared_size(request.headers.get("content-length"), limit)
        body = await read_limited(request.stream(), limit)
    except TooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    if dry_run:
        report = await service.preview_import(runtime.settings.pledge_policy, principal, body, fmt, mode)
        return JSONResponse(report, status_code=status.HTTP_200_OK)
    imported = await service.import_pledges(
        session, runtime.settings.pledge_policy, principal, body, fmt, mode, idempotency_key
    )
    headers = {"Idempotent-Replayed": "true"} if imported.replayed else None
    return JSONResponse(imported.report, status_code=imported.status_code, headers=headers)
