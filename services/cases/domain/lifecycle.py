"""A case's life after intake. ``apply(case, command, actor, now, policy)`` is the one entry point that
changes a case, and ``fire_alarm`` the one a deadline's timer takes. Both are pure: the workflow runs
``apply`` (with ``workflow.now()``) in its Update validator to refuse a step before anything is written, and
in the Update handler to compute the new case that an activity then stores.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from services.cases.domain.case import (
    Attachment,
    Case,
    DomainModel,
    Entry,
    Prosecution,
    Subject,
    Victim,
    allowed_actions,
    refuse,
)
from services.cases.domain.commands import (
    AddAttachment,
    AddInterimMeasure,
    AddSubject,
    AddVictim,
    AssignOfficer,
    CloseCase,
    CloseNotCredible,
    Command,
    ExtendDeadline,
    NameNio,
    PauseDeadline,
    RecordAssistance,
    RecordFinding,
    RecordHearing,
    RecordNationalAction,
    RecordNoteVerbale,
    RecordPaternityClaim,
    RecordProsecutionOutcome,
    RecordUnAction,
    ReferForInvestigation,
    ReferForProsecution,
    ReopenCase,
    ReplyToNotification,
    ReportProgress,
    ResumeDeadline,
    StartAssessment,
)
from services.cases.domain.deadlines import (
    Deadline,
    add_working_days,
    extend,
    investigation_days,
    open_deadline,
    pause,
    resume,
)
from services.cases.domain.events import CaseEvent, alarm_event, change_events
from services.common.actor import Actor
from services.common.errors import InvalidField
from uncops_contracts.cases import (
    CaseStatus,
    ClosureReason,
    DeadlineKind,
    Finding,
    InvestigatingEntity,
    MisconductCategory,
    PersonnelCategory,
)
from uncops_contracts.policies import CasePolicy


class Outcome(DomainModel):
    """What an accepted command produces: the new case and the events and audit entry to store with it."""

    case: Case
    action: str
    events: list[CaseEvent] = Field(description="CaseChanged and the others, in the order they are stored")
    audit_before: dict[str, Any]
    audit_after: dict[str, Any]


def default_entity(case: Case) -> InvestigatingEntity:
    if case.category is MisconductCategory.CATEGORY_2:
        return InvestigatingEntity.MISSION
    if case.personnel_category is PersonnelCategory.FORMED_POLICE_UNIT:
        return InvestigatingEntity.POLICE_CONTRIBUTING_COUNTRY
    return InvestigatingEntity.OIOS


def apply(case: Case, command: Command, actor: Actor, now: datetime, policy: CasePolicy) -> Outcome:
    """The case after ``command``; Conflict (409) or InvalidField (422), changing nothing, if refused."""
    action: str = command.action
    if action not in allowed_actions(case, actor):
        raise refuse(case, actor, f"{action} is not allowed on a {case.status.value} case for {actor.role}")
    updated = _transition(case.model_copy(deep=True), command, actor, now, policy)
    updated.version = case.version + 1
    before, after = _diff(case, updated)
    return Outcome(
        case=updated,
        action=action,
        events=change_events(case, updated, action, actor, now),
        audit_before=before,
        audit_after=after,
    )


def _transition(case: Case, command: Command, actor: Actor, now: datetime, policy: CasePolicy) -> Case:
    today = now.date()
    match command:
        case StartAssessment():
            case.status = CaseStatus.PRELIMINARY_ASSESSMENT
        case CloseNotCredible(reason=reason):
            _close(case, ClosureReason.NOT_CREDIBLE, reason)
        case ReferForInvestigation(entity=entity, urgent=urgent):
            chosen = entity or default_entity(case)
            if urgent is not None:
                case.urgent = urgent
            if (
                chosen is InvestigatingEntity.POLICE_CONTRIBUTING_COUNTRY
                and case.personnel_category is not PersonnelCategory.FORMED_POLICE_UNIT
            ):
                raise InvalidField(
                    "entity", "only a formed police unit case is referred to its contributing country"
                )
            if chosen is InvestigatingEntity.POLICE_CONTRIBUTING_COUNTRY:
                case.status = CaseStatus.AWAITING_PCC_REPLY
                case.deadlines.append(
                    open_deadline(
                        DeadlineKind.PCC_REPLY,
                        "police_contributing_country",
                        now,
                        add_working_days(now, policy.pcc_reply_working_days, policy),
                        policy,
                    )
                )
            else:
                _start_investigation(case, chosen, now, policy)
        case ReplyToNotification(
            investigates=investigates, joint=joint, national_investigation_officer=nio, note=note
        ):
            _drop_deadline(case, DeadlineKind.PCC_REPLY)
            if investigates:
                entity = (
                    InvestigatingEntity.JOINT if joint else InvestigatingEntity.POLICE_CONTRIBUTING_COUNTRY
                )
                if not nio:
                    raise InvalidField(
                        "national_investigation_officer", "a State that investigates names its NIO"
                    )
                case.national_investigation_officer = nio
            else:
                entity = InvestigatingEntity.OIOS  # the State declines: the UN investigates
            case.record.append(
                Entry(
                    kind="pcc_reply",
                    on=today,
                    value="investigates" if investigates else "declines",
                    note=note,
                    by_role=actor.role,
                )
            )
            _start_investigation(case, entity, now, policy)
        case NameNio(national_investigation_officer=nio):
            case.national_investigation_officer = nio
        case ReportProgress(note=note):
            case.record.append(Entry(kind="progress", on=today, note=note, by_role=actor.role))
        case RecordFinding(finding=finding, summary=summary):
            _drop_deadline(case, DeadlineKind.INVESTIGATION)
            case.finding = finding
            case.finding_summary = summary or None
            case.investigation_completed_at = now
            if finding is Finding.SUBSTANTIATED:
                case.status = CaseStatus.ACTION_PENDING
                _follow_up(case, now, policy)
            else:
                _close(case, ClosureReason.NOT_SUBSTANTIATED, summary or "not substantiated")
        case AddInterimMeasure(measure=measure, on=on, note=note):
            case.record.append(
                Entry(kind="interim_measure", on=on, value=measure.value, note=note, by_role=actor.role)
            )
        case RecordUnAction(taken=taken, on=on, note=note):
            case.record.append(
                Entry(kind="un_action", on=on, value=taken.value, note=note, by_role=actor.role)
            )
        case RecordNationalAction(taken=taken, on=on, note=note):
            case.record.append(
                Entry(kind="national_action", on=on, value=taken.value, note=note, by_role=actor.role)
            )
            if case.status is CaseStatus.ACTION_PENDING:
                _drop_deadline(case, DeadlineKind.FOLLOW_UP)  # the awaited outcome is reported
        case ReferForProsecution(on=on, note=note):
            case.referred_for_prosecution = True
            case.prosecution = Prosecution()
            case.status = CaseStatus.PROSECUTION
            case.record.append(Entry(kind="referral_for_prosecution", on=on, note=note, by_role=actor.role))
            _follow_up(case, now, policy)
        case RecordHearing(on=on, court=court, charges=charges, note=note):
            assert case.prosecution is not None
            case.prosecution.court = court
            case.prosecution.charges = charges or case.prosecution.charges
            case.record.append(Entry(kind="hearing", on=on, value=court, note=note, by_role=actor.role))
            _follow_up(case, now, policy)  # news from the State restarts the reminder clock
        case RecordProsecutionOutcome(outcome=outcome, on=on, sentence=sentence):
            assert case.prosecution is not None
            case.prosecution.outcome = outcome
            case.prosecution.sentence = sentence
            case.prosecution.concluded_on = on
            case.status = CaseStatus.PROSECUTION_CONCLUDED
            _drop_deadline(case, DeadlineKind.FOLLOW_UP)
        case CloseCase(reason=reason, note=note):
            if reason in (ClosureReason.NOT_CREDIBLE, ClosureReason.NOT_SUBSTANTIATED):
                raise InvalidField("reason", f"{reason.value} closes a case through its own step")
            _close(case, reason, note)
        case ReopenCase(reason=reason):
            case.status = CaseStatus.PRELIMINARY_ASSESSMENT
            case.closure_reason = None
            case.closure_note = None
            case.record.append(Entry(kind="reopened", on=today, note=reason, by_role=actor.role))
        case ExtendDeadline(kind=kind, days=days, reason=reason):
            deadline = _require_deadline(case, kind)
            _replace_deadline(case, extend(deadline, days, reason, now, policy))
        case PauseDeadline(kind=kind, reason=reason):
            deadline = _require_deadline(case, kind)
            if kind is not DeadlineKind.INVESTIGATION or not policy.investigation_pauses_allowed:
                raise InvalidField("kind", f"the policy does not let the {kind.value} deadline pause")
            if deadline.paused:
                raise InvalidField("kind", f"the {kind.value} deadline is already paused")
            _replace_deadline(case, pause(deadline, now))
            case.record.append(
                Entry(kind="deadline_paused", on=today, value=kind.value, note=reason, by_role=actor.role)
            )
        case ResumeDeadline(kind=kind, note=note):
            deadline = _require_deadline(case, kind)
            if not deadline.paused:
                raise InvalidField("kind", f"the {kind.value} deadline is not paused")
            _replace_deadline(case, resume(deadline, now, policy))
            case.record.append(
                Entry(kind="deadline_resumed", on=today, value=kind.value, note=note, by_role=actor.role)
            )
        case RecordNoteVerbale(direction=direction, reference=reference, on=on, subject=subject):
            case.record.append(
                Entry(
                    kind=f"note_verbale_{direction}", on=on, value=reference, note=subject, by_role=actor.role
                )
            )
        case AddVictim(victim_id=victim_id, pseudonym=pseudonym, minor=minor, has_identity=has_identity):
            if any(v.pseudonym == pseudonym for v in case.victims):
                raise InvalidField("pseudonym", f"{pseudonym} is already used in this case")
            case.victims.append(
                Victim(victim_id=victim_id, pseudonym=pseudonym, minor=minor, has_identity=has_identity)
            )
            # Counts follow the named victims when these outnumber what intake recorded.
            minors = sum(v.minor for v in case.victims)
            adults = len(case.victims) - minors
            case.victims_minor = max(case.victims_minor, minors)
            case.victims_adult = max(case.victims_adult, adults)
        case AddSubject(subject_id=subject_id, pseudonym=pseudonym, rank=rank):
            case.subjects.append(Subject(subject_id=subject_id, pseudonym=pseudonym, rank=rank))
            case.alleged_perpetrators = max(case.alleged_perpetrators, len(case.subjects))
        case RecordPaternityClaim(status=status, on=on, note=note):
            case.record.append(
                Entry(kind="paternity_claim", on=on, value=status, note=note, by_role=actor.role)
            )
        case RecordAssistance(kind=kind, on=on, note=note):
            case.record.append(Entry(kind="assistance", on=on, value=kind, note=note, by_role=actor.role))
        case AddAttachment(
            attachment_id=attachment_id,
            filename=filename,
            sha256=sha256,
            size=size,
            content_type=content_type,
        ):
            case.attachments.append(
                Attachment(
                    attachment_id=attachment_id,
                    filename=filename,
                    sha256=sha256,
                    size=size,
                    content_type=content_type,
                    added_at=now,
                )
            )
        case AssignOfficer(officer=officer):
            case.assigned_officer = officer
        case _:
            raise InvalidField("action", f"unknown action {command!r}")
    return case


def _start_investigation(case: Case, entity: InvestigatingEntity, now: datetime, policy: CasePolicy) -> None:
    case.status = CaseStatus.UNDER_INVESTIGATION
    case.investigating_entity = entity
    case.investigation_started_at = now
    # A reopened case is investigated afresh: the earlier finding and its dates no longer describe it.
    case.investigation_completed_at = None
    case.finding = None
    case.finding_summary = None
    days = investigation_days(case.allegation_type, case.category, case.urgent, policy)
    owner = (
        "police_contributing_country"
        if entity is InvestigatingEntity.POLICE_CONTRIBUTING_COUNTRY
        else entity.value
    )
    case.deadlines.append(
        open_deadline(DeadlineKind.INVESTIGATION, owner, now, now + timedelta(days=days), policy)
    )


def _follow_up(case: Case, now: datetime, policy: CasePolicy) -> None:
    _drop_deadline(case, DeadlineKind.FOLLOW_UP)
    case.deadlines.append(
        open_deadline(
            DeadlineKind.FOLLOW_UP,
            "police_contributing_country",
            now,
            now + timedelta(days=policy.follow_up_days),
            policy,
        )
    )


def _close(case: Case, reason: ClosureReason, note: str) -> None:
    case.status = CaseStatus.CLOSED
    case.closure_reason = reason
    case.closure_note = note
    case.deadlines = []


def _drop_deadline(case: Case, kind: DeadlineKind) -> None:
    case.deadlines = [d for d in case.deadlines if d.kind is not kind]


def _require_deadline(case: Case, kind: DeadlineKind) -> Deadline:
    deadline = case.deadline(kind)
    if deadline is None:
        raise InvalidField("kind", f"the case has no running {kind.value} deadline")
    return deadline


def _replace_deadline(case: Case, deadline: Deadline) -> None:
    case.deadlines = [deadline if d.kind is deadline.kind else d for d in case.deadlines]


def _diff(before: Case, after: Case) -> tuple[dict[str, Any], dict[str, Any]]:
    old = before.model_dump(mode="json", exclude={"version"})
    new = after.model_dump(mode="json", exclude={"version"})
    changed = [k for k in new if old.get(k) != new.get(k)]
    return {k: old.get(k) for k in changed}, {k: new.get(k) for k in changed}


def fire_alarm(
    case: Case, kind: DeadlineKind, phase: str, now: datetime, policy: CasePolicy
) -> Outcome | None:
    """A deadline's warning point or due date arrived. None when the clock moved meanwhile (nothing to do)."""
    deadline = case.deadline(kind)
    if deadline is None or deadline.paused or deadline.missed:
        return None
    updated = case.model_copy(deep=True)
    if phase == "warn":
        if deadline.warned or now < deadline.warn_at:
            return None
        _replace_deadline(updated, deadline.model_copy(update={"warned": True}))
    else:
        if now < deadline.due_at:
            return None
        if kind is DeadlineKind.FOLLOW_UP:
            # Escalate, and remind again a period later, until the State reports an outcome.
            next_period = open_deadline(
                kind,
                deadline.owner,
                deadline.due_at,
                deadline.due_at + timedelta(days=policy.follow_up_days),
                policy,
            ).model_copy(
                update={
                    "overdue_since": deadline.overdue_since or deadline.due_at,
                    "reminders": deadline.reminders + 1,
                }
            )
            _replace_deadline(updated, next_period)
        else:
            _replace_deadline(updated, deadline.model_copy(update={"missed": True, "warned": True}))
    updated.version = case.version + 1
    before, after = _diff(case, updated)
    action = f"deadline_{'approaching' if phase == 'warn' else 'missed'}:{kind.value}"
    return Outcome(
        case=updated,
        action=action,
        events=[alarm_event(case, deadline, missed=phase != "warn")],
        audit_before=before,
        audit_after=after,
    )
