"""The pledges service's use cases, one function each, called by the routes and the consumers: submit a
pledge, take a step on it, count money received for it, import a summit's pledges.

Intake stores rows and their ``pledge submitted`` events only; a pledge's follow-up workflow is started by
its first step (gateway.act_on_pledge), not here: until it is accepted there is nothing to time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.actor import Actor
from services.common.auth import Principal, Role, actor_of
from services.common.database import OutboxEvent
from services.common.errors import Conflict
from services.common.observability import current_traceparent, get_logger
from services.common.runtime import ServiceRuntime
from services.pledges import queries, store
from services.pledges.domain.commands import Command, RecordDelivery
from services.pledges.domain.duplicates import flag_duplicates
from services.pledges.domain.importing import (
    DuplicateFlag,
    ImportMode,
    ImportReport,
    fingerprint,
    read_and_validate,
)
from services.pledges.domain.pledge import Pledge
from services.pledges.domain.submission import PledgeSubmission
from services.pledges.gateway import PledgeCommandRequest, PledgeView, Temporal, act_on_pledge
from services.pledges.models import PledgeImportRow, PledgeRow
from services.pledges.store import Submitted, intake_writer
from uncops_contracts.policies import PledgePolicy
from uncops_contracts.summit import FundingReceiptReversed, FundingReceived

# Pledges and summits are led by the secretariat: an admin or a planner acts as such.
ACTING_AS = (Role.ADMIN, Role.PLANNER)
SUMMIT_FUNDING = Actor(subject="uncops-summit-funding", role="system")
log = get_logger(__name__)


def actor(principal: Principal) -> Actor:
    return actor_of(principal, ACTING_AS)


# ---------------------------------------------------------------- submit


async def submit_pledge(
    runtime: ServiceRuntime, submission: PledgeSubmission, principal: Principal, idempotency_key: str | None
) -> dict[str, Any] | PledgeRow:
    """The new pledge's row values; or, a retry with an Idempotency-Key the State has used before, the pledge
    first created (Conflict if it was created from another body)."""
    # The busiest write: constant SQL on asyncpg (store.IntakeWriter), no ORM, batched under load.
    submitted = Submitted(
        pledge_id=str(uuid.uuid4()),
        submission=submission,
        submitted_by=principal.subject,
        submitted_at=datetime.now(UTC),
        traceparent=current_traceparent(),
        idempotency_key=idempotency_key or None,
    )
    pledge, stored = await intake_writer(runtime).store(submitted)
    if stored:
        return pledge
    # The State has used this Idempotency-Key before: a retry gets the pledge first created.
    async with runtime.sessions() as session:
        existing = await queries.by_idempotency_key(session, submission.member_state, str(idempotency_key))
    if existing is None:  # pragma: no cover - a key is never released once used
        raise Conflict("Idempotency-Key was already used for a different pledge submission")
    if existing.request_fingerprint != submission.fingerprint():
        raise Conflict("Idempotency-Key was already used for a different pledge submission")
    return existing


# ---------------------------------------------------------------- a step


async def take_action(
    session: AsyncSession,
    temporal: Temporal,
    policy: PledgePolicy,
    row: PledgeRow,
    command: Command,
    principal: Principal,
    expected_version: int | None,
) -> PledgeView:
    """A step on a stored pledge, through its workflow (started by its first step); ``row`` is refreshed."""
    stored = Pledge.model_validate(row.state)
    await session.rollback()  # no transaction held while the workflow works
    request = PledgeCommandRequest(
        command=command,
        actor=actor(principal),
        policy=policy,
        expected_version=expected_version,
        traceparent=current_traceparent(),
    )
    view = await act_on_pledge(temporal, stored, policy, request)
    await session.refresh(row)
    return view


async def record_funding(
    session: AsyncSession,
    temporal: Callable[[], Awaitable[Temporal]],
    policy: PledgePolicy,
    receipt: FundingReceived | FundingReceiptReversed,
    traceparent: str | None,
) -> None:
    """Money the summit received for a pledge counts towards it (a financial-support pledge is fulfilled once
    its amount has come); a reversed receipt's money is taken back. Idempotent: the workflow ignores a
    receipt (or reversal) it has already counted. ``temporal`` connects only when the receipt is for a
    stored pledge."""
    if receipt.pledge_id is None:
        return
    row = await session.get(PledgeRow, receipt.pledge_id)
    if row is None:
        return
    command = RecordDelivery(
        receipt_id=receipt.receipt_id,
        amount=receipt.amount,
        currency=receipt.currency,
        reverses=receipt.reverses_receipt_id if isinstance(receipt, FundingReceiptReversed) else None,
    )
    request = PledgeCommandRequest(
        command=command, actor=SUMMIT_FUNDING, policy=policy, traceparent=traceparent
    )
    try:
        await act_on_pledge(await temporal(), Pledge.model_validate(row.state), policy, request)
    except Conflict as refused:
        # The pledge has ended (withdrawn, rejected, lapsed): the summit keeps the money on its books.
        log.warning("funding for an ended pledge", pledge_id=receipt.pledge_id, reason=refused.detail)


# ---------------------------------------------------------------- import


@dataclass(frozen=True)
class Imported:
    """An import's answer: the report (as JSON) and its status code; ``replayed`` for a retry's."""

    report: dict[str, Any]
    status_code: int
    replayed: bool = False


def import_scope(principal: Principal) -> str:
    """Whose imports a key belongs to. As Principal.may_act_for: a focal point acts for its own State only."""
    if Role.STATE_FOCAL_POINT in principal.roles and Role.ADMIN not in principal.roles:
        return f"state:{principal.member_state}"
    return "any"


async def preview_import(
    policy: PledgePolicy, principal: Principal, body: bytes, fmt: str, mode: ImportMode
) -> dict[str, Any]:
    """A dry run: the report an import of this body would give (``accepted``: the rows that would be
    stored), with nothing stored, no key kept and nothing published."""
    scope = import_scope(principal)
    acting_for = None if scope == "any" else principal.member_state
    may_act_for: Callable[[str], bool] = principal.may_act_for
    rows, (valid, rejected) = await asyncio.to_thread(
        read_and_validate, body, fmt, policy.import_max_rows, may_act_for, acting_for
    )
    rejected.sort(key=lambda r: r.line)
    stored = 0 if mode is ImportMode.ALL_OR_NOTHING and rejected else len(valid)
    report = ImportReport(mode=mode, received=len(rows), accepted=stored, rejected=rejected)
    report.detail = f"dry run: {stored} of {len(rows)} rows would be imported; nothing was stored"
    return report.model_dump(mode="json", exclude_none=True)


async def import_pledges(
    session: AsyncSession,
    policy: PledgePolicy,
    principal: Principal,
    body: bytes,
    fmt: str,
    mode: ImportMode,
    idempotency_key: str | None,
) -> Imported:
    """Every row validated; the accepted pledges and their ``pledge submitted`` events stored with one COPY
    each in one transaction (nothing if ``all_or_nothing`` and a row is rejected: 422 with the report);
    the report kept under the Idempotency-Key, so a retry replays it instead of importing twice."""
    scope, print_ = import_scope(principal), fingerprint(mode, fmt, body)
    if idempotency_key:
        existing = await queries.import_by_key(session, idempotency_key)
        if existing is not None:
            return _replay(existing, scope, print_)

    acting_for = None if scope == "any" else principal.member_state
    # Parsing and validating thousands of rows is CPU work: off the event loop.
    may_act_for: Callable[[str], bool] = principal.may_act_for
    rows, (valid, rejected) = await asyncio.to_thread(
        read_and_validate, body, fmt, policy.import_max_rows, may_act_for, acting_for
    )
    rejected.sort(key=lambda r: r.line)
    report = ImportReport(mode=mode, received=len(rows), accepted=0, rejected=rejected)
    if mode is ImportMode.ALL_OR_NOTHING and rejected:
        lines = len({r.line for r in rejected})
        report.detail = f"{lines} of {len(rows)} rows rejected: nothing was imported"
        return Imported(report.model_dump(mode="json", exclude_none=True), 422)

    now = datetime.now(UTC)
    new = [(str(uuid.uuid4()), submission) for _, submission in valid]
    stored = await queries.stored_titles(session, {(s.member_state, s.kind.value) for _, s in new})
    duplicates = await asyncio.to_thread(flag_duplicates, new, stored, policy.duplicate_title_similarity)
    pledges, events = await asyncio.to_thread(
        store.pledge_rows, new, duplicates, principal.subject, now, policy, current_traceparent()
    )
    report.accepted = len(new)
    report.pledge_ids = [pledge_id for pledge_id, _ in new]
    report.possible_duplicates = [
        DuplicateFlag(line=line, pledge_id=pledge_id, duplicate_of=found)
        for (line, _), (pledge_id, _), found in zip(valid, new, duplicates, strict=True)
        if found
    ]
    code = 201 if new else 200
    body_out = report.model_dump(mode="json", exclude_none=True)
    try:
        if idempotency_key:
            # First in the transaction: a concurrent import with the same key waits here, then fails.
            store.add_import(session, idempotency_key, scope, print_, code, body_out, principal.subject)
            await session.flush()
        await store.copy_rows(session, PledgeRow, pledges)
        await store.copy_rows(session, OutboxEvent, events)
        await session.commit()
    except IntegrityError:
        await session.rollback()
        if not idempotency_key:
            raise
        existing = await queries.import_by_key(session, idempotency_key)
        if existing is None:
            raise
        return _replay(existing, scope, print_)
    return Imported(body_out, code)


def _replay(existing: PledgeImportRow, scope: str, print_: str) -> Imported:
    if existing.scope != scope or existing.fingerprint != print_:
        raise Conflict("Idempotency-Key was already used for a different import")
    return Imported(existing.report, existing.status_code, replayed=True)
