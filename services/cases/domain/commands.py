"""The steps a case takes after intake, one model per action, and ``Command``, their union by ``action``."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from services.cases.domain.case import DomainModel, Note
from services.common.errors import InvalidField
from uncops_contracts.cases import (
    ClosureReason,
    DeadlineKind,
    Finding,
    InterimMeasure,
    InvestigatingEntity,
    NationalAction,
    ProsecutionOutcome,
    UnAction,
)

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]
Pseudonym = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,40}$")
]


class StartAssessment(DomainModel):
    action: Literal["start_assessment"] = "start_assessment"


class CloseNotCredible(DomainModel):
    action: Literal["close_not_credible"] = "close_not_credible"
    reason: Reason


class ReferForInvestigation(DomainModel):
    action: Literal["refer_for_investigation"] = "refer_for_investigation"
    entity: InvestigatingEntity | None = Field(None, description="Default: by category and personnel type")
    urgent: bool | None = None


class ReplyToNotification(DomainModel):
    """The police-contributing country's answer: will it investigate, and who is its NIO."""

    action: Literal["reply_to_notification"] = "reply_to_notification"
    investigates: bool
    joint: bool = False
    national_investigation_officer: str | None = Field(None, max_length=200)
    note: Note = ""


class NameNio(DomainModel):
    action: Literal["name_nio"] = "name_nio"
    national_investigation_officer: str = Field(min_length=2, max_length=200)


class ReportProgress(DomainModel):
    action: Literal["report_progress"] = "report_progress"
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=5000)]


class RecordFinding(DomainModel):
    action: Literal["record_finding"] = "record_finding"
    finding: Finding
    summary: Note = ""


class AddInterimMeasure(DomainModel):
    action: Literal["add_interim_measure"] = "add_interim_measure"
    measure: InterimMeasure
    on: date
    note: Note = ""


class RecordUnAction(DomainModel):
    action: Literal["record_un_action"] = "record_un_action"
    taken: UnAction
    on: date
    note: Note = ""


class RecordNationalAction(DomainModel):
    action: Literal["record_national_action"] = "record_national_action"
    taken: NationalAction
    on: date
    note: Note = ""


class ReferForProsecution(DomainModel):
    action: Literal["refer_for_prosecution"] = "refer_for_prosecution"
    on: date
    note: Note = ""


class RecordHearing(DomainModel):
    action: Literal["record_hearing"] = "record_hearing"
    on: date
    court: str = Field(min_length=2, max_length=200)
    charges: str | None = Field(None, max_length=2000)
    note: Note = ""


class RecordProsecutionOutcome(DomainModel):
    action: Literal["record_prosecution_outcome"] = "record_prosecution_outcome"
    outcome: ProsecutionOutcome
    on: date
    sentence: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _sentence(self) -> Self:
        if self.outcome is ProsecutionOutcome.CONVICTED and not self.sentence:
            raise InvalidField("sentence", "a conviction records its sentence")
        return self


class CloseCase(DomainModel):
    action: Literal["close"] = "close"
    reason: ClosureReason
    note: Reason


class ReopenCase(DomainModel):
    action: Literal["reopen"] = "reopen"
    reason: Reason


class ExtendDeadline(DomainModel):
    action: Literal["extend_deadline"] = "extend_deadline"
    kind: DeadlineKind
    days: int = Field(ge=1, le=365)
    reason: Reason


class PauseDeadline(DomainModel):
    action: Literal["pause_deadline"] = "pause_deadline"
    kind: DeadlineKind
    reason: Reason


class ResumeDeadline(DomainModel):
    action: Literal["resume_deadline"] = "resume_deadline"
    kind: DeadlineKind
    note: Note = ""


class RecordNoteVerbale(DomainModel):
    action: Literal["record_note_verbale"] = "record_note_verbale"
    direction: Literal["sent", "received"]
    reference: str = Field(min_length=2, max_length=100)
    on: date
    subject: Note = ""


class AddVictim(DomainModel):
    action: Literal["add_victim"] = "add_victim"
    victim_id: str
    pseudonym: Pseudonym
    minor: bool
    # Identity and contact data travel apart, encrypted (see CaseCommandRequest); the case only knows
    # whether there are some.
    has_identity: bool = False


class AddSubject(DomainModel):
    action: Literal["add_subject"] = "add_subject"
    subject_id: str
    pseudonym: Pseudonym
    rank: str | None = Field(None, max_length=100)


class RecordPaternityClaim(DomainModel):
    action: Literal["record_paternity_claim"] = "record_paternity_claim"
    status: Literal["received", "dna_requested", "established", "not_established", "support_ordered"]
    on: date
    note: Note = ""


class RecordAssistance(DomainModel):
    action: Literal["record_assistance"] = "record_assistance"
    kind: Literal["medical", "psychosocial", "legal", "material", "trust_fund_project", "other"]
    on: date
    note: Note = ""


# A media type as RFC 9110 writes it (type "/" subtype, then any parameters): a download answers it as its
# Content-Type, so a malformed one (which a client cannot parse) is refused at upload.
_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def attachment_media_type(content_type: str | None) -> str:
    """The media type an attachment is kept under: its upload's Content-Type, application/octet-stream if
    none."""
    if content_type is None:
        return "application/octet-stream"
    if len(content_type) > 200 or not _MEDIA_TYPE.fullmatch(content_type.split(";", 1)[0].strip()):
        raise InvalidField("Content-Type", "a media type of at most 200 characters, e.g. application/pdf")
    return content_type


class AddAttachment(DomainModel):
    action: Literal["add_attachment"] = "add_attachment"
    attachment_id: str
    filename: str = Field(min_length=1, max_length=255)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    size: int = Field(ge=0)
    content_type: str = Field(max_length=200)


class AssignOfficer(DomainModel):
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
    Field(
        discriminator="action",
        description="One step on a case; ``action`` names it and decides the other fields",
        examples=[
            {"action": "start_assessment"},
            {"action": "refer_for_investigation", "entity": "police_contributing_country", "urgent": True},
            {
                "action": "reply_to_notification",
                "investigates": True,
                "national_investigation_officer": "Insp. N. Example",
            },
            {
                "action": "record_finding",
                "finding": "substantiated",
                "summary": "Corroborated by two witnesses.",
            },
            {"action": "record_un_action", "taken": "repatriation", "on": "2026-05-04"},
            {"action": "close", "reason": "action_completed", "note": "Repatriated and barred from service."},
            {"action": "extend_deadline", "kind": "investigation", "days": 30, "reason": "a witness abroad"},
            {
                "action": "record_note_verbale",
                "direction": "sent",
                "reference": "NV/2026/117",
                "on": "2026-05-02",
            },
        ],
    ),
]
