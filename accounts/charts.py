"""The dashboard's one SVG chart: bars, each a stack of coloured segments, laid out here and drawn
by a template as `<rect>`s (the billing/home chart of statuses per day, the success rate of an
account's sync runs). Hand-written: a chart library would ship JavaScript or an image renderer
for what is a few lines of arithmetic, and the page must stay a plain server-rendered SVG."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Segment:
    key: str
    value: float
    y: float
    h: float


@dataclass
class Bar:
    x: float
    w: float
    item: Any
    segments: list[Segment] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(s.value for s in self.segments)


def stacked_bars(
    items: Sequence[Any],
    *,
    segments: Sequence[str],
    value,
    width: int,
    height: int,
    top: float | None = None,
    headroom: int = 10,
    fill: float = 0.8,
) -> list[Bar]:
    """One bar per item, left to right, each `fill` of its slot wide and centred in it; the
    segments are stacked from the bottom in the given order, `value(item, segment)` high on a
    scale where `top` (by default the tallest bar) reaches `height - headroom`. Segments of 0
    are left out."""
    if top is None:
        top = max((sum(value(item, s) for s in segments) for item in items), default=0) or 1
    slot = width / max(len(items), 1)
    bars = []
    for i, item in enumerate(items):
        bar = Bar(x=round(i * slot + slot * (1 - fill) / 2, 2), w=round(slot * fill, 2), item=item)
        y = height
        for key in segments:
            n = value(item, key)
            if n:
                h = n / top * (height - headroom)
                y -= h
                bar.segments.append(Segment(key=key, value=n, y=round(y, 2), h=round(h, 2)))
        bars.append(bar)
    return bars
