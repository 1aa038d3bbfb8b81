"""The report's figures, one function each; every function takes loaded data and returns a matplotlib Figure.

- `draws_vs_exact`: the samplers' draws against the target's exact draws, by target family: the funnel's
  v marginal and its (v, x_1) neck; gmm40's draws over its 40 means; the spin relaxations' magnetisation
  (E[m | x], Rao-Blackwellised) against the exact one; otherwise the headline statistic's marginal.
- `cost_accuracy`: ESS/s (with and without warm-up) and worst |bias|/sd against cost, per sampler configuration.
- `bias2_against_cost`: the running bias2 (max over statistics) against gradient evaluations and against seconds,
  warm-up included (`bench.metrics.cost`), log-log, one colour per sampler configuration, 0.01 marked.
- `training_curves`: the VAE's training bound against step (the DataTree's `training` group).
- `rank_plot`: ArviZ rank ECDF plot (arviz-plots `plot_rank`) of the headline statistics of one cell.

Weighted draws (`vae-is`) are resampled by their importance weights before they are plotted.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

PLOT_POINTS = 4000          # draws shown per sampler (thinned or resampled)
EXACT_POINTS = 20000        # exact draws of the reference
SPIN_TARGETS = ("ising", "sk", "boltzmann")


def points(tree, n: int = PLOT_POINTS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, dim), statistics (n, n_stat)) of a cell's draws: thinned, or resampled by weight when weighted."""
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


def _grid(n: int, rows: int = 1, size: float = 3.0):
    fig, axes = plt.subplots(rows, n, figsize=(size * n + 0.5, size * rows), squeeze=False, constrained_layout=True)
    return fig, axes


def draws_vs_exact(target, cells: dict[str, object], exact: np.ndarray | None):
    """`cells`: sampler label -> DataTree of one cell; `exact`: exact draws (n, dim) or None."""
    names = list(cells)
    stat_names = [s.name for s in target.statistics]
    if target.name == "funnel":
        fig, axes = _grid(len(names), rows=2)
        grid = np.linspace(-12, 12, 400)
        for j, name in enumerate(names):
            x, _ = points(cells[name])
            ax = axes[0, j]
            ax.hist(x[:, 0], bins=60, range=(-12, 12), density=True, alpha=0.6, label="draws")
            ax.plot(grid, np.exp(-grid**2 / 18) / np.sqrt(18 * np.pi), "k", lw=1, label="N(0, 3²)")
            ax.set(title=name, xlabel="v")
            ax = axes[1, j]
            if exact is not None:
                ax.scatter(exact[:, 0], exact[:, 1], s=1, c="0.75", label="exact", rasterized=True)
            ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.5, label="draws", rasterized=True)
            ax.set(xlim=(-10, 10), ylim=(-30, 30), xlabel="v", ylabel="x_1")
        axes[0, 0].legend(fontsize=7)
        axes[1, 0].legend(fontsize=7, markerscale=5)
        fig.suptitle(f"{target.id}: v marginal (top) and the (v, x_1) neck (bottom)")
        return fig
    if target.name == "gmm40":
        from targets.gmm40 import gmm40_means
        means = gmm40_means(target.dim)
        fig, axes = _grid(len(names), size=3.4)
        for j, name in enumerate(names):
            x, _ = points(cells[name])
            ax = axes[0, j]
            ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.4, rasterized=True)
            ax.scatter(means[:, 0], means[:, 1], marker="x", c="r", s=12, lw=0.8, label="the 40 means")
            ax.set(title=name, xlim=(-45, 45), ylim=(-45, 45), xlabel="x_0", ylabel="x_1", aspect="equal")
        axes[0, 0].legend(fontsize=7, loc="lower left")
        fig.suptitle(f"{target.id}: draws over the 40 means" + (" (first two coordinates)" if target.dim > 2 else ""))
        return fig
    if target.name in SPIN_TARGETS and "m" in stat_names:
        i, label = stat_names.index("m"), "magnetisation E[m | x]"
    else:
        i, label = stat_names.index(target.headline_statistic.name), target.headline_statistic.name
    exact_stat = None
    if exact is not None:
        exact_stat = np.asarray(_stat_fn(target, i)(exact))
    fig, axes = _grid(len(names))
    for j, name in enumerate(names):
        _, s = points(cells[name])
        lo, hi = np.percentile(np.concatenate([s[:, i], exact_stat if exact_stat is not None else s[:, i]]), [0.5, 99.5])
        ax = axes[0, j]
        if exact_stat is not None:
            ax.hist(exact_stat, bins=50, range=(lo, hi), density=True, color="0.7", label="exact")
        ax.hist(s[:, i], bins=50, range=(lo, hi), density=True, alpha=0.6, label="draws")
        ax.axvline(target.statistics[i].mean, c="k", lw=1, ls="--", label="true mean")
        ax.set(title=name, xlabel=label)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{target.id}: {label}, draws against exact draws")
    return fig


def _stat_fn(target, i: int):
    import jax
    return jax.jit(jax.vmap(target.statistics[i].fn))


def cost_accuracy(table: pd.DataFrame, labels: list[str]):
    """Bars of ESS/s (sampling only, and with warm-up / training), and worst |bias|/sd against run seconds."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), constrained_layout=True)
    ax = axes[0]
    pos = np.arange(len(table))
    for k, (key, name) in enumerate([("ess_bulk_min_per_s", "ESS/s"),
                                     ("ess_bulk_min_per_s_total", "ESS/s incl. warm-up / training")]):
        m, sd = _col(table, key)
        ax.bar(pos + (k - 0.5) * 0.38, m, 0.38, yerr=sd, capsize=2, label=name)
    ax.set_xticks(pos, labels, rotation=20, ha="right", fontsize=7)
    ax.set(yscale="log", ylabel="min bulk ESS per second (mean ± sd over seeds)")
    ax.legend(fontsize=7)
    ax = axes[1]
    cost, cost_sd = _col(table, "time_run")
    bias, bias_sd = _col(table, "worst_abs_bias_mean_sd")
    for j, label in enumerate(labels):
        ax.errorbar(cost[j], bias[j], xerr=cost_sd[j], yerr=bias_sd[j], fmt="o", capsize=2, label=label)
    ax.set(xscale="log", xlabel="warm-up (or training) + sampling seconds per seed",
           ylabel="worst |bias| / true sd (lower is better)")
    ax.legend(fontsize=7)
    return fig


def bias2_against_cost(curves: dict[str, list[dict[str, np.ndarray]]], threshold: float):
    """`curves`: sampler label -> one dict per seed with `bias2` (max over statistics after n draws per chain),
    `grads` and `seconds` spent by then (`bench.metrics.cost.cumulative_cost`); a label without gradients
    (`grads` all 0) is left out of the left panel. Log-log, `threshold` as a dashed line."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, (label, seeds) in enumerate(curves.items()):
        for k, c in enumerate(seeds):
            keep = _log_spaced(c["bias2"].size)
            for ax, x in zip(axes, ("grads", "seconds")):
                if x == "grads" and not np.asarray(c["grads"])[-1] > 0:
                    continue
                ax.plot(np.asarray(c[x])[keep], np.asarray(c["bias2"])[keep], lw=1, alpha=0.8,
                        color=colours[j % len(colours)], label=label if k == 0 else None)
    for ax, xlabel in zip(axes, ("gradient evaluations (warm-up / training included)",
                                 "seconds (warm-up / training included, compile apart)")):
        ax.axhline(threshold, color="k", ls="--", lw=1, label=f"bias² = {threshold:g}")
        ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="bias² max over statistics (running)")
        ax.legend(fontsize=7)
    return fig


def _log_spaced(n: int, points: int = 2000) -> np.ndarray:
    """Indices 0..n-1 thinned to about `points`, log-spaced (the curves are drawn on a log axis)."""
    return np.unique(np.geomspace(1, n, min(n, points)).astype(int)) - 1


def _col(table: pd.DataFrame, key: str) -> tuple[np.ndarray, np.ndarray]:
    m = table.get(f"{key}.mean", pd.Series(np.nan, table.index)).to_numpy(float)
    sd = table.get(f"{key}.sd", pd.Series(np.nan, table.index)).to_numpy(float)
    return m, np.nan_to_num(sd)


def training_curves(curves: dict[str, dict[str, np.ndarray]]):
    """`curves`: label -> the DataTree's `training` group of one training. The bound L against step: per
    step (`loss`, `loss_se`) for reverse-KL training, where the objective is L; per round (`bound`,
    `bound_se`, at each round's last step) for adaptive training, whose per-step objective is not L."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6), constrained_layout=True)
    shown = []
    for label, c in curves.items():
        steps = np.asarray(c["loss"]).size
        if "bound" in c:
            y, se = np.asarray(c["bound"]), np.asarray(c.get("bound_se", np.zeros_like(c["bound"])))
            x = (np.arange(y.size) + 1) * (steps // max(y.size, 1))
        else:
            y, se = np.asarray(c["loss"]), np.asarray(c["loss_se"]) if "loss_se" in c else None
            x = np.arange(y.size)
        line, = ax.plot(x, y, lw=1, label=label, marker="." if "bound" in c else None, ms=2)
        if se is not None:
            ax.fill_between(x, y - 2 * se, y + 2 * se, color=line.get_color(), alpha=0.2, lw=0)
        shown.append(y[np.isfinite(y)])
    finite = np.concatenate(shown) if shown else np.array([])
    if finite.size:
        lo, hi = np.percentile(finite, [1, 95])
        ax.set_ylim(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))
    ax.set(xlabel="training step", ylabel="bound L (± 2 se); L + log Z bounds KL")
    ax.legend(fontsize=7)
    return fig


def rank_plot(tree, statistics: list[str], title: str):
    """ArviZ rank ECDF plot (arviz-plots `plot_rank`: difference of the chains' rank ECDFs from uniform,
    with a simultaneous envelope) of the given statistics; returns the figure."""
    import arviz_plots as ap
    pc = ap.plot_rank(tree, var_names=["statistics"], coords={"statistic": statistics}, backend="matplotlib")
    fig = pc.viz.ds["figure"].item()
    fig.suptitle(title, y=1.02, fontsize=9)
    return fig
