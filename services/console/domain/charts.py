"""Bar charts drawn on the server as SVG: the numbers a table already shows, to be seen at a glance. No
script and no style attribute (the console's Content-Security-Policy allows neither inline)."""

from __future__ import annotations

from dataclasses import dataclass

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 180
PLOT_WIDTH = 420
VALUE_WIDTH = 60


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int
    width: int  # of the bar, in the plot's units


@dataclass(frozen=True)
class BarChart:
    bars: tuple[Bar, ...]
    height: int
    label_width: int = LABEL_WIDTH
    plot_width: int = PLOT_WIDTH
    value_width: int = VALUE_WIDTH

    @property
    def width(self) -> int:
        return self.label_width + self.plot_width + self.value_width


def bar_chart(values: list[tuple[str, int]], largest_first: bool = True) -> BarChart:
    """One horizontal bar per (label, value), scaled to the largest value; a zero is no bar at all."""
    ordered = sorted(values, key=lambda item: -item[1]) if largest_first else list(values)
    top = max((value for _, value in ordered), default=0)
    bars = tuple(
        Bar(
            label=label,
            value=value,
            y=index * (BAR_HEIGHT + GAP),
            width=round(PLOT_WIDTH * value / top) if top else 0,
        )
        for index, (label, value) in enumerate(ordered)
    )
    return BarChart(bars=bars, height=max(len(bars) * (BAR_HEIGHT + GAP) - GAP, 0))


# ---------------------------------------------------------------- part P: two values side by side


@dataclass(frozen=True)
class PairedBar:
    label: str
    first: int
    second: int
    y: int
    first_width: int
    second_width: int


@dataclass(frozen=True)
class PairedChart:
    """Two bars per label (e.g. pledged and fulfilled), one above the other, on the same scale."""

    bars: tuple[PairedBar, ...]
    height: int
    bar_height: int = BAR_HEIGHT // 2
    label_width: int = LABEL_WIDTH
    plot_width: int = PLOT_WIDTH
    value_width: int = VALUE_WIDTH

    @property
    def width(self) -> int:
        return self.label_width + self.plot_width + self.value_width


def paired_bar_chart(values: list[tuple[str, int, int]], label_width: int = LABEL_WIDTH) -> PairedChart:
    """One pair of bars per (label, first, second), in the order given, both scaled to the largest value
    of either kind; a zero is no bar at all. Long labels (a pledge's kind in French) need a wider margin."""
    top = max((max(first, second) for _, first, second in values), default=0)

    def width(value: int) -> int:
        return round(PLOT_WIDTH * value / top) if top else 0

    bars = tuple(
        PairedBar(label, first, second, index * (BAR_HEIGHT + GAP), width(first), width(second))
        for index, (label, first, second) in enumerate(values)
    )
    height = max(len(bars) * (BAR_HEIGHT + GAP) - GAP, 0)
    return PairedChart(bars=bars, height=height, label_width=label_width)
