"""One cell: a failing sampler or a non-finite log density is recorded as failed, with its reason."""
import dataclasses
import json

import jax.numpy as jnp
import numpy as np

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
    for column in ("cell_id", "target.dim", "target.condition", "seed", "precision", "chains", "draws",
                   "warmup", "time_sampling", "ess_bulk_min", "rhat_max", "mmd2", "bias2[x[0]]",
                   "version.jax", "device", "git_commit"):
        assert column in record, column
    assert record["precision"] == "float64" and record["seed"] == 3
    again = run_cell(make_target("gaussian", dim=2), _iid_sampler(), {}, 3, BUDGET, None)
    assert again["cell_id"] == record["cell_id"]  # the identity, not the time, names the cell
