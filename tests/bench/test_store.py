"""Cells are written atomically; unreadable records are skipped with their path named."""

import json

import numpy as np
import pytest

from bench import store


def _record(cell="abc123", **extra):
    return {"cell_id": cell, "target": "gaussian", "sampler": "nuts", "status": "ok", "seed": 0, "x": 1.0, **extra}


def _tree():
    rng = np.random.default_rng(0)
    return store.to_datatree(
        rng.normal(size=(2, 5, 3)),
        ["x[0]"],
        rng.normal(size=(2, 5, 1)),
        {"logdensity": rng.normal(size=(2, 5)), "diverging": np.zeros((2, 5), bool)},
        {"cell_id": "abc123", "seed": 0},
    )


def test_write_then_read_roundtrip_and_replace(tmp_path):
    import arviz as az

    path = store.write_cell(tmp_path, _record(), _tree())
    assert sorted(p.name for p in path.iterdir()) == ["draws.nc", "record.json"]
    tree = az.from_netcdf(path / "draws.nc")
    assert tree["posterior"]["x"].shape == (2, 5, 3) and "lp" in tree["sample_stats"]
    store.write_cell(tmp_path, _record(x=2.0), _tree())
    records = list(store.read_records(tmp_path))
    assert [r["x"] for r in records] == [2.0]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary left over


def test_failed_write_leaves_no_cell_and_keeps_the_old_one(tmp_path):
    store.write_cell(tmp_path, _record(x=1.0))

    class Broken:
        def to_netcdf(self, *args, **kwargs):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.write_cell(tmp_path, _record(x=2.0), Broken())
    assert [r["x"] for r in store.read_records(tmp_path)] == [1.0]
    folder = store.cell_dir(tmp_path, _record()).parent
    assert [p.name for p in folder.iterdir()] == ["abc123"]


def test_corrupt_record_is_skipped_and_named(tmp_path):
    store.write_cell(tmp_path, _record("good"))
    bad = store.cell_dir(tmp_path, _record("bad"))
    bad.mkdir(parents=True)
    (bad / "record.json").write_text('{"cell_id": "bad", "truncat')
    with pytest.warns(UserWarning, match="bad/record.json"):
        assert [r["cell_id"] for r in store.read_records(tmp_path)] == ["good"]


def test_nan_becomes_null_in_json(tmp_path):
    path = store.write_cell(tmp_path, _record(x=float("nan"), y=np.float64(2.5)))
    assert json.loads((path / "record.json").read_text())["x"] is None


def test_unwritable_results_folder_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(store.ResultsError, match="cannot write results under"):
        store.check_writable(blocker)


# --- claims and temporaries of concurrent writers ----------------------------------------------------------


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped): no live process has it for a while."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_pid():
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _fake_claim(tmp_path, pid, host=None, age_s=0.0):
    import os
    import time

    path = store.claim_path(tmp_path, "gaussian", "nuts", "abc123")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "host": host or store._host(), "time": "then"}))
    os.utime(path, (time.time() - age_s, time.time() - age_s))
    return path


def test_a_claim_is_exclusive_and_released(tmp_path):
    claim = store.claim_cell(tmp_path, "gaussian", "nuts", "abc123")
    assert claim is not None and json.loads(claim.path.read_text())["pid"] == __import__("os").getpid()
    assert store.claim_cell(tmp_path, "gaussian", "nuts", "abc123") is None  # held by a live owner (us)
    claim.release()
    assert not claim.path.exists()
    again = store.claim_cell(tmp_path, "gaussian", "nuts", "abc123")
    assert again is not None
    again.release()


def test_a_stale_claim_of_a_dead_pid_is_taken_over_a_live_ones_is_not(tmp_path, live_pid):
    _fake_claim(tmp_path, live_pid)
    assert store.claim_cell(tmp_path, "gaussian", "nuts", "abc123") is None
    path = _fake_claim(tmp_path, _dead_pid())
    claim = store.claim_cell(tmp_path, "gaussian", "nuts", "abc123")
    assert claim is not None and json.loads(path.read_text())["pid"] == __import__("os").getpid()
    claim.release()
    assert [p.name for p in path.parent.iterdir()] == []  # the stale claim is gone too


def test_another_hosts_claim_is_stale_only_when_untouched_for_stale_s(tmp_path):
    _fake_claim(tmp_path, 1, host="otherhost", age_s=store.STALE_S / 2)
    assert store.claim_cell(tmp_path, "gaussian", "nuts", "abc123") is None
    _fake_claim(tmp_path, 1, host="otherhost", age_s=store.STALE_S + 60)
    claim = store.claim_cell(tmp_path, "gaussian", "nuts", "abc123")
    assert claim is not None
    claim.release()


def test_write_cell_removes_only_temporaries_whose_owner_is_gone(tmp_path, live_pid):
    folder = store.cell_dir(tmp_path, _record()).parent
    folder.mkdir(parents=True)
    live = folder / f".tmp-abc123-{live_pid}-{store._host()}-x1y2"  # another process writing this cell now
    dead = folder / f".tmp-abc123-{_dead_pid()}-{store._host()}-z3w4"  # left by a process killed mid-write
    for tmp in (live, dead):
        tmp.mkdir()
        (tmp / "draws.nc").write_bytes(b"partial")
    store.write_cell(tmp_path, _record(), _tree())
    assert live.is_dir() and (live / "draws.nc").read_bytes() == b"partial"
    assert not dead.exists()


def test_a_full_disk_fails_the_write_cleanly(tmp_path, monkeypatch):
    """The netCDF bytes are made in memory and written with plain I/O: ENOSPC is an OSError of that write,
    no temporary is left, the older version of the cell stays."""
    import builtins
    import errno

    store.write_cell(tmp_path, _record(x=1.0), _tree())

    def full(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).endswith(store.DRAWS):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return builtins.open(path, mode, *args, **kwargs)

    monkeypatch.setattr(store, "open", full, raising=False)
    with pytest.raises(OSError, match="No space left"):
        store.write_cell(tmp_path, _record(x=2.0), _tree())
    assert [r["x"] for r in store.read_records(tmp_path)] == [1.0]
    assert [p.name for p in store.cell_dir(tmp_path, _record()).parent.iterdir()] == ["abc123"]


def test_a_truncated_draws_file_is_not_a_finished_cell(tmp_path):
    path = store.write_cell(tmp_path, _record(), _tree())
    assert store.read_cell(tmp_path, "gaussian", "nuts", "abc123") is not None
    data = (path / store.DRAWS).read_bytes()
    (path / store.DRAWS).write_bytes(data[: len(data) // 3])
    assert store.read_cell(tmp_path, "gaussian", "nuts", "abc123") is None


# --- paths stay inside the results folder ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../reference/sneaky", "a/b", "..", "", ".hidden", "x..y", "a b"])
def test_names_that_are_not_one_folder_name_are_refused(tmp_path, name):
    with pytest.raises(store.ResultsError, match="cannot name a folder"):
        store.check_writable(tmp_path / "out", targets=[name])
    with pytest.raises(store.ResultsError, match="cannot name a folder"):
        store.write_cell(tmp_path / "out", _record(target=name))
    assert not (tmp_path / "reference").exists()


def test_names_the_suite_uses_are_accepted(tmp_path):
    for name in ("gaussian", "eight_schools_nc", "ok.model", "vae-gibbs", "my-model_2.fn"):
        store.check_name("target", name)
    store.check_writable(tmp_path, targets=["gaussian"], sweep="reference")


def test_a_symlink_out_of_the_results_folder_or_into_reference_results_is_refused(tmp_path):
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / store.REFERENCE_MARKER).write_text("committed")
    (reference / "gaussian.csv").write_text("48 rows")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "leaderboard").symlink_to(reference)
    with pytest.raises(store.ResultsError, match="outside the results folder"):
        store.check_writable(out, targets=["gaussian"])
    (out / "leaderboard").unlink()
    (out / "runs").mkdir()
    (out / "runs" / "gaussian").symlink_to(reference)
    with pytest.raises(store.ResultsError, match="outside the results folder"):
        store.write_cell(out, _record())
    assert sorted(p.name for p in reference.iterdir()) == [store.REFERENCE_MARKER, "gaussian.csv"]
    inside = tmp_path / "inner"
    (reference / "sub").mkdir()
    inside.symlink_to(reference / "sub")
    with pytest.raises(store.ResultsError, match="committed reference results"):
        store.check_inside(inside, inside / "runs")


def test_a_target_folder_that_cannot_be_written_is_found_up_front(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "gaussian").write_text("a file, not a folder")
    with pytest.raises(store.ResultsError, match="cannot write results under"):
        store.check_writable(tmp_path, targets=["gaussian"])
    store.check_writable(tmp_path, targets=["funnel"])


# --- the command line refuses, before computing, to write outside --out ------------------------------------

SNEAKY = """
import jax.numpy as jnp
from targets.base import Target, coordinate_statistic, uniform_initial
t = Target(name={name!r}, dim=2, log_prob=lambda x: -0.5 * jnp.sum(x**2), initial=uniform_initial(2, -2.0, 2.0),
           statistics=(coordinate_statistic(0, "x[0]", 0.0, 1.0),))
"""
RUN = ["--sampler", "nuts", "--chains", "2", "--draws", "20", "--warmup", "20", "--no-progress"]


@pytest.fixture
def results(tmp_path):
    """results/reference (committed: a REFERENCE marker and a leaderboard) beside results/mine."""
    reference = tmp_path / "results" / "reference"
    reference.mkdir(parents=True)
    (reference / store.REFERENCE_MARKER).write_text("committed")
    (reference / "gaussian.csv").write_text("48 rows\n")
    return tmp_path / "results"


def _exit_code(argv) -> int:
    from bench.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code


def _unchanged(reference) -> bool:
    return (
        sorted(p.name for p in reference.iterdir()) == [store.REFERENCE_MARKER, "gaussian.csv"]
        and (reference / "gaussian.csv").read_text() == "48 rows\n"
    )


def test_run_refuses_a_target_name_that_leaves_the_folder(results, tmp_path, capsys):
    (tmp_path / "tgts.py").write_text(SNEAKY.format(name="../../reference/sneaky"))
    code = _exit_code(["run", "--target", f"{tmp_path / 'tgts.py'}:t", "--out", str(results / "mine"), *RUN])
    assert code == 2 and "cannot name a folder" in capsys.readouterr().err
    assert _unchanged(results / "reference") and not list((results / "mine").rglob("record.json"))


def test_run_refuses_a_leaderboard_symlink_into_reference_results(results, capsys):
    (results / "mine").mkdir()
    (results / "mine" / "leaderboard").symlink_to(results / "reference")
    code = _exit_code(["run", "--target", "gaussian", "--param", "dim=2", "--out", str(results / "mine"), *RUN])
    assert code == 2 and "outside the results folder" in " ".join(capsys.readouterr().err.split())
    assert _unchanged(results / "reference") and not list((results / "mine").rglob("record.json"))


def test_sweep_refuses_a_name_that_leaves_the_folder(results, tmp_path, capsys):
    path = tmp_path / "escape.toml"
    path.write_text(
        'name = "../../escape"\nseeds = 1\n[budget]\nchains = 2\ndraws = 20\nwarmup = 20\n'
        '[[targets]]\nname = "gaussian"\nparams = { dim = 2 }\n[[samplers]]\nname = "nuts"\n'
    )
    code = _exit_code(["sweep", str(path), "--out", str(results / "mine"), "--no-progress"])
    assert code == 2 and "sweep name '../../escape' cannot name a folder" in capsys.readouterr().err
    assert not [p for p in tmp_path.rglob("*escape*") if p != path]
    assert not list((results / "mine").rglob("record.json"))


def test_a_claim_left_by_a_dead_owner_after_its_cell_was_written_is_removed(tmp_path, live_pid):
    path = _fake_claim(tmp_path, live_pid)
    assert not store.remove_stale_claim(tmp_path, "gaussian", "nuts", "abc123") and path.exists()
    path = _fake_claim(tmp_path, _dead_pid())
    assert store.remove_stale_claim(tmp_path, "gaussian", "nuts", "abc123") and not path.exists()
    assert [p.name for p in path.parent.iterdir()] == []
