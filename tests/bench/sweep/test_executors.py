"""The Dask executor (a LocalCluster) and the submitit executor (its local mode) run a small grid to the same
records as the local one: the same cell ids and the same numbers (seeded, deterministic on CPU), timing
fields apart."""

import pathlib

import pytest

from bench import store
from bench.sweep import load, run_sweep

GRID = """
name = "grid"
seeds = [0, 1]
[budget]
chains = 2
draws = 20
warmup = 50
[[targets]]
name = "gaussian"
params = { dim = 2 }
[[samplers]]
name = "hmc"
params = { num_integration_steps = [4, 8] }
"""
# fields that depend on the clock, on the process (compile caches) or on the run, not on the cell
TIMING = (
    "time_",
    "seconds_to_",
    "ess_bulk_min_per_s",
    "ess_bulk_per_s",
    "info.time_",
    "info.compile_cached",
    "started",
    "finished",
    "sweep.run",
)


def _numbers(out: pathlib.Path) -> dict[str, dict]:
    return {
        r["cell_id"]: {k: v for k, v in r.items() if not k.startswith(TIMING) and "per_s" not in k}
        for r in store.read_records(out)
    }


@pytest.fixture(scope="module")
def local_records(tmp_path_factory):
    folder = tmp_path_factory.mktemp("local")
    (folder / "grid.toml").write_text(GRID)
    config = load(folder / "grid.toml", {"out": folder / "results"})
    assert run_sweep(config, log=lambda m: None).ok == 4
    return _numbers(folder / "results")


def _run(tmp_path, executor, **options):
    (tmp_path / "grid.toml").write_text(GRID)
    config = load(tmp_path / "grid.toml", {"out": tmp_path / "results", "executor": executor, **options})
    summary = run_sweep(config, log=lambda m: None)
    assert summary.ok == 4 and summary.lost == 0, summary.failures
    return _numbers(tmp_path / "results")


def test_dask_local_cluster_writes_the_same_records(tmp_path, local_records):
    records = _run(tmp_path, "dask", n_workers=1, processes=False)
    assert records.keys() == local_records.keys()
    for cell_id, record in records.items():
        assert record == local_records[cell_id]


def test_submitit_local_executor_writes_the_same_records(tmp_path, local_records):
    records = _run(tmp_path, "slurm", cluster="local", time=10)
    assert records.keys() == local_records.keys()
    for cell_id, record in records.items():
        assert record == local_records[cell_id]
    logs = list((tmp_path / "results" / "sweeps" / "submitit").rglob("*_log.out"))
    assert len(logs) == 2  # one job per (target, sampler) configuration, its two seeds inside
