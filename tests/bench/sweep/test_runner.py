"""Sweeps end to end on the local executor: resume after a kill computes every cell exactly once, a failed
cell is recorded and the sweep goes on, a corrupt or partial cell is redone, reference results are refused."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from bench import samplers as sampler_registry, store
from bench.cli import main
from bench.samplers import Sampler
from bench.sweep import load, plan, read_log, run_sweep
from bench.sweep.runner import new_run_id

ROOT = pathlib.Path(__file__).resolve().parents[3]

TINY = """
name = "tiny"
seeds = {seeds}
[budget]
chains = 2
draws = 20
warmup = 50
[[targets]]
name = "gaussian"
params = {{ dim = 2 }}
"""
SAMPLER = """
[[samplers]]
name = "{name}"
params = {{ {params} }}
"""


def _config(tmp_path, samplers=(("nuts", ""), ("hmc", "num_integration_steps = 4")), seeds=(0, 1, 2)):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(seeds=list(seeds)) + "".join(SAMPLER.format(name=n, params=p) for n, p in samplers))
    return path


def _records(out: pathlib.Path) -> dict[str, str]:
    """Finished cells' records; pathlib's glob also matches the hidden temporary folder of a cell being
    written (`.tmp-<cell>-...`, renamed into place once complete), which is not a finished cell."""
    return {
        p.parent.name: p.read_text()
        for p in (out / "runs").glob("*/*/*/record.json")
        if not p.parent.name.startswith(".")
    }


def test_killed_sweep_resumes_and_computes_every_cell_exactly_once(tmp_path, capsys):
    # one sampler configuration; 4 seeds, a real process killed after 2, then resumed in-process
    config, out = (
        _config(tmp_path, samplers=[("hmc", "num_integration_steps = 4")], seeds=range(4)),
        tmp_path / "results",
    )
    cmd = [sys.executable, "-m", "bench", "sweep", str(config), "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while len(_records(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group, as a lost node would
    proc.wait()
    before = _records(out)
    assert 2 <= len(before) < 4, "killed part-way"

    code = main(cmd[3:])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert f"{len(before)} finished before" in stdout.replace("\n", " ")
    after = _records(out)
    assert len(after) == 4
    assert all(after[c] == text for c, text in before.items()), "finished cells are not recomputed"
    # no corrupt record, no temporary folder left behind, every draws file readable
    assert all(json.loads(text)["status"] == "ok" for text in after.values())
    assert not [p for p in (out / "runs").rglob(".*") if p.name != ".probe"]
    assert len({r["cell_id"] for r in store.read_records(out)}) == 4
    # each cell written once over both runs (the log: the first run's writes are the cells found after the kill)
    writes = [e["cell_id"] for e in read_log(out) if e["event"] == "written"]
    assert (
        sorted(writes) == sorted(set(writes)) and set(writes) <= set(after) and set(writes) >= set(after) - set(before)
    )
    runs = {json.loads(text)["sweep.run"] for text in after.values()}
    assert len(runs) == 2  # cells of the first run kept, the rest from the resumed one


def test_a_failed_cell_is_recorded_and_the_sweep_goes_on(monkeypatch, tmp_path, capsys):
    calls = []

    def boom(key, logdensity_fn, initial_positions, *, num_warmup, num_draws):
        calls.append(1)
        raise FloatingPointError("log density is nan")

    monkeypatch.setitem(sampler_registry.SAMPLERS, "boom", Sampler("boom", boom, "test double"))
    config, out = _config(tmp_path, samplers=[("boom", ""), ("hmc", "num_integration_steps = 4")]), tmp_path / "results"
    assert main(["sweep", str(config), "--out", str(out), "--no-progress"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "boom seed 0 failed: FloatingPointError: log density is nan" in err
    records = list(store.read_records(out))
    assert len(records) == 6 and sum(r["status"] == "failed" for r in records) == 3
    assert len(calls) == 3
    # a rerun skips the failed cells (a seeded, repeatable failure) unless asked to retry them
    assert main(["sweep", str(config), "--out", str(out), "--no-progress"]) == 1 and len(calls) == 3
    assert main(["sweep", str(config), "--out", str(out), "--no-progress", "--retry-failed"]) == 1 and len(calls) == 6


def test_partial_or_corrupt_cells_are_redone_never_read(tmp_path):
    config = load(_config(tmp_path), {"out": tmp_path / "results"})
    summary = run_sweep(config, log=lambda m: None)
    assert summary.ok == 6
    cells = sorted((tmp_path / "results" / "runs").glob("*/*/*/record.json"))
    cells[0].write_text('{"cell_id": "truncat')  # corrupt record
    (cells[1].parent / store.DRAWS).unlink()  # record without its draws
    draws = cells[2].parent / store.DRAWS  # draws cut short (outside damage)
    draws.write_bytes(draws.read_bytes()[:3000])
    groups, before = plan(config, new_run_id())
    assert len(before) == 3 and sum(len(g.seeds) for g in groups) == 3
    again = run_sweep(config, log=lambda m: None)
    assert again.ok == 6 and again.skipped == 3
    assert store.draws_readable(draws)
    assert store.read_cell(tmp_path / "results", *cells[0].parts[-4:-1]) is not None


def test_reference_results_are_never_written_by_a_run(tmp_path, capsys):
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / store.REFERENCE_MARKER).write_text("committed")
    with pytest.raises(SystemExit) as info:
        main(["sweep", str(_config(tmp_path)), "--out", str(reference / "sub"), "--no-progress"])
    assert info.value.code == 2 and "committed reference results" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["run", "--target", "gaussian", "--out", str(reference)])
    assert info.value.code == 2


def test_two_sweeps_over_one_folder_compute_every_cell_once_and_both_exit_0(tmp_path):
    """Two real processes started together over one folder: each cell is written exactly once (the log), a
    cell claimed by the other sweep is waited for and reported as computed by it, never lost."""
    config, out = _config(tmp_path, samplers=[("nuts", "")], seeds=range(5)), tmp_path / "results"
    cmd = [sys.executable, "-m", "bench", "sweep", str(config), "--out", str(out), "--no-progress"]
    procs = [
        subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        for _ in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=400) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    for p, (stdout, stderr) in zip(procs, outputs):
        assert p.returncode == 0, stdout + stderr
        assert "lost" not in stdout + stderr
        assert "5/5 cells done (5 ok, 0 failed" in " ".join(stdout.split())
    writes = [e["cell_id"] for e in read_log(out) if e["event"] == "written"]
    assert len(writes) == 5 and len(set(writes)) == 5, writes
    assert set(writes) == set(_records(out))
    assert not [p for p in (out / "runs").rglob(".*")]  # no claim, temporary or probe left


def test_a_write_failure_is_a_failed_cell_and_the_sweep_goes_on(monkeypatch, tmp_path, capsys):
    """A full disk (ENOSPC from the write of one cell's draws) makes that cell failed with its reason; the
    other cells are written, no temporary is left, and the exit code is 1."""
    import builtins
    import errno

    calls = []

    def full_once(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).endswith(store.DRAWS):
            calls.append(path)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return builtins.open(path, mode, *args, **kwargs)

    monkeypatch.setattr(store, "open", full_once, raising=False)
    config, out = _config(tmp_path, samplers=[("nuts", "")]), tmp_path / "results"
    assert main(["sweep", str(config), "--out", str(out), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "No space left on device" in " ".join(captured.err.split()) and "results not written" in captured.err
    assert "3 cells done (2 ok, 1 failed" in " ".join(captured.out.split())
    assert len(_records(out)) == 2 and not [p for p in (out / "runs").rglob(".tmp-*")]
    assert (out / "leaderboard" / "gaussian.csv").is_file()


def test_a_write_failure_in_run_keeps_the_other_samplers(monkeypatch, tmp_path, capsys):
    import builtins
    import errno

    def full_for_nuts(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).endswith(store.DRAWS) and "/nuts/" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return builtins.open(path, mode, *args, **kwargs)

    monkeypatch.setattr(store, "open", full_for_nuts, raising=False)
    out = tmp_path / "results"
    code = main(
        [
            "run",
            "--target",
            "gaussian",
            "--param",
            "dim=2",
            "--sampler",
            "nuts,hmc",
            "--seeds",
            "0,1",
            "--chains",
            "2",
            "--draws",
            "20",
            "--warmup",
            "20",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "could not write results of nuts seed 0" in " ".join(captured.err.split())
    assert sorted(r["sampler"] for r in store.read_records(out)) == ["hmc", "hmc"]
    assert "hmc" in captured.out and not [p for p in (out / "runs").rglob(".tmp-*")]


@pytest.mark.slow
def test_a_full_tmpfs_gives_failed_cells_and_a_table_not_a_crash(tmp_path):
    """The probe's case: `run` of nuts,hmc x 4 seeds into a 100 KiB tmpfs (about 3 cells fit). Needs root."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench",
                "run",
                "--target",
                "gaussian",
                "--param",
                "dim=2",
                "--sampler",
                "nuts,hmc",
                "--seeds",
                "0,1,2,3",
                "--chains",
                "2",
                "--draws",
                "20",
                "--warmup",
                "20",
                "--out",
                str(disk),
                "--no-progress",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=400,
        )
        text = " ".join((done.stdout + done.stderr).split())
        assert done.returncode == 1, text  # not 139 (a segfault)
        assert "No space left on device" in text and "hmc" in done.stdout
        records = list(store.read_records(disk))
        assert 1 <= len(records) < 8 and not [p for p in (disk / "runs").rglob(".tmp-*")]
    finally:
        subprocess.run(["umount", str(disk)], check=False)
