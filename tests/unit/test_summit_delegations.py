"""Delegation rules without I/O: who may take which step, registration checks naming the field, the
deadline, places and the waiting list, badge numbers, reminders and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.errors import Conflict, InvalidField
from services.summit.domain.delegations import (
    Accredit,
    Actor,
    Confirm,
    Decline,
    Delegation,
    Register,
    StartReview,
    Withdraw,
    allowed_actions,
    apply,
    badge_number,
    badge_sequence,
    events_of,
    fire_alarm,
    next_alarm,
    placement,
    places_taken,
    promotions,
    registration_deadline,
)
from uncops_contracts.policies import SummitPolicy
from uncops_contracts.summit import DelegationStatus, HeadOfDelegation

POLICY = SummitPolicy()
NOW = datetime(2030, 3, 1, 12, tzinfo=UTC)
DEADLINE = NOW + timedelta(days=30)
PLANNER = Actor(subject="planner-1", role="planner")
GHANA = Actor(subject="fp-gha", role="state_focal_point", member_state="GHA")
SENEGAL = Actor(subject="fp-sen", role="state_focal_point", member_state="SEN")
PROOF = {
    "file_name": "credentials.pdf",
    "media_type": "application/pdf",
    "size_bytes": 1200,
    "sha256": "a" * 64,
}


def delegation(status: DelegationStatus = DelegationStatus.INVITED, **extra: Any) -> Delegation:
    fields: dict[str, Any] = {
        "delegation_id": "d-1",
        "summit_id": "UNCOPS-III",
        "member_state": "GHA",
        "status": status,
        "note_verbale": "PD/2030/GHA",
        "invited_at": NOW,
        "registration_deadline": DEADLINE,
    }
    return Delegation(**{**fields, **extra})


def registration(members: int = 4, **head: Any) -> Register:
    return Register.model_validate(
        {
            "head": {
                "full_name": "Ama Mensah",
                "function": "Inspector-General of Police",
                "languages": ["en", "fr"],
                "head_of_delegation": "chief_of_police",
                **head,
            },
            "members": [
                {"full_name": f"Officer {n}", "function": "Adviser", "languages": ["en"]}
                for n in range(members)
            ],
            "proof_document": PROOF,
        }
    )


def test_a_focal_point_registers_its_own_delegation_before_the_deadline() -> None:
    outcome = apply(delegation(), registration(4), GHANA, NOW, POLICY)
    new = outcome.delegation
    assert new.status is DelegationStatus.REGISTERED and new.version == 2
    assert new.members == 5 and new.head_of_delegation is HeadOfDelegation.CHIEF_OF_POLICE
    assert new.languages == ["en", "fr"]
    assert outcome.persons is not None
    assert [p.full_name for p in outcome.persons] == ["Ama Mensah", *(f"Officer {n}" for n in range(4))]


def test_over_the_limit_is_refused_naming_members() -> None:
    with pytest.raises(InvalidField) as refused:
        apply(delegation(), registration(POLICY.delegation_max_members), GHANA, NOW, POLICY)
    assert refused.value.field == "members" and "at most 10" in refused.value.reason
    # Exactly the limit, head included, is fine.
    apply(delegation(), registration(POLICY.delegation_max_members - 1), GHANA, NOW, POLICY)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"languages": ["english"]}, "head.languages"),
        ({"languages": ["xx"]}, "head.languages"),
        ({"languages": ["en", "en"]}, "head.languages"),
        ({"full_name": "Officer 1"}, "members[1].full_name"),
    ],
)
def test_bad_persons_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        apply(delegation(), registration(3, **change), GHANA, NOW, POLICY)
    assert refused.value.field == field


def test_after_the_deadline_the_state_is_refused_but_the_secretariat_may_register() -> None:
    late = DEADLINE + timedelta(seconds=1)
    for status in (DelegationStatus.INVITED, DelegationStatus.REGISTERED, DelegationStatus.EXPIRED):
        with pytest.raises(InvalidField) as refused:
            apply(delegation(status), registration(), GHANA, late, POLICY)
        assert refused.value.field == "registration_deadline"
    assert apply(
        delegation(DelegationStatus.EXPIRED), registration(), PLANNER, late, POLICY
    ).delegation.status is (DelegationStatus.REGISTERED)
    # Withdrawing (giving places back) stays open to the State.
    withdrawn = apply(
        delegation(DelegationStatus.CONFIRMED), Withdraw(reason="travel ban"), GHANA, late, POLICY
    )
    assert withdrawn.delegation.status is DelegationStatus.WITHDRAWN


def test_another_state_may_do_nothing() -> None:
    assert allowed_actions(delegation(), SENEGAL) == []
    with pytest.raises(Conflict):
        apply(delegation(), registration(), SENEGAL, NOW, POLICY)


def test_allowed_actions_per_role() -> None:
    assert allowed_actions(delegation(), GHANA) == ["register", "decline"]
    assert allowed_actions(delegation(DelegationStatus.REGISTERED), GHANA) == ["register", "withdraw"]
    assert allowed_actions(delegation(DelegationStatus.REGISTERED), PLANNER) == [
        "register",
        "start_review",
        "decline",
        "withdraw",
    ]
    assert allowed_actions(delegation(DelegationStatus.UNDER_REVIEW), GHANA) == ["withdraw"]
    assert allowed_actions(delegation(DelegationStatus.ACCREDITED), GHANA) == ["confirm", "withdraw"]
    assert allowed_actions(delegation(DelegationStatus.EXPIRED), GHANA) == []
    assert allowed_actions(delegation(DelegationStatus.WITHDRAWN), PLANNER) == []
    partner = Actor(subject="p", role="partner")
    assert allowed_actions(delegation(), partner) == []


def test_the_secretariat_reviews_accredits_and_the_state_confirms() -> None:
    d = delegation(DelegationStatus.REGISTERED, members=5)
    with pytest.raises(Conflict) as refused:
        apply(d, StartReview(), GHANA, NOW, POLICY)
    assert refused.value.state == "registered" and refused.value.allowed_actions == ["register", "withdraw"]
    d = apply(d, StartReview(), PLANNER, NOW, POLICY).delegation
    with pytest.raises(Conflict):
        apply(d, Confirm(), PLANNER, NOW, POLICY)
    d = apply(d, Accredit(), PLANNER, NOW, POLICY).delegation
    d = apply(d, Confirm(), GHANA, NOW, POLICY).delegation
    assert d.status is DelegationStatus.CONFIRMED and d.version == 4
    declined = apply(delegation(), Decline(reason="will not attend"), GHANA, NOW, POLICY).delegation
    assert declined.status is DelegationStatus.DECLINED and declined.reason == "will not attend"


def test_places_and_the_waiting_list() -> None:
    holding = [
        (DelegationStatus.REGISTERED, 10),
        (DelegationStatus.UNDER_REVIEW, 5),
        (DelegationStatus.ACCREDITED, 3),
        (DelegationStatus.CONFIRMED, 2),
        (DelegationStatus.WAITLISTED, 9),
        (DelegationStatus.WITHDRAWN, 7),
        (DelegationStatus.INVITED, 0),
    ]
    assert places_taken(holding) == 20
    assert placement(25, 20, 5) is DelegationStatus.REGISTERED
    assert placement(25, 20, 6) is DelegationStatus.WAITLISTED
    # First come first served; a large delegation does not hold back a smaller one behind it.
    assert promotions(30, 20, [("a", 8), ("b", 4), ("c", 3), ("d", 2)]) == ["a", "d"]
    assert promotions(30, 20, [("a", 11), ("b", 4), ("c", 5), ("d", 2)]) == ["b", "c"]
    assert promotions(30, 30, [("a", 1)]) == []
    assert promotions(25, 30, [("a", 1)]) == []  # capacity lowered below what is taken


def test_badge_numbers() -> None:
    assert badge_number("UNCOPS-III", 1) == "UNCOPS-III-0001"
    assert badge_number("UNCOPS-III", 12345) == "UNCOPS-III-12345"
    assert badge_sequence("UNCOPS-III", "UNCOPS-III-0042") == 42


def test_the_registration_deadline() -> None:
    milestone = NOW + timedelta(days=60)
    given = NOW + timedelta(days=10)
    assert registration_deadline(milestone, None, NOW) == milestone
    assert registration_deadline(milestone, given, NOW) == given
    with pytest.raises(InvalidField) as none:
        registration_deadline(None, None, NOW)
    assert none.value.field == "registration_deadline"
    with pytest.raises(InvalidField) as past:
        registration_deadline(None, NOW - timedelta(seconds=1), NOW)
    assert past.value.field == "registration_deadline"


def test_reminders_then_expiry() -> None:
    d = delegation()
    alarm = next_alarm(d, POLICY)
    assert alarm == (DEADLINE - timedelta(days=14), "remind:14")
    assert fire_alarm(d, "remind:14", alarm[0] - timedelta(seconds=1), POLICY) is None  # not yet
    reminded = fire_alarm(d, "remind:14", alarm[0], POLICY)
    assert reminded is not None and reminded.delegation.reminded == [14]
    d = reminded.delegation
    assert next_alarm(d, POLICY) == (DEADLINE - timedelta(days=3), "remind:3")
    d = d.model_copy(update={"reminded": [14, 3]})
    assert next_alarm(d, POLICY) == (DEADLINE, "expire")
    expired = fire_alarm(d, "expire", DEADLINE, POLICY)
    assert expired is not None and expired.delegation.status is DelegationStatus.EXPIRED
    assert [e.name for e in events_of("timer:expire", expired.delegation, DEADLINE)] == ["delegation_expired"]
    # Registered: no timers at all. Invited five days before the deadline: no 14-day reminder.
    assert next_alarm(delegation(DelegationStatus.REGISTERED), POLICY) is None
    late = delegation(invited_at=DEADLINE - timedelta(days=5))
    assert next_alarm(late, POLICY) == (DEADLINE - timedelta(days=3), "remind:3")


def test_events_carry_counts_never_names() -> None:
    outcome = apply(delegation(), registration(2), GHANA, NOW, POLICY)
    registered = events_of("register", outcome.delegation, NOW)
    assert [e.name for e in registered] == ["delegation_registered"]
    waitlisted = outcome.delegation.model_copy(update={"status": DelegationStatus.WAITLISTED})
    events = events_of("register", waitlisted, NOW, position=3)
    # delegation_registered means places are held: a waitlisted registration is delegation_waitlisted only.
    assert [e.name for e in events] == ["delegation_waitlisted"]
    dumped = str([e.model_dump(mode="json") for e in [*registered, *events]])
    assert "Ama Mensah" not in dumped and "Officer" not in dumped
    assert events[0].model_dump()["position"] == 3 and events[0].model_dump()["members"] == 3
    assert registered[0].model_dump()["members"] == 3
