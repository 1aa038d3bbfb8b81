"""The CLI end to end on a tiny budget, and its answers to bad input (exit 2, valid choices named)."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bench import samplers as sampler_registry
from bench.cli import main
from bench.samplers import Sampler

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_run_end_to_end(tmp_path):
    cmd = [sys.executable, "-m", "bench", "run", "--target", "gaussian", "--param", "dim=2",
           "--sampler", "nuts,hmc", "--sampler-param", "hmc.num_integration_steps=8", "--seeds", "0,1",
           "--chains", "2", "--draws", "100", "--warmup", "100", "--out", str(tmp_path), "--no-progress"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "250"})
    assert done.returncode == 0, done.stderr
    assert "gaussian(condition=100.0,dim=2)" in done.stdout
    assert "nuts" in done.stdout and "hmc(num_integration_steps=8)" in done.stdout
    board = pd.read_csv(tmp_path / "leaderboard" / "gaussian.csv")
    assert sorted(board["sampler"]) == ["hmc", "nuts"] and set(board["n_seeds"]) == {2}
    records = [json.loads(p.read_text()) for p in (tmp_path / "runs" / "gaussian").glob("*/*/record.json")]
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    assert {r["sampler.num_integration_steps"] for r in records if r["sampler"] == "hmc"} == {8}
    import arviz as az
    tree = az.from_netcdf(next((tmp_path / "runs" / "gaussian" / "nuts").glob("*/draws.nc")))
    assert tree["posterior"]["x"].shape == (2, 100, 2)
    assert int(tree["sample_stats"]["n_steps"].sum()) == next(
        r["grad_evals_sampling"] for r in records if r["cell_id"] == tree.attrs["cell_id"])


def test_float32_run_on_a_mixture_records_its_precision_and_modes(tmp_path):
    cmd = [sys.executable, "-m", "bench", "run", "--target", "gmm40", "--sampler", "nuts", "--precision", "float32",
           "--chains", "2", "--draws", "100", "--warmup", "50", "--out", str(tmp_path), "--no-progress"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "/40" in done.stdout and "EMC" in done.stdout
    record = json.loads(next((tmp_path / "runs" / "gmm40").glob("*/*/record.json")).read_text())
    assert record["precision"] == "float32"
    # Two short NUTS chains reach a few neighbouring modes, never most of the 40: EMC <= log(k) / log(40).
    assert 1 <= record["modes_visited"] <= 10 and record["modes_total"] == 40
    assert 0 <= record["emc"] <= np.log(record["modes_visited"]) / np.log(40) + 1e-12


@pytest.mark.parametrize("args, fragment", [
    (["--target", "nope"], "unknown target 'nope'; valid targets: boltzmann, cancer, eight_schools, eight_schools_nc, funnel, gaussian, gmm40, ising, longley, sk; or a numpyro model as module:function"),
    (["--target", "funnel", "--sampler", "nuts,bogus"], "unknown sampler 'bogus'; valid samplers: nuts, hmc, vae-gibbs, vae-imh, vae-is, vae-hybrid"),
    (["--target", "funnel", "--param", "size=3"], "unknown parameter 'size'; valid parameters: dim: int = 10"),
    (["--target", "funnel", "--param", "dim=ten"], "cannot read 'ten' as int"),
    (["--target", "funnel", "--param", "dim=1"], "dim must be an integer >= 2"),
    (["--target", "gmm40", "--param", "dim=3"], "dim must be one of 2, 5, 10, 20, 50"),
    (["--target", "funnel", "--sampler-param", "chain_method=bogus"], "is not one of auto, vectorized, sequential"),
    (["--target", "funnel", "--sampler-param", "nuts.steps=3"], "unknown parameter 'steps'"),
    (["--target", "funnel", "--seeds", "a,b"], "--seeds must be distinct comma-separated integers"),
    (["--target", "funnel", "--chains", "1"], "chains must be >= 2"),
    (["--target", "funnel", "--draws", "2"], "draws must be >= 4"),
    (["--target", "funnel", "--warmup", "5"], "num_warmup must be >= 10"),
    (["--target", "funnel", "--seeds", "0,0"], "--seeds must be distinct"),
    (["--target", "funnel", "--seeds", "0,,1"], "--seeds must be distinct"),
    (["--target", "funnel", "--sampler", "nuts,,hmc"], "unknown sampler ''"),
    (["--target", "funnel", "--sampler", "nuts,nuts"], "lists a sampler twice"),
    (["--target", "gaussian", "--param", "condition=inf"], "condition must be in [1, 1e10]"),
    (["--target", "funnel", "--sampler-param", "nuts.max_num_doublings=0"], "max_num_doublings must be in [1, 20]"),
    (["--target", "funnel", "--sampler", "vae-imh", "--sampler-param", "batch_size=0"], "batch_size must be >= 1"),
])
def test_bad_input_exits_2_naming_the_choices(args, fragment, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["run", *args, "--out", str(tmp_path)])
    assert info.value.code == 2
    assert fragment in " ".join(capsys.readouterr().err.split())


def test_unwritable_results_folder_exits_2(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as info:
        main(["run", "--target", "gaussian", "--out", str(blocker)])
    assert info.value.code == 2 and "cannot write results under" in capsys.readouterr().err


def test_a_failing_sampler_does_not_lose_the_others(monkeypatch, capsys, tmp_path):
    def boom(key, logdensity_fn, initial_positions, *, num_warmup, num_draws):
        raise FloatingPointError("log density is nan")
    monkeypatch.setitem(sampler_registry.SAMPLERS, "boom", Sampler("boom", boom, "test double"))
    code = main(["run", "--target", "gaussian", "--param", "dim=2", "--sampler", "boom,nuts", "--chains", "2",
                 "--draws", "50", "--warmup", "50", "--out", str(tmp_path), "--no-progress"])
    assert code == 1
    board = pd.read_csv(tmp_path / "leaderboard" / "gaussian.csv").set_index("sampler")
    assert board.loc["nuts", "n_seeds"] == 1 and board.loc["boom", "n_failed"] == 1
    assert "boom seed 0 failed: FloatingPointError: log density is nan" in " ".join(capsys.readouterr().err.split())


def test_list_shows_targets_parameters_and_ground_truth(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for fragment in ("funnel", "gmm40", "gaussian", "dim: int = 10", "exact draws", "40 modes", "nuts", "hmc"):
        assert fragment in out
