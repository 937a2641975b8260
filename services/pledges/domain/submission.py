"""A pledge submission in plain Python: what a valid one is, the pledge it starts and the event it makes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from services.common.errors import InvalidField
from services.common.text import NoNul
from services.pledges.domain.pledge import Pledge
from uncops_contracts.pledges import PledgeKind, PledgeSubmitted, PledgeTerms
from uncops_contracts.reference import is_member_state

# Upper-cased before the pattern is checked (pydantic checks a pattern before its own to_upper).
MemberStateCode = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(examples=["CHN"]),
]
# NoNul as well as the routes' own check (services/common/text.py): an import's rows arrive unchecked.
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300), NoNul]
Text = Annotated[str, NoNul]

SUPPORT_KINDS = frozenset({PledgeKind.FINANCIAL_SUPPORT, PledgeKind.POLITICAL_SUPPORT})


# An indicator's baseline or target, stored as NUMERIC(20, 4): up to 16 digits before the point and 4 after.
# A larger one is refused naming the field rather than failing the insert (a 500, found by schemathesis);
# so is a fifth decimal, which the column would round (9999999999999999.99999 up to an overflow).
MEASURE_LIMIT = Decimal(10) ** 16
Measure = Annotated[Decimal, Field(gt=-MEASURE_LIMIT, lt=MEASURE_LIMIT, decimal_places=4)]


class PledgeTermsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator: Text | None = Field(None, max_length=300)
    baseline: Measure | None = None
    target: Measure | None = None
    unit: Text | None = Field(None, max_length=50)
    target_date: date | None = None
    resources: Text | None = Field(None, max_length=2000)
    amount: Decimal | None = Field(None, gt=0, max_digits=18, decimal_places=2)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None


class PledgeSubmission(BaseModel):
    """What a Member State submits."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "member_state": "GHA",
                    "summit": "UNCOPS-III",
                    "kind": "gender_parity",
                    "title": "Women in formed police units",
                    "text": "Ghana raises the share of women in its formed police units.",
                    "terms": {
                        "indicator": "Share of women in FPUs",
                        "baseline": "12",
                        "target": "25",
                        "unit": "percent",
                        "target_date": "2030-12-31",
                    },
                }
            ]
        },
    )

    member_state: MemberStateCode
    co_sponsors: list[MemberStateCode] = Field(default_factory=list, max_length=50)
    summit: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,40}$")] = "UNCOPS-2018"
    kind: PledgeKind
    title: ShortText
    text: Text = Field("", max_length=20000)
    terms: PledgeTermsIn = Field(default_factory=PledgeTermsIn)
    supports_summit: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,40}$")] | None = (
        None
    )

    @model_validator(mode="after")
    def _rules(self) -> Self:
        check_submission(self, today=datetime.now(UTC).date())
        return self

    def fingerprint(self) -> str:
        """Identifies the request body, so a reused Idempotency-Key with another body is caught."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def check_submission(submission: PledgeSubmission, today: date) -> None:
    terms = submission.terms
    if not is_member_state(submission.member_state):
        raise InvalidField("member_state", f"{submission.member_state} is not a UN Member State")
    for code in submission.co_sponsors:
        if not is_member_state(code):
            raise InvalidField("co_sponsors", f"{code} is not a UN Member State")
    if submission.member_state in submission.co_sponsors:
        raise InvalidField("co_sponsors", "the lead State cannot also be a co-sponsor")
    if len(set(submission.co_sponsors)) != len(submission.co_sponsors):
        raise InvalidField("co_sponsors", "a State is listed twice")
    if terms.target_date is not None and terms.target_date < today:
        raise InvalidField("terms.target_date", f"{terms.target_date} is before the pledge date {today}")
    if submission.kind is PledgeKind.FINANCIAL_SUPPORT and (terms.amount is None or terms.currency is None):
        field = "terms.amount" if terms.amount is None else "terms.currency"
        raise InvalidField(field, "a financial pledge needs an amount and a currency")
    if (terms.amount is None) != (terms.currency is None):
        raise InvalidField("terms.currency", "amount and currency go together")
    if submission.supports_summit is not None and submission.kind not in SUPPORT_KINDS:
        raise InvalidField("supports_summit", "only financial or political support pledges support a summit")


def initial_state(
    pledge_id: str, submission: PledgeSubmission, submitted_at: datetime, duplicates: list[str]
) -> Pledge:
    return Pledge(
        pledge_id=pledge_id,
        member_state=submission.member_state,
        co_sponsors=submission.co_sponsors,
        kind=submission.kind,
        title=submission.title,
        summit=submission.summit,
        supports_summit=submission.supports_summit,
        target_date=submission.terms.target_date,
        amount=submission.terms.amount,
        currency=submission.terms.currency,
        submitted_at=submitted_at,
        possible_duplicate_of=duplicates,
    )


def submitted_event(pledge_id: str, submission: PledgeSubmission, submitted_at: datetime) -> PledgeSubmitted:
    return PledgeSubmitted(
        pledge_id=pledge_id,
        member_state=submission.member_state,
        co_sponsors=submission.co_sponsors,
        summit=submission.summit,
        kind=submission.kind,
        title=submission.title,
        terms=PledgeTerms(**submission.terms.model_dump()),
        supports_summit=submission.supports_summit,
        submitted_at=submitted_at,
    )
