"""A pledge's life after submission, in plain Python: review, acceptance, progress reports on a cadence,
the traffic light, fulfilment (by report or by evidence from elsewhere), lapse, withdrawal.

``apply(pledge, command, actor, now, policy)`` is pure: the pledge workflow runs it in its Update validator
(to refuse before anything is written) and in the handler; ``fire_alarm`` does the same for its timers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Self, get_args

from pydantic import model_validator

from services.common.actor import Actor
from services.common.errors import Conflict, InvalidField
from services.pledges.domain.commands import (
    Accept,
    Acknowledge,
    Closed,
    Command,
    ConfirmFulfilment,
    Edit,
    Evidence,
    Extend,
    RecordCompactSignature,
    RecordDelivery,
    Reject,
    ReportProgress,
    RequestClarification,
    Resubmit,
    StartReview,
    Withdraw,
)
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

# What a pledge's steps and timers publish (its submission is published by intake, not by a step).
PledgeChangeEvent = (
    PledgeAcknowledged
    | PledgeAccepted
    | PledgeClarificationRequested
    | PledgeRejected
    | PledgeProgressReported
    | PledgeReportDue
    | PledgeReportOverdue
    | PledgeFulfilled
    | PledgeLapsed
    | PledgeWithdrawn
)
CHANGE_EVENTS: dict[str, type[PledgeChangeEvent]] = {
    cls.event_type(): cls for cls in get_args(PledgeChangeEvent)
}

# Pledges whose reports are followed (timers, traffic light).
LIVE = frozenset({PledgeStatus.ACCEPTED, PledgeStatus.IN_PROGRESS})
# Pledges whose workflow has ended: nothing more may happen to them. (A fulfilled pledge's workflow stays:
# money may still arrive for a financial one.)
ENDED = frozenset({PledgeStatus.REJECTED, PledgeStatus.LAPSED, PledgeStatus.WITHDRAWN})


class Report(Closed):
    period: str
    stage: ProgressStage
    value: Decimal | None = None
    narrative: str = ""
    evidence: list[Evidence] = []
    reported_at: datetime
    by: str


class HistoryEntry(Closed):
    action: str
    at: datetime
    by_role: str
    note: str = ""


class Pledge(Closed):
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


class StepEvent(Closed):
    """An event a step or a timer publishes, typed by its payload's model. Its JSON, ``{"type", "payload"}``,
    is what the workflow has always handed its activity (recorded histories hold it)."""

    type: str
    payload: PledgeChangeEvent

    @model_validator(mode="before")
    @classmethod
    def _payload_of_its_type(cls, data: Any) -> Any:
        # By ``type``, not by trying each model of the union: several payloads have the same fields.
        kind = CHANGE_EVENTS.get(data.get("type", "")) if isinstance(data, dict) else None
        if kind is not None and isinstance(data["payload"], dict):
            return {**data, "payload": kind.model_validate(data["payload"])}
        return data

    @classmethod
    def of(cls, payload: PledgeChangeEvent) -> Self:
        return cls(type=payload.event_type(), payload=payload)


class Outcome(Closed):
    pledge: Pledge
    action: str
    events: list[StepEvent]


def apply(pledge: Pledge, command: Command, actor: Actor, now: datetime, policy: PledgePolicy) -> Outcome:
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
    return Outcome(pledge=new, action=action, events=[StepEvent.of(e) for e in events])


def _note(command: Command) -> str:
    for field in ("reason", "questions", "answer", "evidence", "note"):
        value = getattr(command, field, None)
        if isinstance(value, str):
            return value
    return ""


def _transition(
    p: Pledge, command: Command, actor: Actor, now: datetime, policy: PledgePolicy
) -> list[PledgeChangeEvent]:
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
        case RecordDelivery(receipt_id=receipt_id, amount=amount, currency=currency, reverses=reverses):
            if receipt_id in p.receipts:
                return []  # the same receipt again (a redelivered event): already counted
            p.receipts.append(receipt_id)
            if reverses is not None:
                # A receipt recorded by mistake: its money goes back down if it was counted (a fulfilled
                # pledge stays fulfilled: the fulfilment was an event already published).
                if reverses in p.receipts:
                    p.delivered[currency] = p.delivered.get(currency, Decimal(0)) - amount
                return []
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


def _fulfil(p: Pledge, evidence: str, fields: Callable[[], dict[str, Any]]) -> list[PledgeChangeEvent]:
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
    event: PledgeChangeEvent
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
    return Outcome(pledge=new, action=f"timer:{kind}", events=[StepEvent.of(event)])
