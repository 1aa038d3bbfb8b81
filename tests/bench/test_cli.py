"""The CLI end to end on a tiny budget, and its answers to bad input (exit 2, valid choices named)."""

import glob
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from bench import samplers as sampler_registry
from bench.cli import main
from bench.samplers import SAMPLERS, Sampler
from targets import registry

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_run_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    code = main(
        [
            "run",
            "--target",
            "gaussian",
            "--param",
            "dim=2",
            "--sampler",
            "nuts,hmc",
            "--sampler-param",
            "hmc.num_integration_steps=8",
            "--seeds",
            "0,1",
            "--chains",
            "2",
            "--draws",
            "100",
            "--warmup",
            "100",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--columns",
            "all",
        ]
    )  # every column, the sampler's label unfolded (the headline table folds it)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "gaussian(condition=100.0,dim=2)" in out
    assert "nuts" in out and "hmc(num_integration_steps=8)" in out and "compile s" in out
    board = pd.read_csv(tmp_path / "leaderboard" / "gaussian.csv")
    assert sorted(board["sampler"]) == ["hmc", "nuts"] and set(board["n_seeds"]) == {2}
    records = [json.loads(p.read_text()) for p in (tmp_path / "runs" / "gaussian").glob("*/*/record.json")]
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    assert {r["sampler.num_integration_steps"] for r in records if r["sampler"] == "hmc"} == {8}
    import arviz as az

    tree = az.from_netcdf(next((tmp_path / "runs" / "gaussian" / "nuts").glob("*/draws.nc")))
    assert tree["posterior"]["x"].shape == (2, 100, 2)
    assert int(tree["sample_stats"]["n_steps"].sum()) == next(
        r["grad_evals_sampling"] for r in records if r["cell_id"] == tree.attrs["cell_id"]
    )


def test_float32_run_on_a_mixture_records_its_precision_and_modes(tmp_path):
    """The suite's smoke test of a real `python -m bench` process (the entry point, its exit code and output, the
    process-wide precision set before any computation); other CLI tests call `main` in-process, but for those
    that signal a process group (Ctrl-C)."""
    cmd = [
        sys.executable,
        "-m",
        "bench",
        "run",
        "--target",
        "gmm40",
        "--sampler",
        "nuts",
        "--precision",
        "float32",
        "--chains",
        "2",
        "--draws",
        "100",
        "--warmup",
        "50",
        "--out",
        str(tmp_path),
        "--no-progress",
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "/40" in done.stdout  # the headline table's modes column (EMC is among --columns all)
    record = json.loads(next((tmp_path / "runs" / "gmm40").glob("*/*/record.json")).read_text())
    assert 0 <= record["emc"] <= 1
    assert record["precision"] == "float32"
    # Two short NUTS chains reach a few neighbouring modes, never most of the 40: EMC <= log(k) / log(40).
    assert 1 <= record["modes_visited"] <= 10 and record["modes_total"] == 40
    assert 0 <= record["emc"] <= np.log(record["modes_visited"]) / np.log(40) + 1e-12


@pytest.mark.parametrize(
    "args, fragment",
    [
        (
            ["--target", "nope"],
            "unknown target 'nope'; valid targets: "
            + ", ".join(sorted(registry.TARGETS))
            + "; or module:function or path/to/file.py:function",
        ),
        (
            ["--target", "funnel", "--sampler", "nuts,bogus"],
            "unknown sampler 'bogus'; valid samplers: " + ", ".join(SAMPLERS) + "; or module:function",
        ),
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
        (["--target", "gaussian", "--param", "condition=1e11"], "condition must be in [1, 1e10]"),
        (
            ["--target", "gaussian", "--param", "condition=inf"],
            "target gaussian: condition must be a finite number, got 'inf'",
        ),
        (
            ["--target", "gaussian", "--sampler", "vae-gibbs", "--sampler-param", "jitter=inf"],
            "sampler vae-gibbs: jitter must be a finite number, got 'inf'",
        ),
        (
            ["--target", "gaussian", "--sampler", "vae-imh", "--sampler-param", "temperature=inf"],
            "sampler vae-imh: temperature must be a finite number, got 'inf'",
        ),
        (
            ["--target", "gaussian", "--sampler", "vae-hybrid", "--sampler-param", "step_size=inf"],
            "sampler vae-hybrid: step_size must be a finite number, got 'inf'",
        ),
        (
            ["--target", "gaussian", "--sampler", "vae-gibbs", "--sampler-param", "learning_rate=inf"],
            "sampler vae-gibbs: learning_rate must be a finite number, got 'inf'",
        ),
        (
            ["--target", "gaussian", "--sampler", "nuts", "--sampler-param", "target_acceptance_rate=-inf"],
            "sampler nuts: target_acceptance_rate must be a finite number, got '-inf'",
        ),
        (
            ["--target", "gaussian", "--sampler", "vae-gibbs", "--sampler-param", "train_steps=0"],
            "vae samplers: train_steps must be >= 1, got 0",
        ),
        (
            ["--target", "gaussian", "--param", "dim=3", "--param", "dim=4"],
            "target gaussian: parameter 'dim' is given twice (3, then 4)",
        ),
        (
            [
                "--target",
                "gaussian",
                "--sampler",
                "nuts,hmc",
                "--sampler-param",
                "nuts.max_num_doublings=5",
                "--sampler-param",
                "max_num_doublings=6",
            ],
            "sampler nuts: parameter 'max_num_doublings' is given twice (5, then 6)",
        ),
        (
            ["--target", "gaussian", "--param", "dim=2", "--chains", "1000000000"],
            "1000000000 chains x 1000 draws (+ 1000 warm-up steps) of a 2-d target need at least",
        ),
        (
            ["--target", "gaussian", "--param", "dim=2", "--draws", "10000000000", "--precision", "float32"],
            "4 chains x 10000000000 draws (+ 1000 warm-up steps) of a 2-d target need at least 1.16 TiB in float32",
        ),
        (["--target", "funnel", "--sampler-param", "nuts.max_num_doublings=0"], "max_num_doublings must be in [1, 20]"),
        (["--target", "funnel", "--sampler", "vae-imh", "--sampler-param", "batch_size=0"], "batch_size must be >= 1"),
    ],
)
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
    code = main(
        [
            "run",
            "--target",
            "gaussian",
            "--param",
            "dim=2",
            "--sampler",
            "boom,nuts",
            "--chains",
            "2",
            "--draws",
            "50",
            "--warmup",
            "50",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 1
    board = pd.read_csv(tmp_path / "leaderboard" / "gaussian.csv").set_index("sampler")
    assert board.loc["nuts", "n_seeds"] == 1 and board.loc["boom", "n_failed"] == 1
    assert "boom seed 0 failed: FloatingPointError: log density is nan" in " ".join(capsys.readouterr().err.split())


def test_list_shows_targets_parameters_and_ground_truth(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for fragment in ("funnel", "gmm40", "gaussian", "dim: int = 10", "exact draws", "40 modes", "nuts", "hmc"):
        assert fragment in out


def test_a_budget_beyond_the_machines_memory_says_so(capsys, tmp_path):
    # 10^9 chains x (1000 draws x (2 + 6) + 1000 warm-up steps) x 8 bytes = 7.2e13 bytes = 65.5 TiB, more than
    # any machine's memory
    with pytest.raises(SystemExit) as info:
        main(["run", "--target", "gaussian", "--param", "dim=2", "--chains", "1000000000", "--out", str(tmp_path)])
    err = " ".join(capsys.readouterr().err.split())
    assert info.value.code == 2 and "need at least 65.5 TiB in float64" in err and "more than this machine's" in err
    assert not (tmp_path / "runs" / "gaussian").exists()


@pytest.mark.parametrize("error", [MemoryError("Unable to allocate 71.1 PiB"), OverflowError("int too large")])
def test_a_target_too_large_to_build_exits_2(monkeypatch, capsys, tmp_path, error):
    def huge(dim: int = 2):
        raise error

    monkeypatch.setitem(registry.TARGETS, "huge", huge)
    with pytest.raises(SystemExit) as info:
        main(["run", "--target", "huge", "--param", "dim=100000000", "--out", str(tmp_path)])
    assert info.value.code == 2
    assert f"target huge: {type(error).__name__}: {error}" in capsys.readouterr().err


def test_a_sweep_dry_run_turns_a_target_factory_error_into_exit_2(monkeypatch, capsys, tmp_path):
    def huge(dim: int = 2):
        raise ValueError(f"dim {dim} needs 71.1 PiB")

    monkeypatch.setitem(registry.TARGETS, "huge", huge)
    path = tmp_path / "huge_dim.toml"
    path.write_text(
        "seeds = [0]\n[budget]\nchains = 2\ndraws = 50\nwarmup = 50\n"
        '[[targets]]\nname = "huge"\nparams = { dim = 100000000 }\n[[samplers]]\nname = "nuts"\n'
    )
    with pytest.raises(SystemExit) as info:
        main(["sweep", str(path), "--dry-run", "--out", str(tmp_path / "out")])
    assert info.value.code == 2
    assert "[[targets]] #1: target huge(dim=100000000): dim 100000000 needs 71.1 PiB" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["run", "--target", "gaussian"], ["sweep", "configs/smoke.toml"], ["leaderboard"], ["report"]]
)
def test_an_empty_out_is_refused(argv, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # were it accepted, it would write here
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "smoke.toml").write_text("")
    with pytest.raises(SystemExit) as info:
        main([*argv, "--out", ""])
    assert info.value.code == 2
    assert "argument --out: must name a folder, got ''" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [tmp_path / "configs"]


def test_ctrl_c_just_after_a_cell_is_written_counts_it_and_keeps_it(monkeypatch, capsys, tmp_path):
    import bench.run

    real, calls = bench.run.run_cell, []

    def interrupted_after_the_second(*args, **kwargs):  # the signal lands after the 2nd cell's record is written
        calls.append(real(*args, **kwargs))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return calls[-1]

    monkeypatch.setattr(bench.run, "run_cell", interrupted_after_the_second)
    try:
        code = main(
            [
                "run",
                "--target",
                "gaussian",
                "--param",
                "dim=2",
                "--sampler",
                "nuts",
                "--seeds",
                "0,1,2",
                "--chains",
                "2",
                "--draws",
                "50",
                "--warmup",
                "50",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped as a KeyboardInterrupt")
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err
    assert f"interrupted: 2 of 3 cells written under {tmp_path / 'runs' / 'gaussian'}" in err
    board = pd.read_csv(tmp_path / "leaderboard" / "gaussian.csv").set_index("sampler")
    assert board.loc["nuts", "n_seeds"] == 2 and len(calls) == 2


def test_ctrl_c_in_a_sweep_prints_one_line_and_counts_the_finished_cells(monkeypatch, capsys, tmp_path):
    from bench.sweep import executors

    real, calls = executors.run_group, []

    def interrupted_after_the_second(group, **kwargs):  # one cell per call with workers = 1
        calls.append(real(group, **kwargs))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return calls[-1]

    monkeypatch.setattr(executors, "run_group", interrupted_after_the_second)
    path = tmp_path / "s.toml"
    path.write_text(
        'seeds = 3\n[budget]\nchains = 2\ndraws = 50\nwarmup = 50\n[[targets]]\nname = "gaussian"\n'
        'params = { dim = 2 }\n[[samplers]]\nname = "nuts"\n'
    )
    try:
        code = main(["sweep", str(path), "--out", str(tmp_path / "out"), "--no-progress"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped as a KeyboardInterrupt")
    err = " ".join(capsys.readouterr().err.split())
    assert code == 130 and "Traceback" not in err
    assert (
        f"interrupted: 2 of 3 cells finished under {tmp_path / 'out' / 'runs'}; run the sweep again to resume "
        "(finished cells are skipped)"
    ) in err


# `python -m bench ...` with Python's Ctrl-C handler installed, even where this process inherited an ignored SIGINT
# (which a child would keep: a background job's); no preexec_fn, which is unsafe once JAX runs threads here
BENCH = [
    sys.executable,
    "-c",
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('bench', run_name='__main__', alter_sys=True)",
]


def _interrupt(args, out: pathlib.Path, after: int, timeout: float = 240):
    """Run `python -m bench *args` in its own process group, send the group SIGINT once `after` cell records
    exist, and return (returncode, stderr, records at the signal)."""
    proc = subprocess.Popen(
        [*BENCH, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    try:
        while len(glob.glob(str(out / "runs" / "*" / "*" / "*" / "record.json"))) < after:
            assert proc.poll() is None and time.monotonic() < deadline, "finished or stuck before the signal"
            time.sleep(0.05)
        n = len(glob.glob(str(out / "runs" / "*" / "*" / "*" / "record.json")))
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, err, n


def test_ctrl_c_during_a_run_prints_one_line_and_tables_the_finished_cells(tmp_path):
    # 2 samplers x 20 seeds: the signal comes after the first cell, long before the last
    args = [
        "run",
        "--target",
        "gaussian",
        "--param",
        "dim=2",
        "--sampler",
        "nuts,hmc",
        "--seeds",
        ",".join(map(str, range(20))),
        "--chains",
        "2",
        "--draws",
        "50",
        "--warmup",
        "50",
        "--no-progress",
        "--out",
        str(tmp_path),
    ]
    code, err, n = _interrupt(args, tmp_path, after=1)
    assert code == 130, err
    assert "Traceback" not in err and err.count("interrupted: ") == 1
    line = next(s for s in err.splitlines() if s.startswith("interrupted: "))
    written = int(line.split()[1])
    assert n <= written < 40 and f"of 40 cells written under {tmp_path / 'runs' / 'gaussian'}" in line
    board = pd.read_csv(tmp_path / "leaderboard" / "gaussian.csv")
    assert board["n_seeds"].sum() == written  # the finished cells, every one of them


@pytest.mark.slow
def test_ctrl_c_during_a_two_worker_sweep_prints_one_line_and_stops_the_workers(tmp_path):
    path = tmp_path / "int2.toml"
    path.write_text(
        "seeds = 20\n[budget]\nchains = 2\ndraws = 50\nwarmup = 50\n[executor]\nworkers = 2\n"
        '[[targets]]\nname = "gaussian"\nparams = { dim = 2 }\n'
        '[[samplers]]\nname = "nuts"\n[[samplers]]\nname = "hmc"\n'
    )
    out = tmp_path / "out"
    code, err, n = _interrupt(["sweep", str(path), "--no-progress", "--out", str(out)], out, after=1)
    assert code == 130, err
    assert "Traceback" not in err and "Exception ignored" not in err and err.count("interrupted: ") == 1
    assert [s for s in err.splitlines() if s.startswith("interrupted: ")][0].endswith(
        "run the sweep again to resume (finished cells are skipped)"
    )
    written = len(glob.glob(str(out / "runs" / "*" / "*" / "*" / "record.json")))
    time.sleep(3)  # a worker left running would write more cells (one takes well under a second here)
    assert n <= written == len(glob.glob(str(out / "runs" / "*" / "*" / "*" / "record.json"))) < 40
