"""Case deadlines (services/cases/domain/deadlines.py): working days, warning points, investigation periods,
extensions, pauses and which alarm comes next."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.cases.domain.deadlines import (
    Deadline,
    add_working_days,
    extend,
    investigation_days,
    next_alarm,
    open_deadline,
    pause,
    resume,
    warning_point,
)
from uncops_contracts.cases import AllegationType, DeadlineKind, MisconductCategory
from uncops_contracts.policies import CasePolicy

POLICY = CasePolicy()
MONDAY = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)  # a Monday
T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


def deadline(
    days: int = 100, kind: DeadlineKind = DeadlineKind.INVESTIGATION, start: datetime = T0
) -> Deadline:
    return open_deadline(kind, "oios", start, start + timedelta(days=days), POLICY)


# ---------------------------------------------------------------- working days


def test_monday_is_a_monday() -> None:
    assert MONDAY.weekday() == 0


def test_ten_working_days_from_a_monday_is_the_second_monday_after() -> None:
    due = add_working_days(MONDAY, 10, POLICY)
    assert due == datetime(2025, 1, 20, 9, 30, tzinfo=UTC)
    assert due.weekday() == 0


def test_five_working_days_from_a_monday_is_the_next_monday() -> None:
    assert add_working_days(MONDAY, 5, POLICY) == MONDAY + timedelta(days=7)


def test_one_working_day_from_a_friday_is_the_monday() -> None:
    friday = MONDAY + timedelta(days=4)
    assert add_working_days(friday, 1, POLICY) == MONDAY + timedelta(days=7)


def test_from_a_saturday_the_weekend_does_not_count() -> None:
    saturday = MONDAY + timedelta(days=5)
    assert add_working_days(saturday, 1, POLICY) == MONDAY + timedelta(days=7)
    assert add_working_days(saturday, 5, POLICY) == MONDAY + timedelta(days=11)


def test_zero_working_days_is_the_start() -> None:
    assert add_working_days(MONDAY, 0, POLICY) == MONDAY


def test_a_holiday_in_the_period_pushes_the_due_date_one_more_working_day() -> None:
    policy = CasePolicy(holidays=(date(2025, 1, 8),))  # a Wednesday
    assert add_working_days(MONDAY, 10, policy) == datetime(2025, 1, 21, 9, 30, tzinfo=UTC)


def test_a_holiday_on_the_would_be_due_date_moves_it_to_the_next_working_day() -> None:
    policy = CasePolicy(holidays=(date(2025, 1, 20),))  # the second Monday
    assert add_working_days(MONDAY, 10, policy) == datetime(2025, 1, 21, 9, 30, tzinfo=UTC)


def test_two_holidays_and_a_holiday_on_a_weekend() -> None:
    # Holidays on Wednesday and Thursday push two days; one on a Saturday changes nothing.
    policy = CasePolicy(holidays=(date(2025, 1, 8), date(2025, 1, 9), date(2025, 1, 11)))
    assert add_working_days(MONDAY, 10, policy) == datetime(2025, 1, 22, 9, 30, tzinfo=UTC)


def test_the_start_day_itself_is_never_counted_even_if_a_holiday() -> None:
    policy = CasePolicy(holidays=(MONDAY.date(),))
    assert add_working_days(MONDAY, 10, policy) == datetime(2025, 1, 20, 9, 30, tzinfo=UTC)


def test_a_configured_weekend_is_honoured() -> None:
    # Friday and Saturday off (as in several mission countries).
    policy = CasePolicy(weekend_days=(4, 5))
    thursday = MONDAY + timedelta(days=3)
    assert add_working_days(thursday, 1, policy) == MONDAY + timedelta(days=6)  # the Sunday


# ---------------------------------------------------------------- warning point


def test_warning_point_is_at_80_percent_of_the_time() -> None:
    assert warning_point(T0, T0 + timedelta(days=90), POLICY) == T0 + timedelta(days=72)
    assert warning_point(T0, T0 + timedelta(days=10), POLICY) == T0 + timedelta(days=8)


def test_warning_point_follows_the_configured_fraction() -> None:
    policy = CasePolicy(warn_at_fraction=0.5)
    assert warning_point(T0, T0 + timedelta(days=90), policy) == T0 + timedelta(days=45)


def test_open_deadline_sets_the_warning_point_and_nothing_else() -> None:
    d = open_deadline(
        DeadlineKind.PCC_REPLY, "police_contributing_country", T0, T0 + timedelta(days=10), POLICY
    )
    assert d.started_at == T0
    assert d.due_at == T0 + timedelta(days=10)
    assert d.warn_at == T0 + timedelta(days=8)
    assert not d.warned and not d.missed and not d.paused
    assert d.extensions == [] and d.reminders == 0 and d.overdue_since is None


# ---------------------------------------------------------------- investigation periods


@pytest.mark.parametrize(
    "allegation",
    [
        AllegationType.SEXUAL_EXPLOITATION,
        AllegationType.SEXUAL_ABUSE,
        AllegationType.SEA_OTHER,
        AllegationType.SEA_UNKNOWN,
    ],
)
def test_sea_is_investigated_in_90_days(allegation: AllegationType) -> None:
    assert investigation_days(allegation, MisconductCategory.CATEGORY_1, False, POLICY) == 90


@pytest.mark.parametrize(
    "allegation",
    [AllegationType.ASSAULT, AllegationType.CORRUPTION_OR_FRAUD, AllegationType.TRAFFICKING],
)
def test_other_category_1_is_investigated_in_180_days(allegation: AllegationType) -> None:
    assert investigation_days(allegation, MisconductCategory.CATEGORY_1, False, POLICY) == 180


def test_category_2_is_investigated_in_180_days() -> None:
    assert investigation_days(AllegationType.HARASSMENT, MisconductCategory.CATEGORY_2, False, POLICY) == 180


def test_category_2_reads_its_own_setting() -> None:
    policy = CasePolicy(category_2_investigation_days=60, category_1_investigation_days=200)
    assert investigation_days(AllegationType.HARASSMENT, MisconductCategory.CATEGORY_2, False, policy) == 60
    assert investigation_days(AllegationType.ASSAULT, MisconductCategory.CATEGORY_1, False, policy) == 200


def test_urgent_takes_the_shorter_of_its_period_and_the_urgent_one() -> None:
    assert investigation_days(AllegationType.ASSAULT, MisconductCategory.CATEGORY_1, True, POLICY) == 90
    assert investigation_days(AllegationType.HARASSMENT, MisconductCategory.CATEGORY_2, True, POLICY) == 90
    # SEA is already 90: urgent does not lengthen it, and a shorter SEA period stays shorter.
    policy = CasePolicy(sea_investigation_days=30)
    assert investigation_days(AllegationType.SEXUAL_ABUSE, MisconductCategory.CATEGORY_1, True, policy) == 30
    policy = CasePolicy(urgent_investigation_days=45)
    assert investigation_days(AllegationType.SEXUAL_ABUSE, MisconductCategory.CATEGORY_1, True, policy) == 45


# ---------------------------------------------------------------- extend


def test_extend_moves_the_due_date_and_records_the_reason() -> None:
    d = deadline(100)
    longer = extend(d, 30, "witness abroad", T0 + timedelta(days=10), POLICY)
    assert longer.due_at == T0 + timedelta(days=130)
    assert longer.extensions == ["+30d: witness abroad"]
    assert longer.warn_at == T0 + timedelta(days=104)  # 80 % of the longer clock
    assert d.due_at == T0 + timedelta(days=100)  # the original is unchanged
    again = extend(longer, 5, "second reason", T0 + timedelta(days=11), POLICY)
    assert again.extensions == ["+30d: witness abroad", "+5d: second reason"]
    assert again.due_at == T0 + timedelta(days=135)


def test_an_extended_deadline_that_had_warned_warns_again() -> None:
    d = deadline(100).model_copy(update={"warned": True})
    longer = extend(d, 30, "more time", T0 + timedelta(days=85), POLICY)
    assert not longer.warned
    assert longer.warn_at == T0 + timedelta(days=104)


def test_extension_whose_warning_point_has_passed_warns_now() -> None:
    d = deadline(100).model_copy(update={"warned": True})
    now = T0 + timedelta(days=99)
    longer = extend(d, 5, "a few days", now, POLICY)
    assert longer.warn_at == now  # 80 % of 105 days (day 84) is past
    assert not longer.warned


def test_a_missed_deadline_extended_into_the_future_is_no_longer_missed() -> None:
    d = deadline(100).model_copy(update={"warned": True, "missed": True})
    now = T0 + timedelta(days=110)
    longer = extend(d, 30, "late report expected", now, POLICY)
    assert longer.due_at == T0 + timedelta(days=130)
    assert not longer.missed
    assert not longer.warned
    assert not longer.overdue(now)


def test_a_missed_deadline_extended_not_far_enough_stays_missed() -> None:
    d = deadline(100).model_copy(update={"warned": True, "missed": True})
    now = T0 + timedelta(days=120)
    still = extend(d, 10, "not enough", now, POLICY)
    assert still.due_at == T0 + timedelta(days=110)
    assert still.missed and still.warned
    assert still.overdue(now)


def test_extending_a_paused_deadline_adds_to_the_time_left() -> None:
    paused = pause(deadline(100), T0 + timedelta(days=40))
    longer = extend(paused, 30, "more time", T0 + timedelta(days=50), POLICY)
    assert longer.remaining == timedelta(days=90)
    resumed = resume(longer, T0 + timedelta(days=60), POLICY)
    assert resumed.due_at == T0 + timedelta(days=150)


# ---------------------------------------------------------------- pause / resume


def test_pause_keeps_the_time_left_and_stops_the_clock() -> None:
    d = deadline(100)
    paused = pause(d, T0 + timedelta(days=30))
    assert paused.paused
    assert paused.paused_at == T0 + timedelta(days=30)
    assert paused.remaining == timedelta(days=70)
    assert not paused.overdue(T0 + timedelta(days=200))


def test_resume_shifts_due_warning_and_start_by_the_paused_duration() -> None:
    d = deadline(100)
    paused = pause(d, T0 + timedelta(days=30))
    resumed = resume(paused, T0 + timedelta(days=50), POLICY)
    assert not resumed.paused and resumed.remaining is None
    assert resumed.due_at == d.due_at + timedelta(days=20)
    assert resumed.warn_at == d.warn_at + timedelta(days=20)
    assert resumed.started_at == d.started_at + timedelta(days=20)
    # the warning keeps its 80 % share of the shifted clock
    assert resumed.warn_at == warning_point(resumed.started_at, resumed.due_at, POLICY)


def test_pause_past_the_warning_point_keeps_the_warning_state() -> None:
    d = deadline(100).model_copy(update={"warned": True})
    resumed = resume(pause(d, T0 + timedelta(days=90)), T0 + timedelta(days=100), POLICY)
    assert resumed.warned
    assert resumed.due_at == T0 + timedelta(days=110)


def test_a_deadline_paused_after_it_fell_due_has_nothing_left() -> None:
    d = deadline(10)
    paused = pause(d, T0 + timedelta(days=15))
    assert paused.remaining == timedelta(0)
    assert resume(paused, T0 + timedelta(days=20), POLICY).due_at == T0 + timedelta(days=20)


# ---------------------------------------------------------------- next alarm


def test_no_deadline_no_alarm() -> None:
    assert next_alarm([]) is None


def test_the_warning_comes_before_the_miss() -> None:
    d = deadline(100)
    when, which, phase = next_alarm([d]) or (None, None, None)
    assert (when, phase) == (T0 + timedelta(days=80), "warn")
    assert which == d
    warned = d.model_copy(update={"warned": True})
    assert next_alarm([warned]) == (T0 + timedelta(days=100), warned, "miss")


def test_the_earliest_alarm_among_several_deadlines() -> None:
    investigation = deadline(100).model_copy(update={"warned": True})  # miss at day 100
    follow_up = deadline(90, DeadlineKind.FOLLOW_UP)  # warn at day 72
    reply = deadline(200, DeadlineKind.PCC_REPLY)  # warn at day 160
    alarm = next_alarm([investigation, reply, follow_up])
    assert alarm is not None and alarm[0] == T0 + timedelta(days=72)
    assert alarm[1].kind is DeadlineKind.FOLLOW_UP and alarm[2] == "warn"


def test_a_warning_and_a_miss_at_the_same_moment_warn_first() -> None:
    a = deadline(100).model_copy(update={"warned": True})  # miss at day 100
    b = deadline(125, DeadlineKind.FOLLOW_UP)  # warns at day 100
    alarm = next_alarm([a, b])
    assert alarm is not None and alarm[0] == T0 + timedelta(days=100)
    assert alarm[2] == "warn" and alarm[1].kind is DeadlineKind.FOLLOW_UP


def test_paused_and_missed_deadlines_raise_no_alarm() -> None:
    paused = pause(deadline(10), T0 + timedelta(days=1))
    missed = deadline(20, DeadlineKind.PCC_REPLY).model_copy(update={"warned": True, "missed": True})
    assert next_alarm([paused, missed]) is None
    running = deadline(300, DeadlineKind.FOLLOW_UP)
    assert next_alarm([paused, missed, running]) == (T0 + timedelta(days=240), running, "warn")


def test_overdue_is_due_date_reached_or_overdue_since_set() -> None:
    d = deadline(10)
    assert not d.overdue(T0 + timedelta(days=9))
    assert d.overdue(T0 + timedelta(days=10))
    rolled = d.model_copy(update={"overdue_since": T0, "due_at": T0 + timedelta(days=100)})
    assert rolled.overdue(T0 + timedelta(days=11))
