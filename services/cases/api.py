"""HTTP routes of misconduct case tracking: thin adapters over the domain rules and the case workflow."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import case, func, inspect, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from services.cases.audit import ChainLink, Verification, verify_chain
from services.cases.confidential import Vault, VictimIdentity
from services.cases.domain import (
    Actor,
    AddAttachment,
    AddVictim,
    Case,
    CaseIntake,
    Command,
    allowed_actions,
    apply,
    change_events,
    check_intake_dates,
    open_case,
    reference_number,
)
from services.cases.models import (
    AuditEntry,
    CaseRow,
    CaseStatistics,
    CaseStatisticsHeadline,
    ReferenceCounter,
    ReviewFlag,
)
from services.cases.models import (
    VictimIdentity as IdentityRow,
)
from services.cases.store import append_audit, raise_review_flags, record_case_events, row_values
from services.common.app import (
    IfMatch,
    Route,
    RuntimeDep,
    SessionDep,
    TemporalDep,
    expected_version,
)
from services.common.auth import Principal, Role, require_roles
from services.common.commands import update_refused
from services.common.errors import InvalidField, NotFound
from services.common.observability import current_traceparent
from uncops_contracts.cases import AllegationType, CaseStatus, MisconductCategory, PersonnelCategory
from uncops_contracts.reference import is_member_state, is_mission
from workflows.cases.workflows import CaseCommandRequest, CaseStart, CaseWorkflow

router = APIRouter(prefix="/cases", tags=["cases"], route_class=Route)

OFFICERS = require_roles(Role.CONDUCT_OFFICER)
READERS = require_roles(Role.CONDUCT_OFFICER, Role.STATE_FOCAL_POINT)
TASK_QUEUE = "uncops-cases"
# What a Member State's focal point does not see of its personnel's cases.
HIDDEN_FROM_STATES = {"victims", "description", "attachments", "subjects"}
HIDDEN_ENTRY_KINDS = {"assistance", "paternity_claim"}


def workflow_id(case_id: str) -> str:
    return f"case-{case_id}"


def actor_of(principal: Principal) -> Actor:
    role = next(iter(sorted(r.value for r in principal.roles)))
    if Role.CONDUCT_OFFICER in principal.roles:
        role = Role.CONDUCT_OFFICER.value
    elif Role.ADMIN in principal.roles:
        role = Role.ADMIN.value
    return Actor(subject=principal.subject, role=role, member_state=principal.member_state)


def present(case: Case, principal: Principal, now: datetime) -> dict[str, Any]:
    """The case as this caller may see it: never a victim's identity; a State sees only its part."""
    body = case.model_dump(mode="json")
    body["overdue"] = [d.kind.value for d in case.overdue(now)]
    body["allowed_actions"] = allowed_actions(case, actor_of(principal))
    if Role.CONDUCT_OFFICER not in principal.roles and Role.ADMIN not in principal.roles:
        for key in HIDDEN_FROM_STATES:
            body.pop(key, None)
        body["record"] = [e for e in body["record"] if e["kind"] not in HIDDEN_ENTRY_KINDS]
    return body


async def load(session: SessionDep, case_id: str, principal: Principal) -> Case:
    row = await session.get(CaseRow, case_id)
    # Another State's case is not acknowledged to exist.
    if row is None or not principal.may_act_for(row.police_contributing_country):
        raise NotFound(f"no case {case_id}")
    return Case.model_validate(row.state)


def vault(runtime: RuntimeDep) -> Vault:
    return Vault(runtime.settings.victim_data_key.get_secret_value())


# ---------------------------------------------------------------- intake


@router.post("", status_code=status.HTTP_201_CREATED, summary="Record a new case")
async def open_new_case(
    intake: CaseIntake,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, OFFICERS],
) -> dict[str, Any]:
    now = datetime.now(UTC)
    if not is_mission(intake.mission):
        raise InvalidField("mission", f"{intake.mission} is not a known UN peace operation")
    if not is_member_state(intake.police_contributing_country):
        raise InvalidField(
            "police_contributing_country", f"{intake.police_contributing_country} is not a Member State"
        )
    check_intake_dates(intake, now.date())
    actor = actor_of(principal)
    number = await session.scalar(
        insert(ReferenceCounter)
        .values(mission=intake.mission, year=now.year, last=1)
        .on_conflict_do_update(
            index_elements=["mission", "year"],
            set_={"last": col(ReferenceCounter.last) + 1},
        )
        .returning(col(ReferenceCounter.last))
    )
    case = open_case(
        str(uuid.uuid4()), reference_number(intake.mission, now.year, int(number or 1)), intake, now
    )
    session.add(CaseRow(id=case.case_id, opened_at=now, **row_values(case, now)))
    await session.flush()
    after = case.model_dump(mode="json", exclude={"version"})
    await append_audit(session, case.case_id, actor, "open", {}, after, now)
    traceparent = current_traceparent()
    record_case_events(session, case, change_events(None, case, "open", actor, now), traceparent)
    await session.flush()
    policy = runtime.settings.case_policy
    await raise_review_flags(session, case, policy, now, traceparent, unit=True, country=False)
    # The workflow starts before the commit, so a stored case always has its workflow; if the commit fails
    # the workflow is terminated (its activities would find no case anyway).
    handle = await temporal.start_workflow(
        CaseWorkflow.run,
        CaseStart(case=case, policy=policy),
        id=workflow_id(case.case_id),
        task_queue=TASK_QUEUE,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    try:
        await session.commit()
    except Exception:
        await handle.terminate("case was not stored")
        raise
    response.headers["Location"] = f"/cases/{case.case_id}"
    response.headers["ETag"] = f'"{case.version}"'
    return present(case, principal, now)


# ---------------------------------------------------------------- finding cases


class CasePage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None


@router.get("", summary="Cases, with filters and keyset pagination")
async def list_cases(
    session: SessionDep,
    principal: Annotated[Principal, READERS],
    mission: str | None = None,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    police_contributing_country: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    category: MisconductCategory | None = None,
    personnel_category: PersonnelCategory | None = None,
    allegation_type: AllegationType | None = None,
    overdue: bool | None = None,
    assigned_officer: str | None = None,
    reported_from: date | None = None,
    reported_to: date | None = None,
    incident_from: date | None = None,
    incident_to: date | None = None,
    sort: Literal["reported_on", "-reported_on"] = "-reported_on",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> CasePage:
    query = select(CaseRow)
    if Role.CONDUCT_OFFICER not in principal.roles and Role.ADMIN not in principal.roles:
        police_contributing_country = principal.member_state
    filters: list[Any] = []
    for column, value in (
        (CaseRow.mission, mission),
        (CaseRow.status, status_.value if status_ else None),
        (CaseRow.police_contributing_country, police_contributing_country),
        (CaseRow.category, category.value if category else None),
        (CaseRow.personnel_category, personnel_category.value if personnel_category else None),
        (CaseRow.allegation_type, allegation_type.value if allegation_type else None),
        (CaseRow.overdue, overdue),
        (CaseRow.assigned_officer, assigned_officer),
    ):
        if value is not None:
            filters.append(col(column) == value)
    for day_column, low, high in (
        (CaseRow.reported_on, reported_from, reported_to),
        (CaseRow.incident_date, incident_from, incident_to),
    ):
        if low is not None:
            filters.append(col(day_column) >= low)
        if high is not None:
            filters.append(col(day_column) <= high)
    descending = sort.startswith("-")
    if cursor:
        at_text, _, last_id = cursor.partition("|")
        try:
            at = date.fromisoformat(at_text)
        except ValueError as exc:
            raise InvalidField("cursor", "not a next_cursor this endpoint returned") from exc
        # A row comparison lets PostgreSQL enter the index at the cursor instead of reading from the start.
        position = tuple_(col(CaseRow.reported_on), col(CaseRow.id))
        filters.append(position < (at, last_id) if descending else position > (at, last_id))
    order = (
        (col(CaseRow.reported_on).desc(), col(CaseRow.id).desc())
        if descending
        else (col(CaseRow.reported_on), col(CaseRow.id))
    )
    rows = list((await session.execute(query.where(*filters).order_by(*order).limit(limit + 1))).scalars())
    now = datetime.now(UTC)
    items = [present(Case.model_validate(r.state), principal, now) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return CasePage(items=items, next_cursor=f"{last.reported_on.isoformat()}|{last.id}" if last else None)


# The statistics' dimensions, as columns of the summaries that case_file's triggers keep (migration 0003).
STAT_DIMENSIONS = {
    "year": "year",
    "mission": "mission",
    "personnel_category": "personnel_category",
    "nationality": "police_contributing_country",
    "allegation_type": "allegation_type",
    "category": "category",
    "result": "result",
}
# Smallest first: a question is answered from the first summary that has all its dimensions.
SUMMARIES = [inspect(CaseStatisticsHeadline).local_table, inspect(CaseStatistics).local_table]


@router.get("/statistics", summary="Counts in the shape of the UN's public misconduct tables")
async def statistics(
    session: SessionDep,
    _: Annotated[Principal, OFFICERS],
    by: Annotated[list[Literal[*tuple(STAT_DIMENSIONS)]], Query()] = ["year", "mission"],  # type: ignore[valid-type]  # noqa: B006
) -> list[dict[str, Any]]:
    columns = [STAT_DIMENSIONS[d] for d in dict.fromkeys(by)]
    summary = next(s for s in SUMMARIES if all(c in s.c for c in columns)).c
    dimensions = [summary[c].label(d) for c, d in zip(columns, dict.fromkeys(by), strict=True)]
    substantiated = case((summary.result == "substantiated", summary.allegations), else_=0)
    query = (
        select(
            *dimensions,
            func.sum(summary.allegations).label("allegations"),
            func.sum(summary.victims_adult).label("victims_adult"),
            func.sum(summary.victims_minor).label("victims_minor"),
            func.sum(substantiated).label("substantiated"),
        )
        .group_by(*dimensions)
        .order_by(*dimensions)
    )
    return [dict(row._mapping) for row in await session.execute(query)]


@router.get("/review-flags", summary="Security Council resolution 2272 review flags")
async def review_flags(session: SessionDep, _: Annotated[Principal, OFFICERS]) -> list[ReviewFlag]:
    return list(
        (await session.execute(select(ReviewFlag).order_by(col(ReviewFlag.raised_at).desc()))).scalars()
    )


@router.get("/{case_id}", summary="One case")
async def get_case(
    case_id: str, session: SessionDep, response: Response, principal: Annotated[Principal, READERS]
) -> dict[str, Any]:
    case = await load(session, case_id, principal)
    response.headers["ETag"] = f'"{case.version}"'
    return present(case, principal, datetime.now(UTC))


# ---------------------------------------------------------------- changing a case


async def act(
    session: SessionDep,
    temporal: Client,
    runtime: RuntimeDep,
    principal: Principal,
    case_id: str,
    command: Any,
    if_match: str | None,
    response: Response,
    ciphertext: str | None = None,
) -> dict[str, Any]:
    case = await load(session, case_id, principal)
    await session.rollback()  # no transaction held while the workflow works
    actor = actor_of(principal)
    policy = runtime.settings.case_policy
    expected = expected_version(if_match)
    now = datetime.now(UTC)
    request = CaseCommandRequest(
        command=command,
        actor=actor,
        policy=policy,
        expected_version=expected,
        traceparent=current_traceparent(),
        victim_identity_ciphertext=ciphertext,
    )
    if case.status is CaseStatus.CLOSED:
        # A closed case's workflow has ended: the rules are checked here, and a reopening starts a new run.
        if expected is not None and expected != case.version:
            raise HTTPException(status.HTTP_412_PRECONDITION_FAILED, f"the case is at version {case.version}")
        apply(case, command, actor, now, policy)
        with contextlib.suppress(WorkflowAlreadyStartedError):  # a concurrent step started it already
            await temporal.start_workflow(
                CaseWorkflow.run,
                CaseStart(case=case, policy=policy),
                id=workflow_id(case_id),
                task_queue=TASK_QUEUE,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
    handle = temporal.get_workflow_handle(workflow_id(case_id))
    try:
        view = await handle.execute_update(CaseWorkflow.act, request)
    except WorkflowUpdateFailedError as exc:
        raise update_refused(exc) from exc
    response.headers["ETag"] = f'"{view.case.version}"'
    return present(view.case, principal, now)


@router.post("/{case_id}/actions", summary="Take the next step on a case (or record something on it)")
async def take_action(
    case_id: str,
    command: Command,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, READERS],
    if_match: IfMatch = None,
) -> dict[str, Any]:
    if isinstance(command, AddVictim | AddAttachment):
        raise InvalidField(
            "action",
            f"use POST /cases/{case_id}/{'victims' if isinstance(command, AddVictim) else 'attachments'}",
        )
    return await act(session, temporal, runtime, principal, case_id, command, if_match, response)


class NewVictim(BaseModel):
    pseudonym: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,40}$", examples=["V-01"])
    minor: bool
    identity: VictimIdentity | None = None


@router.post("/{case_id}/victims", summary="Add a victim, known by a pseudonym; identity encrypted at rest")
async def add_victim(
    case_id: str,
    body: NewVictim,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, OFFICERS],
    if_match: IfMatch = None,
) -> dict[str, Any]:
    ciphertext = vault(runtime).seal(body.identity) if body.identity else None
    command = AddVictim(
        victim_id=str(uuid.uuid4()), pseudonym=body.pseudonym, minor=body.minor, has_identity=bool(ciphertext)
    )
    return await act(session, temporal, runtime, principal, case_id, command, if_match, response, ciphertext)


class RevealRequest(BaseModel):
    purpose: str = Field(min_length=10, max_length=1000, description="Why the identity is needed now")


@router.post("/{case_id}/victims/{victim_id}/reveal", summary="Read a victim's identity (audited)")
async def reveal_victim(
    case_id: str,
    victim_id: str,
    body: RevealRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, OFFICERS],
) -> VictimIdentity:
    async with session.begin():
        row = await session.get(CaseRow, case_id, with_for_update=True)
        stored = await session.get(IdentityRow, victim_id)
        if row is None or stored is None or stored.case_id != case_id:
            raise NotFound(f"no identity recorded for victim {victim_id} of case {case_id}")
        identity = vault(runtime).open(stored.ciphertext)
        await append_audit(
            session,
            case_id,
            actor_of(principal),
            "victim_identity_revealed",
            {},
            {"victim_id": victim_id, "purpose": body.purpose},
            datetime.now(UTC),
        )
    return identity


@router.post("/{case_id}/attachments", summary="Attach a document (stored on disk, SHA-256 recorded)")
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
) -> dict[str, Any]:
    await load(session, case_id, principal)
    limit = runtime.settings.attachment_max_bytes
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"attachments are limited to {limit} bytes"
            )
        digest.update(chunk)
        chunks.append(chunk)
    sha256 = digest.hexdigest()
    folder = runtime.settings.run_dir / "attachments"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / sha256
    if not target.exists():
        partial = target.with_suffix(".partial")
        partial.write_bytes(b"".join(chunks))
        partial.replace(target)  # content-addressed: the same bytes are stored once
    command = AddAttachment(
        attachment_id=str(uuid.uuid4()),
        filename=filename,
        sha256=sha256,
        size=size,
        content_type=request.headers.get("content-type", "application/octet-stream")[:200],
    )
    return await act(session, temporal, runtime, principal, case_id, command, if_match, response)


@router.get("/{case_id}/attachments/{attachment_id}", summary="Download an attachment")
async def get_attachment(
    case_id: str,
    attachment_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, OFFICERS],
) -> FileResponse:
    case = await load(session, case_id, principal)
    attachment = next((a for a in case.attachments if a.attachment_id == attachment_id), None)
    path = (
        runtime.settings.run_dir / "attachments" / attachment.sha256 if attachment else Path("/nonexistent")
    )
    if attachment is None or not path.exists():
        raise NotFound(f"no attachment {attachment_id} on case {case_id}")
    return FileResponse(path, media_type=attachment.content_type, filename=attachment.filename)


# ---------------------------------------------------------------- audit


@router.get("/{case_id}/audit", summary="The case's audit trail")
async def audit_trail(
    case_id: str, session: SessionDep, principal: Annotated[Principal, OFFICERS]
) -> list[AuditEntry]:
    await load(session, case_id, principal)
    rows = await session.execute(
        select(AuditEntry).where(col(AuditEntry.case_id) == case_id).order_by(col(AuditEntry.position))
    )
    return list(rows.scalars())


@router.get("/{case_id}/audit/verify", summary="Check the audit trail's hash chain")
async def verify_audit(
    case_id: str, session: SessionDep, principal: Annotated[Principal, OFFICERS]
) -> dict[str, Any]:
    await load(session, case_id, principal)
    head = await session.get(CaseRow, case_id)
    assert head is not None
    rows = list(
        (await session.execute(select(AuditEntry).where(col(AuditEntry.case_id) == case_id))).scalars()
    )
    result = verify_chain(
        (
            ChainLink(
                case_id=e.case_id,
                position=e.position,
                at=e.at,
                actor=e.actor,
                actor_role=e.actor_role,
                action=e.action,
                before=e.before,
                after=e.after,
                previous_hash=e.previous_hash,
            ),
            e.hash,
        )
        for e in rows
    )
    if result.valid and (
        result.entries != head.audit_length
        or (rows and max(rows, key=lambda e: e.position).hash != head.audit_head)
    ):
        # The chain is whole but shorter than recorded: entries were removed from its end.
        result = Verification(False, result.entries, result.entries + 1, "entries were removed from the end")
    return {
        "case_id": case_id,
        "valid": result.valid,
        "entries": result.entries,
        "first_broken_position": result.first_broken_position,
        "reason": result.reason,
    }
