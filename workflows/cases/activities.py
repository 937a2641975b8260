"""The case workflow's one activity: store a change (state, audit, events, victim identity, review flags)
in one transaction. A retry finds its change already stored (the version tells) and does nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.cases.models import CaseRow, VictimIdentity
from services.cases.store import append_audit, raise_review_flags, record_case_events, row_values
from workflows.cases.workflows import StoreChange


class CaseActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name="store_case_change")
    async def store_case_change(self, change: StoreChange) -> None:
        outcome = change.outcome
        case = outcome.case
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            row = await session.get(CaseRow, case.case_id, with_for_update=True)
            if row is None:
                # The API's transaction that creates the case may not have committed yet: retried.
                raise RuntimeError(f"case {case.case_id} is not stored yet")
            if row.version >= case.version:
                return
            for name, value in row_values(case, now).items():
                setattr(row, name, value)
            if change.victim_identity_ciphertext:
                # The victim this change added is the last one with identity data.
                new_victim = next(v for v in reversed(case.victims) if v.has_identity)
                session.add(
                    VictimIdentity(
                        victim_id=new_victim.victim_id,
                        case_id=case.case_id,
                        ciphertext=change.victim_identity_ciphertext.encode(),
                    )
                )
            await append_audit(
                session,
                case.case_id,
                change.actor,
                outcome.action,
                outcome.audit_before,
                outcome.audit_after,
                now,
            )
            record_case_events(session, case, outcome.events, change.traceparent)
            await session.flush()
            # A unit's count changes when a case opens; a country's, when one of its deadlines is missed.
            missed = outcome.action.startswith("deadline_missed")
            if missed:
                await raise_review_flags(
                    session, case, change.policy, now, change.traceparent, unit=False, country=True
                )
