"""Leaderboards derived from records: one CSV per target, a row per (target, sampler) configuration.

Numeric columns become `<metric>.mean` and `<metric>.sd` over the seeds that finished (`n_seeds`);
failed cells are counted in `n_failed`. `runs.csv` holds every record as it is (one row per cell).
"""
from __future__ import annotations

import os
import pathlib
import tempfile

import numpy as np
import pandas as pd

from bench import store

GROUP = ["target", "target_id", "sampler", "sampler_id", "chains", "draws", "warmup", "precision", "device"]
SKIP = {"seed", "dim", "cell_id", "device_count", "host_cpus", "target_log_Z", "target_log_Z_spins", "git_dirty"}


def aggregate(records: list[dict]) -> pd.DataFrame:
    """Mean and sd over seeds of every numeric column, per configuration."""
    frame = pd.DataFrame(records)
    if frame.empty:
        return frame
    for col in GROUP:
        if col not in frame:
            frame[col] = None
    ok = frame[frame["status"] == "ok"]
    numeric = [c for c in ok.columns if c not in GROUP and c not in SKIP and not c.startswith(("target.", "sampler."))
               and not pd.api.types.is_bool_dtype(ok[c]) and pd.to_numeric(ok[c], errors="coerce").notna().any()]
    keys = GROUP + sorted(c for c in frame.columns if c.startswith(("target.", "sampler.")))
    rows = []
    for ident, group in frame.groupby(GROUP, dropna=False, sort=True):
        good = group[group["status"] == "ok"]
        row = {k: group[k].iloc[0] for k in keys}
        row["n_seeds"], row["n_failed"] = len(good), int((group["status"] != "ok").sum())
        row["seeds"] = " ".join(map(str, sorted(good["seed"])))
        for col in numeric:
            vals = pd.to_numeric(good[col], errors="coerce").to_numpy(dtype=float)
            if col == "time_compile":  # paid once per configuration, 0 for later seeds: report the total
                row["time_compile.total"] = float(np.nansum(vals))
            elif np.isfinite(vals).any():
                row[f"{col}.mean"] = float(np.nanmean(vals))
                row[f"{col}.sd"] = float(np.nanstd(vals, ddof=1)) if np.isfinite(vals).sum() > 1 else np.nan
        for col in ("version.jax", "version.blackjax", "version.arviz", "git_commit"):
            if col in group:
                row[col] = group[col].iloc[-1]
        rows.append(row)
    return pd.DataFrame(rows)


def write_leaderboards(out: pathlib.Path, target: str) -> pathlib.Path:
    """Rebuild `<out>/leaderboard/<target>.csv` and `runs.csv` from every record under `out`."""
    folder = out / "leaderboard"
    folder.mkdir(parents=True, exist_ok=True)
    everything = list(store.read_records(out))
    _atomic_csv(pd.DataFrame(everything), folder / "runs.csv")
    path = folder / f"{target}.csv"
    _atomic_csv(aggregate([r for r in everything if r.get("target") == target]), path)
    return path


def _atomic_csv(frame: pd.DataFrame, path: pathlib.Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
