"""The cases service's use cases, one function each, called by the routes: open a case, take a step on it,
add a victim or an attachment, reveal a victim's identity, verify the audit trail. Each owns its
transaction; the rules are the domain's, the writes the store's, the workflow the gateway's."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases import gateway, queries, store
from services.cases.domain.audit import ChainLink, Verification, verify_chain
from services.cases.domain.case import Case
from services.cases.domain.commands import AddAttachment, AddVictim, Command
from services.cases.domain.confidential import Vault, VictimIdentity
from services.cases.domain.events import change_events
from services.cases.domain.intake import CaseIntake, check_intake_dates, open_case, reference_number
from services.cases.domain.lifecycle import apply
from services.cases.models import CaseRow
from services.common.actor import Actor
from services.common.auth import Principal
from services.common.errors import InvalidField, NotFound, VersionConflict
from services.common.observability import current_traceparent
from services.common.temporal import started_before_commit
from uncops_contracts.policies import CasePolicy
from uncops_contracts.reference import is_member_state, is_mission


async def open_new_case(
    session: AsyncSession, temporal: gateway.Temporal, actor: Actor, intake: CaseIntake, policy: CasePolicy
) -> Case:
    """A new case, numbered, stored with its audit entry, events and review flags, its workflow running."""
    now = datetime.now(UTC)
    if not is_mission(intake.mission):
        raise InvalidField("mission", f"{intake.mission} is not a known UN peace operation")
    if not is_member_state(intake.police_contributing_country):
        raise InvalidField(
            "police_contributing_country", f"{intake.police_contributing_country} is not a Member State"
        )
    check_intake_dates(intake, now.date())
    number = await store.next_reference_number(session, intake.mission, now.year)
    case = open_case(str(uuid.uuid4()), reference_number(intake.mission, now.year, number), intake, now)
    traceparent = current_traceparent()
    events = change_events(None, case, "open", actor, now)
    await store.add_case(session, case, actor, events, now, traceparent)
    await store.raise_review_flags(session, case, policy, now, traceparent, unit=True, country=False)
    async with started_before_commit(session, "case was not stored") as started:
        started.append(await gateway.start_case(temporal, gateway.CaseStart(case=case, policy=policy)))
    return case


async def take_step(
    session: AsyncSession,
    temporal: gateway.Temporal,
    principal: Principal,
    actor: Actor,
    case_id: str,
    command: Command,
    expected_version: int | None,
    policy: CasePolicy,
    victim_identity_ciphertext: str | None = None,
) -> Case:
    """The case after ``command``, taken through its workflow's ``act`` Update."""
    case = await queries.load_case(session, case_id, principal)
    await session.rollback()  # no transaction held while the workflow works
    request = gateway.CaseCommandRequest(
        command=command,
        actor=actor,
        policy=policy,
        expected_version=expected_version,
        traceparent=current_traceparent(),
        victim_identity_ciphertext=victim_identity_ciphertext,
    )

    async def new_run(case: Case) -> None:
        # The rules are checked here, and a step they allow starts a new run from the stored case.
        if expected_version is not None and expected_version != case.version:
            raise VersionConflict(f"the case is at version {case.version}")
        apply(case, command, actor, datetime.now(UTC), policy)
        await gateway.restart_case(temporal, gateway.CaseStart(case=case, policy=policy))

    if case.ended:
        await new_run(case)  # its workflow has ended
    try:
        view = await gateway.act_on_case(temporal, case_id, request)
    except gateway.NoRun:
        # The stored case is the record. Read again: its run may have ended since (the case closed), or it
        # never had one (lost with the Temporal server's data, or rows written by hand, as some tests do:
        # a 500 found by schemathesis).
        case = await queries.load_case(session, case_id, principal)
        await session.rollback()
        await new_run(case)
        view = await gateway.act_on_case(temporal, case_id, request)
    return view.case


async def add_victim(
    session: AsyncSession,
    temporal: gateway.Temporal,
    principal: Principal,
    actor: Actor,
    case_id: str,
    pseudonym: str,
    minor: bool,
    identity: VictimIdentity | None,
    vault: Vault,
    expected_version: int | None,
    policy: CasePolicy,
) -> Case:
    """A victim known by a pseudonym; an identity, if given, is sealed here and stored apart from the case."""
    ciphertext = vault.seal(identity) if identity else None
    command = AddVictim(
        victim_id=str(uuid.uuid4()), pseudonym=pseudonym, minor=minor, has_identity=bool(ciphertext)
    )
    return await take_step(
        session, temporal, principal, actor, case_id, command, expected_version, policy, ciphertext
    )


@dataclass(frozen=True)
class Upload:
    """An attachment as it arrived: its name, its media type and its bytes."""

    filename: str
    content_type: str
    content: bytes


async def reveal_victim_identity(
    session: AsyncSession,
    principal: Principal,
    actor: Actor,
    case_id: str,
    victim_id: str,
    purpose: str,
    vault: Vault,
) -> VictimIdentity:
    """A victim's identity, read for ``purpose``: the reading is an entry of the case's audit trail."""
    async with session.begin():
        row = await session.get(CaseRow, case_id, with_for_update=True)
        sealed = await queries.sealed_identity(session, case_id, victim_id)
        if row is not None and not queries.may_see(principal, row):
            raise NotFound(f"no case {case_id}")
        if row is None or sealed is None:
            raise NotFound(f"no identity recorded for victim {victim_id} of case {case_id}")
        identity = vault.open(sealed)
        store.append_audit(
            session,
            row,
            actor,
            "victim_identity_revealed",
            {},
            {"victim_id": victim_id, "purpose": purpose},
            datetime.now(UTC),
        )
    return identity


async def add_attachment(
    session: AsyncSession,
    temporal: gateway.Temporal,
    principal: Principal,
    actor: Actor,
    case_id: str,
    upload: Upload,
    folder: Path,
    expected_version: int | None,
    policy: CasePolicy,
) -> Case:
    """A document attached to the case: stored on disk by its SHA-256, recorded on the case."""
    sha256 = hashlib.sha256(upload.content).hexdigest()
    await asyncio.to_thread(_keep, folder, sha256, upload.content)
    command = AddAttachment(
        attachment_id=str(uuid.uuid4()),
        filename=upload.filename,
        sha256=sha256,
        size=len(upload.content),
        content_type=upload.content_type,
    )
    return await take_step(session, temporal, principal, actor, case_id, command, expected_version, policy)


def _keep(folder: Path, sha256: str, content: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / sha256
    if not target.exists():
        partial = target.with_suffix(".partial")
        partial.write_bytes(content)
        partial.replace(target)  # content-addressed: the same bytes are stored once


async def verify_audit(session: AsyncSession, principal: Principal, case_id: str) -> Verification:
    """Whether the case's audit trail is whole: every hash right, and as long as the case row says."""
    await queries.load_case(session, case_id, principal)
    head = await session.get(CaseRow, case_id)
    assert head is not None
    rows = await queries.audit_trail(session, case_id)
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
    return result
