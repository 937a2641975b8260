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
