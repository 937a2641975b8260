"""Events of pledge intake and follow-up, published on ``uncops.pledges.v1`` by the pledges service."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints

from uncops_contracts.envelope import EventPayload
from uncops_contracts.topics import PLEDGES

MemberStateCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class PledgeKind(StrEnum):
    """The commitments named in the 2018 Chair's Note."""

    GENDER_PARITY = "gender_parity"
    REPRESENTATIVE_ACCOUNTABLE_POLICE = "representative_accountable_police"
    CONTINGENT_STANDARDS = "contingent_standards"
    EQUIPMENT_TRAINING = "equipment_training"
    MISCONDUCT_ACCOUNTABILITY = "misconduct_accountability"
    PREDEPLOYMENT_SEA_TRAINING = "predeployment_sea_training"
    VOLUNTARY_COMPACT = "voluntary_compact"
    FRENCH_SPEAKING_OFFICERS = "french_speaking_officers"
    NON_MISSION_SETTINGS = "non_mission_settings"
    FINANCIAL_SUPPORT = "financial_support"
    POLITICAL_SUPPORT = "political_support"
    OTHER = "other"


class PledgeTerms(EventPayload):
    """The measurable terms of a pledge (SMART: indicator, baseline, target, unit, date, resources)."""

    indicator: str | None = None
    baseline: Decimal | None = None
    target: Decimal | None = None
    unit: str | None = None
    target_date: date | None = None
    resources: str | None = None
    amount: Decimal | None = Field(default=None, description="Money pledged, for financial pledges")
    currency: CurrencyCode | None = None


class _PledgeEvent(EventPayload):
    domain: ClassVar[str] = "pledges"
    topic: ClassVar[str] = PLEDGES.name
    source: ClassVar[str] = "/uncops/pledges"


class PledgeSubmitted(_PledgeEvent):
    name: ClassVar[str] = "pledge_submitted"
    description: ClassVar[str] = (
        "A Member State submitted a pledge; it awaits acknowledgement by the secretariat."
    )

    pledge_id: str
    member_state: MemberStateCode
    co_sponsors: list[MemberStateCode] = Field(default_factory=list)
    summit: str
    kind: PledgeKind
    title: str
    terms: PledgeTerms
    supports_summit: str | None = Field(
        default=None, description="For financial or political support: the summit the support is for"
    )
    submitted_at: datetime


class PledgeStatus(StrEnum):
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    UNDER_REVIEW = "under_review"
    CLARIFICATION_REQUESTED = "clarification_requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    FULFILLED = "fulfilled"
    LAPSED = "lapsed"
    WITHDRAWN = "withdrawn"


class TrafficLight(StrEnum):
    """Reporting health of an accepted pledge, as pledge registries show it."""

    GREEN = "green"  # reported within the period
    AMBER = "amber"  # a report is due
    RED = "red"  # a report is overdue
    INACTIVE = "inactive"  # two reports missed in a row


class ProgressStage(StrEnum):
    PLANNING = "planning"
    IN_PROGRESS = "in_progress"
    FULFILLED = "fulfilled"


class _PledgeChange(_PledgeEvent):
    pledge_id: str
    member_state: MemberStateCode
    kind: PledgeKind
    status: PledgeStatus
    occurred_at: datetime
    pledge_version: int


class PledgeAcknowledged(_PledgeChange):
    name: ClassVar[str] = "pledge_acknowledged"
    description: ClassVar[str] = "The secretariat acknowledged receipt of a pledge."


class PledgeAccepted(_PledgeChange):
    name: ClassVar[str] = "pledge_accepted"
    description: ClassVar[str] = "The secretariat accepted a pledge; its follow-up cadence starts."

    first_report_due: date


class PledgeRejected(_PledgeChange):
    name: ClassVar[str] = "pledge_rejected"
    description: ClassVar[str] = "The secretariat rejected a pledge, with its reason."

    reason: str


class PledgeClarificationRequested(_PledgeChange):
    name: ClassVar[str] = "pledge_clarification_requested"
    description: ClassVar[str] = "The secretariat sent a pledge back to its State with questions."

    questions: str


class PledgeProgressReported(_PledgeChange):
    name: ClassVar[str] = "pledge_progress_reported"
    description: ClassVar[str] = "A State reported progress on an accepted pledge."

    period: str
    stage: ProgressStage
    value: Decimal | None = None
    traffic_light: TrafficLight
    next_report_due: date | None


class PledgeReportOverdue(_PledgeChange):
    name: ClassVar[str] = "pledge_report_overdue"
    description: ClassVar[str] = "A progress report was due and did not come."

    due_on: date
    missed_reports: int
    traffic_light: TrafficLight


class PledgeFulfilled(_PledgeChange):
    name: ClassVar[str] = "pledge_fulfilled"
    description: ClassVar[str] = "The secretariat confirmed a pledge fulfilled (by report or by evidence)."

    evidence: str


class PledgeLapsed(_PledgeChange):
    name: ClassVar[str] = "pledge_lapsed"
    description: ClassVar[str] = "An accepted pledge passed its target date and grace period unfulfilled."

    target_date: date | None


class PledgeWithdrawn(_PledgeChange):
    name: ClassVar[str] = "pledge_withdrawn"
    description: ClassVar[str] = "The pledging State withdrew its pledge."

    reason: str


class PledgeReportDue(_PledgeChange):
    name: ClassVar[str] = "pledge_report_due"
    description: ClassVar[str] = "Reminder: a progress report on an accepted pledge falls due soon."

    due_on: date
