"""The cases service's use cases, one function each, called by the routes: open a case, take a step on it,
add a victim or an attachment, reveal a victim's identity, verify the audit trail. Each owns its
transaction; the rules are the domain's, the writes the store's, the workflow the gateway's."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.cases import gateway, queries, store
from services.cases.domain.audit import ChainLink, Verification, verify_chain
from services.cases.domain.case import Attachment, Case
from services.cases.domain.commands import AddAttachment, AddVictim, Command
from services.cases.domain.confidential import (
    DOCUMENT_HEADER_MAX,
    DocumentError,
    KeyRing,
    LocalKeyRing,
    Vault,
    VictimIdentity,
    document_key_id,
    open_document,
    reseal_document,
    seal_document,
)
from services.cases.domain.events import change_events
from services.cases.domain.intake import CaseIntake, check_intake_dates, open_case, reference_number
from services.cases.domain.lifecycle import apply
from services.cases.models import CaseRow
from services.common.actor import Actor
from services.common.auth import Principal
from services.common.errors import DomainError, InvalidField, NotFound, VersionConflict
from services.common.objects import ObjectStore
from services.common.observability import current_traceparent
from services.common.settings import Settings
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
    objects: ObjectStore,
    ring: KeyRing,
    expected_version: int | None,
    policy: CasePolicy,
) -> Case:
    """A document attached to the case: encrypted here, stored in the object store, recorded on the case with
    the SHA-256 of its plaintext. Never written to this process's disk."""
    sha256 = hashlib.sha256(upload.content).hexdigest()
    attachment_id = str(uuid.uuid4())
    key = attachment_key(case_id, attachment_id)
    sealed = await asyncio.to_thread(seal_document, ring, upload.content, key)
    # Stored before the step: a step that then fails leaves an object no case names (never the reverse).
    await objects.put(key, sealed)
    command = AddAttachment(
        attachment_id=attachment_id,
        filename=upload.filename,
        sha256=sha256,
        size=len(upload.content),
        content_type=upload.content_type,
    )
    return await take_step(session, temporal, principal, actor, case_id, command, expected_version, policy)


class AttachmentTampered(DomainError):
    """A stored attachment that does not open or whose SHA-256 differs from the one recorded: never served."""

    status_code = 502


async def read_attachment(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    attachment_id: str,
    objects: ObjectStore,
    ring: KeyRing,
) -> tuple[Attachment, bytes]:
    """An attachment's record and its plaintext, decrypted and checked against the SHA-256 recorded."""
    case = await queries.load_case(session, case_id, principal)
    await session.rollback()
    attachment = next((a for a in case.attachments if a.attachment_id == attachment_id), None)
    key = attachment_key(case_id, attachment_id)
    sealed = await objects.get(key) if attachment is not None else None
    if attachment is None or sealed is None:
        raise NotFound(f"no attachment {attachment_id} on case {case_id}")
    try:
        content = await asyncio.to_thread(open_document, ring, sealed, key)
    except DocumentError as exc:
        raise AttachmentTampered(f"attachment {attachment_id} failed its integrity check: {exc}") from exc
    if hashlib.sha256(content).hexdigest() != attachment.sha256:
        raise AttachmentTampered(f"attachment {attachment_id} does not match the SHA-256 recorded")
    return attachment, content


ATTACHMENTS_PREFIX = "cases/"


def attachment_key(case_id: str, attachment_id: str) -> str:
    """An attachment's object key: by ids, never by content hash (a hash would let anyone who can list the
    bucket confirm that a known document is there)."""
    return f"{ATTACHMENTS_PREFIX}{case_id}/{attachment_id}"


def key_ring(settings: Settings) -> LocalKeyRing:
    """The victim-data key ring from settings: UNCOPS_VICTIM_DATA_KEYS, plus in development and test the old
    UNCOPS_VICTIM_DATA_KEY as its legacy key (the primary when no other key is given)."""
    return LocalKeyRing.with_legacy(settings.victim_key_ring(), settings.legacy_victim_passphrase)


# ---- re-encryption under the primary key (`uncops rekey cases`)


@dataclass
class Rekeyed:
    """What a re-encryption pass saw: checked, re-encrypted, and what no key of the ring opens."""

    what: str
    total: int = 0
    checked: int = 0
    rekeyed: int = 0
    unreadable: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.what}: {self.checked}/{self.total} checked, {self.rekeyed} re-encrypted" + (
            f", {len(self.unreadable)} unreadable" if self.unreadable else ""
        )


async def rekey_victim_identities(
    sessions: async_sessionmaker[AsyncSession],
    vault: Vault,
    batch_size: int,
    progress: Callable[[Rekeyed], None] = lambda _: None,
) -> Rekeyed:
    """Every sealed identity under the vault's primary key, ``batch_size`` rows per transaction, in
    victim-id order. A row is rewritten only with a ciphertext that opens to the same plaintext; a row
    already under the primary key is left alone, so a pass stopped anywhere is simply run again."""
    async with sessions() as session:
        report = Rekeyed("victim identities", total=await queries.count_identities(session))
    after: str | None = None
    while True:
        async with sessions() as session, session.begin():
            rows = await queries.identities_after(session, after, batch_size)
            for row in rows:
                try:
                    resealed = vault.reseal(row.ciphertext)
                except ValueError:
                    report.unreadable.append(row.victim_id)
                    continue
                if resealed is not None:
                    store.reseal_identity(row, resealed)
                    report.rekeyed += 1
        if not rows:
            return report
        report.checked += len(rows)
        after = rows[-1].victim_id
        progress(report)


async def rekey_attachments(
    objects: ObjectStore,
    ring: KeyRing,
    batch_size: int,
    progress: Callable[[Rekeyed], None] = lambda _: None,
) -> Rekeyed:
    """Every attachment's data key under the primary key: each object replaced whole by one PUT (never
    half-written), its body untouched; one already under the primary key is only read by its header."""
    keys = [key async for key in objects.keys(ATTACHMENTS_PREFIX)]
    report = Rekeyed("attachments", total=len(keys))
    for key in keys:
        head = await objects.get(key, first=DOCUMENT_HEADER_MAX)
        try:
            current = document_key_id(ring, head) if head is not None else ring.primary_key_id
            if current != ring.primary_key_id:
                sealed = await objects.get(key)
                resealed = reseal_document(ring, sealed) if sealed is not None else None
                if resealed is not None:
                    await objects.put(key, resealed)
                    report.rekeyed += 1
        except DocumentError:
            report.unreadable.append(key)
        report.checked += 1
        if report.checked % batch_size == 0 or report.checked == report.total:
            progress(report)
    return report


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
