"""Vocabulary and events of misconduct case tracking.

``uncops.cases.v1`` (restricted) carries every change of a case with its detail, never a victim's identity.
``uncops.cases.public.v1`` carries, per allegation, only the fields of the UN's public misconduct data:
counts, categories, mission, nationality, status, result, actions, days taken; never a name, a pseudonym or
free text.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints

from uncops_contracts.envelope import EventPayload
from uncops_contracts.topics import CASES, CASES_PUBLIC

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
YearMonth = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}$")]


class PersonnelCategory(StrEnum):
    INDIVIDUAL_POLICE_OFFICER = "individual_police_officer"  # an expert on mission: the UN investigates
    FORMED_POLICE_UNIT = "formed_police_unit"  # a contingent member: the PCC investigates
    OTHER_UN_POLICE = "other_un_police"


class MisconductCategory(StrEnum):
    CATEGORY_1 = "category_1"
    CATEGORY_2 = "category_2"


class AllegationType(StrEnum):
    # Sexual exploitation and abuse, as in the UN's public data; always Category 1.
    SEXUAL_EXPLOITATION = "sexual_exploitation"
    SEXUAL_ABUSE = "sexual_abuse"
    SEA_OTHER = "sea_other"
    SEA_UNKNOWN = "sea_unknown"
    # Other Category 1 (serious) misconduct.
    RISK_TO_LIFE = "risk_to_life"
    ASSAULT = "assault"
    TORTURE_OR_ABUSE_OF_DETAINEES = "torture_or_abuse_of_detainees"
    CORRUPTION_OR_FRAUD = "corruption_or_fraud"
    SIGNIFICANT_THEFT = "significant_theft"
    TRAFFICKING = "trafficking"
    OTHER_SERIOUS = "other_serious"
    # Category 2.
    HARASSMENT = "harassment"
    ABUSE_OF_AUTHORITY = "abuse_of_authority"
    MINOR_THEFT = "minor_theft"
    BREACH_OF_RULES = "breach_of_rules"
    TRAFFIC_OFFENCE = "traffic_offence"
    CURFEW_VIOLATION = "curfew_violation"
    OTHER_MINOR = "other_minor"


SEA_TYPES = frozenset(
    {
        AllegationType.SEXUAL_EXPLOITATION,
        AllegationType.SEXUAL_ABUSE,
        AllegationType.SEA_OTHER,
        AllegationType.SEA_UNKNOWN,
    }
)
CATEGORY_2_TYPES = frozenset(
    {
        AllegationType.HARASSMENT,
        AllegationType.ABUSE_OF_AUTHORITY,
        AllegationType.MINOR_THEFT,
        AllegationType.BREACH_OF_RULES,
        AllegationType.TRAFFIC_OFFENCE,
        AllegationType.CURFEW_VIOLATION,
        AllegationType.OTHER_MINOR,
    }
)


class InvestigatingEntity(StrEnum):
    OIOS = "oios"
    POLICE_CONTRIBUTING_COUNTRY = "police_contributing_country"
    MISSION = "mission"
    JOINT = "joint"  # the PCC and the UN together


class CaseStatus(StrEnum):
    RECEIVED = "received"
    PRELIMINARY_ASSESSMENT = "preliminary_assessment"
    AWAITING_PCC_REPLY = "awaiting_pcc_reply"
    UNDER_INVESTIGATION = "under_investigation"
    ACTION_PENDING = "action_pending"
    PROSECUTION = "prosecution"
    PROSECUTION_CONCLUDED = "prosecution_concluded"
    CLOSED = "closed"


class Finding(StrEnum):
    SUBSTANTIATED = "substantiated"
    NOT_SUBSTANTIATED = "not_substantiated"


class ClosureReason(StrEnum):
    NOT_CREDIBLE = "not_credible"
    NOT_SUBSTANTIATED = "not_substantiated"
    ACTION_COMPLETED = "action_completed"
    PROSECUTION_CONCLUDED = "prosecution_concluded"
    OTHER = "other"


class InterimMeasure(StrEnum):
    PAYMENT_SUSPENSION = "payment_suspension"
    ADMINISTRATIVE_LEAVE = "administrative_leave"
    REPATRIATION_PENDING_INVESTIGATION = "repatriation_pending_investigation"


class UnAction(StrEnum):
    REPATRIATION = "repatriation"
    BAN_FROM_FUTURE_SERVICE = "ban_from_future_service"
    PAYMENT_WITHHOLDING = "payment_withholding"
    SEPARATION_FROM_SERVICE = "separation_from_service"
    OTHER = "other"


class NationalAction(StrEnum):
    DISMISSAL = "dismissal"
    DEMOTION = "demotion"
    SUSPENSION = "suspension"
    FINE_OR_FORFEIT = "fine_or_forfeit"
    REPRIMAND = "reprimand"
    IMPRISONMENT = "imprisonment"
    OTHER = "other"


class ProsecutionOutcome(StrEnum):
    CONVICTED = "convicted"
    ACQUITTED = "acquitted"
    DISMISSED = "dismissed"


class DeadlineKind(StrEnum):
    PCC_REPLY = "pcc_reply"  # the Member State's reply to the notification
    INVESTIGATION = "investigation"
    FOLLOW_UP = "follow_up"  # on action taken and prosecution, until an outcome is reported


class ReviewFlagKind(StrEnum):
    """Security Council resolution 2272 (2016) review conditions."""

    UNIT_SEA_ALLEGATIONS = "unit_sea_allegations"
    PCC_FAILING_TO_ACT = "pcc_failing_to_act"


class CaseDeadline(EventPayload):
    kind: DeadlineKind
    due_at: datetime
    owner: str = Field(description="Who must act: police_contributing_country, investigating_entity, ...")
    overdue: bool
    paused: bool


class CaseSummary(EventPayload):
    """A case's detail as the restricted topic carries it: no victim identity and no pseudonym."""

    reference: str
    mission: str
    personnel_category: PersonnelCategory
    police_contributing_country: CountryCode
    unit: str | None
    category: MisconductCategory
    allegation_type: AllegationType
    urgent: bool
    incident_date: date | None
    reported_on: date
    alleged_perpetrators: int
    victims_adult: int
    victims_minor: int
    investigating_entity: InvestigatingEntity | None
    finding: Finding | None
    interim_measures: list[InterimMeasure]
    un_actions: list[UnAction]
    national_actions: list[NationalAction]
    referred_for_prosecution: bool
    prosecution_outcome: ProsecutionOutcome | None
    closure_reason: ClosureReason | None
    deadlines: list[CaseDeadline]
    assigned_officer: str | None = Field(
        default=None, description="The subject of the conduct officer the case is assigned to, once assigned"
    )


class _CaseEvent(EventPayload):
    domain: ClassVar[str] = "cases"
    topic: ClassVar[str] = CASES.name
    source: ClassVar[str] = "/uncops/cases"


class CaseChanged(_CaseEvent):
    name: ClassVar[str] = "case_changed"
    description: ClassVar[str] = (
        "A case was opened or changed: the action, the status before and after, the case."
    )

    case_id: str
    action: str
    from_status: CaseStatus | None
    to_status: CaseStatus
    actor_role: str
    occurred_at: datetime
    case_version: int
    case: CaseSummary


class CaseDeadlineApproaching(_CaseEvent):
    name: ClassVar[str] = "case_deadline_approaching"
    description: ClassVar[str] = "A case deadline reached its warning point (by default 80 % of its time)."

    case_id: str
    reference: str
    kind: DeadlineKind
    due_at: datetime
    owner: str
    police_contributing_country: CountryCode


class CaseDeadlineMissed(_CaseEvent):
    name: ClassVar[str] = "case_deadline_missed"
    description: ClassVar[str] = "A case deadline passed without the awaited step: escalated to who must act."

    case_id: str
    reference: str
    kind: DeadlineKind
    due_at: datetime
    owner: str
    police_contributing_country: CountryCode


class ReviewFlagRaised(_CaseEvent):
    name: ClassVar[str] = "review_flag_raised"
    description: ClassVar[str] = (
        "A Security Council resolution 2272 condition is met for a unit or a police-contributing country."
    )

    flag_id: str
    kind: ReviewFlagKind
    police_contributing_country: CountryCode
    unit: str | None
    case_ids: list[str]
    count: int
    threshold: int
    raised_at: datetime


class AllegationRecorded(EventPayload):
    """One allegation in the shape of the UN's public misconduct data; re-published whenever it changes."""

    domain: ClassVar[str] = "cases"
    topic: ClassVar[str] = CASES_PUBLIC.name
    source: ClassVar[str] = "/uncops/cases"
    name: ClassVar[str] = "allegation_recorded"
    description: ClassVar[str] = (
        "Public misconduct data for one allegation (no name, pseudonym or free text), sent on every change."
    )

    allegation_id: str = Field(description="Opaque id, stable per allegation; not the case reference")
    reported: YearMonth
    incident: YearMonth | None
    mission: str
    personnel_category: PersonnelCategory
    nationality: CountryCode
    category: MisconductCategory
    allegation_type: AllegationType
    alleged_perpetrators: int
    victims_adult: int
    victims_minor: int
    investigating_entity: InvestigatingEntity | None
    investigation_status: str
    investigation_days: int | None
    result: Finding | None
    interim_measures: list[InterimMeasure]
    un_actions: list[UnAction]
    national_actions: list[NationalAction]
    referred_for_criminal_accountability: bool
    prosecution_outcome: ProsecutionOutcome | None
    paternity_claims: int
