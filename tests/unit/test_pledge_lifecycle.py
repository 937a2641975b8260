"""The pledge lifecycle in plain Python (services/pledges/domain/pledge.py): every transition through
``apply``, who may do what, the report cadence, the traffic light, the timers, deliveries and the Compact
signature."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.common.actor import Actor
from services.common.errors import Conflict, InvalidField
from services.pledges.domain.commands import (
    Accept,
    Acknowledge,
    ConfirmFulfilment,
    Edit,
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
from services.pledges.domain.pledge import (
    STATUS_ACTIONS,
    Outcome,
    Pledge,
    allowed_actions,
    apply,
    fire_alarm,
    next_alarm,
)
from uncops_contracts.pledges import PledgeKind, PledgeStatus, ProgressStage, TrafficLight
from uncops_contracts.policies import PledgePolicy

POLICY = PledgePolicy()
T0 = datetime(2027, 1, 15, 9, 30, tzinfo=UTC)

STATE = Actor(subject="fp-gha", role="state_focal_point", member_state="GHA")
PLANNER = Actor(subject="planner-1", role="planner")
SYSTEM = Actor(subject="uncops-summit-funding", role="system")
ADMIN = Actor(subject="admin-1", role="admin")
CONDUCT = Actor(subject="co-1", role="conduct_officer")
PARTNER = Actor(subject="partner-1", role="partner")

EVERY_COMMAND: dict[str, Any] = {
    "acknowledge": Acknowledge(),
    "start_review": StartReview(),
    "accept": Accept(),
    "request_clarification": RequestClarification(questions="Which units, and by when?"),
    "resubmit": Resubmit(answer="The two FPUs deployed to MINUSCA."),
    "edit": Edit(title="Women in formed police units, corrected"),
    "reject": Reject(reason="outside the summit's scope"),
    "report_progress": ReportProgress(period="2027-H1", stage=ProgressStage.IN_PROGRESS),
    "confirm_fulfilment": ConfirmFulfilment(evidence="deployment records verified"),
    "extend": Extend(days=180, reason="procurement delayed"),
    "withdraw": Withdraw(reason="budget reallocated"),
    "record_delivery": RecordDelivery(receipt_id="r-1", amount=Decimal("10"), currency="USD"),
    "record_compact_signature": RecordCompactSignature(signed_on=date(2027, 2, 1)),
}
STATE_ACTIONS = {"edit", "resubmit", "report_progress", "withdraw"}
SECRETARIAT_ACTIONS = {
    "acknowledge",
    "start_review",
    "accept",
    "request_clarification",
    "reject",
    "confirm_fulfilment",
    "extend",
    "record_compact_signature",
}


def pledge(
    kind: PledgeKind = PledgeKind.GENDER_PARITY,
    status: PledgeStatus = PledgeStatus.SUBMITTED,
    **fields: Any,
) -> Pledge:
    return Pledge(
        pledge_id="p-1",
        member_state="GHA",
        kind=kind,
        title="Women in FPUs",
        summit="UNCOPS-2018",
        submitted_at=T0 - timedelta(days=10),
        status=status,
        **fields,
    )


def step(p: Pledge, command: Any, actor: Actor = PLANNER, at: datetime = T0) -> Pledge:
    return apply(p, command, actor, at, POLICY).pledge


def accepted(kind: PledgeKind = PledgeKind.GENDER_PARITY, at: datetime = T0, **fields: Any) -> Pledge:
    p = pledge(kind, **fields)
    for command in (Acknowledge(), StartReview(), Accept()):
        p = step(p, command, at=at)
    return p


def event_types(outcome: Outcome) -> list[str]:
    return [e.type for e in outcome.events]


def payload(outcome: Outcome) -> dict[str, Any]:
    """The first event's payload as JSON, as the outbox stores it."""
    found: dict[str, Any] = outcome.events[0].payload.model_dump(mode="json")
    return found


# ---------------------------------------------------------------- who may do what


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        (STATE, STATE_ACTIONS),
        (PLANNER, SECRETARIAT_ACTIONS),
        (SYSTEM, {"record_delivery"}),
        (ADMIN, STATE_ACTIONS | SECRETARIAT_ACTIONS),
        (CONDUCT, set()),
        (PARTNER, set()),
    ],
    ids=lambda v: v.role if isinstance(v, Actor) else "",
)
@pytest.mark.parametrize("status", list(PledgeStatus))
def test_allowed_actions_are_the_status_actions_this_role_may_take(
    status: PledgeStatus, actor: Actor, expected: set[str]
) -> None:
    p = pledge(status=status)
    # A signature is a step only on a Voluntary Compact pledge.
    expected = expected - (
        {"record_compact_signature"} if p.kind is not PledgeKind.VOLUNTARY_COMPACT else set()
    )
    assert allowed_actions(p, actor) == [a for a in STATUS_ACTIONS[status] if a in expected]


ACTORS = [STATE, PLANNER, SYSTEM, ADMIN, CONDUCT, PARTNER]
REFUSED = [
    (action, status, actor)
    for action in EVERY_COMMAND
    for status in PledgeStatus
    for actor in ACTORS
    if action not in allowed_actions(pledge(status=status), actor)
]
ALLOWED = [
    (action, status, actor)
    for action in EVERY_COMMAND
    for status in PledgeStatus
    for actor in ACTORS
    if action in allowed_actions(pledge(status=status), actor)
]


def _id(value: Any) -> str:
    return value.role if isinstance(value, Actor) else str(value)


@pytest.mark.parametrize(("action", "status", "actor"), REFUSED, ids=_id)
def test_an_action_not_allowed_is_a_conflict_naming_the_state_and_the_allowed_actions(
    action: str, status: PledgeStatus, actor: Actor
) -> None:
    p = pledge(status=status)
    with pytest.raises(Conflict) as refused:
        apply(p, EVERY_COMMAND[action], actor, T0, POLICY)

    assert refused.value.status_code == 409
    assert refused.value.state == status.value
    assert refused.value.allowed_actions == allowed_actions(p, actor)
    assert refused.value.body() == {
        "detail": refused.value.detail,
        "state": status.value,
        "allowed_actions": allowed_actions(p, actor),
    }


@pytest.mark.parametrize(("action", "status", "actor"), ALLOWED, ids=_id)
def test_an_allowed_action_is_taken_and_recorded(action: str, status: PledgeStatus, actor: Actor) -> None:
    p = pledge(
        PledgeKind.VOLUNTARY_COMPACT,
        status=status,
        accepted_at=T0 - timedelta(days=5),
        next_report_due=T0 + timedelta(days=100),
        target_date=(T0 + timedelta(days=300)).date(),
    )
    out = apply(p, EVERY_COMMAND[action], actor, T0, POLICY)
    assert out.action == action
    assert out.pledge.version == p.version + 1
    assert out.pledge.history[-1].action == action
    assert out.pledge.history[-1].by_role == actor.role


def test_ended_pledges_allow_nothing_and_fulfilled_only_takes_money() -> None:
    for status in (PledgeStatus.REJECTED, PledgeStatus.LAPSED, PledgeStatus.WITHDRAWN):
        assert STATUS_ACTIONS[status] == ()
    assert allowed_actions(pledge(status=PledgeStatus.FULFILLED), SYSTEM) == ["record_delivery"]
    assert allowed_actions(pledge(status=PledgeStatus.FULFILLED), ADMIN) == []


# ---------------------------------------------------------------- transitions


def test_review_path_acknowledge_start_review_accept() -> None:
    p = pledge()
    ack = apply(p, Acknowledge(), PLANNER, T0, POLICY)
    assert ack.pledge.status is PledgeStatus.ACKNOWLEDGED
    assert event_types(ack) == ["org.un.uncops.pledges.pledge_acknowledged.v1"]
    assert ack.pledge.version == p.version + 1
    assert p.status is PledgeStatus.SUBMITTED  # apply is pure: the input is untouched

    review = apply(ack.pledge, StartReview(), PLANNER, T0, POLICY)
    assert review.pledge.status is PledgeStatus.UNDER_REVIEW and review.events == []

    accept = apply(review.pledge, Accept(note="well specified"), PLANNER, T0, POLICY)
    assert accept.pledge.status is PledgeStatus.ACCEPTED
    assert accept.pledge.accepted_at == T0
    assert event_types(accept) == ["org.un.uncops.pledges.pledge_accepted.v1"]
    assert payload(accept)["first_report_due"] == str(
        (T0 + timedelta(days=POLICY.first_report_after_days)).date()
    )
    assert [(h.action, h.by_role, h.note) for h in accept.pledge.history] == [
        ("acknowledge", "planner", ""),
        ("start_review", "planner", ""),
        ("accept", "planner", "well specified"),
    ]
    assert accept.pledge.version == 4


def test_clarification_goes_back_to_the_state_and_returns_under_review() -> None:
    p = step(step(pledge(), Acknowledge()), StartReview())
    asked = apply(p, RequestClarification(questions="Which units?"), PLANNER, T0, POLICY)
    assert asked.pledge.status is PledgeStatus.CLARIFICATION_REQUESTED
    assert asked.pledge.questions == "Which units?"
    assert event_types(asked) == ["org.un.uncops.pledges.pledge_clarification_requested.v1"]
    assert allowed_actions(asked.pledge, PLANNER) == []
    assert allowed_actions(asked.pledge, STATE) == ["resubmit", "withdraw"]

    answered = apply(
        asked.pledge, Resubmit(title="Women in two FPUs", answer="MINUSCA, by 2027"), STATE, T0, POLICY
    )
    assert answered.pledge.status is PledgeStatus.UNDER_REVIEW
    assert answered.pledge.title == "Women in two FPUs"
    assert answered.pledge.history[-1].note == "MINUSCA, by 2027"

    untitled = step(asked.pledge, Resubmit(answer="MINUSCA, by 2027"), STATE)
    assert untitled.title == "Women in FPUs"


def test_rejection_keeps_its_reason_and_ends_the_pledge() -> None:
    p = step(step(pledge(), Acknowledge()), StartReview())
    rejected = apply(p, Reject(reason="outside the summit's scope"), PLANNER, T0, POLICY)
    assert rejected.pledge.status is PledgeStatus.REJECTED
    assert rejected.pledge.reason == "outside the summit's scope"
    assert event_types(rejected) == ["org.un.uncops.pledges.pledge_rejected.v1"]
    assert payload(rejected)["reason"] == "outside the summit's scope"
    assert next_alarm(rejected.pledge, POLICY) is None


@pytest.mark.parametrize(
    "status",
    [
        PledgeStatus.SUBMITTED,
        PledgeStatus.ACKNOWLEDGED,
        PledgeStatus.UNDER_REVIEW,
        PledgeStatus.CLARIFICATION_REQUESTED,
        PledgeStatus.ACCEPTED,
        PledgeStatus.IN_PROGRESS,
    ],
)
def test_the_state_may_withdraw_until_the_pledge_ends(status: PledgeStatus) -> None:
    p = pledge(status=status, next_report_due=T0 + timedelta(days=30), lapse_at=T0 + timedelta(days=400))
    out = apply(p, Withdraw(reason="budget reallocated"), STATE, T0, POLICY)
    assert out.pledge.status is PledgeStatus.WITHDRAWN
    assert out.pledge.reason == "budget reallocated"
    assert out.pledge.next_report_due is None and out.pledge.lapse_at is None
    assert event_types(out) == ["org.un.uncops.pledges.pledge_withdrawn.v1"]
    assert next_alarm(out.pledge, POLICY) is None


def test_the_secretariat_confirms_fulfilment_with_evidence() -> None:
    p = accepted()
    done = apply(p, ConfirmFulfilment(evidence="deployment records verified"), PLANNER, T0, POLICY)
    assert done.pledge.status is PledgeStatus.FULFILLED
    assert done.pledge.fulfilment_evidence == "deployment records verified"
    assert done.pledge.next_report_due is None and done.pledge.lapse_at is None
    assert event_types(done) == ["org.un.uncops.pledges.pledge_fulfilled.v1"]
    assert done.pledge.traffic_light(T0, POLICY) is None
    assert next_alarm(done.pledge, POLICY) is None


def test_a_report_needs_an_accepted_pledge_and_moves_it_in_progress() -> None:
    for status in (PledgeStatus.SUBMITTED, PledgeStatus.UNDER_REVIEW, PledgeStatus.FULFILLED):
        with pytest.raises(Conflict):
            apply(pledge(status=status), EVERY_COMMAND["report_progress"], STATE, T0, POLICY)
    p = accepted()
    out = apply(
        p,
        ReportProgress(
            period="2027-H1", stage=ProgressStage.IN_PROGRESS, value=Decimal("14"), narrative="ok"
        ),
        STATE,
        T0 + timedelta(days=20),
        POLICY,
    )
    assert out.pledge.status is PledgeStatus.IN_PROGRESS
    assert [(r.period, r.value, r.by) for r in out.pledge.reports] == [("2027-H1", Decimal("14"), "fp-gha")]
    assert event_types(out) == ["org.un.uncops.pledges.pledge_progress_reported.v1"]
    assert payload(out)["traffic_light"] == "green"


def test_a_second_report_for_the_same_period_is_refused_by_field() -> None:
    p = step(accepted(), EVERY_COMMAND["report_progress"], STATE)
    with pytest.raises(InvalidField) as refused:
        apply(p, EVERY_COMMAND["report_progress"], STATE, T0, POLICY)
    assert refused.value.field == "period"


# ---------------------------------------------------------------- report cadence


def test_the_first_report_is_due_first_report_after_days_after_acceptance() -> None:
    p = accepted()
    assert p.next_report_due == T0 + timedelta(days=POLICY.first_report_after_days)
    custom = PledgePolicy(first_report_after_days=90)
    q = pledge(status=PledgeStatus.UNDER_REVIEW)
    assert apply(q, Accept(), PLANNER, T0, custom).pledge.next_report_due == T0 + timedelta(days=90)


def test_a_report_within_the_period_moves_the_due_date_by_a_period() -> None:
    p = accepted()
    due = T0 + timedelta(days=365)
    # The period that ends at the due date starts report_every_days before it.
    within = due - timedelta(days=POLICY.report_every_days)
    out = apply(p, EVERY_COMMAND["report_progress"], STATE, within, POLICY)
    assert out.pledge.next_report_due == due + timedelta(days=POLICY.report_every_days)
    assert payload(out)["next_report_due"] == str((due + timedelta(days=POLICY.report_every_days)).date())
    late_in_period = apply(p, EVERY_COMMAND["report_progress"], STATE, due - timedelta(days=1), POLICY)
    assert late_in_period.pledge.next_report_due == due + timedelta(days=POLICY.report_every_days)


def test_an_early_report_leaves_the_due_date() -> None:
    p = accepted()
    due = T0 + timedelta(days=365)
    early = due - timedelta(days=POLICY.report_every_days, seconds=1)
    out = apply(p, EVERY_COMMAND["report_progress"], STATE, early, POLICY)
    assert out.pledge.next_report_due == due
    assert out.pledge.status is PledgeStatus.IN_PROGRESS


def test_a_report_after_a_miss_clears_it_and_the_next_due_date_follows_the_rolled_one() -> None:
    p = accepted()
    due = T0 + timedelta(days=365)
    missed = fire_alarm(p.model_copy(update={"reminded": True}), "overdue", due, POLICY)
    assert missed is not None
    assert missed.pledge.next_report_due == due + timedelta(days=182)
    out = apply(missed.pledge, EVERY_COMMAND["report_progress"], STATE, T0 + timedelta(days=400), POLICY)
    assert out.pledge.missed_reports == 0
    assert out.pledge.reminded is False
    assert out.pledge.next_report_due == due + timedelta(days=2 * 182)
    assert out.pledge.traffic_light(T0 + timedelta(days=400), POLICY) is TrafficLight.GREEN


# ---------------------------------------------------------------- traffic light


def test_traffic_light_green_amber_red_inactive() -> None:
    due = T0 + timedelta(days=365)
    p = accepted()
    assert p.traffic_light(T0, POLICY) is TrafficLight.GREEN
    amber_from = due - timedelta(days=POLICY.remind_before_days)
    assert p.traffic_light(amber_from - timedelta(seconds=1), POLICY) is TrafficLight.GREEN
    assert p.traffic_light(amber_from, POLICY) is TrafficLight.AMBER
    assert p.model_copy(update={"missed_reports": 1}).traffic_light(T0, POLICY) is TrafficLight.RED
    inactive = p.model_copy(update={"missed_reports": POLICY.inactive_after_missed})
    assert inactive.traffic_light(T0, POLICY) is TrafficLight.INACTIVE
    assert (
        p.model_copy(update={"missed_reports": 2}).traffic_light(T0, PledgePolicy(inactive_after_missed=3))
        is TrafficLight.RED
    )


@pytest.mark.parametrize(
    "status", [s for s in PledgeStatus if s not in (PledgeStatus.ACCEPTED, PledgeStatus.IN_PROGRESS)]
)
def test_traffic_light_is_none_for_a_pledge_not_live(status: PledgeStatus) -> None:
    p = pledge(status=status, next_report_due=T0 + timedelta(days=10), missed_reports=1)
    assert p.traffic_light(T0, POLICY) is None


def test_traffic_light_is_none_without_a_due_date() -> None:
    assert pledge(status=PledgeStatus.ACCEPTED).traffic_light(T0, POLICY) is None


# ---------------------------------------------------------------- timers


def test_first_alarm_is_the_reminder_then_overdue() -> None:
    due = T0 + timedelta(days=365)
    p = accepted()
    assert next_alarm(p, POLICY) == (due - timedelta(days=30), "remind")

    assert fire_alarm(p, "remind", due - timedelta(days=31), POLICY) is None  # too early
    assert fire_alarm(p, "overdue", due, POLICY) is None  # not the alarm due next
    reminded = fire_alarm(p, "remind", due - timedelta(days=30), POLICY)
    assert reminded is not None
    assert reminded.action == "timer:remind"
    assert reminded.pledge.reminded is True
    assert reminded.pledge.version == p.version + 1
    assert reminded.pledge.history[-1].action == "timer:remind"
    assert reminded.pledge.history[-1].by_role == "system"
    assert event_types(reminded) == ["org.un.uncops.pledges.pledge_report_due.v1"]
    assert payload(reminded)["due_on"] == str(due.date())
    assert reminded.pledge.traffic_light(due - timedelta(days=30), POLICY) is TrafficLight.AMBER
    assert next_alarm(reminded.pledge, POLICY) == (due, "overdue")


def test_overdue_rolls_the_due_date_counts_the_miss_and_turns_red_then_inactive() -> None:
    due = T0 + timedelta(days=365)
    p = step(accepted(), EVERY_COMMAND["report_progress"], STATE, at=T0 + timedelta(days=10))
    p = p.model_copy(update={"reminded": True})
    first = fire_alarm(p, "overdue", due, POLICY)
    assert first is not None
    assert first.action == "timer:overdue"
    assert first.pledge.missed_reports == 1
    assert first.pledge.reminded is False
    assert first.pledge.next_report_due == due + timedelta(days=182)
    assert first.pledge.status is PledgeStatus.IN_PROGRESS
    assert event_types(first) == ["org.un.uncops.pledges.pledge_report_overdue.v1"]
    assert payload(first)["due_on"] == str(due.date())
    assert payload(first)["missed_reports"] == 1
    assert payload(first)["traffic_light"] == "red"
    # No reminder while a report is missing: the next alarm is the next overdue.
    assert next_alarm(first.pledge, POLICY) == (due + timedelta(days=182), "overdue")

    second = fire_alarm(first.pledge, "overdue", due + timedelta(days=182), POLICY)
    assert second is not None
    assert second.pledge.missed_reports == 2
    assert payload(second)["traffic_light"] == "inactive"
    assert second.pledge.traffic_light(due + timedelta(days=182), POLICY) is TrafficLight.INACTIVE


def test_lapse_at_target_date_plus_grace_unless_extended() -> None:
    target = (T0 + timedelta(days=200)).date()
    p = accepted(target_date=target)
    lapse_at = datetime.combine(target, T0.timetz()) + timedelta(days=POLICY.lapse_grace_days)
    assert p.lapse_at == lapse_at
    # The lapse (day 290) comes before the first reminder (day 335).
    assert next_alarm(p, POLICY) == (lapse_at, "lapse")
    assert fire_alarm(p, "lapse", lapse_at - timedelta(seconds=1), POLICY) is None
    lapsed = fire_alarm(p, "lapse", lapse_at, POLICY)
    assert lapsed is not None
    assert lapsed.action == "timer:lapse"
    assert lapsed.pledge.status is PledgeStatus.LAPSED
    assert lapsed.pledge.next_report_due is None and lapsed.pledge.lapse_at is None
    assert event_types(lapsed) == ["org.un.uncops.pledges.pledge_lapsed.v1"]
    assert payload(lapsed)["target_date"] == str(target)
    assert next_alarm(lapsed.pledge, POLICY) is None

    extended = apply(
        p, Extend(days=365, reason="procurement delayed"), PLANNER, T0 + timedelta(days=100), POLICY
    )
    assert extended.pledge.target_date == target + timedelta(days=365)
    assert extended.pledge.lapse_at == lapse_at + timedelta(days=365)
    assert extended.events == []
    assert extended.pledge.history[-1].note == "procurement delayed"
    assert fire_alarm(extended.pledge, "lapse", lapse_at, POLICY) is None  # the old timer does nothing
    assert next_alarm(extended.pledge, POLICY) == (T0 + timedelta(days=335), "remind")


def test_no_lapse_without_a_target_date_and_extend_needs_one() -> None:
    p = accepted()
    assert p.lapse_at is None
    with pytest.raises(InvalidField) as refused:
        apply(p, Extend(days=30, reason="more time"), PLANNER, T0, POLICY)
    assert refused.value.field == "days"


def test_the_grace_period_is_the_policys() -> None:
    target = (T0 + timedelta(days=200)).date()
    p = pledge(status=PledgeStatus.UNDER_REVIEW, target_date=target)
    out = apply(p, Accept(), PLANNER, T0, PledgePolicy(lapse_grace_days=0))
    assert out.pledge.lapse_at == datetime.combine(target, T0.timetz())


def test_no_alarm_for_a_pledge_not_yet_accepted() -> None:
    for status in (PledgeStatus.SUBMITTED, PledgeStatus.UNDER_REVIEW, PledgeStatus.FULFILLED):
        assert next_alarm(pledge(status=status, next_report_due=T0), POLICY) is None
        assert fire_alarm(pledge(status=status, next_report_due=T0), "overdue", T0, POLICY) is None


# ---------------------------------------------------------------- deliveries and signatures


def financial(amount: str = "300000.00", currency: str = "USD") -> Pledge:
    return accepted(PledgeKind.FINANCIAL_SUPPORT, amount=Decimal(amount), currency=currency)


def deliver(p: Pledge, receipt: str, amount: str, currency: str = "USD") -> Outcome:
    command = RecordDelivery(receipt_id=receipt, amount=Decimal(amount), currency=currency)
    return apply(p, command, SYSTEM, T0 + timedelta(days=30), POLICY)


def test_deliveries_add_up_and_fulfil_a_financial_pledge_at_its_amount() -> None:
    first = deliver(financial(), "r-1", "100000.00")
    assert first.pledge.delivered == {"USD": Decimal("100000.00")}
    assert first.pledge.status is PledgeStatus.ACCEPTED and first.events == []
    second = deliver(first.pledge, "r-2", "200000.00")
    assert second.pledge.delivered == {"USD": Decimal("300000.00")}
    assert second.pledge.status is PledgeStatus.FULFILLED
    assert second.pledge.fulfilment_evidence == "300000.00 USD received"
    assert event_types(second) == ["org.un.uncops.pledges.pledge_fulfilled.v1"]
    # Money arriving after fulfilment is still counted, without a second fulfilment.
    more = deliver(second.pledge, "r-3", "5.00")
    assert more.pledge.delivered == {"USD": Decimal("300005.00")} and more.events == []


def test_more_than_the_amount_fulfils_too() -> None:
    out = deliver(financial("1000"), "r-1", "1500")
    assert out.pledge.status is PledgeStatus.FULFILLED


def test_money_in_another_currency_is_recorded_but_does_not_fulfil() -> None:
    out = deliver(financial("1000", "USD"), "r-1", "5000", "EUR")
    assert out.pledge.delivered == {"EUR": Decimal("5000")}
    assert out.pledge.status is PledgeStatus.ACCEPTED and out.events == []


def test_money_for_a_pledge_that_is_not_financial_does_not_fulfil_it() -> None:
    p = accepted(amount=Decimal("10"), currency="USD")
    out = deliver(p, "r-1", "10")
    assert out.pledge.status is PledgeStatus.ACCEPTED
    assert out.pledge.delivered == {"USD": Decimal("10")}


def test_the_same_receipt_again_is_not_counted_twice() -> None:
    once = deliver(financial(), "r-1", "100000.00")
    again = deliver(once.pledge, "r-1", "100000.00")
    assert again.pledge.delivered == {"USD": Decimal("100000.00")}
    assert again.pledge.receipts == ["r-1"]
    assert again.events == []
    assert again.pledge.status is PledgeStatus.ACCEPTED


def test_the_same_receipt_again_leaves_the_pledge_exactly_as_it_was() -> None:
    """A redelivered funding event must be harmless (services/pledges/consumers.py says so). It is not
    quite: ``apply`` still bumps the version and appends a ``record_delivery`` history entry, so the stored
    pledge changes, a client's If-Match goes stale, and the history shows a delivery that did not happen."""
    once = deliver(financial(), "r-1", "100000.00")
    again = deliver(once.pledge, "r-1", "100000.00")
    assert again.pledge.version == once.pledge.version
    assert again.pledge.history == once.pledge.history


def test_money_before_acceptance_counts_but_fulfils_nothing_yet() -> None:
    p = pledge(PledgeKind.FINANCIAL_SUPPORT, amount=Decimal("10"), currency="USD")
    out = deliver(p, "r-1", "10")
    assert out.pledge.delivered == {"USD": Decimal("10")}
    assert out.pledge.status is PledgeStatus.SUBMITTED and event_types(out) == []


def test_a_compact_signature_fulfils_a_voluntary_compact_pledge() -> None:
    p = accepted(PledgeKind.VOLUNTARY_COMPACT)
    out = apply(p, RecordCompactSignature(signed_on=date(2027, 2, 1)), PLANNER, T0, POLICY)
    assert out.pledge.status is PledgeStatus.FULFILLED
    assert out.pledge.fulfilment_evidence == "Voluntary Compact signed on 2027-02-01"
    assert event_types(out) == ["org.un.uncops.pledges.pledge_fulfilled.v1"]


@pytest.mark.parametrize("kind", [k for k in PledgeKind if k is not PledgeKind.VOLUNTARY_COMPACT])
def test_a_signature_does_not_fulfil_any_other_kind(kind: PledgeKind) -> None:
    p = accepted(kind)
    assert "record_compact_signature" not in allowed_actions(p, PLANNER)
    with pytest.raises(Conflict):
        apply(p, RecordCompactSignature(signed_on=date(2027, 2, 1)), PLANNER, T0, POLICY)


def test_only_the_secretariat_records_a_signature_and_only_the_system_records_money() -> None:
    p = accepted(PledgeKind.VOLUNTARY_COMPACT)
    with pytest.raises(Conflict):
        apply(p, RecordCompactSignature(signed_on=date(2027, 2, 1)), STATE, T0, POLICY)
    with pytest.raises(Conflict):
        apply(financial(), EVERY_COMMAND["record_delivery"], PLANNER, T0, POLICY)
    with pytest.raises(Conflict):
        apply(financial(), EVERY_COMMAND["record_delivery"], ADMIN, T0, POLICY)


def test_a_reversed_receipt_takes_its_money_back_once() -> None:
    counted = deliver(financial(), "r-1", "100000.00")
    reverse = RecordDelivery(receipt_id="rev-1", amount=Decimal("100000.00"), currency="USD", reverses="r-1")
    back = apply(counted.pledge, reverse, SYSTEM, T0 + timedelta(days=31), POLICY)
    assert back.pledge.delivered == {"USD": Decimal("0.00")} and back.events == []
    again = apply(back.pledge, reverse, SYSTEM, T0 + timedelta(days=32), POLICY)  # redelivered
    assert again.pledge.delivered == {"USD": Decimal("0.00")} and again.pledge.version == back.pledge.version
    # A reversal of a receipt never counted (refused earlier) takes nothing back.
    stray = RecordDelivery(receipt_id="rev-2", amount=Decimal("5.00"), currency="USD", reverses="r-9")
    assert apply(back.pledge, stray, SYSTEM, T0 + timedelta(days=33), POLICY).pledge.delivered == {
        "USD": Decimal("0.00")
    }
