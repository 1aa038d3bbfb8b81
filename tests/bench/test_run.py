"""One cell: a failing sampler or a non-finite log density is recorded as failed, with its reason."""

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import pytest

from baselines.draws import Cost, Draws
from bench import store
from bench.run import Budget, run_cell
from bench.samplers import Sampler, get_sampler
from targets import make_target

BUDGET = Budget(chains=2, draws=50, warmup=50)


def _iid_sampler(bad_draw=None):
    """A 'sampler' returning standard normal draws; optionally one NaN log density."""

    def run(key, logdensity_fn, initial_positions, *, num_warmup, num_draws):
        chains, dim = initial_positions.shape
        x = np.random.default_rng(0).normal(size=(chains, num_draws, dim))
        lp = np.zeros((chains, num_draws))
        if bad_draw is not None:
            lp[bad_draw] = np.nan
        return Draws(positions=x, logdensity=lp, stats={}, cost=Cost(time_sampling=1.0, time_warmup=1.0))

    return Sampler("iid", run, "test double")


def test_nan_at_start_marks_the_cell_failed_and_writes_it(tmp_path):
    target = dataclasses.replace(make_target("gaussian", dim=2), log_prob=lambda x: jnp.nan * x[0])
    record = run_cell(target, get_sampler("nuts"), {}, 0, BUDGET, tmp_path)
    assert record["status"] == "failed"
    assert "NonFiniteLogDensity" in record["error"] and "initial position of chain 0" in record["error"]
    saved = json.loads((store.cell_dir(tmp_path, record) / "record.json").read_text())
    assert saved["status"] == "failed" and saved["error"] == record["error"]


def test_nan_at_a_kept_draw_marks_the_cell_failed(tmp_path):
    record = run_cell(make_target("gaussian", dim=2), _iid_sampler(bad_draw=(1, 7)), {}, 0, BUDGET, tmp_path)
    assert record["status"] == "failed"
    assert "chain 1, draw 7" in record["error"]
    assert (store.cell_dir(tmp_path, record) / "draws.nc").exists()  # kept for diagnosis


def test_sampler_exception_is_recorded_not_raised(tmp_path):
    def boom(key, logdensity_fn, initial_positions, *, num_warmup, num_draws):
        raise RuntimeError("exploded")

    record = run_cell(make_target("gaussian", dim=2), Sampler("boom", boom, ""), {}, 0, BUDGET, tmp_path)
    assert record["status"] == "failed" and record["error"] == "RuntimeError: exploded"


def test_ok_cell_carries_identity_cost_metrics_and_provenance(tmp_path):
    record = run_cell(make_target("gaussian", dim=2), _iid_sampler(), {}, 3, BUDGET, tmp_path)
    assert record["status"] == "ok", record.get("traceback")
    for column in (
        "cell_id",
        "target.dim",
        "target.condition",
        "seed",
        "precision",
        "chains",
        "draws",
        "warmup",
        "time_sampling",
        "ess_bulk_min",
        "rhat_max",
        "mmd2",
        "bias2[x[0]]",
        "version.jax",
        "device",
        "git_commit",
    ):
        assert column in record, column
    assert record["precision"] == "float64" and record["seed"] == 3
    again = run_cell(make_target("gaussian", dim=2), _iid_sampler(), {}, 3, BUDGET, None)
    assert again["cell_id"] == record["cell_id"]  # the identity, not the time, names the cell


def _nan_gradient(x):
    """A finite density whose gradient is NaN (jnp.where differentiates both branches): no move is accepted."""
    return jnp.where(True, -0.5 * jnp.sum(x**2), jnp.sqrt(-jnp.abs(x[0]) - 1.0))


def test_chains_that_never_move_fail_and_a_healthy_run_does_not(tmp_path):
    """NUTS on a NaN gradient rejects every step (acceptance 0, every draw divergent): the cell fails as
    FrozenChains with its reason, its draws kept for diagnosis, instead of an ok cell with a large ESS/s.
    The same NUTS on the healthy density is ok."""
    target = make_target("gaussian", dim=2)
    frozen = run_cell(dataclasses.replace(target, log_prob=_nan_gradient), get_sampler("nuts"), {}, 0, BUDGET, tmp_path)
    assert frozen["status"] == "failed", {k: frozen.get(k) for k in ("acceptance_rate", "ess_bulk_min_per_s")}
    assert frozen["error"].startswith("FrozenChains: acceptance 0 in all 2 chains")
    assert (store.cell_dir(tmp_path, frozen) / "draws.nc").exists()
    healthy = run_cell(target, get_sampler("nuts"), {}, 0, BUDGET, None)
    assert healthy["status"] == "ok", healthy.get("error")


def test_frozen_chains_checks_every_acceptance_and_the_statistics():
    """A hybrid whose VAE move never accepts but whose local moves do still moves: not frozen. All draws
    divergent, or every statistic constant within every chain, is frozen."""
    from bench.run import FrozenChains, check_moved

    x = np.random.default_rng(1).normal(size=(2, 20, 2))
    cost = Cost(time_sampling=1.0)
    zeros, halves = np.zeros((2, 20)), np.full((2, 20), 0.5)
    moving = Draws(
        positions=x, logdensity=zeros, cost=cost, stats={"acceptance_rate": zeros, "local_acceptance_rate": halves}
    )
    check_moved(moving, x)
    divergent = Draws(positions=x, logdensity=zeros, cost=cost, stats={"diverging": np.ones((2, 20), bool)})
    constant = np.broadcast_to(x[:, :1, :], x.shape)
    for draws, values, reason in (
        (divergent, x, "every draw divergent"),
        (Draws(positions=x, logdensity=zeros, cost=cost, stats={}), constant, "every statistic is constant"),
    ):
        with pytest.raises(FrozenChains, match=reason):
            check_moved(draws, values)


@pytest.mark.parametrize(
    "sampler, params, message",
    [
        ("vae-gibbs", {"jitter": float("inf")}, "jitter must be a finite number"),
        ("nuts", {"target_acceptance_rate": float("nan")}, "target_acceptance_rate must be a finite number"),
        ("nuts", {"max_num_doublings": 0}, "max_num_doublings"),
    ],
)
def test_a_python_caller_gets_the_clis_parameter_checks_before_anything_runs(tmp_path, sampler, params, message):
    with pytest.raises(ValueError, match=message):
        run_cell(make_target("gaussian", dim=2), get_sampler(sampler), params, 0, BUDGET, tmp_path)
    assert not list(tmp_path.rglob("record.json"))  # refused before the cell ran, so nothing written
