"""Layout faults of a drawn matplotlib figure: overlapping texts, axes outside the figure, legends over other axes.

`collisions(fig)` draws the figure (Agg) and returns one line per fault, empty when the figure reads cleanly.
Texts are every visible, non-empty text artist: titles, axis labels, the tick labels drawn, offset texts,
legend entries and titles, figure titles and free texts (matplotlib `Artist.get_window_extent`).
"""

from __future__ import annotations

import itertools

import matplotlib.legend
import matplotlib.text
from matplotlib.transforms import Bbox

SLACK = 1.0  # pixels two boxes may share (anti-aliasing) before they count as overlapping


def collisions(fig) -> list[str]:
    """The figure's layout faults, one line each (empty: none).

    Parameters
    ----------
    fig
        A matplotlib Figure (drawn here, with Agg).

    Returns
    -------
    list of str
        One line per overlapping pair of texts, text or axes outside the figure, and legend over other axes.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    faults = []
    texts = [(_name(t), t.get_window_extent(renderer)) for t in _texts(fig)]
    for (a, box_a), (b, box_b) in itertools.combinations(texts, 2):
        if _overlap(box_a, box_b):
            faults.append(f"text {a} overlaps text {b}")
    for name, box in texts:
        if not _inside(box, page):
            faults.append(f"text {name} lies outside the figure")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    for k, ax in enumerate(axes):
        if not _inside(ax.get_window_extent(renderer), page):
            faults.append(f"axes {k} ({ax.get_title()!r}) lies outside the figure")
    for legend in _legends(fig):
        box = legend.get_window_extent(renderer)
        for k, ax in enumerate(axes):
            if ax is not legend.axes and _overlap(box, ax.get_window_extent(renderer)):
                faults.append(f"a legend ({_legend_name(legend)}) covers axes {k} ({ax.get_title()!r})")
    return faults


def _texts(fig) -> list[matplotlib.text.Text]:
    """Visible non-empty texts, tick labels only where their tick is drawn (inside the view interval)."""
    ticklabels = set()
    drawn = set()
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticklabels.update((id(tick.label1), id(tick.label2)))
            drawn.update(id(label) for tick in axis._update_ticks() for label in (tick.label1, tick.label2))
    out = {}
    for t in fig.findobj(matplotlib.text.Text):
        if id(t) in ticklabels and id(t) not in drawn:
            continue
        if t.get_visible() and t.get_text().strip() and _shown(t):
            out[id(t)] = t
    return list(out.values())


def _shown(t) -> bool:
    """False when the text's axes is hidden."""
    return t.axes is None or t.axes.get_visible()


def _legends(fig) -> list[matplotlib.legend.Legend]:
    return [lg for lg in fig.findobj(matplotlib.legend.Legend) if lg.get_visible()]


def _legend_name(legend) -> str:
    labels = [t.get_text() for t in legend.get_texts()]
    return ", ".join(labels[:3]) + (", ..." if len(labels) > 3 else "")


def _name(t) -> str:
    return repr(t.get_text()[:40])


def _overlap(a: Bbox, b: Bbox) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > SLACK and min(a.y1, b.y1) - max(a.y0, b.y0) > SLACK


def _inside(box: Bbox, page: Bbox) -> bool:
    return (
        box.x0 >= page.x0 - SLACK
        and box.y0 >= page.y0 - SLACK
        and box.x1 <= page.x1 + SLACK
        and box.y1 <= page.y1 + SLACK
    )
