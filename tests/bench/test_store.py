"""Cells are written atomically; unreadable records are skipped with their path named."""
import json

import numpy as np
import pytest

from bench import store


def _record(cell="abc123", **extra):
    return {"cell_id": cell, "target": "gaussian", "sampler": "nuts", "status": "ok", "seed": 0, "x": 1.0, **extra}


def _tree():
    rng = np.random.default_rng(0)
    return store.to_datatree(rng.normal(size=(2, 5, 3)), ["x[0]"], rng.normal(size=(2, 5, 1)),
                             {"logdensity": rng.normal(size=(2, 5)), "diverging": np.zeros((2, 5), bool)},
                             {"cell_id": "abc123", "seed": 0})


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
