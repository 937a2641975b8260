"""Routes of the delegation lists as CSV: delegations, participants (published or internal), badges.

Published participant lists show only persons who consented; a focal point gets its own State's part.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import StreamingResponse

from services.common.app import Route, RuntimeDep, SessionDep
from services.common.auth import Principal
from services.common.media import CsvResponse
from services.common.spreadsheet import CsvWriter, neutralised
from services.summit import queries
from services.summit.api.access import PLANNERS, READERS, focal_point_only
from services.summit.models import DelegationRow, ParticipantRow

router = APIRouter(prefix="/summits", tags=["delegations"], route_class=Route)

DELEGATION_COLUMNS = (
    "member_state",
    "status",
    "note_verbale",
    "registration_deadline",
    "head_of_delegation",
    "members",
    "languages",
    "registered_at",
    "waitlisted_at",
    "reason",
    "version",
)
PUBLISHED_COLUMNS = (
    "member_state",
    "organisation",
    "full_name",
    "function",
    "head_of_delegation",
    "languages",
)
INTERNAL_COLUMNS = (
    *PUBLISHED_COLUMNS,
    "participant_id",
    "delegation_status",
    "consent_to_list",
    "badge_number",
)
BADGE_COLUMNS = (
    "badge_number",
    "full_name",
    "function",
    "member_state",
    "organisation",
    "head_of_delegation",
)
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "A CSV file with a header row"}
}


def _csv_response(rows: AsyncIterator[str], name: str) -> StreamingResponse:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    # Names and functions are typed by the States: a spreadsheet must not run them (CSV injection).
    return neutralised(str(value))


async def _csv(
    runtime: RuntimeDep, query: Any, columns: Sequence[str], shape: Callable[..., dict[str, Any]]
) -> AsyncIterator[str]:
    writer = CsvWriter()  # UTF-8 with a BOM, for spreadsheets
    yield writer.rows([columns])
    # Its own session: the request's is closed once the endpoint has returned the response.
    async for batch in queries.stream(runtime.sessions, query):
        shaped = (shape(*row) for row in batch)
        yield writer.rows([_cell(values[c]) for c in columns] for values in shaped)


@router.get(
    "/{summit_id}/delegations.csv",
    summary="Delegations as CSV (a focal point: its own)",
    response_class=CsvResponse,
    responses=CSV_RESPONSE,
)
async def delegations_csv(
    summit_id: str, session: SessionDep, runtime: RuntimeDep, principal: Annotated[Principal, READERS]
) -> StreamingResponse:
    """Every delegation of the summit (a focal point: its own) as CSV, streamed, one row per delegation."""
    await queries.summit_or_404(session, summit_id)
    query = queries.delegations_export(summit_id, focal_point_only(principal))

    def shape(row: DelegationRow) -> dict[str, Any]:
        return {c: getattr(row, c) for c in DELEGATION_COLUMNS}

    return _csv_response(_csv(runtime, query, DELEGATION_COLUMNS, shape), f"delegations-{summit_id}")


@router.get(
    "/{summit_id}/participants.csv",
    summary="The participant list as CSV: published (consenting persons only) or internal",
    response_class=CsvResponse,
    responses=CSV_RESPONSE,
)
async def participants_csv(
    summit_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, READERS],
    internal: Annotated[bool, Query(description="Everyone, consent or not, with badges (planners)")] = False,
) -> StreamingResponse:
    """The published list has the delegates of delegations holding places and the guests who agreed to be
    listed, nothing else about them. ``internal=true`` (planners only) lists everyone attending, with
    their consent and badge, for the secretariat's own use. A focal point gets its own delegation's part
    of the published list."""
    await queries.summit_or_404(session, summit_id)
    own = focal_point_only(principal)
    if internal and own is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the internal participant list is the secretariat's")
    query = queries.participants_export(summit_id, own, internal)
    columns = INTERNAL_COLUMNS if internal else PUBLISHED_COLUMNS
    return _csv_response(_csv(runtime, query, columns, _participant_shape), f"participants-{summit_id}")


def _participant_shape(
    person: ParticipantRow, member_state: str | None, status_: str | None
) -> dict[str, Any]:
    return {
        "member_state": member_state,
        "organisation": person.organisation,
        "full_name": person.full_name,
        "function": person.function,
        "head_of_delegation": person.is_head,
        "languages": person.languages,
        "participant_id": person.id,
        "delegation_status": status_,
        "consent_to_list": person.consent_to_list,
        "badge_number": person.badge_number,
    }


@router.get(
    "/{summit_id}/badges.csv",
    summary="Badges to print as CSV: accredited and confirmed delegations, and guests (planners)",
    response_class=CsvResponse,
    responses=CSV_RESPONSE,
)
async def badges_csv(
    summit_id: str, session: SessionDep, runtime: RuntimeDep, _: Annotated[Principal, PLANNERS]
) -> StreamingResponse:
    """The badges to print as CSV: the persons of accredited and confirmed delegations, and the guests."""
    await queries.summit_or_404(session, summit_id)
    query = queries.badges_export(summit_id)
    return _csv_response(_csv(runtime, query, BADGE_COLUMNS, _participant_shape), f"badges-{summit_id}")
