"""Misconduct case rules in plain Python: intake, the lifecycle, who may do what, and what each step emits.

``apply(case, command, actor, now, policy)`` is the one entry point that changes a case. It is pure: the
workflow runs it (with ``workflow.now()``) in its Update validator to refuse a step before anything is
written, and in the Update handler to compute the new case that an activity then stores.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.cases.deadlines import (
    Deadline,
    add_working_days,
    extend,
    investigation_days,
    open_deadline,
    pause,
    resume,
)
from services.common.actor import Actor as Actor  # part of this module's vocabulary
from services.common.errors import Conflict, InvalidField
from uncops_contracts.cases import (
    CATEGORY_2_TYPES,
    SEA_TYPES,
    AllegationRecorded,
    AllegationType,
    CaseChanged,
    CaseDeadline,
    CaseDeadlineApproaching,
    CaseDeadlineMissed,
    CaseStatus,
    CaseSummary,
    ClosureReason,
    DeadlineKind,
    Finding,
    InterimMeasure,
    InvestigatingEntity,
    MisconductCategory,
    NationalAction,
    PersonnelCategory,
    ProsecutionOutcome,
    UnAction,
)
from uncops_contracts.envelope import EventPayload
from uncops_contracts.policies import CasePolicy

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Pseudonym = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,40}$")
]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
ALLEGATION_NAMESPACE = uuid.UUID("6f1c2a3e-8d4b-4c1e-9a7f-2b5d0c9e1a44")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- the case


class Victim(_Model):
    victim_id: str
    pseudonym: str
    minor: bool
    has_identity: bool


class Subject(_Model):
    subject_id: str
    pseudonym: str
    rank: str | None = None


class Entry(_Model):
    """A dated item of a case's record (a measure, an action, a hearing, a note verbale...)."""

    kind: str
    on: date
    value: str | None = None
    note: str = ""
    by_role: str = ""


class Attachment(_Model):
    attachment_id: str
    filename: str
    sha256: str
    size: int
    content_type: str
    added_at: datetime


class Prosecution(_Model):
    court: str | None = None
    charges: str | None = None
    outcome: ProsecutionOutcome | None = None
    sentence: str | None = None
    concluded_on: date | None = None


class Case(_Model):
    case_id: str
    reference: str
    version: int = 1
    status: CaseStatus = CaseStatus.RECEIVED
    opened_at: datetime
    mission: str
    personnel_category: PersonnelCategory
    police_contributing_country: str
    unit: str | None = None
    category: MisconductCategory
    allegation_type: AllegationType
    urgent: bool = False
    incident_date: date | None = None
    reported_on: date
    how_reported: str
    alleged_perpetrators: int
    victims_adult: int
    victims_minor: int
    description: str = ""
    assigned_officer: str | None = None
    subjects: list[Subject] = []
    victims: list[Victim] = []
    investigating_entity: InvestigatingEntity | None = None
    national_investigation_officer: str | None = None
    investigation_started_at: datetime | None = None
    investigation_completed_at: datetime | None = None
    finding: Finding | None = None
    finding_summary: str | None = None
    referred_for_prosecution: bool = False
    prosecution: Prosecution | None = None
    closure_reason: ClosureReason | None = None
    closure_note: str | None = None
    deadlines: list[Deadline] = []
    record: list[Entry] = []
    attachments: list[Attachment] = []

    def deadline(self, kind: DeadlineKind) -> Deadline | None:
        return next((d for d in self.deadlines if d.kind is kind), None)

    def overdue(self, now: datetime) -> list[Deadline]:
        return [d for d in self.deadlines if d.missed or d.overdue(now)]

    def entries(self, kind: str) -> list[Entry]:
        return [e for e in self.record if e.kind == kind]


# ---------------------------------------------------------------- intake


class CaseIntake(_Model):
    """A new case as a conduct-and-discipline officer records it."""

    mission: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3,10}$")] = Field(examples=["MINUSCA"])
    personnel_category: PersonnelCategory
    police_contributing_country: CountryCode = Field(examples=["XYZ"])
    unit: str | None = Field(None, max_length=100, description="Required for formed police units")
    allegation_type: AllegationType
    category: MisconductCategory | None = Field(
        None, description="Derived from the allegation type if omitted"
    )
    urgent: bool = False
    incident_date: date | None = None
    reported_on: date
    how_reported: str = Field(min_length=2, max_length=200)
    alleged_perpetrators: int = Field(1, ge=0, le=500)
    victims: int = Field(0, ge=0, le=10000)
    victims_minor: int = Field(0, ge=0, le=10000)
    description: Note = ""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.victims_minor > self.victims:
            raise InvalidField(
                "victims_minor", f"{self.victims_minor} minors is more than {self.victims} victims"
            )
        if self.incident_date and self.incident_date > self.reported_on:
            raise InvalidField("incident_date", "the incident cannot be after the date it was reported")
        if self.personnel_category is PersonnelCategory.FORMED_POLICE_UNIT and not self.unit:
            raise InvalidField("unit", "a formed police unit case names the unit")
        derived = category_of(self.allegation_type)
        if self.category is not None and self.category is not derived:
            raise InvalidField("category", f"{self.allegation_type.value} is {derived.value} misconduct")
        return self


def category_of(allegation: AllegationType) -> MisconductCategory:
    return MisconductCategory.CATEGORY_2 if allegation in CATEGORY_2_TYPES else MisconductCategory.CATEGORY_1


def check_intake_dates(intake: CaseIntake, today: date) -> None:
    if intake.reported_on > today:
        raise InvalidField("reported_on", "is in the future")
    if intake.incident_date and intake.incident_date > today:
        raise InvalidField("incident_date", "is in the future")


def open_case(case_id: str, reference: str, intake: CaseIntake, now: datetime) -> Case:
    return Case(
        case_id=case_id,
        reference=reference,
        opened_at=now,
        mission=intake.mission,
        personnel_category=intake.personnel_category,
        police_contributing_country=intake.police_contributing_country,
        unit=intake.unit,
        category=category_of(intake.allegation_type),
        allegation_type=intake.allegation_type,
        urgent=intake.urgent,
        incident_date=intake.incident_date,
        reported_on=intake.reported_on,
        how_reported=intake.how_reported,
        alleged_perpetrators=intake.alleged_perpetrators,
        victims_adult=intake.victims - intake.victims_minor,
        victims_minor=intake.victims_minor,
        description=intake.description,
    )


def reference_number(mission: str, year: int, sequence: int) -> str:
    """Something people can say aloud on the phone: MINUSCA-2026-0042."""
    return f"{mission}-{year}-{sequence:04d}"


# ---------------------------------------------------------------- commands


class StartAssessment(_Model):
    action: Literal["start_assessment"] = "start_assessment"


class CloseNotCredible(_Model):
    action: Literal["close_not_credible"] = "close_not_credible"
    reason: Reason


class ReferForInvestigation(_Model):
    action: Literal["refer_for_investigation"] = "refer_for_investigation"
    entity: InvestigatingEntity | None = Field(None, description="Default: by category and personnel type")
    urgent: bool | None = None


class ReplyToNotification(_Model):
    """The police-contributing country's answer: will it investigate, and who is its NIO."""

    action: Literal["reply_to_notification"] = "reply_to_notification"
    investigates: bool
    joint: bool = False
    national_investigation_officer: str | None = Field(None, max_length=200)
    note: Note = ""


class NameNio(_Model):
    action: Literal["name_nio"] = "name_nio"
    national_investigation_officer: str = Field(min_length=2, max_length=200)


class ReportProgress(_Model):
    action: Literal["report_progress"] = "report_progress"
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=5000)]


class RecordFinding(_Model):
    action: Literal["record_finding"] = "record_finding"
    finding: Finding
    summary: Note = ""


class AddInterimMeasure(_Model):
    action: Literal["add_interim_measure"] = "add_interim_measure"
    measure: InterimMeasure
    on: date
    note: Note = ""


class RecordUnAction(_Model):
    action: Literal["record_un_action"] = "record_un_action"
    taken: UnAction
    on: date
    note: Note = ""


class RecordNationalAction(_Model):
    action: Literal["record_national_action"] = "record_national_action"
    taken: NationalAction
    on: date
    note: Note = ""


class ReferForProsecution(_Model):
    action: Literal["refer_for_prosecution"] = "refer_for_prosecution"
    on: date
    note: Note = ""


class RecordHearing(_Model):
    action: Literal["record_hearing"] = "record_hearing"
    on: date
    court: str = Field(min_length=2, max_length=200)
    charges: str | None = Field(None, max_length=2000)
    note: Note = ""


class RecordProsecutionOutcome(_Model):
    action: Literal["record_prosecution_outcome"] = "record_prosecution_outcome"
    outcome: ProsecutionOutcome
    on: date
    sentence: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _sentence(self) -> Self:
        if self.outcome is ProsecutionOutcome.CONVICTED and not self.sentence:
            raise InvalidField("sentence", "a conviction records its sentence")
        return self


class CloseCase(_Model):
    action: Literal["close"] = "close"
    reason: ClosureReason
    note: Reason


class ReopenCase(_Model):
    action: Literal["reopen"] = "reopen"
    reason: Reason


class ExtendDeadline(_Model):
    action: Literal["extend_deadline"] = "extend_deadline"
    kind: DeadlineKind
    days: int = Field(ge=1, le=365)
    reason: Reason


class PauseDeadline(_Model):
    action: Literal["pause_deadline"] = "pause_deadline"
    kind: DeadlineKind
    reason: Reason


class ResumeDeadline(_Model):
    action: Literal["resume_deadline"] = "resume_deadline"
    kind: DeadlineKind
    note: Note = ""


class RecordNoteVerbale(_Model):
    action: Literal["record_note_verbale"] = "record_note_verbale"
    direction: Literal["sent", "received"]
    reference: str = Field(min_length=2, max_length=100)
    on: date
    subject: Note = ""


class AddVictim(_Model):
    action: Literal["add_victim"] = "add_victim"
    victim_id: str
    pseudonym: Pseudonym
    minor: bool
    # Identity and contact data travel apart, encrypted (see CaseCommandRequest); the case only knows
    # whether there are some.
    has_identity: bool = False


class AddSubject(_Model):
    action: Literal["add_subject"] = "add_subject"
    subject_id: str
    pseudonym: Pseudonym
    rank: str | None = Field(None, max_length=100)


class RecordPaternityClaim(_Model):
    action: Literal["record_paternity_claim"] = "record_paternity_claim"
    status: Literal["received", "dna_requested", "established", "not_established", "support_ordered"]
    on: date
    note: Note = ""


class RecordAssistance(_Model):
    action: Literal["record_assistance"] = "record_assistance"
    kind: Literal["medical", "psychosocial", "legal", "material", "trust_fund_project", "other"]
    on: date
    note: Note = ""


class AddAttachment(_Model):
    action: Literal["add_attachment"] = "add_attachment"
    attachment_id: str
    filename: str = Field(min_length=1, max_length=255)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    size: int = Field(ge=0)
    content_type: str = Field(max_length=200)


class AssignOfficer(_Model):
    action: Literal["assign_officer"] = "assign_officer"
    officer: str = Field(min_length=2, max_length=200)


Command = Annotated[
    StartAssessment
    | CloseNotCredible
    | ReferForInvestigation
    | ReplyToNotification
    | NameNio
    | ReportProgress
    | RecordFinding
    | AddInterimMeasure
    | RecordUnAction
    | RecordNationalAction
    | ReferForProsecution
    | RecordHearing
    | RecordProsecutionOutcome
    | CloseCase
    | ReopenCase
    | ExtendDeadline
    | PauseDeadline
    | ResumeDeadline
    | RecordNoteVerbale
    | AddVictim
    | AddSubject
    | RecordPaternityClaim
    | RecordAssistance
    | AddAttachment
    | AssignOfficer,
    Field(discriminator="action"),
]

# ---------------------------------------------------------------- who may do what, when

_ANY_OPEN = (
    "add_interim_measure",
    "record_note_verbale",
    "add_victim",
    "add_subject",
    "record_paternity_claim",
    "record_assistance",
    "add_attachment",
    "assign_officer",
    "extend_deadline",
    "pause_deadline",
    "resume_deadline",
)
STATUS_ACTIONS: dict[CaseStatus, tuple[str, ...]] = {
    CaseStatus.RECEIVED: ("start_assessment", "close_not_credible", *_ANY_OPEN),
    CaseStatus.PRELIMINARY_ASSESSMENT: ("refer_for_investigation", "close_not_credible", *_ANY_OPEN),
    CaseStatus.AWAITING_PCC_REPLY: ("reply_to_notification", *_ANY_OPEN),
    CaseStatus.UNDER_INVESTIGATION: ("name_nio", "report_progress", "record_finding", *_ANY_OPEN),
    CaseStatus.ACTION_PENDING: (
        "record_un_action",
        "record_national_action",
        "refer_for_prosecution",
        "close",
        *_ANY_OPEN,
    ),
    CaseStatus.PROSECUTION: (
        "record_hearing",
        "record_prosecution_outcome",
        "record_national_action",
        "record_un_action",
        *_ANY_OPEN,
    ),
    CaseStatus.PROSECUTION_CONCLUDED: ("record_un_action", "record_national_action", "close", *_ANY_OPEN),
    CaseStatus.CLOSED: ("reopen", "record_note_verbale", "add_attachment", "record_paternity_claim"),
}
# The State's part of a case: what a Member State's focal point may do on its own personnel's cases.
FOCAL_POINT_ACTIONS = frozenset(
    {
        "reply_to_notification",
        "name_nio",
        "report_progress",
        "record_finding",
        "record_national_action",
        "record_hearing",
        "record_prosecution_outcome",
    }
)


def allowed_actions(case: Case, actor: Actor) -> list[str]:
    actions = list(STATUS_ACTIONS[case.status])
    if actor.role == "state_focal_point":
        actions = [a for a in actions if a in FOCAL_POINT_ACTIONS]
        if case.investigating_entity not in (
            InvestigatingEntity.POLICE_CONTRIBUTING_COUNTRY,
            InvestigatingEntity.JOINT,
        ):
            actions = [a for a in actions if a != "record_finding"]
    elif actor.role not in ("conduct_officer", "admin"):
        actions = []
    return actions


def default_entity(case: Case) -> InvestigatingEntity:
    if case.category is MisconductCategory.CATEGORY_2:
        return InvestigatingEntity.MISSION
    if case.personnel_category is PersonnelCategory.FORMED_POLICE_UNIT:
        return InvestigatingEntity.POLICE_CONTRIBUTING_COUNTRY
    return InvestigatingEntity.OIOS


# ---------------------------------------------------------------- applying a command


class Outcome(_Model):
    """What an accepted command produces: the new case and the events and audit entry to store with it."""

    case: Case
    action: str
    events: list[dict[str, Any]] = Field(description="[{'type': ..., 'payload': ...}]")
    audit_before: dict[str, Any]
    audit_after: dict[str, Any]


def refuse(case: Case, actor: Actor, detail: str) -> Conflict:
    return Conflict(detail, state=case.status.value, allowed_actions=allowed_actions(case, actor))


def apply(case: Case, command: Any, actor: Actor, now: datetime, policy: CasePolicy) -> Outcome:
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


def _transition(case: Case, command: Any, actor: Actor, now: datetime, policy: CasePolicy) -> Case:
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


# ---------------------------------------------------------------- deadlines firing


def fire_alarm(
    case: Case, kind: DeadlineKind, phase: str, now: datetime, policy: CasePolicy
) -> Outcome | None:
    """A deadline's warning point or due date arrived. None when the clock moved meanwhile (nothing to do)."""
    deadline = case.deadline(kind)
    if deadline is None or deadline.paused or deadline.missed:
        return None
    updated = case.model_copy(deep=True)
    event: EventPayload
    if phase == "warn":
        if deadline.warned or now < deadline.warn_at:
            return None
        _replace_deadline(updated, deadline.model_copy(update={"warned": True}))
        event = CaseDeadlineApproaching(**_alarm_fields(case, deadline))
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
        event = CaseDeadlineMissed(**_alarm_fields(case, deadline))
    updated.version = case.version + 1
    before, after = _diff(case, updated)
    action = f"deadline_{'approaching' if phase == 'warn' else 'missed'}:{kind.value}"
    return Outcome(
        case=updated, action=action, events=[_event(event)], audit_before=before, audit_after=after
    )


def _alarm_fields(case: Case, deadline: Deadline) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "reference": case.reference,
        "kind": deadline.kind,
        "due_at": deadline.due_at,
        "owner": deadline.owner,
        "police_contributing_country": case.police_contributing_country,
    }


# ---------------------------------------------------------------- events


def _event(payload: EventPayload) -> dict[str, Any]:
    return {"type": payload.event_type(), "payload": payload.model_dump(mode="json")}


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
) -> list[dict[str, Any]]:
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
    events = [_event(changed)]
    public = public_record(after)
    if before is None or public != public_record(before):
        events.append(_event(public))
    return events


def is_sea(case: Case) -> bool:
    return case.allegation_type in SEA_TYPES
