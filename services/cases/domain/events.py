"""What a case's steps emit: ``CaseChanged`` on every step, ``AllegationRecorded`` (the public record) when
that changes, and a deadline's ``CaseDeadlineApproaching`` or ``CaseDeadlineMissed``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator

from services.cases.domain.case import Case
from services.cases.domain.deadlines import Deadline
from services.common.actor import Actor
from uncops_contracts.cases import (
    AllegationRecorded,
    CaseChanged,
    CaseDeadline,
    CaseDeadlineApproaching,
    CaseDeadlineMissed,
    CaseStatus,
    CaseSummary,
    ClosureReason,
    InterimMeasure,
    NationalAction,
    UnAction,
)

ALLEGATION_NAMESPACE = uuid.UUID("6f1c2a3e-8d4b-4c1e-9a7f-2b5d0c9e1a44")
_Payload = CaseChanged | AllegationRecorded | CaseDeadlineApproaching | CaseDeadlineMissed
_EMITTED = (CaseChanged, AllegationRecorded, CaseDeadlineApproaching, CaseDeadlineMissed)
_BY_TYPE = {cls.event_type(): cls for cls in _EMITTED}


def _from_wire(value: object) -> _Payload:
    if isinstance(value, _EMITTED):
        return value
    if isinstance(value, dict) and value.get("type") in _BY_TYPE:
        return _BY_TYPE[value["type"]].model_validate(value.get("payload"))
    raise ValueError(f"not an event a case step emits: {value!r:.200}")


def _to_wire(event: _Payload) -> dict[str, Any]:
    return {"type": event.event_type(), "payload": event.model_dump(mode="json")}


# An event a step emits. It travels to the store activity as {"type", "payload"}, the shape the workflow
# histories already recorded hold (the approaching and missed events have the same fields: the type tells).
CaseEvent = Annotated[_Payload, PlainValidator(_from_wire), PlainSerializer(_to_wire)]


def summary(case: Case, now: datetime) -> CaseSummary:
    return CaseSummary(
        reference=case.reference,
        mission=case.mission,
        personnel_category=case.personnel_category,
        police_contributing_country=case.police_contributing_country,
        unit=case.unit,
        category=case.category,
        allegation_type=case.allegation_type,
        urgent=case.urgent,
        incident_date=case.incident_date,
        reported_on=case.reported_on,
        alleged_perpetrators=case.alleged_perpetrators,
        victims_adult=case.victims_adult,
        victims_minor=case.victims_minor,
        investigating_entity=case.investigating_entity,
        finding=case.finding,
        interim_measures=[InterimMeasure(e.value) for e in case.entries("interim_measure") if e.value],
        un_actions=[UnAction(e.value) for e in case.entries("un_action") if e.value],
        national_actions=[NationalAction(e.value) for e in case.entries("national_action") if e.value],
        referred_for_prosecution=case.referred_for_prosecution,
        prosecution_outcome=case.prosecution.outcome if case.prosecution else None,
        closure_reason=case.closure_reason,
        deadlines=[
            CaseDeadline(
                kind=d.kind,
                due_at=d.due_at,
                owner=d.owner,
                overdue=d.missed or d.overdue(now),
                paused=d.paused,
            )
            for d in case.deadlines
        ],
        assigned_officer=case.assigned_officer,
    )


def public_record(case: Case) -> AllegationRecorded:
    """The allegation as the UN's public data shows it: counts and categories, nothing about a person."""
    if case.finding is not None:
        status = "completed"
    elif case.status is CaseStatus.AWAITING_PCC_REPLY:
        status = "pending_member_state_reply"
    elif case.status is CaseStatus.UNDER_INVESTIGATION:
        status = "under_investigation"
    elif case.closure_reason is ClosureReason.NOT_CREDIBLE:
        status = "closed_not_credible"
    else:
        status = "not_started"
    days = None
    if case.investigation_started_at and case.investigation_completed_at:
        days = (case.investigation_completed_at - case.investigation_started_at).days
    return AllegationRecorded(
        allegation_id=str(uuid.uuid5(ALLEGATION_NAMESPACE, case.case_id)),
        reported=case.reported_on.strftime("%Y-%m"),
        incident=case.incident_date.strftime("%Y-%m") if case.incident_date else None,
        mission=case.mission,
        personnel_category=case.personnel_category,
        nationality=case.police_contributing_country,
        category=case.category,
        allegation_type=case.allegation_type,
        alleged_perpetrators=case.alleged_perpetrators,
        victims_adult=case.victims_adult,
        victims_minor=case.victims_minor,
        investigating_entity=case.investigating_entity,
        investigation_status=status,
        investigation_days=days,
        result=case.finding,
        interim_measures=[InterimMeasure(e.value) for e in case.entries("interim_measure") if e.value],
        un_actions=[UnAction(e.value) for e in case.entries("un_action") if e.value],
        national_actions=[NationalAction(e.value) for e in case.entries("national_action") if e.value],
        referred_for_criminal_accountability=case.referred_for_prosecution,
        prosecution_outcome=case.prosecution.outcome if case.prosecution else None,
        paternity_claims=sum(1 for e in case.entries("paternity_claim") if e.value == "received"),
    )


def change_events(
    before: Case | None, after: Case, action: str, actor: Actor, now: datetime
) -> list[CaseEvent]:
    changed = CaseChanged(
        case_id=after.case_id,
        action=action,
        from_status=before.status if before else None,
        to_status=after.status,
        actor_role=actor.role,
        occurred_at=now,
        case_version=after.version,
        case=summary(after, now),
    )
    events: list[CaseEvent] = [changed]
    public = public_record(after)
    if before is None or public != public_record(before):
        events.append(public)
    return events


def alarm_event(case: Case, deadline: Deadline, missed: bool) -> CaseEvent:
    """A deadline's warning point (``missed`` false) or due date passed without the awaited step."""
    fields: dict[str, Any] = {
        "case_id": case.case_id,
        "reference": case.reference,
        "kind": deadline.kind,
        "due_at": deadline.due_at,
        "owner": deadline.owner,
        "police_contributing_country": case.police_contributing_country,
    }
    return CaseDeadlineMissed(**fields) if missed else CaseDeadlineApproaching(**fields)
