"""A pledge's life after submission, in plain Python: review, acceptance, progress reports on a cadence,
the traffic light, fulfilment (by report or by evidence from elsewhere), lapse, withdrawal.

``apply(pledge, command, actor, now, policy)`` is pure: the pledge workflow runs it in its Update validator
(to refuse before anything is written) and in the handler; ``fire_alarm`` does the same for its timers.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.actor import Actor as Actor  # part of this module's vocabulary
from services.common.errors import Conflict, InvalidField
from uncops_contracts.envelope import EventPayload
from uncops_contracts.pledges import (
    PledgeAccepted,
    PledgeAcknowledged,
    PledgeClarificationRequested,
    PledgeFulfilled,
    PledgeKind,
    PledgeLapsed,
    PledgeProgressReported,
    PledgeRejected,
    PledgeReportDue,
    PledgeReportOverdue,
    PledgeStatus,
    PledgeWithdrawn,
    ProgressStage,
    TrafficLight,
)
from uncops_contracts.policies import PledgePolicy

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Evidence(_Model):
    """Metadata of a document backing a report (the document itself stays with the State)."""

    title: str = Field(min_length=1, max_length=300)
    url: str | None = Field(None, max_length=1000)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None


class Report(_Model):
    period: str
    stage: ProgressStage
    value: Decimal | None = None
    narrative: str = ""
    evidence: list[Evidence] = []
    reported_at: datetime
    by: str


class HistoryEntry(_Model):
    action: str
    at: datetime
    by_role: str
    note: str = ""


class Pledge(_Model):
    pledge_id: str
    member_state: str
    co_sponsors: list[str] = []
    kind: PledgeKind
    title: str
    summit: str
    supports_summit: str | None = None
    target_date: date | None = None
    amount: Decimal | None = None
    currency: str | None = None
    status: PledgeStatus = PledgeStatus.SUBMITTED
    version: int = 1
    submitted_at: datetime
    accepted_at: datetime | None = None
    next_report_due: datetime | None = None
    reminded: bool = False
    missed_reports: int = 0
    lapse_at: datetime | None = None
    reports: list[Report] = []
    history: list[HistoryEntry] = []
    delivered: dict[str, Decimal] = {}
    receipts: list[str] = []
    possible_duplicate_of: list[str] = []
    questions: str | None = None
    reason: str | None = None
    fulfilment_evidence: str | None = None

    def traffic_light(self, now: datetime, policy: PledgePolicy) -> TrafficLight | None:
        if self.status not in LIVE or self.next_report_due is None:
            return None
        if self.missed_reports >= policy.inactive_after_missed:
            return TrafficLight.INACTIVE
        if self.missed_reports:
            return TrafficLight.RED
        if now >= self.next_report_due - timedelta(days=policy.remind_before_days):
            return TrafficLight.AMBER
        return TrafficLight.GREEN


LIVE = frozenset({PledgeStatus.ACCEPTED, PledgeStatus.IN_PROGRESS})

# ---------------------------------------------------------------- commands


class Acknowledge(_Model):
    action: Literal["acknowledge"] = "acknowledge"


class StartReview(_Model):
    action: Literal["start_review"] = "start_review"


class Accept(_Model):
    action: Literal["accept"] = "accept"
    note: str = Field("", max_length=2000)


class RequestClarification(_Model):
    action: Literal["request_clarification"] = "request_clarification"
    questions: Reason


class Resubmit(_Model):
    action: Literal["resubmit"] = "resubmit"
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)] | None = (
        None
    )
    answer: Reason


class Edit(_Model):
    """The State corrects its pledge before review starts (after that, through clarification)."""

    action: Literal["edit"] = "edit"
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)] | None = (
        None
    )
    target_date: date | None = None
    amount: Decimal | None = Field(None, gt=0, max_digits=18, decimal_places=2)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None


class Reject(_Model):
    action: Literal["reject"] = "reject"
    reason: Reason


class ReportProgress(_Model):
    action: Literal["report_progress"] = "report_progress"
    period: Annotated[str, StringConstraints(pattern=r"^\d{4}(-(H[12]|Q[1-4]|\d{2}))?$")] = Field(
        examples=["2026-H1"]
    )
    stage: ProgressStage
    value: Decimal | None = None
    narrative: str = Field("", max_length=10000)
    evidence: list[Evidence] = Field(default_factory=list, max_length=50)


class ConfirmFulfilment(_Model):
    action: Literal["confirm_fulfilment"] = "confirm_fulfilment"
    evidence: Reason


class Extend(_Model):
    action: Literal["extend"] = "extend"
    days: int = Field(ge=1, le=1095)
    reason: Reason


class Withdraw(_Model):
    action: Literal["withdraw"] = "withdraw"
    reason: Reason


class RecordDelivery(_Model):
    """Money received for a financial-support pledge, as the summit service recorded it."""

    action: Literal["record_delivery"] = "record_delivery"
    receipt_id: str
    amount: Decimal = Field(gt=0)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class RecordCompactSignature(_Model):
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

STATUS_ACTIONS: dict[PledgeStatus, tuple[str, ...]] = {
    PledgeStatus.SUBMITTED: ("acknowledge", "edit", "withdraw", "record_delivery"),
    PledgeStatus.ACKNOWLEDGED: ("start_review", "edit", "withdraw", "record_delivery"),
    PledgeStatus.UNDER_REVIEW: ("accept", "request_clarification", "reject", "withdraw", "record_delivery"),
    PledgeStatus.CLARIFICATION_REQUESTED: ("resubmit", "withdraw", "record_delivery"),
    PledgeStatus.ACCEPTED: (
        "report_progress",
        "confirm_fulfilment",
        "extend",
        "withdraw",
        "record_delivery",
        "record_compact_signature",
    ),
    PledgeStatus.IN_PROGRESS: (
        "report_progress",
        "confirm_fulfilment",
        "extend",
        "withdraw",
        "record_delivery",
        "record_compact_signature",
    ),
    PledgeStatus.REJECTED: (),
    PledgeStatus.FULFILLED: ("record_delivery",),
    PledgeStatus.LAPSED: (),
    PledgeStatus.WITHDRAWN: (),
}
# The pledging State's part; the secretariat (planner) does the rest; deliveries come from the system.
STATE_ACTIONS = frozenset({"edit", "resubmit", "report_progress", "withdraw"})
SECRETARIAT_ACTIONS = frozenset(
    {
        "acknowledge",
        "start_review",
        "accept",
        "request_clarification",
        "reject",
        "confirm_fulfilment",
        "extend",
        "record_compact_signature",
    }
)
SYSTEM_ACTIONS = frozenset({"record_delivery"})


def allowed_actions(pledge: Pledge, actor: Actor) -> list[str]:
    actions = STATUS_ACTIONS[pledge.status]
    if pledge.kind is not PledgeKind.VOLUNTARY_COMPACT:
        actions = tuple(a for a in actions if a != "record_compact_signature")
    if actor.role == "admin":
        return [a for a in actions if a not in SYSTEM_ACTIONS]
    permitted = {
        "state_focal_point": STATE_ACTIONS,
        "planner": SECRETARIAT_ACTIONS,
        "system": SYSTEM_ACTIONS,
    }.get(actor.role, frozenset())
    return [a for a in actions if a in permitted]


class Outcome(_Model):
    pledge: Pledge
    action: str
    events: list[dict[str, Any]]


def apply(pledge: Pledge, command: Any, actor: Actor, now: datetime, policy: PledgePolicy) -> Outcome:
    action: str = command.action
    if action not in allowed_actions(pledge, actor):
        raise Conflict(
            f"{action} is not allowed on a {pledge.status.value} pledge for {actor.role}",
            state=pledge.status.value,
            allowed_actions=allowed_actions(pledge, actor),
        )
    if isinstance(command, RecordDelivery) and command.receipt_id in pledge.receipts:
        # The same receipt again (a redelivered event): nothing happens, not even a new version.
        return Outcome(pledge=pledge, action=action, events=[])
    new = pledge.model_copy(deep=True)
    events = _transition(new, command, actor, now, policy)
    new.version = pledge.version + 1
    new.history.append(HistoryEntry(action=action, at=now, by_role=actor.role, note=_note(command)))
    return Outcome(pledge=new, action=action, events=[_event(e) for e in events])


def _note(command: Any) -> str:
    for field in ("reason", "questions", "answer", "evidence", "note"):
        value = getattr(command, field, None)
        if isinstance(value, str):
            return value
    return ""


def _transition(
    p: Pledge, command: Any, actor: Actor, now: datetime, policy: PledgePolicy
) -> list[EventPayload]:
    base = {"pledge_id": p.pledge_id, "member_state": p.member_state, "kind": p.kind, "occurred_at": now}

    def fields() -> dict[str, Any]:
        return {**base, "status": p.status, "pledge_version": p.version + 1}

    match command:
        case Acknowledge():
            p.status = PledgeStatus.ACKNOWLEDGED
            return [PledgeAcknowledged(**fields())]
        case StartReview():
            p.status = PledgeStatus.UNDER_REVIEW
            return []
        case Accept():
            p.status = PledgeStatus.ACCEPTED
            p.accepted_at = now
            p.next_report_due = now + timedelta(days=policy.first_report_after_days)
            p.lapse_at = _lapse_at(p, policy)
            return [PledgeAccepted(**fields(), first_report_due=p.next_report_due.date())]
        case RequestClarification(questions=questions):
            p.status = PledgeStatus.CLARIFICATION_REQUESTED
            p.questions = questions
            return [PledgeClarificationRequested(**fields(), questions=questions)]
        case Resubmit(title=title):
            p.status = PledgeStatus.UNDER_REVIEW
            if title:
                p.title = title
            return []
        case Edit(title=title, target_date=target_date, amount=amount, currency=currency):
            if target_date is not None and target_date < now.date():
                raise InvalidField("target_date", f"{target_date} is in the past")
            if p.kind is PledgeKind.FINANCIAL_SUPPORT and (amount is None) != (currency is None):
                raise InvalidField("currency", "amount and currency change together")
            p.title = title or p.title
            p.target_date = target_date or p.target_date
            p.amount = amount or p.amount
            p.currency = currency or p.currency
            return []
        case Reject(reason=reason):
            p.status = PledgeStatus.REJECTED
            p.reason = reason
            return [PledgeRejected(**fields(), reason=reason)]
        case ReportProgress(period=period, stage=stage, value=value, narrative=narrative, evidence=evidence):
            if any(r.period == period for r in p.reports):
                raise InvalidField("period", f"a report for {period} was already made")
            p.reports.append(
                Report(
                    period=period,
                    stage=stage,
                    value=value,
                    narrative=narrative,
                    evidence=evidence,
                    reported_at=now,
                    by=actor.subject,
                )
            )
            p.status = PledgeStatus.IN_PROGRESS
            assert p.next_report_due is not None
            # A report made within the period that ends at the due date answers it; the next is due a period
            # later. (A missed due date was already rolled forward by its timer.)
            if now >= p.next_report_due - timedelta(days=policy.report_every_days):
                p.next_report_due += timedelta(days=policy.report_every_days)
            p.missed_reports = 0
            p.reminded = False
            light = p.traffic_light(now, policy) or TrafficLight.GREEN
            return [
                PledgeProgressReported(
                    **fields(),
                    period=period,
                    stage=stage,
                    value=value,
                    traffic_light=light,
                    next_report_due=p.next_report_due.date(),
                )
            ]
        case ConfirmFulfilment(evidence=evidence):
            return _fulfil(p, evidence, fields)
        case Extend(days=days, reason=reason):
            if p.target_date is None:
                raise InvalidField("days", "the pledge has no target date to extend")
            p.target_date = p.target_date + timedelta(days=days)
            p.lapse_at = _lapse_at(p, policy)
            return []
        case Withdraw(reason=reason):
            p.status = PledgeStatus.WITHDRAWN
            p.reason = reason
            p.next_report_due = None
            p.lapse_at = None
            return [PledgeWithdrawn(**fields(), reason=reason)]
        case RecordDelivery(receipt_id=receipt_id, amount=amount, currency=currency):
            if receipt_id in p.receipts:
                return []  # the same receipt again (a redelivered event): already counted
            p.receipts.append(receipt_id)
            p.delivered[currency] = p.delivered.get(currency, Decimal(0)) + amount
            if (
                p.status in LIVE
                and p.kind is PledgeKind.FINANCIAL_SUPPORT
                and p.amount is not None
                and p.currency == currency
                and p.delivered[currency] >= p.amount
            ):
                return _fulfil(p, f"{p.delivered[currency]} {currency} received", fields)
            return []
        case RecordCompactSignature(signed_on=signed_on):
            if p.kind is not PledgeKind.VOLUNTARY_COMPACT:
                raise InvalidField("action", "only a Voluntary Compact pledge is fulfilled by a signature")
            return _fulfil(p, f"Voluntary Compact signed on {signed_on}", fields)
    raise InvalidField("action", f"unknown action {command!r}")


def _fulfil(p: Pledge, evidence: str, fields: Any) -> list[EventPayload]:
    p.status = PledgeStatus.FULFILLED
    p.fulfilment_evidence = evidence
    p.next_report_due = None
    p.lapse_at = None
    return [PledgeFulfilled(**fields(), evidence=evidence)]


def _lapse_at(p: Pledge, policy: PledgePolicy) -> datetime | None:
    if p.target_date is None:
        return None
    assert p.accepted_at is not None
    end = datetime.combine(p.target_date, p.accepted_at.timetz())
    return end + timedelta(days=policy.lapse_grace_days)


# ---------------------------------------------------------------- timers


def next_alarm(p: Pledge, policy: PledgePolicy) -> tuple[datetime, str] | None:
    """(when, "remind" | "overdue" | "lapse") for a live pledge."""
    if p.status not in LIVE:
        return None
    alarms: list[tuple[datetime, str]] = []
    if p.next_report_due is not None:
        if not p.reminded and p.missed_reports == 0:
            alarms.append((p.next_report_due - timedelta(days=policy.remind_before_days), "remind"))
        alarms.append((p.next_report_due, "overdue"))
    if p.lapse_at is not None:
        alarms.append((p.lapse_at, "lapse"))
    return min(alarms) if alarms else None


def fire_alarm(p: Pledge, kind: str, now: datetime, policy: PledgePolicy) -> Outcome | None:
    alarm = next_alarm(p, policy)
    if alarm is None or alarm[1] != kind or now < alarm[0]:
        return None  # the pledge moved on since the timer was set
    new = p.model_copy(deep=True)
    new.version = p.version + 1
    base = {
        "pledge_id": p.pledge_id,
        "member_state": p.member_state,
        "kind": p.kind,
        "occurred_at": now,
        "pledge_version": new.version,
    }
    event: EventPayload
    if kind == "remind":
        new.reminded = True
        assert p.next_report_due is not None
        event = PledgeReportDue(**base, status=p.status, due_on=p.next_report_due.date())
    elif kind == "overdue":
        assert p.next_report_due is not None
        new.missed_reports += 1
        new.reminded = False
        new.next_report_due = p.next_report_due + timedelta(days=policy.report_every_days)
        light = new.traffic_light(now, policy) or TrafficLight.RED
        event = PledgeReportOverdue(
            **base,
            status=p.status,
            due_on=p.next_report_due.date(),
            missed_reports=new.missed_reports,
            traffic_light=light,
        )
    else:
        new.status = PledgeStatus.LAPSED
        new.next_report_due = None
        new.lapse_at = None
        event = PledgeLapsed(**base, status=new.status, target_date=p.target_date)
    new.history.append(HistoryEntry(action=f"timer:{kind}", at=now, by_role="system"))
    return Outcome(pledge=new, action=f"timer:{kind}", events=[_event(event)])


def _event(payload: EventPayload) -> dict[str, Any]:
    return {"type": payload.event_type(), "payload": payload.model_dump(mode="json")}
