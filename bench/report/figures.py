"""The report's figures, one function each, from loaded data to a matplotlib Figure that fits the page.

Every function takes loaded data and returns a matplotlib Figure at most `WIDTH` inches wide (it fits the page
at `DPI`), laid out by matplotlib's constrained layout, its legends outside the axes. Sampler configurations
are named by short labels (`short_labels`; the page keys them
to the full ids) and keep one colour (`colours`) in every figure.

- `draws_vs_exact`: the samplers' draws against the target's exact draws, as the target declares
  (`targets.base.Plot`): the marginal of one statistic (default the headline) and, where declared, a 2-D
  projection of x with its limits and marked points.
- `cost_accuracy`: ESS/s (with and without warm-up) and worst |bias|/sd against cost, per sampler configuration.
- `bias2_against_cost`: the running bias2 (max over statistics) against gradient evaluations and against seconds,
  warm-up included (`bench.metrics.cost`), log-log, one colour per sampler configuration, 0.01 marked.
- `training_curves`: the VAE's training bound against step (the DataTree's `training` group), a running mean,
  on a log scale (L + log Z, the KL bound, where log Z is known; else L - min L on a symlog scale).
- `rank_plot`: ArviZ rank ECDF plot (arviz-plots `plot_rank`) of the headline statistics of one cell, ranks and
  test over all chains, at most `RANK_CHAINS` chains drawn.

Weighted draws (`vae-is`) are resampled by their importance weights before they are plotted.
"""

from __future__ import annotations

import functools
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

PLOT_POINTS = 4000  # draws shown per sampler (thinned or resampled)
EXACT_POINTS = 20000  # exact draws of the reference
DPI = 110  # the PNGs' resolution
WIDTH = 12.0  # inches: 1320 px at DPI, inside the page's 1400 px
COLUMNS = 4  # panels per row of the per-sampler figures
PANEL = 2.6  # inches: the height of one row of panels
RANK_CHAINS = 8  # chains drawn in a rank plot (the ranks and the test use all of them)
SMOOTHING = 100  # the training curves' running mean spans 1/SMOOTHING of the longest training
STYLE = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 10,
}


def styled(fn):
    """Draw under the report's style (`STYLE`: font sizes that fit `WIDTH`).

    Parameters
    ----------
    fn
        A figure function.

    Returns
    -------
    Callable
        `fn` drawing under `plt.rc_context(STYLE)`.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def short_labels(samplers: list[str]) -> list[str]:
    """The sampler's name as a configuration's label, numbered where one sampler appears more than once.

    `name (k)` numbers the configurations of one sampler that appears more than once (in order).

    Parameters
    ----------
    samplers
        The sampler name of each configuration, in order.

    Returns
    -------
    list of str
        One label per configuration.
    """
    counts, seen, out = pd.Series(samplers).value_counts(), {}, []
    for s in samplers:
        seen[s] = seen.get(s, 0) + 1
        out.append(f"{s} ({seen[s]})" if counts[s] > 1 else s)
    return out


def colours(labels: list[str]) -> dict[str, str]:
    """One colour per configuration label, in order (matplotlib's `tab10`, then `tab20`).

    Parameters
    ----------
    labels
        The configurations' labels.

    Returns
    -------
    dict of str to str
        Label -> hex colour (`tab20` when there are more than 10 labels).
    """
    cycle = [matplotlib.colors.to_hex(c) for c in plt.get_cmap("tab10" if len(labels) <= 10 else "tab20").colors]
    return {label: cycle[k % len(cycle)] for k, label in enumerate(labels)}


def points(tree, n: int = PLOT_POINTS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, dim), statistics (n, n_stat)) of a cell's draws: thinned, or resampled by weight when weighted.

    Parameters
    ----------
    tree
        The cell's DataTree (`bench.store.to_datatree`).
    n
        The most points (thinned: at most the draws; resampled: exactly n).
    seed
        The seed of the resampling.

    Returns
    -------
    tuple of numpy.ndarray
        The positions (n, dim) and the statistics (n, n_stat).
    """
    # numpyro posteriors keep their named values in `posterior` and the flat vector in `unconstrained_posterior`
    group = "unconstrained_posterior" if "unconstrained_posterior" in tree.children else "posterior"
    x = np.asarray(tree[group]["x"].values)
    x = x.reshape(-1, x.shape[-1])
    s = np.asarray(tree["posterior"]["statistics"].values)
    s = s.reshape(-1, s.shape[-1])
    rng = np.random.default_rng(seed)
    if "log_weight" in tree["sample_stats"]:
        lw = np.asarray(tree["sample_stats"]["log_weight"].values).ravel()
        w = np.exp(lw - lw.max())
        idx = rng.choice(lw.size, size=n, p=w / w.sum())
    else:
        idx = np.linspace(0, x.shape[0] - 1, min(n, x.shape[0])).astype(int)
    return x[idx], s[idx]


def _panels(n: int, rows_each: int):
    """A grid of `n` sampler panels, `COLUMNS` a row, each sampler `rows_each` panels tall; unused panels hidden.
    Returns the figure and a list of n arrays of `rows_each` axes."""
    cols = min(n, COLUMNS)
    blocks = math.ceil(n / cols)
    fig, axes = plt.subplots(
        blocks * rows_each, cols, figsize=(WIDTH, PANEL * blocks * rows_each + 0.8), squeeze=False, layout="constrained"
    )
    cells = [axes[b * rows_each : (b + 1) * rows_each, c] for b in range(blocks) for c in range(cols)]
    for ax in (a for cell in cells[n:] for a in cell):
        ax.set_visible(False)
    return fig, cells[:n]


def _range(*samples: np.ndarray, q: float = 0.5) -> tuple[float, float]:
    pooled = np.concatenate([np.ravel(s) for s in samples if s is not None])
    lo, hi = np.nanpercentile(pooled[np.isfinite(pooled)], [q, 100 - q])
    return (float(lo), float(hi)) if hi > lo else (float(lo) - 0.5, float(hi) + 0.5)


@styled
def draws_vs_exact(target, cells: dict[str, object], exact: np.ndarray | None, colour: dict[str, str] | None = None):
    """The samplers' draws against the target's exact draws, as the target's `plot` declares.

    What is drawn is the target's `plot` (`targets.base.Plot`): the marginal of its statistic and, if declared,
    its projection.

    Parameters
    ----------
    target
        The target.
    cells
        Sampler label -> DataTree of one cell.
    exact
        Exact draws (n, dim), or None.
    colour
        Label -> colour; None: `colours`.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    ValueError
        When the target's plot names a statistic it does not have.
    """
    spec = target.plot
    names = list(cells)
    colour = colour or colours(names)
    stat_names = [s.name for s in target.statistics]
    stat = spec.statistic or target.headline_statistic.name
    if stat not in stat_names:
        raise ValueError(f"{target.id}: its plot names statistic {stat!r}; statistics: {', '.join(stat_names)}")
    i = stat_names.index(stat)
    label = spec.label or stat
    drawn = {name: points(cells[name]) for name in names}
    exact_stat = None if exact is None else np.asarray(_stat_fn(target, i)(exact))
    lo, hi = _range(exact_stat, *(s[:, i] for _, s in drawn.values()))
    fig, panels = _panels(len(names), 2 if spec.coords else 1)
    for name, axes in zip(names, panels):
        x, s = drawn[name]
        ax = axes[0]
        if exact_stat is not None:
            ax.hist(exact_stat, bins=50, range=(lo, hi), density=True, color="0.75")
        ax.hist(s[:, i], bins=50, range=(lo, hi), density=True, alpha=0.6, color=colour[name])
        ax.axvline(target.statistics[i].mean, c="k", lw=1, ls="--")
        ax.set(title=name, xlabel=label)
        if spec.coords:
            _projection(axes[1], spec, x, exact, colour[name])
    handles = [
        Patch(color=(0.5, 0.5, 0.5, 0.6), label="the sampler's draws (its colour)"),
        Line2D([], [], c="k", lw=1, ls="--", label="true mean"),
    ]
    if exact is not None:
        handles.insert(0, Patch(color="0.75", label="exact draws"))
    if spec.marks:
        handles.append(Line2D([], [], marker="x", c="r", ls="", label=spec.marks_label or "marked points"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    what = f"the marginal of {label}" + (
        " (top) and the projection on ({}, {}) (bottom)".format(*_coord_names(spec)) if spec.coords else ""
    )
    fig.suptitle(f"{target.id}: {what}, draws against " + ("exact draws" if exact is not None else "the true mean"))
    return fig


def _coord_names(spec) -> tuple[str, str]:
    return spec.coord_names or tuple(f"x[{c}]" for c in spec.coords)


def _projection(ax, spec, x, exact, colour):
    """The draws' coordinates `spec.coords` over the exact draws', with the spec's limits and marked points."""
    i, j = spec.coords
    if exact is not None:
        ax.scatter(exact[:, i], exact[:, j], s=1, c="0.75", rasterized=True)
    ax.scatter(x[:, i], x[:, j], s=1, alpha=0.4, color=colour, rasterized=True)
    if spec.marks:
        marks = np.asarray(spec.marks)
        ax.scatter(marks[:, 0], marks[:, 1], marker="x", c="r", s=12, lw=0.8)
    limits = spec.limits or (
        _range(x[:, i], None if exact is None else exact[:, i]),
        _range(x[:, j], None if exact is None else exact[:, j]),
    )
    xlabel, ylabel = _coord_names(spec)
    ax.set(xlim=limits[0], ylim=limits[1], xlabel=xlabel, ylabel=ylabel)
    if spec.equal:
        ax.set_aspect("equal", adjustable="box")


def _stat_fn(target, i: int):
    import jax

    return jax.jit(jax.vmap(target.statistics[i].fn))


@styled
def cost_accuracy(table: pd.DataFrame, labels: list[str], colour: dict[str, str] | None = None):
    """Bars of ESS/s per configuration, and worst |bias|/sd against run seconds; mean ± sd over seeds.

    Horizontal bars of ESS/s (sampling only, and with warm-up / training); one legend of the configurations
    below.

    Parameters
    ----------
    table
        The aggregated leaderboard's rows (`bench.leaderboard.aggregate`), one per label.
    labels
        The rows' labels, in order.
    colour
        Label -> colour; None: `colours`.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    colour = colour or colours(labels)
    fig, (bars, scatter) = plt.subplots(1, 2, figsize=(WIDTH, 0.35 * len(labels) + 2.6), layout="constrained")
    pos = np.arange(len(labels))
    height = 0.38
    for k, key in enumerate(("ess_bulk_min_per_s", "ess_bulk_min_per_s_total")):
        m, sd = _col(table, key)
        bars.barh(
            pos + (k - 0.5) * height,
            m,
            height,
            xerr=sd,
            capsize=2,
            color=[colour[lab] for lab in labels],
            alpha=1.0 if k == 0 else 0.45,
            hatch=None if k == 0 else "//",
            edgecolor="white",
            lw=0,
        )
    bars.set_yticks(pos, labels)
    bars.invert_yaxis()
    bars.set(xscale="log", xlabel="smallest bulk ESS per second")
    cost, cost_sd = _col(table, "time_run")
    bias, bias_sd = _col(table, "worst_abs_bias_mean_sd")
    for j, label in enumerate(labels):
        scatter.errorbar(
            cost[j], bias[j], xerr=cost_sd[j], yerr=bias_sd[j], fmt="o", capsize=2, color=colour[label], label=label
        )
    scatter.set(
        xscale="log",
        xlabel="warm-up (or training) + sampling seconds per seed",
        ylabel="worst |bias| / true sd (lower is better)",
    )
    handles = [
        Patch(color="0.4", label="ESS/s of sampling"),
        Patch(facecolor="0.4", alpha=0.45, hatch="//", label="ESS/s incl. warm-up / training"),
    ]
    handles += scatter.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6), frameon=False)
    return fig


@styled
def bias2_against_cost(
    curves: dict[str, list[dict[str, np.ndarray]]], threshold: float, colour: dict[str, str] | None = None
):
    """The running bias2 against gradient evaluations and against seconds, log-log, `threshold` dashed.

    A seed without gradients (`grads` all 0) is left out of the left panel.

    Parameters
    ----------
    curves
        Sampler label -> one dict per seed with `bias2` (max over statistics after n draws per chain),
        `grads` and `seconds` spent by then (`bench.metrics.cost.cumulative_cost`).
    threshold
        The bias2 level marked.
    colour
        Label -> colour; None: `colours`.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    colour = colour or colours(list(curves))
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.8), layout="constrained")
    for label, seeds in curves.items():
        for k, c in enumerate(seeds):
            keep = _log_spaced(c["bias2"].size)
            for ax, x in zip(axes, ("grads", "seconds")):
                if x == "grads" and not np.asarray(c["grads"])[-1] > 0:
                    continue
                ax.plot(
                    np.asarray(c[x])[keep],
                    np.asarray(c["bias2"])[keep],
                    lw=1,
                    alpha=0.8,
                    color=colour[label],
                    label=label if k == 0 and x == "seconds" else None,
                )
    for ax, xlabel in zip(
        axes,
        ("gradient evaluations (warm-up / training included)", "seconds (warm-up / training included, compile apart)"),
    ):
        ax.axhline(threshold, color="k", ls="--", lw=1, label=f"bias² = {threshold:g}" if ax is axes[1] else None)
        ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="bias² max over statistics (running)")
    handles = axes[1].get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6), frameon=False)
    return fig


def _log_spaced(n: int, points: int = 2000) -> np.ndarray:
    """Indices 0..n-1 thinned to about `points`, log-spaced (the curves are drawn on a log axis)."""
    return np.unique(np.geomspace(1, n, min(n, points)).astype(int)) - 1


def _col(table: pd.DataFrame, key: str) -> tuple[np.ndarray, np.ndarray]:
    m = table.get(f"{key}.mean", pd.Series(np.nan, table.index)).to_numpy(float)
    sd = table.get(f"{key}.sd", pd.Series(np.nan, table.index)).to_numpy(float)
    return m, np.nan_to_num(sd)


def running_mean(y: np.ndarray, window: int) -> np.ndarray:
    """Centred running mean of `y` over `window` steps (fewer at the ends), NaNs skipped (pandas `rolling`).

    Parameters
    ----------
    y
        The values.
    window
        The steps averaged (at least 1).

    Returns
    -------
    numpy.ndarray
        The running mean, the length of `y`.
    """
    return pd.Series(np.asarray(y, float)).rolling(max(int(window), 1), center=True, min_periods=1).mean().to_numpy()


def _bound(c: dict[str, np.ndarray], window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(steps, the bound L to draw, the raw per-step L or None) of one training: per step (`loss`, a running
    mean over `window` steps) for reverse-KL training, where the objective is L; per round (`bound`, at each
    round's last step, already a mean over fresh draws) for adaptive training, whose per-step objective is not L."""
    steps = np.asarray(c["loss"]).size
    if "bound" in c:
        y = np.asarray(c["bound"], float)
        return (np.arange(y.size) + 1) * (steps // max(y.size, 1)), y, None
    raw = np.asarray(c["loss"], float)
    return np.arange(raw.size), running_mean(raw, window), raw


@styled
def training_curves(
    curves: dict[str, list[tuple[int, dict[str, np.ndarray]]]],
    log_Z: float | None,
    colour: dict[str, str] | None = None,
):
    """The bound L against training step, a running mean over 1/`SMOOTHING` of the longest training.

    Raw steps are drawn faint. With log Z known the curve is L + log Z, an upper bound on KL(q || target) >= 0,
    on a log scale; without, L - min L (the least smoothed L of all curves) on a symlog scale, linear within the
    median standard error of the running mean.

    Parameters
    ----------
    curves
        Configuration label -> [(seed, the DataTree's `training` group of that seed's training)].
    log_Z
        The target's log Z, or None.
    colour
        Label -> colour; None: `colours`.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    colour = colour or colours(list(curves))
    styles = ("-", "--", ":", "-.")
    longest = max((np.asarray(c["loss"]).size for seeds in curves.values() for _, c in seeds), default=1)
    window = max(1, longest // SMOOTHING)
    drawn, names = {}, {}  # one line per distinct training (configurations that share a training share a line)
    for label, seeds in curves.items():
        for seed, c in seeds:
            same = (seed, np.asarray(c["loss"]).tobytes(), np.asarray(c.get("bound", [])).tobytes())
            if same in names:
                names[same].append(label)
            else:
                names[same] = [label]
                drawn[label, seed] = _bound(c, window)
    shown = {key: ", ".join(labels) for key, labels in zip(drawn, names.values())}
    if log_Z is not None:
        shift, ylabel = -float(log_Z), "KL bound L + log Z (log scale)"
    else:
        shift = min(float(np.nanmin(y)) for _, y, _ in drawn.values())
        ylabel = "L − min L (symlog scale)"
    fig, ax = plt.subplots(figsize=(WIDTH * 0.75, 3.8), layout="constrained")
    for (label, seed), (x, y, raw) in drawn.items():
        k = [s for s, _ in curves[label]].index(seed)
        if raw is not None:
            thin = slice(None, None, max(1, raw.size // 4000))
            ax.plot(x[thin], raw[thin] - shift, lw=0.4, alpha=0.12, color=colour[label])
        ax.plot(
            x,
            y - shift,
            lw=1.4,
            ls=styles[k % len(styles)],
            color=colour[label],
            marker="." if raw is None else None,
            label=f"{shown[label, seed]} seed {seed}",
        )
    smooth = np.concatenate([y - shift for _, y, _ in drawn.values()])
    smooth = smooth[np.isfinite(smooth)]
    if log_Z is not None:
        ax.set_yscale("log")
        positive = smooth[smooth > 0]
        if positive.size:
            ax.set_ylim(positive.min() / 2, positive.max() * 2)
    else:
        se = [
            np.nanmedian(np.asarray(c["loss_se"], float)) / math.sqrt(window)
            for seeds in curves.values()
            for _, c in seeds
            if "loss_se" in c
        ]
        ax.set_yscale("symlog", linthresh=float(np.nanmedian(se)) if se and np.nanmedian(se) > 0 else 1e-3)
        if smooth.size:
            ax.set_ylim(min(smooth.min(), 0), smooth.max() * 1.5)
    ax.set(
        xlabel="training step", ylabel=ylabel, title=f"running mean over {window} steps (faint: each step's estimate)"
    )
    fig.legend(loc="outside right upper", frameon=False)
    return fig


@styled
def rank_plot(tree, statistics: list[str], title: str, chains: int = RANK_CHAINS):
    """ArviZ rank ECDF plot (arviz-plots `plot_rank`) of the given statistics of one cell.

    The difference of the chains' fractional-rank ECDFs from uniform, the multi-chain uniformity test's p and
    its flagged points; ranks and the test over all chains, the ECDFs of the first `chains` drawn.

    Parameters
    ----------
    tree
        The cell's DataTree.
    statistics
        The statistics' names.
    title
        The figure's title (before the description of what is drawn).
    chains
        The chains whose ECDFs are drawn.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import arviz_plots as ap

    n_chains = tree["posterior"].sizes["chain"]
    pc = ap.plot_rank(
        tree,
        var_names=["statistics"],
        coords={"statistic": statistics},
        backend="matplotlib",
        figure_kwargs={"figsize": (WIDTH, PANEL + 0.6), "layout": "constrained"},
    )
    viz = pc.viz
    fig = viz.ds["figure"].item()
    lines = viz["ecdf_lines"]["statistics"]
    for line in np.ravel(lines.isel(chain=slice(chains, None)).values):
        line.set_visible(False)
    for name in statistics:  # the test's flagged points, of the chains drawn only
        flagged = viz["suspicious_points"]["statistics"].sel(statistic=name).item()
        drawn = {tuple(xy) for line in lines.sel(statistic=name).values[:chains] for xy in line.get_xydata()}
        offsets = np.asarray(flagged.get_offsets())
        flagged.set_offsets(offsets[[tuple(xy) in drawn for xy in offsets]].reshape(-1, 2))
        flagged.set_sizes([2])
    for name, text in zip(statistics, np.ravel(viz["title"]["statistics"].values)):
        text.set_text(name)
    for ax in fig.axes:
        for text in ax.texts:
            text.set_fontsize(8)
    shown = f"chains 0–{min(chains, n_chains) - 1} of {n_chains} drawn" if n_chains > chains else f"{n_chains} chains"
    fig.suptitle(f"{title}: rank ECDF − uniform ({shown}; ranks, p and flagged points over all chains)")
    return fig
