"""A real Dask cluster: a `dask scheduler` and two `dask worker` processes on 127.0.0.1 (the commands a cluster
runs), a sweep sent to the scheduler's address with `python -m bench sweep`, one worker killed (SIGKILL to its
process group, nanny included) while it computes a cell. Every cell is then written exactly once (the sweep log's
`written` events), the killed worker's unfinished cell is computed by the other worker, and a rerun of the sweep
computes nothing. Every process is killed in a `finally`; every wait has a timeout."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from bench.sweep.tasks import read_log

ROOT = pathlib.Path(__file__).resolve().parents[3]
DASK = pathlib.Path(sys.executable).parent / "dask"  # the distributed package's CLI, beside this interpreter
SEEDS = 4
SWEEP = """
name = "cluster"
seeds = {seeds}
[budget]
chains = 2
draws = 500                  # a cell takes long enough after compilation for the kill to land mid-cell
warmup = 100
[executor]
kind = "dask"
address = "{address}"
[[targets]]
name = "gaussian"
params = {{ dim = 2 }}
[[samplers]]
name = "nuts"
[[samplers]]
name = "hmc"
params = {{ num_integration_steps = 4 }}
"""
START_S = 120  # scheduler up, both workers registered
SWEEP_S = 400  # the whole sweep (two groups of SEEDS cells; a worker's first cell compiles its sampler)


def _env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"}
    env.pop("XLA_FLAGS", None)
    return env


def _start(args: list[str], log: pathlib.Path) -> subprocess.Popen:
    """A process in its own session (so that its whole group, a worker's nanny and child, can be killed)."""
    return subprocess.Popen(
        args, cwd=ROOT, env=_env(), stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def _wait(predicate, timeout: float, what: str, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _workers(scheduler_file: pathlib.Path) -> int:
    """The number of workers the scheduler knows (asked with a short-lived client)."""
    import distributed

    with distributed.Client(scheduler_file=str(scheduler_file), timeout=30) as client:
        return len(client.scheduler_info(n_workers=-1)["workers"])


@pytest.mark.slow
def test_real_dask_cluster_one_worker_killed_every_cell_once_and_rerun_computes_nothing(tmp_path):
    assert DASK.exists(), f"no dask CLI at {DASK} (the distributed package installs it)"
    scheduler_file = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen] = []
    try:
        procs.append(
            _start(
                [
                    str(DASK),
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    str(scheduler_file),
                ],
                tmp_path / "scheduler.log",
            )
        )
        _wait(lambda: scheduler_file.exists() and scheduler_file.stat().st_size > 0, START_S, "the scheduler file")
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        workers = [
            _start(
                [
                    str(DASK),
                    "worker",
                    "--scheduler-file",
                    str(scheduler_file),
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                    "--death-timeout",
                    "60",
                ],
                tmp_path / f"worker{i}.log",
            )
            for i in range(2)
        ]
        procs += workers
        _wait(lambda: _workers(scheduler_file) == 2, START_S, "two workers registered", poll=0.5)

        out = tmp_path / "results"
        config = tmp_path / "cluster.toml"
        config.write_text(SWEEP.format(seeds=SEEDS, address=address))
        sweep = subprocess.Popen(
            [sys.executable, "-m", "bench", "sweep", str(config), "--out", str(out), "--no-progress"],
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        procs.append(sweep)

        def second_cell_started():
            """(pid, cell id) of a worker process that wrote a cell and started another, not yet written."""
            assert sweep.poll() is None, f"the sweep ended before a worker was killed:\n{sweep.communicate()[0]}"
            events = read_log(out)
            written = {e["cell_id"] for e in events if e["event"] == "written"}
            writers = {e["pid"] for e in events if e["event"] == "written"}
            return next(
                (
                    (e["pid"], e["cell_id"])
                    for e in events
                    if e["event"] == "started" and e["pid"] in writers and e["cell_id"] not in written
                ),
                None,
            )

        pid, cell_mid = _wait(second_cell_started, SWEEP_S, "a worker's second cell to start", poll=0.02)
        killed = next(w for w in workers if os.getpgid(pid) == w.pid)  # the dask worker (nanny) owning that pid
        _kill(killed)
        text, _ = sweep.communicate(timeout=SWEEP_S)
        assert sweep.returncode == 0, text

        events = read_log(out)
        cells = 2 * SEEDS
        written = [e["cell_id"] for e in events if e["event"] == "written"]
        assert len(written) == cells and len(set(written)) == cells, (written, text)  # each cell written once
        assert all(e["status"] == "ok" for e in events if e["event"] == "written")
        assert not any(e["event"] == "written" and e["pid"] == pid and e["cell_id"] == cell_mid for e in events), (
            "the killed worker finished its cell before the kill: the kill did not land mid-cell"
        )
        survivor = {e["pid"] for e in events if e["event"] == "written" and e["cell_id"] == cell_mid}
        assert survivor and pid not in survivor  # the cell under way at the kill was computed by the other worker
        records = list(out.glob("runs/gaussian/*/*/record.json"))
        assert len(records) == cells
        assert f"{cells}/{cells} cells done" in text

        rerun = subprocess.run(
            [sys.executable, "-m", "bench", "sweep", str(config), "--out", str(out), "--no-progress"],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=SWEEP_S,
        )
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert f"{cells} finished before" in rerun.stdout + rerun.stderr
        later = read_log(out)[len(events) :]
        assert [e["event"] for e in later] == ["sweep", "sweep finished"]  # nothing started, nothing written
    finally:
        for proc in reversed(procs):
            _kill(proc)
