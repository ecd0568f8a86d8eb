"""Server-rendered SVG charts: the geometry is computed here, the template draws it.

Plain SVG needs no script and no CDN, prints, and reads with a screen reader through
its title and the data table next to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28
COLOURS = ("#0b3d91", "#d9822b", "#2e7d32", "#8e24aa", "#c62828")


@dataclass
class Series:
    name: str
    colour: str
    points: str = ""  # for a line: "x,y x,y ..."
    bars: list[tuple[float, float, float, float, str]] = field(default_factory=list)  # x, y, width, height, title


@dataclass
class Chart:
    title: str
    width: int
    height: int
    series: list[Series]
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_bottom: int = HEIGHT - BOTTOM


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 5):
        for magnitude in (1, 10, 100, 1000, 10000, 100000):
            if step * magnitude >= value:
                return float(step * magnitude)
    return value


def _frame(labels: list[str], top_value: float, unit: str) -> tuple[float, list[tuple[float, str]], list]:
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / max(len(labels), 1)
    ticks = [(HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * i / 4, f"{top_value * i / 4:g}{unit}") for i in range(5)]
    every = max(1, len(labels) // 7)
    x_labels = [(LEFT + slot * (i + 0.5), label) for i, label in enumerate(labels) if i % every == 0]
    return slot, ticks, x_labels


def _y(value: float, top_value: float) -> float:
    return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * (value / top_value)


def bar_chart(title: str, labels: list[str], series: dict[str, list[float]], unit: str = "") -> Chart:
    """Grouped bars of counts, one group per label; the scale is a multiple of 4 so ticks are whole."""
    highest = max((v for values in series.values() for v in values), default=0)
    top = float(max(4, math.ceil(_nice_max(highest) / 4) * 4))
    slot, ticks, x_labels = _frame(labels, top, unit)
    width = slot * 0.8 / max(len(series), 1)
    drawn = []
    for n, (name, values) in enumerate(series.items()):
        bars = []
        for i, value in enumerate(values):
            x = LEFT + slot * i + slot * 0.1 + width * n
            y = _y(value, top)
            bars.append((round(x, 1), round(y, 1), round(width, 1), round(HEIGHT - BOTTOM - y, 1),
                         f"{labels[i]}: {value:g} {name.lower()}"))
        drawn.append(Series(name=name, colour=COLOURS[n % len(COLOURS)], bars=bars))
    return Chart(title, WIDTH, HEIGHT, drawn, ticks, x_labels)


def line_chart(title: str, labels: list[str], series: dict[str, list[float | None]], unit: str = "") -> Chart:
    """One line per series; a day without a value leaves a gap-free line through the others."""
    top = _nice_max(max((v for values in series.values() for v in values if v is not None), default=0))
    slot, ticks, x_labels = _frame(labels, top, unit)
    drawn = []
    for n, (name, values) in enumerate(series.items()):
        points = " ".join(
            f"{LEFT + slot * (i + 0.5):.1f},{_y(value, top):.1f}" for i, value in enumerate(values) if value is not None
        )
        drawn.append(Series(name=name, colour=COLOURS[n % len(COLOURS)], points=points))
    return Chart(title, WIDTH, HEIGHT, drawn, ticks, x_labels)
