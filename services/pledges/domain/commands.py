"""The steps a pledge takes after submission, as the State, the secretariat or the system asks for them:
one model per step, told apart by ``action`` (the body of POST /pledges/{id}/actions)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from uncops_contracts.pledges import ProgressStage

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]


class Closed(BaseModel):
    """A model of the pledge domain: an unknown field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Evidence(Closed):
    """Metadata of a document backing a report (the document itself stays with the State)."""

    title: str = Field(min_length=1, max_length=300)
    url: str | None = Field(None, max_length=1000)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None


class Acknowledge(Closed):
    model_config = ConfigDict(json_schema_extra={"examples": [{"action": "acknowledge"}]})

    action: Literal["acknowledge"] = "acknowledge"


class StartReview(Closed):
    model_config = ConfigDict(json_schema_extra={"examples": [{"action": "start_review"}]})

    action: Literal["start_review"] = "start_review"


class Accept(Closed):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"action": "accept", "note": "Consistent with the force generation plan"}]
        }
    )

    action: Literal["accept"] = "accept"
    note: str = Field("", max_length=2000)


class RequestClarification(Closed):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"action": "request_clarification", "questions": "Which units will the officers come from?"}
            ]
        }
    )

    action: Literal["request_clarification"] = "request_clarification"
    questions: Reason


class Resubmit(Closed):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "resubmit",
                    "answer": "The officers come from the national gendarmerie's FPU training centre.",
                }
            ]
        }
    )

    action: Literal["resubmit"] = "resubmit"
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)] | None = (
        None
    )
    answer: Reason


class Edit(Closed):
    """The State corrects its pledge before review starts (after that, through clarification)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"action": "edit", "target_date": "2030-12-31"}]}
    )

    action: Literal["edit"] = "edit"
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)] | None = (
        None
    )
    target_date: date | None = None
    amount: Decimal | None = Field(None, gt=0, max_digits=18, decimal_places=2)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None


class Reject(Closed):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"action": "reject", "reason": "Outside the scope of the summit's commitments"}]
        }
    )

    action: Literal["reject"] = "reject"
    reason: Reason


class ReportProgress(Closed):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "report_progress",
                    "period": "2026-H1",
                    "stage": "in_progress",
                    "value": "18",
                    "narrative": "Two more women commanders deployed.",
                }
            ]
        }
    )

    action: Literal["report_progress"] = "report_progress"
    period: Annotated[str, StringConstraints(pattern=r"^\d{4}(-(H[12]|Q[1-4]|\d{2}))?$")] = Field(
        examples=["2026-H1"]
    )
    stage: ProgressStage
    value: Decimal | None = None
    narrative: str = Field("", max_length=10000)
    evidence: list[Evidence] = Field(default_factory=list, max_length=50)


class ConfirmFulfilment(Closed):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "confirm_fulfilment",
                    "evidence": "Deployment records of the Department of Peace Operations",
                }
            ]
        }
    )

    action: Literal["confirm_fulfilment"] = "confirm_fulfilment"
    evidence: Reason


class Extend(Closed):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"action": "extend", "days": 180, "reason": "Deployment delayed by the mission's drawdown"}
            ]
        }
    )

    action: Literal["extend"] = "extend"
    days: int = Field(ge=1, le=1095)
    reason: Reason


class Withdraw(Closed):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"action": "withdraw", "reason": "The State withdraws the pledge"}]}
    )

    action: Literal["withdraw"] = "withdraw"
    reason: Reason


class RecordDelivery(Closed):
    """Money received for a financial-support pledge, as the summit service recorded it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "record_delivery",
                    "receipt_id": "rcpt-0001",
                    "amount": "250000.00",
                    "currency": "USD",
                }
            ]
        }
    )

    action: Literal["record_delivery"] = "record_delivery"
    receipt_id: str
    amount: Decimal = Field(gt=0)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    # A reversing entry (funding_receipt_reversed): the receipt whose money is taken back, once.
    reverses: str | None = None


class RecordCompactSignature(Closed):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"action": "record_compact_signature", "signed_on": "2026-05-04"}]}
    )

    action: Literal["record_compact_signature"] = "record_compact_signature"
    signed_on: date


Command = Annotated[
    Acknowledge
    | StartReview
    | Accept
    | RequestClarification
    | Resubmit
    | Edit
    | Reject
    | ReportProgress
    | ConfirmFulfilment
    | Extend
    | Withdraw
    | RecordDelivery
    | RecordCompactSignature,
    Field(discriminator="action"),
]
