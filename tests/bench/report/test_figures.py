"""The report's figures one by one: short labels, the target's own picture (`Target.plot`), smoothed training
curves on a log scale, rank plots that draw few of many chains."""

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pytest

from bench import store
from bench.report import figures
from targets.base import Plot
from targets.registry import make_target


def test_short_labels_are_sampler_names_numbered_where_a_sampler_repeats():
    assert figures.short_labels(["nuts", "vae-is", "nuts", "mala"]) == ["nuts (1)", "vae-is", "nuts (2)", "mala"]


def _tree(x, target, weighted=False, seed=0):
    import jax

    chains, draws, dim = x.shape
    values = np.stack(
        [np.asarray(jax.vmap(s.fn)(x.reshape(-1, dim))).reshape(chains, draws) for s in target.statistics], -1
    )
    stats = {"logdensity": np.zeros((chains, draws))}
    if weighted:
        stats["log_weight"] = np.random.default_rng(seed).normal(size=(chains, draws)) * 0.1
    return store.to_datatree(x, [s.name for s in target.statistics], values, stats, {"cell_id": "c"})


@pytest.fixture(scope="module")
def funnel_cells():
    import jax

    target = make_target("funnel", dim=3)
    cells = {
        name: _tree(np.asarray(target.sample(jax.random.key(k), 4 * 100)).reshape(4, 100, 3), target)
        for k, name in enumerate(("nuts", "vae-gibbs"))
    }
    return target, cells, np.asarray(target.sample(jax.random.key(9), 2000))


def test_draws_follow_the_targets_plot_its_projection_and_limits(funnel_cells):
    target, cells, exact = funnel_cells
    fig = figures.draws_vs_exact(target, cells, exact)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    marginals, projections = visible[:2], visible[2:]
    assert [ax.get_title() for ax in marginals] == ["nuts", "vae-gibbs"]
    assert all(ax.get_xlabel() == "v" for ax in marginals)
    assert [(ax.get_xlim(), ax.get_ylim(), ax.get_ylabel()) for ax in projections] == [
        ((-10, 10), (-30, 30), "x[1]")
    ] * 2
    plt.close(fig)


def test_a_target_without_a_projection_gets_its_statistics_marginal_and_a_bad_statistic_is_named(funnel_cells):
    target, cells, exact = funnel_cells
    plain = dataclasses.replace(target, plot=Plot(statistic="x[2]"))
    fig = figures.draws_vs_exact(plain, cells, exact)
    assert [ax.get_xlabel() for ax in fig.axes if ax.get_visible()] == ["x[2]", "x[2]"]
    plt.close(fig)
    with pytest.raises(ValueError, match=r"names statistic 'w'; statistics: v, x\[1\], x\[2\]"):
        figures.draws_vs_exact(dataclasses.replace(target, plot=Plot(statistic="w")), cells, exact)


def _training(steps, seed, level=0.05):
    rng = np.random.default_rng(seed)
    return {
        "loss": 3 * np.exp(-np.arange(steps) / (steps / 10)) + level + rng.normal(size=steps) * 0.5,
        "loss_se": np.full(steps, 0.5),
        "beta": np.ones(steps),
    }


def test_training_curves_are_running_means_on_a_log_scale_of_the_kl_bound():
    """With log Z known: L + log Z on a log axis; the bold line is the running mean (far smoother than the raw
    steps, drawn faint); two configurations with the same training share one line."""
    shared = _training(20_000, 1)
    curves = {"vae-gibbs": [(0, _training(3000, 0))], "vae-imh": [(0, shared)], "vae-is": [(0, shared)]}
    fig = figures.training_curves(curves, log_Z=1.0)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    bold = [line for line in ax.lines if line.get_label().endswith("seed 0")]
    assert sorted(line.get_label() for line in bold) == ["vae-gibbs seed 0", "vae-imh, vae-is seed 0"]
    line = next(line for line in bold if "vae-imh" in line.get_label())
    x, y = line.get_data()
    expected = figures.running_mean(shared["loss"], 20_000 // figures.SMOOTHING) + 1.0  # L + log Z
    np.testing.assert_allclose(y, expected)
    raw = shared["loss"] + 1.0
    assert np.std(np.diff(y)) < np.std(np.diff(raw)) / 10
    plt.close(fig)


def test_training_curves_without_log_z_are_the_excess_over_the_least_bound_on_a_symlog_scale():
    curves = {"vae-is": [(0, _training(2000, 0, level=-7.0)), (1, _training(2000, 1, level=-7.0))]}
    fig = figures.training_curves(curves, log_Z=None)
    ax = fig.axes[0]
    assert ax.get_yscale() == "symlog"
    bold = [line for line in ax.lines if line.get_label().endswith(("seed 0", "seed 1"))]
    assert min(np.min(line.get_ydata()) for line in bold) == 0.0
    assert {line.get_linestyle() for line in bold} == {"-", "--"}  # one style per seed
    plt.close(fig)


def test_rank_plot_of_32_chains_draws_8_and_only_their_flagged_points():
    import jax

    target = make_target("funnel", dim=3)
    x = np.array(target.sample(jax.random.key(0), 32 * 200)).reshape(32, 200, 3)
    x[[0, 1, 30, 31], :, 0] += 2.0  # chains off, drawn (0, 1) and not (30, 31): the test flags their points
    fig = figures.rank_plot(_tree(x, target), ["v", "x[1]"], "nuts")
    assert "chains 0–7 of 32 drawn" in fig.get_suptitle()
    n_flagged = 0
    for ax in fig.axes:
        lines = [line for line in ax.lines if line.get_visible() and len(line.get_xdata()) > 2]
        assert len(lines) == figures.RANK_CHAINS
        on_lines = {tuple(xy) for line in lines for xy in line.get_xydata()}
        flagged = [np.asarray(c.get_offsets()) for c in ax.collections if len(c.get_offsets())]
        n_flagged += sum(map(len, flagged))
        assert all(tuple(xy) in on_lines for points in flagged for xy in points)
    assert n_flagged > 0
    assert [ax.get_title() for ax in fig.axes] == ["v", "x[1]"]
    plt.close(fig)
