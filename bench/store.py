"""The results directory: one folder per finished cell, written atomically.

    <out>/runs/<target>/<sampler>/<cell_id>/record.json   one flat row (identity, cost, metrics, provenance)
    <out>/runs/<target>/<sampler>/<cell_id>/draws.nc      the draws as an ArviZ DataTree (netCDF4 / HDF5)

A cell is written into a hidden temporary folder and renamed into place, so an interrupted run
never leaves a half-written cell; readers skip (and name) records they cannot parse.
"""
from __future__ import annotations

import json
import math
import os
import pathlib
import shutil
import tempfile
import warnings
from typing import Any, Iterator, Mapping

import arviz as az
import numpy as np

RECORD = "record.json"
DRAWS = "draws.nc"


class ResultsError(OSError):
    """The results directory cannot be written."""


REFERENCE_MARKER = "REFERENCE"  # a folder holding it (committed reference results) is never written by a run


def check_writable(out: pathlib.Path) -> None:
    """Fail early, before any computation, if `out` cannot hold results (or holds reference results)."""
    for folder in (out.resolve(), *out.resolve().parents):
        if (folder / REFERENCE_MARKER).is_file():
            raise ResultsError(f"{out} is inside {folder}, committed reference results ({REFERENCE_MARKER} marks it): "
                               f"runs write elsewhere; `python -m bench leaderboard --out` regenerates it")
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out / "runs", prefix=".probe-"):
            pass
    except OSError as err:
        raise ResultsError(f"cannot write results under {out}: {err.strerror or err}") from None


def cell_dir(out: pathlib.Path, record: Mapping[str, Any]) -> pathlib.Path:
    return out / "runs" / str(record["target"]) / str(record["sampler"]) / str(record["cell_id"])


def write_cell(out: pathlib.Path, record: Mapping[str, Any], datatree=None,
               artifacts: Mapping[str, Any] | None = None) -> pathlib.Path:
    """Write record (and draws, and artifacts: name -> write(path_stem)) atomically into the cell's folder,
    replacing an older version of it."""
    final = cell_dir(out, record)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".*-{final.name}-*"):  # left by a run killed mid-write
        shutil.rmtree(stale, ignore_errors=True)
    text = json.dumps(_jsonable(record), indent=1, sort_keys=True, allow_nan=False, default=_json_default)
    tmp = pathlib.Path(tempfile.mkdtemp(dir=final.parent, prefix=f".tmp-{final.name}-"))
    try:
        if datatree is not None:
            datatree.to_netcdf(tmp / DRAWS, engine="h5netcdf")
            _fsync(tmp / DRAWS)
        for name, write in (artifacts or {}).items():
            write(tmp / name)
        (tmp / RECORD).write_text(text)
        _fsync(tmp / RECORD)
        old = None
        if final.exists():
            old = final.with_name(f".old-{final.name}-{os.getpid()}")
            os.replace(final, old)
        os.replace(tmp, final)
        _fsync(final.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _fsync(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


REQUIRED = {"cell_id": str, "target": str, "sampler": str, "status": str, "seed": int}


def read_records(out: pathlib.Path) -> Iterator[dict]:
    """Every readable record under `out/runs`; unreadable or malformed ones are named and skipped."""
    for path in sorted((out / "runs").glob(f"**/{RECORD}")):
        if any(part.startswith(".") for part in path.relative_to(out).parts):
            continue
        try:
            with open(path) as f:
                record = json.load(f)
            if not isinstance(record, dict):
                raise ValueError("not a cell record")
            bad = [k for k, t in REQUIRED.items() if not isinstance(record.get(k), t)]
            if bad:
                raise ValueError(f"missing or mistyped {', '.join(bad)}")
        except (OSError, ValueError) as err:
            warnings.warn(f"skipping unreadable record {path}: {err}", stacklevel=2)
            continue
        yield record


def read_cell(out: pathlib.Path, target: str, sampler: str, cell_id: str) -> dict | None:
    """The record of one cell if its folder holds a complete one (record parsed, its required fields and id
    right, draws present when it finished `ok`); else None: the cell is to be (re)computed, never half-read."""
    folder = out / "runs" / target / sampler / cell_id
    try:
        record = json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return None
    if (not isinstance(record, dict) or any(not isinstance(record.get(k), t) for k, t in REQUIRED.items())
            or record["cell_id"] != cell_id):
        return None
    if record["status"] == "ok" and not (folder / DRAWS).is_file():
        return None
    return record


def to_datatree(positions: np.ndarray, statistic_names: list[str], statistic_values: np.ndarray,
                sample_stats: Mapping[str, np.ndarray], attrs: Mapping[str, Any],
                traces: Mapping[str, np.ndarray] | None = None,
                variables: Mapping[str, np.ndarray] | None = None):
    """ArviZ DataTree: posterior `x` (chain, draw, x_dim) and `statistics` (chain, draw, statistic), the
    target's statistics at each draw, selectable by name (`.sel(statistic="v")`);
    per-step warm-up/training traces (e.g. the VAE's training bound) in the group `training` (step; a
    name `round.<name>` goes there as `<name>` over the dimension `round`).
    `variables` (name -> (chain, draw, *shape)), e.g. a numpyro model's constrained parameters, take
    x's place in the posterior group under their own names (dims `name_dim_k`, as numpyro's), and x moves
    to ArviZ's `unconstrained_posterior` group."""
    ss = {("lp" if k == "logdensity" else k): np.asarray(v) for k, v in sample_stats.items()}
    groups: dict = {"posterior": {"x": positions, "statistics": statistic_values}, "sample_stats": ss}
    if variables:
        groups["posterior"] = {**{k: np.asarray(v) for k, v in variables.items()}, "statistics": statistic_values}
        groups["unconstrained_posterior"] = {"x": positions}
    tree = az.from_dict(groups, dims={"x": ["x_dim"], "statistics": ["statistic"]},
                        coords={"statistic": list(statistic_names)})
    tree.attrs.update({k: _attr(v) for k, v in attrs.items()})
    if traces:
        import xarray as xr
        tree["training"] = xr.DataTree(xr.Dataset({k.removeprefix("round."): ("round" if k.startswith("round.")
                                                                               else "step", np.asarray(v))
                                                   for k, v in traces.items()}))
    return tree


def _attr(v):
    return v if isinstance(v, (str, int, float)) and not isinstance(v, bool) else json.dumps(v, default=str)


def _jsonable(record: Mapping[str, Any]) -> dict:
    """Numpy scalars to Python; NaN and +-inf to null (JSON has no non-finite numbers)."""
    out = {}
    for k, v in record.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out


def _json_default(v):
    """Arrays (e.g. a sampler's info) as lists; anything else by its repr, never an exception."""
    if isinstance(v, np.ndarray) or hasattr(v, "__array__"):
        return np.asarray(v).tolist()
    return repr(v)
