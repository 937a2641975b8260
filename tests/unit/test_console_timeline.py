"""The summit plan's timeline layout (services/console/domain/timeline.py): pure dates in, coordinates out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.console.domain.timeline import (
    AXIS_HEIGHT,
    LABEL_WIDTH,
    MAX_TICKS,
    PLOT_WIDTH,
    ROW_HEIGHT,
    Milestone,
    state_of,
    timeline,
)

NOW = datetime(2030, 3, 15, 12, 0, tzinfo=UTC)


def milestone(name: str, due: datetime, status: str = "planned", warn_days: int = 14) -> Milestone:
    return Milestone(name, name.title(), status, due, due - timedelta(days=warn_days))


@pytest.mark.parametrize(
    ("status", "state"),
    [("planned", "due"), ("due", "warned"), ("overdue", "overdue"), ("completed", "done"), ("other", "due")],
)
def test_the_api_statuses_read_as_due_warned_overdue_and_done(status: str, state: str) -> None:
    assert state_of(status) == state


def test_rows_are_in_due_order_one_under_another_with_their_state() -> None:
    chart = timeline(
        [
            milestone("late", datetime(2030, 6, 1, tzinfo=UTC)),
            milestone("early", datetime(2030, 2, 1, tzinfo=UTC), "overdue"),
            milestone("middle", datetime(2030, 4, 1, tzinfo=UTC), "completed"),
        ],
        NOW,
    )
    assert [r.milestone_id for r in chart.rows] == ["early", "middle", "late"]
    assert [r.state for r in chart.rows] == ["overdue", "done", "due"]
    assert [r.y for r in chart.rows] == [AXIS_HEIGHT, AXIS_HEIGHT + ROW_HEIGHT, AXIS_HEIGHT + 2 * ROW_HEIGHT]
    assert chart.height == AXIS_HEIGHT + 3 * ROW_HEIGHT
    assert chart.width == LABEL_WIDTH + PLOT_WIDTH


def test_the_scale_is_whole_months_holding_every_date_and_today() -> None:
    chart = timeline([milestone("a", datetime(2030, 5, 20, tzinfo=UTC))], NOW)
    # March (today) to May (the due date): the scale runs from 1 March to 1 June.
    assert [t.month for t in chart.ticks] == [date(2030, 3, 1), date(2030, 4, 1), date(2030, 5, 1)]
    assert chart.ticks[0].x == LABEL_WIDTH
    row = chart.rows[0]
    assert LABEL_WIDTH <= chart.today_x < row.warn_x < row.due_x < LABEL_WIDTH + PLOT_WIDTH
    # The warning window is 14 days long on a 92-day scale.
    assert row.due_x - row.warn_x == pytest.approx(PLOT_WIDTH * 14 / 92, abs=1)


def test_the_summit_days_are_a_band_on_the_scale() -> None:
    chart = timeline(
        [milestone("opens", datetime(2030, 6, 4, 21, tzinfo=UTC))], NOW, (date(2030, 6, 4), date(2030, 6, 5))
    )
    assert chart.summit is not None
    start, end = chart.summit
    assert start < chart.rows[0].due_x < end
    assert [t.month for t in chart.ticks][-1] == date(2030, 6, 1)


def test_a_long_plan_labels_a_few_months_only() -> None:
    chart = timeline(
        [
            milestone("a", datetime(2028, 1, 10, tzinfo=UTC)),
            milestone("b", datetime(2031, 12, 10, tzinfo=UTC)),
        ],
        NOW,
    )
    assert len(chart.ticks) <= MAX_TICKS
    assert chart.ticks[0].month == date(2027, 12, 1)  # the first warning falls in December 2027
    assert [t.x for t in chart.ticks] == sorted(t.x for t in chart.ticks)


def test_a_warning_after_its_due_date_is_drawn_as_a_point_and_an_empty_plan_is_today_alone() -> None:
    odd = Milestone(
        "odd", "Odd", "planned", datetime(2030, 4, 1, tzinfo=UTC), datetime(2030, 4, 5, tzinfo=UTC)
    )
    assert timeline([odd], NOW).rows[0].warn_x == timeline([odd], NOW).rows[0].due_x
    empty = timeline([], NOW)
    assert empty.rows == () and empty.height == AXIS_HEIGHT
    assert [t.month for t in empty.ticks] == [date(2030, 3, 1)]
    assert empty.today_x == LABEL_WIDTH + round(
        PLOT_WIDTH * (NOW - datetime(2030, 3, 1, tzinfo=UTC)) / timedelta(days=31)
    )
