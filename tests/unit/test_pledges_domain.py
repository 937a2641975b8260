"""Pledge intake rules (services/pledges/domain/submission.py, duplicates.py): schema, business rules,
fingerprint, event."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from services.common.errors import InvalidField
from services.pledges.domain.duplicates import (
    is_similar,
    normal_title,
    similar_titles,
    title_grams,
    title_similarity,
)
from services.pledges.domain.submission import PledgeSubmission, check_submission, submitted_event
from uncops_contracts.pledges import PledgeKind, PledgeSubmitted

FAR_FUTURE = date(2100, 1, 1)


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "member_state": "FRA",
        "kind": PledgeKind.GENDER_PARITY.value,
        "title": "Double the share of women officers",
    }
    base.update(overrides)
    return base


def valid_body_for(kind: PledgeKind) -> dict[str, Any]:
    if kind is PledgeKind.FINANCIAL_SUPPORT:
        return body(kind=kind.value, terms={"amount": "1000000.00", "currency": "USD"})
    return body(kind=kind.value, terms={"indicator": "share of women", "target": "20", "unit": "%"})


@pytest.mark.parametrize("kind", list(PledgeKind))
def test_a_valid_submission_is_accepted_for_every_kind(kind: PledgeKind) -> None:
    submission = PledgeSubmission.model_validate(valid_body_for(kind))

    assert submission.kind is kind
    assert submission.member_state == "FRA"
    assert submission.summit == "UNCOPS-2018"
    assert submission.co_sponsors == []


def test_lower_case_member_state_is_upper_cased() -> None:
    submission = PledgeSubmission.model_validate(body(member_state="fra"))

    assert submission.member_state == "FRA"


@pytest.mark.parametrize("member_state", ["FR", "FRAN", "F1A", "", "FR-"])
def test_a_member_state_that_is_not_alpha3_is_a_validation_error(member_state: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PledgeSubmission.model_validate(body(member_state=member_state))

    assert [e["loc"] for e in caught.value.errors()] == [("member_state",)]


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        PledgeSubmission.model_validate(body(priority="high"))

    assert caught.value.errors()[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize("value", ["1e16", "-1e16", 7.12e16, "12.00001"])
@pytest.mark.parametrize("field", ["baseline", "target"])
def test_a_measure_the_store_cannot_hold_is_refused_naming_it(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        PledgeSubmission.model_validate(body(terms={field: value}))
    assert caught.value.errors()[0]["loc"] == ("terms", field)


def test_the_largest_measure_the_store_holds_is_accepted() -> None:
    largest = Decimal("9999999999999999.9999")
    submission = PledgeSubmission.model_validate(
        body(terms={"baseline": str(largest), "target": str(-largest)})
    )
    assert (submission.terms.baseline, submission.terms.target) == (largest, -largest)


def test_an_unknown_terms_field_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        PledgeSubmission.model_validate(body(terms={"deadline": "2100-01-01"}))

    assert caught.value.errors()[0]["loc"] == ("terms", "deadline")


def test_a_target_date_in_the_past_propagates_invalid_field_from_model_validate() -> None:
    # InvalidField is not a ValueError, so pydantic does not wrap it: it reaches the caller as is.
    with pytest.raises(InvalidField) as caught:
        PledgeSubmission.model_validate(body(terms={"target_date": "2000-01-01"}))

    assert caught.value.field == "terms.target_date"
    assert caught.value.status_code == 422


def test_target_date_arithmetic_against_a_fixed_today() -> None:
    submission = PledgeSubmission.model_validate(body(terms={"target_date": FAR_FUTURE.isoformat()}))

    check_submission(submission, today=date(2099, 12, 31))
    check_submission(submission, today=FAR_FUTURE)  # due the same day is fine
    with pytest.raises(InvalidField) as caught:
        check_submission(submission, today=date(2100, 1, 2))
    assert caught.value.field == "terms.target_date"
    assert "2100-01-01" in caught.value.reason


@pytest.mark.parametrize(
    ("terms", "missing"),
    [({}, "terms.amount"), ({"amount": "10.00"}, "terms.currency"), ({"currency": "USD"}, "terms.amount")],
    ids=["nothing", "amount-only", "currency-only"],
)
def test_financial_support_needs_amount_and_currency(terms: dict[str, str], missing: str) -> None:
    with pytest.raises(InvalidField) as caught:
        PledgeSubmission.model_validate(body(kind=PledgeKind.FINANCIAL_SUPPORT.value, terms=terms))

    # The error names the field that is missing.
    assert caught.value.field == missing


@pytest.mark.parametrize("terms", [{"amount": "10.00"}, {"currency": "USD"}], ids=["amount", "currency"])
def test_amount_and_currency_go_together_on_other_kinds(terms: dict[str, str]) -> None:
    with pytest.raises(InvalidField) as caught:
        PledgeSubmission.model_validate(body(kind=PledgeKind.EQUIPMENT_TRAINING.value, terms=terms))

    assert caught.value.field == "terms.currency"


def test_a_non_positive_amount_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        PledgeSubmission.model_validate(
            body(kind=PledgeKind.FINANCIAL_SUPPORT.value, terms={"amount": "0", "currency": "USD"})
        )


def test_the_lead_state_cannot_be_a_co_sponsor() -> None:
    with pytest.raises(InvalidField) as caught:
        PledgeSubmission.model_validate(body(co_sponsors=["DEU", "FRA"]))

    assert caught.value.field == "co_sponsors"
    assert "lead" in caught.value.reason


def test_a_co_sponsor_listed_twice_is_refused() -> None:
    with pytest.raises(InvalidField) as caught:
        PledgeSubmission.model_validate(body(co_sponsors=["DEU", "SEN", "DEU"]))

    assert caught.value.field == "co_sponsors"
    assert "twice" in caught.value.reason


@pytest.mark.parametrize(
    "kind", [k for k in PledgeKind if k not in {PledgeKind.FINANCIAL_SUPPORT, PledgeKind.POLITICAL_SUPPORT}]
)
def test_supports_summit_only_on_support_kinds(kind: PledgeKind) -> None:
    with pytest.raises(InvalidField) as caught:
        PledgeSubmission.model_validate({**valid_body_for(kind), "supports_summit": "UNCOPS-III"})

    assert caught.value.field == "supports_summit"


@pytest.mark.parametrize("kind", [PledgeKind.FINANCIAL_SUPPORT, PledgeKind.POLITICAL_SUPPORT])
def test_support_kinds_may_support_a_summit(kind: PledgeKind) -> None:
    submission = PledgeSubmission.model_validate({**valid_body_for(kind), "supports_summit": "UNCOPS-III"})

    assert submission.supports_summit == "UNCOPS-III"


def test_fingerprint_identifies_the_body() -> None:
    first = PledgeSubmission.model_validate(body(co_sponsors=["DEU"]))
    same = PledgeSubmission.model_validate(body(co_sponsors=["DEU"]))
    other_title = PledgeSubmission.model_validate(body(co_sponsors=["DEU"], title="Another commitment"))
    other_sponsor = PledgeSubmission.model_validate(body(co_sponsors=["SEN"]))

    assert first.fingerprint() == same.fingerprint()
    assert len(first.fingerprint()) == 64
    assert len({first.fingerprint(), other_title.fingerprint(), other_sponsor.fingerprint()}) == 3


def test_submitted_event_carries_the_submission_and_round_trips() -> None:
    submission = PledgeSubmission.model_validate(
        body(
            kind=PledgeKind.FINANCIAL_SUPPORT.value,
            co_sponsors=["CHN"],
            terms={"amount": "2500000.50", "currency": "USD", "target_date": FAR_FUTURE.isoformat()},
            supports_summit="UNCOPS-III",
        )
    )
    at = datetime(2025, 6, 20, 9, 30, tzinfo=UTC)

    event = submitted_event("pledge-1", submission, at)

    assert isinstance(event, PledgeSubmitted)
    assert event.event_type() == "org.un.uncops.pledges.pledge_submitted.v1"
    assert event.pledge_id == "pledge-1"
    assert event.member_state == "FRA"
    assert event.co_sponsors == ["CHN"]
    assert event.kind is PledgeKind.FINANCIAL_SUPPORT
    assert event.terms.amount == Decimal("2500000.50")
    assert event.terms.currency == "USD"
    assert event.terms.target_date == FAR_FUTURE
    assert event.supports_summit == "UNCOPS-III"
    assert event.submitted_at == at
    assert PledgeSubmitted.model_validate(event.model_dump()) == event
    assert PledgeSubmitted.model_validate(event.model_dump(mode="json")) == event


# ---------------------------------------------------------------- duplicate titles


def _lcs(a: str, b: str) -> int:
    """The textbook dynamic programme, to check the bit-parallel one against."""
    previous = [0] * (len(b) + 1)
    for char in a:
        row = [0]
        for j, other in enumerate(b):
            row.append(previous[j] + 1 if char == other else max(previous[j + 1], row[j]))
        previous = row
    return previous[-1]


def _random_text(rng: random.Random, alphabet: str, longest: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))


def test_similarity_is_the_longest_common_subsequence_over_random_text() -> None:
    rng = random.Random(7)
    for alphabet in ("ab", "abc ", "police wmn", "éøß 中文ab"):
        for _ in range(400):
            a, b = _random_text(rng, alphabet, 70), _random_text(rng, alphabet, 70)
            if a or b:
                assert title_similarity(a, b) == pytest.approx(2 * _lcs(a, b) / (len(a) + len(b))), (a, b)


def test_title_similarity_is_twice_the_common_subsequence_over_both_lengths() -> None:
    rng = random.Random(11)
    base = "deploy forty women officers to the united nations mission"
    checked = 0
    for _ in range(3000):
        a = normal_title(base[: rng.randint(3, len(base))] + _random_text(rng, "xyz e", 5))
        b = normal_title(_random_text(rng, "ab ", 4) + base + _random_text(rng, "po ", 6))
        expected = 2 * _lcs(a, b) / (len(a) + len(b))
        assert title_similarity(a, b) == pytest.approx(expected)
        for threshold in (0.6, 0.8, 0.9, 1.0):
            assert is_similar(a, b, threshold) == (expected >= threshold - 1e-9), (a, b, threshold)
            checked += expected >= threshold
    assert checked > 1000
    assert title_similarity("", "") == 1.0 and is_similar("", "", 0.9)


def test_look_alike_titles_below_the_threshold_are_not_flagged() -> None:
    # The intake benchmark's titles: letter pairs mostly shared, similarity below 0.9.
    a = normal_title("Women in formed police units, step 1234 a1b2c3")
    b = normal_title("Women in formed police units, step 5678 d4e5f6")
    assert title_similarity(a, b) < 0.9
    assert similar_titles("Women in formed police units, step 1234 a1b2c3", [("p1", b)], 0.9) == []


def test_a_retyped_title_is_flagged() -> None:
    title = "Deploy forty women officers to UN missions by 2020"
    others = [
        ("typo", "Deploy fourty women officers to UN missions by 2020"),
        ("case", "DEPLOY  forty women officers to un missions by 2020"),
        ("other", "Train forty officers in French before deployment"),
    ]
    assert similar_titles(title, others, 0.9) == ["typo", "case"]


def test_title_grams_count_shared_letter_pairs_as_multisets() -> None:
    rng = random.Random(5)
    for _ in range(500):
        a, b = _random_text(rng, "abo p", 40), _random_text(rng, "abo p", 40)
        pairs_a = Counter(a[i : i + 2] for i in range(len(a) - 1))
        pairs_b = Counter(b[i : i + 2] for i in range(len(b) - 1))
        assert len(set(title_grams(a)) & set(title_grams(b))) == sum((pairs_a & pairs_b).values())
        assert len(title_grams(a)) == max(0, len(a) - 1) == len(set(title_grams(a)))


def test_normal_title_ignores_case_and_spacing() -> None:
    assert normal_title("  Women  in\tFPUs ") == "women in fpus"
