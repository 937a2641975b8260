"""A misconduct case: its state, the statuses in which its workflow has ended, who may do what on it and
what each caller may see of it. Pure Python; ``lifecycle.apply`` is the one function that changes a case.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.cases.domain.deadlines import Deadline
from services.common.actor import Actor
from services.common.errors import Conflict
from uncops_contracts.cases import (
    AllegationType,
    CaseStatus,
    ClosureReason,
    DeadlineKind,
    Finding,
    InvestigatingEntity,
    MisconductCategory,
    PersonnelCategory,
    ProsecutionOutcome,
)

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
# A case's workflow returns once the case reaches one of these; a step on such a case is checked by the API,
# which starts a new run for it (services/cases/service.py).
ENDED: frozenset[CaseStatus] = frozenset({CaseStatus.CLOSED})


class DomainModel(BaseModel):
    """Closed: an unknown field is refused, not dropped."""

    model_config = ConfigDict(extra="forbid")


class Victim(DomainModel):
    victim_id: str
    pseudonym: str
    minor: bool
    has_identity: bool


class Subject(DomainModel):
    subject_id: str
    pseudonym: str
    rank: str | None = None


class Entry(DomainModel):
    """A dated item of a case's record (a measure, an action, a hearing, a note verbale...)."""

    kind: str
    on: date
    value: str | None = None
    note: str = ""
    by_role: str = ""


class Attachment(DomainModel):
    attachment_id: str
    filename: str
    sha256: str
    size: int
    content_type: str
    added_at: datetime


class Prosecution(DomainModel):
    court: str | None = None
    charges: str | None = None
    outcome: ProsecutionOutcome | None = None
    sentence: str | None = None
    concluded_on: date | None = None


class Case(DomainModel):
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

    @property
    def ended(self) -> bool:
        return self.status in ENDED


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


def refuse(case: Case, actor: Actor, detail: str) -> Conflict:
    return Conflict(detail, state=case.status.value, allowed_actions=allowed_actions(case, actor))


# What a Member State's focal point does not see of its personnel's cases.
HIDDEN_FROM_STATES = {"victims", "description", "attachments", "subjects"}
HIDDEN_ENTRY_KINDS = {"assistance", "paternity_claim"}


class CasePublic(DomainModel):
    """A case as a caller may see it: the case itself, which of its deadlines are overdue and the actions the
    caller may take now. A Member State's focal point is not sent ``victims``, ``description``,
    ``attachments`` or ``subjects`` (the keys are absent, not null) nor the victims' entries of ``record``.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "case_id": "3f6c1f1e-6b1d-4c39-9a55-0f7f2c1d9a10",
                    "reference": "MINUSCA-2026-0042",
                    "version": 3,
                    "status": "preliminary_assessment",
                    "opened_at": "2026-03-02T09:15:00Z",
                    "mission": "MINUSCA",
                    "personnel_category": "formed_police_unit",
                    "police_contributing_country": "SEN",
                    "unit": "FPU-2",
                    "category": "category_1",
                    "allegation_type": "sexual_exploitation",
                    "reported_on": "2026-03-01",
                    "how_reported": "community-based complaint mechanism",
                    "alleged_perpetrators": 1,
                    "victims_adult": 1,
                    "victims_minor": 0,
                    "deadlines": [],
                    "record": [],
                    "overdue": [],
                    "allowed_actions": ["refer_for_investigation", "close_not_credible"],
                }
            ]
        }
    )

    case_id: str
    reference: str = Field(description="Said aloud on the phone: MISSION-YEAR-SEQUENCE")
    version: int = Field(description="Also the ETag: send it back in If-Match to take a step")
    status: CaseStatus
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
    description: str | None = Field(None, description="Absent for a Member State's focal point")
    assigned_officer: str | None = None
    subjects: list[Subject] | None = Field(None, description="Absent for a Member State's focal point")
    victims: list[Victim] | None = Field(None, description="Absent for a Member State's focal point")
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
    attachments: list[Attachment] | None = Field(None, description="Absent for a Member State's focal point")
    overdue: list[DeadlineKind] = Field(description="The deadlines missed or past due now")
    allowed_actions: list[str] = Field(description="The actions this caller may take on the case now")


def visible(case: Case, actor: Actor, now: datetime) -> CasePublic:
    """The case as this caller may see it: never a victim's identity; a State sees only its part.

    Built from a full dump, so that every key the caller may see is *set*: an API answering with
    ``exclude_unset`` sends those, and leaves out the hidden ones."""
    body: dict[str, Any] = case.model_dump()
    body["overdue"] = [d.kind for d in case.overdue(now)]
    body["allowed_actions"] = allowed_actions(case, actor)
    if actor.role not in ("conduct_officer", "admin"):
        for key in HIDDEN_FROM_STATES:
            body.pop(key, None)
        body["record"] = [e for e in body["record"] if e["kind"] not in HIDDEN_ENTRY_KINDS]
    return CasePublic.model_validate(body)
