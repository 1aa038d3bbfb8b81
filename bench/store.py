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


def check_writable(out: pathlib.Path) -> None:
    """Fail early, before any computation, if `out` cannot hold results."""
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out / "runs", prefix=".probe-"):
            pass
    except OSError as err:
        raise ResultsError(f"cannot write results under {out}: {err.strerror or err}") from None


def cell_dir(out: pathlib.Path, record: Mapping[str, Any]) -> pathlib.Path:
    return out / "runs" / str(record["target"]) / str(record["sampler"]) / str(record["cell_id"])


def write_cell(out: pathlib.Path, record: Mapping[str, Any], datatree=None) -> pathlib.Path:
    """Write record (and draws) atomically into the cell's folder, replacing an older version of it."""
    final = cell_dir(out, record)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(dir=final.parent, prefix=f".tmp-{final.name}-"))
    try:
        if datatree is not None:
            datatree.to_netcdf(tmp / DRAWS, engine="h5netcdf")
        with open(tmp / RECORD, "w") as f:
            json.dump(_jsonable(record), f, indent=1, sort_keys=True, allow_nan=True)
            f.flush()
            os.fsync(f.fileno())
        old = None
        if final.exists():
            old = final.with_name(f".old-{final.name}-{os.getpid()}")
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_records(out: pathlib.Path, target: str | None = None) -> Iterator[dict]:
    """Every readable record under `out/runs` (of one target if given); unreadable ones are named and skipped."""
    root = out / "runs" / target if target else out / "runs"
    for path in sorted(root.glob(f"**/{RECORD}")):
        if any(part.startswith(".") for part in path.relative_to(out).parts):
            continue
        try:
            with open(path) as f:
                record = json.load(f)
            if not isinstance(record, dict) or "cell_id" not in record:
                raise ValueError("not a cell record")
        except (OSError, ValueError) as err:
            warnings.warn(f"skipping unreadable record {path}: {err}", stacklevel=2)
            continue
        yield record


def to_datatree(positions: np.ndarray, statistic_names: list[str], statistic_values: np.ndarray,
                sample_stats: Mapping[str, np.ndarray], attrs: Mapping[str, Any],
                traces: Mapping[str, np.ndarray] | None = None):
    """ArviZ DataTree: posterior `x` (chain, draw, x_dim) and `statistic` (chain, draw, statistic);
    per-step warm-up/training traces (e.g. the VAE's training bound) in the group `training` (step)."""
    ss = {("lp" if k == "logdensity" else k): np.asarray(v) for k, v in sample_stats.items()}
    tree = az.from_dict(
        {"posterior": {"x": positions, "statistic": statistic_values}, "sample_stats": ss},
        dims={"x": ["x_dim"], "statistic": ["statistic"]},
        coords={"statistic": list(statistic_names)})
    tree.attrs.update({k: _attr(v) for k, v in attrs.items()})
    if traces:
        import xarray as xr
        tree["training"] = xr.DataTree(xr.Dataset({k: ("step", np.asarray(v)) for k, v in traces.items()}))
    return tree


def _attr(v):
    return v if isinstance(v, (str, int, float)) and not isinstance(v, bool) else json.dumps(v, default=str)


def _jsonable(record: Mapping[str, Any]) -> dict:
    out = {}
    for k, v in record.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None if math.isnan(v) else v
        out[k] = v
    return out
