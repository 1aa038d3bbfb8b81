"""The report of a results folder: an HTML page whose every image is a PNG that exists, with the figures the
issue asks for (draws against exact draws, cost, VAE training curves, rank plots)."""

import dataclasses
import html.parser
import json
import pathlib

import numpy as np

from baselines.draws import Cost
from bench import store
from bench.report import write_report
from targets.registry import make_target


def _cell(out, sampler, seed, weighted=False, training=False):
    """A synthetic cell of the funnel (dim 3): exact draws as the sampler's, so the figures have data."""
    import jax

    target = make_target("funnel", dim=3)
    x = np.asarray(target.sample(jax.random.key(seed), 2 * 50)).reshape(2, 50, 3)
    values = np.stack([np.asarray(jax.vmap(s.fn)(x.reshape(-1, 3))).reshape(2, 50) for s in target.statistics], -1)
    stats = {"logdensity": np.zeros((2, 50))}
    if weighted:
        stats["log_weight"] = np.random.default_rng(seed).normal(size=(2, 50)) * 0.1
    traces = {"loss": np.linspace(3, 0.1, 30), "loss_se": np.full(30, 0.05), "beta": np.ones(30)} if training else None
    record = {
        "cell_id": f"{sampler}-{seed}",
        "target": "funnel",
        "target_id": "funnel(dim=3)",
        "target.dim": 3,
        "sampler": sampler,
        "sampler_id": sampler,
        "chains": 2,
        "draws": 50,
        "warmup": 50,
        "seed": seed,
        "precision": "float64",
        "device": "cpu",
        "status": "ok",
        "ess_bulk_min_per_s": 100.0 + seed,
        "ess_bulk_min_per_s_total": 50.0 + seed,
        "time_run": 0.1 * (seed + 1),
        "worst_bias_mean_sd": 0.1,
        **dataclasses.asdict(
            Cost(
                grad_evals_warmup=0 if weighted else 500,
                grad_evals_sampling=0 if weighted else 1000,
                logdensity_evals_sampling=1000,
                time_warmup=0.05,
                time_sampling=0.1,
            )
        ),
    }
    tree = store.to_datatree(
        x, [s.name for s in target.statistics], values, stats, {"cell_id": record["cell_id"]}, traces
    )
    store.write_cell(out, record, tree)


class _Images(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def test_report_html_references_pngs_that_exist(tmp_path):
    for seed in (0, 1):
        _cell(tmp_path, "nuts", seed)
        _cell(tmp_path, "vae-is", seed, weighted=True, training=True)
    page = write_report(tmp_path, tmp_path / "report")
    parser = _Images()
    parser.feed(page.read_text())
    assert parser.sources
    for src in parser.sources:
        path = page.parent / src
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", src
    names = {pathlib.Path(s).name for s in parser.sources}
    assert {
        "funnel-dim-3-draws.png",
        "funnel-dim-3-cost.png",
        "funnel-dim-3-training.png",
        "funnel-dim-3-rank-0.png",
        "funnel-dim-3-bias2.png",
    } <= names
    assert "funnel-dim-3-rank-1.png" not in names  # no rank plot of weighted (independent) draws
    assert "<table" in page.read_text() and "vae-is" in page.read_text()


def test_points_read_the_flat_draws_of_a_posterior_target():
    """A numpyro posterior's DataTree keeps named values in `posterior` and the flat vector in
    `unconstrained_posterior`: the figures take the flat draws from there (they used to fail on `x`)."""
    from bench.report.figures import points

    x = np.arange(2 * 5 * 3, dtype=float).reshape(2, 5, 3)
    values = x[..., :1]
    tree = store.to_datatree(
        x,
        ["tau"],
        values,
        {"logdensity": np.zeros((2, 5))},
        {"cell_id": "c"},
        variables={"tau": x[..., 0], "theta": x[..., 1:]},
    )
    flat, stats = points(tree, n=10)
    assert flat.shape == (10, 3) and stats.shape == (10, 1)
    assert set(map(tuple, flat)) == set(map(tuple, x.reshape(-1, 3)))


def test_an_unreadable_draws_file_is_named_and_skipped_and_the_page_is_written(tmp_path):
    import pytest

    for seed in (0, 1):
        _cell(tmp_path, "nuts", seed)
    draws = tmp_path / "runs" / "funnel" / "nuts" / "nuts-0" / store.DRAWS
    draws.write_bytes(draws.read_bytes()[:3000])
    with pytest.warns(UserWarning, match="skipping the draws of cell nuts-0 .*seed 0"):
        page = write_report(tmp_path, tmp_path / "report")
    parser = _Images()
    parser.feed(page.read_text())
    assert "figures/funnel-dim-3-draws.png" in parser.sources  # from seed 1, the readable one


def test_an_empty_results_folder_says_so_and_exits_2(tmp_path, capsys):
    import pytest

    from bench.cli import main

    (tmp_path / "runs").mkdir()
    for command in ("leaderboard", "report"):
        with pytest.raises(SystemExit) as info:
            main([command, "--results", str(tmp_path)])
        assert info.value.code == 2 and f"no records under {tmp_path / 'runs'}" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # nothing written


def test_bias2_figure_draws_the_running_bias2_against_gradients_and_seconds_with_001_marked(tmp_path):
    """One line per seed and sampler configuration in each panel (the gradient-free weighted cells only in the
    seconds panel), on log-log axes, the 0.01 line in both; each line's last point is the cell's bias2 of all draws
    at the cell's whole cost (warm-up + sampling)."""
    import arviz as az
    import jax
    import pytest

    from bench.metrics.accuracy import bias2
    from bench.report import page
    from bench.report.figures import bias2_against_cost

    target = make_target("funnel", dim=3)
    curves = {}
    for sampler, weighted in (("nuts", False), ("vae-is", True)):
        for seed in (0, 1):
            _cell(tmp_path, sampler, seed, weighted=weighted)
            cell = store.cell_dir(tmp_path, {"target": "funnel", "sampler": sampler, "cell_id": f"{sampler}-{seed}"})
            record = json.loads((cell / store.RECORD).read_text())
            curve = page._bias2_curve(target, az.from_netcdf(cell / store.DRAWS), record)
            curves.setdefault(sampler, []).append(curve)
            x = np.asarray(target.sample(jax.random.key(seed), 100))
            if not weighted:  # unweighted: the last point is bias2 of all 100 draws, at warm-up + sampling
                values = np.stack([np.asarray(jax.vmap(s.fn)(x)) for s in target.statistics], -1)
                truth = [np.array([getattr(s, k) for s in target.statistics]) for k in ("mean", "sd", "sq_sd")]
                full = bias2((values**2).mean(0), *truth)
                assert curve["bias2"][-1] == pytest.approx(full.max(), rel=1e-9)
                assert curve["grads"][-1] == 1500 and curve["seconds"][-1] == pytest.approx(0.15)
    fig = bias2_against_cost(curves, 0.01)
    grads_ax, seconds_ax = fig.axes
    assert grads_ax.get_xscale() == grads_ax.get_yscale() == seconds_ax.get_xscale() == "log"
    assert len(grads_ax.lines) == 2 + 1 and len(seconds_ax.lines) == 4 + 1  # seeds' lines + the 0.01 line
    assert all(list(ax.lines[-1].get_ydata()) == [0.01, 0.01] for ax in fig.axes)
