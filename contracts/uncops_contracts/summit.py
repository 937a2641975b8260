"""Events of summit planning, published on ``uncops.summit.v1`` by the summit service."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from uncops_contracts.envelope import EventPayload
from uncops_contracts.topics import SUMMIT

MemberStateCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class _SummitEvent(EventPayload):
    domain: ClassVar[str] = "summit"
    topic: ClassVar[str] = SUMMIT.name
    source: ClassVar[str] = "/uncops/summit"


class SummitPlanned(_SummitEvent):
    name: ClassVar[str] = "summit_planned"
    description: ClassVar[str] = (
        "A planner created a summit; its plan of milestones starts from the template."
    )

    summit_id: str
    title: str = Field(description="The summit's name, e.g. Third United Nations Chiefs of Police Summit")
    venue: str
    starts_on: date
    ends_on: date
    languages: list[str]
    capacity: int
    host_support: str | None = None


class SummitRescheduled(_SummitEvent):
    name: ClassVar[str] = "summit_rescheduled"
    description: ClassVar[str] = "The summit's dates moved; every pending milestone was re-planned with them."

    summit_id: str
    starts_on: date
    ends_on: date
    previous_starts_on: date
    previous_ends_on: date
    milestones_moved: int


class _MilestoneEvent(_SummitEvent):
    milestone_id: str
    summit_id: str
    title: str
    due_at: datetime
    key: str | None = Field(default=None, description="The template's key, for milestones from the template")
    owner: str | None = Field(default=None, description="Who must act")


class MilestoneDue(_MilestoneEvent):
    name: ClassVar[str] = "milestone_due"
    description: ClassVar[str] = "A summit milestone reached its warning point before falling due."


class MilestoneCompleted(_MilestoneEvent):
    name: ClassVar[str] = "milestone_completed"
    description: ClassVar[str] = "A planner marked a summit milestone completed."

    completed_at: datetime
    completed_by: str


class MilestoneOverdue(_MilestoneEvent):
    name: ClassVar[str] = "milestone_overdue"
    description: ClassVar[str] = "A summit milestone passed its due date without being completed."


class MilestoneRescheduled(_MilestoneEvent):
    name: ClassVar[str] = "milestone_rescheduled"
    description: ClassVar[str] = (
        "A pending milestone got a new due date (the summit moved, or a planner moved it)."
    )

    previous_due_at: datetime


class DelegationStatus(StrEnum):
    """A Member State's delegation, from the note verbale inviting it to its confirmed attendance."""

    INVITED = "invited"
    REGISTERED = "registered"  # the State's focal point registered it; awaiting the secretariat's review
    WAITLISTED = "waitlisted"  # registered while the summit was full; moves up as places free
    UNDER_REVIEW = "under_review"
    ACCREDITED = "accredited"  # badges issued
    CONFIRMED = "confirmed"
    DECLINED = "declined"  # the State will not attend (or the secretariat refused the registration)
    WITHDRAWN = "withdrawn"  # registered, then withdrawn by the State
    EXPIRED = "expired"  # registration closed before the State registered


class HeadOfDelegation(StrEnum):
    MINISTER = "minister"
    CHIEF_OF_POLICE = "chief_of_police"
    OTHER = "other"


class _DelegationEvent(_SummitEvent):
    # Counts and functions only: names of delegates are personal data and never leave the service.
    delegation_id: str
    summit_id: str
    member_state: MemberStateCode
    status: DelegationStatus
    occurred_at: datetime
    delegation_version: int


class DelegationInvited(_DelegationEvent):
    name: ClassVar[str] = "delegation_invited"
    description: ClassVar[str] = "A Member State was invited to the summit by note verbale."

    note_verbale: str
    registration_deadline: datetime


class DelegationRegistrationDue(_DelegationEvent):
    name: ClassVar[str] = "delegation_registration_due"
    description: ClassVar[str] = "Reminder: an invited State has not registered and registration closes soon."

    registration_deadline: datetime


class DelegationRegistered(_DelegationEvent):
    name: ClassVar[str] = "delegation_registered"
    description: ClassVar[str] = "A State's focal point registered (or edited) its delegation."

    head_of_delegation: HeadOfDelegation
    members: int = Field(description="Persons in the delegation, head included")
    languages: list[str]


class DelegationWaitlisted(_DelegationEvent):
    name: ClassVar[str] = "delegation_waitlisted"
    description: ClassVar[str] = "A delegation registered while the summit was full; it waits for places."

    members: int
    position: int


class DelegationPromoted(_DelegationEvent):
    name: ClassVar[str] = "delegation_promoted"
    description: ClassVar[str] = "Places freed up and a waitlisted delegation moved up to registered."

    members: int


class DelegationAccredited(_DelegationEvent):
    name: ClassVar[str] = "delegation_accredited"
    description: ClassVar[str] = "The secretariat accredited a delegation and issued its badges."

    badges: int


class DelegationConfirmed(_DelegationEvent):
    name: ClassVar[str] = "delegation_confirmed"
    description: ClassVar[str] = "An accredited delegation's attendance is confirmed."

    members: int


class DelegationDeclined(_DelegationEvent):
    name: ClassVar[str] = "delegation_declined"
    description: ClassVar[str] = (
        "A delegation will not attend: the State declined, or its registration was refused."
    )

    reason: str


class DelegationWithdrawn(_DelegationEvent):
    name: ClassVar[str] = "delegation_withdrawn"
    description: ClassVar[str] = (
        "A State withdrew its registered delegation; its places go to the waiting list."
    )

    reason: str


class DelegationExpired(_DelegationEvent):
    name: ClassVar[str] = "delegation_expired"
    description: ClassVar[str] = "Registration closed and an invited State had not registered."

    registration_deadline: datetime


class ProgrammeChange(EventPayload):
    """One line of a release's changelog."""

    session_id: str
    change: Literal["added", "changed", "removed"]
    title: str
    fields: list[str] = Field(default_factory=list, description="For a change: which fields changed")


class ProgrammeReleased(_SummitEvent):
    name: ClassVar[str] = "programme_released"
    description: ClassVar[str] = (
        "A planner published a numbered version of the programme, with its changelog."
    )

    summit_id: str
    release: int = Field(description="The programme's version number: 1, 2, 3...")
    released_at: datetime
    released_by: str
    sessions: int
    changes: list[ProgrammeChange]
    note: str | None = None


class FundingGapAlert(_SummitEvent):
    name: ClassVar[str] = "funding_gap_alert"
    description: ClassVar[str] = (
        "A milestone is approaching while the budget's unfunded share is above the alert threshold."
    )

    summit_id: str
    milestone_id: str
    milestone_title: str
    due_at: datetime
    currency: CurrencyCode
    budget: Decimal
    pledged: Decimal
    received: Decimal
    gap: Decimal = Field(description="Budget minus money pledged or received, whichever is more")
    gap_ratio: float
    threshold: float


class FundingReceived(_SummitEvent):
    name: ClassVar[str] = "funding_received"
    description: ClassVar[str] = (
        "Money for a summit arrived; it counts towards the financial pledge it names."
    )

    receipt_id: str
    summit_id: str
    member_state: str
    pledge_id: str | None
    amount: Decimal
    currency: str
    received_on: date


class FundingReceiptReversed(_SummitEvent):
    name: ClassVar[str] = "funding_receipt_reversed"
    description: ClassVar[str] = (
        "A receipt recorded by mistake was reversed by a reversing entry; its money no longer counts, "
        "towards the summit or the pledge it named."
    )

    receipt_id: str = Field(description="The reversing entry's id")
    reverses_receipt_id: str = Field(description="The receipt_id of the funding_received it reverses")
    summit_id: str
    member_state: str
    pledge_id: str | None
    amount: Decimal = Field(description="The amount taken back (positive: the reversed receipt's amount)")
    currency: str
    reason: str
    reversed_at: datetime
    reversed_by: str
