"""The results directory: one folder per finished cell, written atomically.

    <out>/runs/<target>/<sampler>/<cell_id>/record.json   one flat row (identity, cost, metrics, provenance)
    <out>/runs/<target>/<sampler>/<cell_id>/draws.nc      the draws as an ArviZ DataTree (netCDF4 / HDF5)

A cell is written into a hidden temporary folder and renamed into place, so an interrupted run
never leaves a half-written cell; readers skip (and name) records they cannot parse. The draws are
serialised to bytes in memory and written with plain file I/O, so a full disk is an `OSError` of that
write (never an HDF5 file left half-open). Every path written is checked by `check_inside`: inside the
results folder once symlinks are resolved, and outside committed reference results.

Processes sharing a folder (two sweeps, a sweep's workers on several hosts) coordinate through a claim
file per cell, `<out>/runs/<target>/<sampler>/.claim-<cell_id>`, created with O_EXCL and holding its
owner's host, pid and time (`claim_cell`). A claim, and a temporary folder
`.tmp-<cell_id>-<pid>-<host>-...`, is stale only when its owner is gone: on the same host, when its pid
is not alive; for another host, when it has not been touched for `STALE_S` seconds (a live owner
touches its claim every `HEARTBEAT_S` seconds).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
import re
import shutil
import socket
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import arviz as az
import numpy as np

RECORD = "record.json"
DRAWS = "draws.nc"


class ResultsError(OSError):
    """The results directory cannot be written."""


REFERENCE_MARKER = "REFERENCE"  # a folder holding it (committed reference results) is never written by a run
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.=,()+-]*")  # a target, sampler or sweep name: one folder or file name
NAME_CHARS = "letters, digits and _ . = , ( ) + - (not first: . = , ( ) + -)"


def check_name(kind: str, name: str) -> str:
    """`name` if it can be one folder or file name under the results folder; else ResultsError.

    See `NAME`: no `/`, no `..`, not empty, not hidden; the error names it and the valid characters.

    Parameters
    ----------
    kind
        What it names, for the message ("target", "sampler", "sweep").
    name
        The name.

    Returns
    -------
    str
        `name`.

    Raises
    ------
    ResultsError
        When `name` cannot name one folder or file.
    """
    if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
        raise ResultsError(f"{kind} name {name!r} cannot name a folder of the results: use {NAME_CHARS}, with no '..'")
    return name


def check_inside(out: pathlib.Path, path: pathlib.Path) -> pathlib.Path:
    """`path` resolved (symlinks followed) if it lies inside `out` and outside reference results; else ResultsError.

    Inside `out` (resolved), and no folder above it holds committed reference results (a `REFERENCE` marker).
    Every writer calls it.

    Parameters
    ----------
    out
        The results folder.
    path
        The path to be written.

    Returns
    -------
    pathlib.Path
        `path` resolved.

    Raises
    ------
    ResultsError
        When `path` lies outside `out` or inside reference results.
    """
    root, where = pathlib.Path(out).resolve(), pathlib.Path(path).resolve()
    if where != root and root not in where.parents:
        raise ResultsError(f"{path} resolves to {where}, outside the results folder {root}: refusing to write it")
    for folder in (where, *where.parents):
        if (folder / REFERENCE_MARKER).is_file():
            raise ResultsError(
                f"{path} is inside {folder}, committed reference results ({REFERENCE_MARKER} marks "
                f"it): runs write elsewhere; `python -m bench leaderboard --out` regenerates it"
            )
    return where


def check_writable(out: pathlib.Path, targets=(), sweep: str | None = None) -> None:
    """Fail early, before any computation, if `out` cannot hold these results.

    It fails if `out` cannot hold results (or holds reference results), if a target's or the sweep's name
    cannot name a folder, or if a target's folder `runs/<target>` or the leaderboard folder cannot be written
    inside `out`.

    Parameters
    ----------
    out
        The results folder.
    targets
        The targets' names.
    sweep
        The sweep's name, or None.

    Raises
    ------
    ResultsError
        The first problem found.
    """
    out = pathlib.Path(out)
    check_inside(out, out)
    names = [check_name("target", t) for t in targets]
    if sweep is not None:
        check_name("sweep", sweep)
    folders = [out / "runs", *(out / "runs" / t for t in names)]
    for path in [
        *folders,
        out / "leaderboard",
        *(out / "leaderboard" / f"{t}.csv" for t in names),
        out / "sweeps",
        *([out / "sweeps" / f"{sweep}.toml"] if sweep is not None else []),
    ]:
        check_inside(out, path)
    try:
        for folder in folders:
            if folder.exists() and not folder.is_dir():
                raise ResultsError(f"cannot write results under {out}: {folder} is a file, not a folder")
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
                pass
    except ResultsError:
        raise
    except OSError as err:
        raise ResultsError(
            f"cannot write results under {out}: {err.strerror or err}"
            + (f" ({err.filename})" if getattr(err, "filename", None) else "")
        ) from None


def cell_dir(out: pathlib.Path, record: Mapping[str, Any]) -> pathlib.Path:
    return out / "runs" / str(record["target"]) / str(record["sampler"]) / str(record["cell_id"])


def write_cell(
    out: pathlib.Path, record: Mapping[str, Any], datatree=None, artifacts: Mapping[str, Any] | None = None
) -> pathlib.Path:
    """Write record (and draws, and artifacts) atomically into the cell's folder, replacing an older version.

    An OSError (e.g. a full disk) leaves no temporary folder and the older version in place.

    Parameters
    ----------
    out
        The results folder.
    record
        The cell's record (its `target`, `sampler` and `cell_id` name the folder).
    datatree
        The draws (an ArviZ DataTree, written as `draws.nc`), or None.
    artifacts
        Name -> write(path_stem), e.g. a trained model's files.

    Returns
    -------
    pathlib.Path
        The cell's folder.

    Raises
    ------
    ResultsError
        When a name cannot name a folder or the folder lies outside `out` or inside reference results.
    """
    final = cell_dir(out, record)
    for kind in ("target", "sampler"):
        check_name(kind, str(record[kind]))
    check_inside(out, final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(final.parent, final.name)
    text = json.dumps(_jsonable(record), indent=1, sort_keys=True, allow_nan=False, default=_json_default)
    # serialised in memory, so that no HDF5 file is ever open on the disk (a full disk used to segfault h5netcdf)
    data = None if datatree is None else bytes(datatree.to_netcdf(engine="h5netcdf"))
    tmp = pathlib.Path(tempfile.mkdtemp(dir=final.parent, prefix=f".tmp-{final.name}-{_owner()}-"))
    try:
        if data is not None:
            write_bytes(tmp / DRAWS, data)
        for name, write in (artifacts or {}).items():
            write(tmp / name)
        write_bytes(tmp / RECORD, text.encode())
        old = None
        if final.exists():
            old = pathlib.Path(tempfile.mkdtemp(dir=final.parent, prefix=f".old-{final.name}-{_owner()}-"))
            os.replace(final, old / "cell")
        os.replace(tmp, final)
        _fsync(final.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def write_bytes(path: pathlib.Path, data: bytes) -> None:
    """Write `data` to a new file and fsync it (plain I/O; the disk-full OSError surfaces here).

    Parameters
    ----------
    path
        The file.
    data
        Its bytes.
    """
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- owners of temporaries and claims -------------------------------------------------------------------

HEARTBEAT_S = 30.0  # a live claim's owner touches it this often
STALE_S = 600.0  # another host's claim or temporary untouched this long is stale (its owner is gone)
CLAIM = ".claim-"


def _host() -> str:
    """8 hex digits of the host name (a name may hold '-' and '.', so it is not put in file names as is)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _owner() -> str:
    return f"{os.getpid()}-{_host()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def owner_gone(pid: int | None, host: str | None, mtime: float) -> bool:
    """Whether the owner of a claim or temporary last touched at `mtime` is gone.

    Same host: pid not alive; another host (or unknown): untouched for STALE_S seconds.

    Parameters
    ----------
    pid
        The owner's process id, or None.
    host
        The 8-hex-digit hash of the owner's host name, or None.
    mtime
        When it was last touched (seconds since the epoch).

    Returns
    -------
    bool
        True when the owner is gone.
    """
    if host == _host() and pid is not None:
        return not _pid_alive(pid)
    return time.time() - mtime > STALE_S


def remove_stale(folder: pathlib.Path, cell_id: str) -> None:
    """Remove the cell's temporary folders (`.tmp-` / `.old-<cell_id>-<pid>-<host>-...`) whose owner is gone.

    They are left by a process killed mid-write. Another live process's temporary is left alone.

    Parameters
    ----------
    folder
        The folder holding the cell's folder.
    cell_id
        The cell's id.
    """
    for path in folder.glob(f".*-{cell_id}-*"):
        if path.name.startswith(CLAIM):
            continue
        parts = path.name.split(f"-{cell_id}-", 1)[-1].split("-")  # <pid>-<host>-<random> (older: <random>)
        pid = int(parts[0]) if len(parts) == 3 and parts[0].isdigit() else None
        host = parts[1] if pid is not None else None
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        if pid == os.getpid() and host == _host():
            continue  # this process's own (another thread's write)
        if owner_gone(pid, host, mtime):
            shutil.rmtree(path, ignore_errors=True)


class Claim:
    """The claim file of one cell, held by this process until `release`.

    It is touched every HEARTBEAT_S seconds by a daemon thread so that other hosts see its owner is alive.

    Parameters
    ----------
    path
        The claim file (already created).
    """

    def __init__(self, path: pathlib.Path):
        self.path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"claim {path.name}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def claim_path(out: pathlib.Path, target: str, sampler: str, cell_id: str) -> pathlib.Path:
    return pathlib.Path(out) / "runs" / target / sampler / f"{CLAIM}{cell_id}"


def claim_cell(out: pathlib.Path, target: str, sampler: str, cell_id: str) -> Claim | None:
    """Take the cell's claim and return it; None when a live owner holds it.

    The claim is an O_EXCL create of its claim file, holding host, pid and time. A stale claim (`owner_gone`)
    is removed first (`remove_stale_claim`).

    Parameters
    ----------
    out
        The results folder.
    target
        The target's name.
    sampler
        The sampler's name.
    cell_id
        The cell's id.

    Returns
    -------
    Claim or None
        The claim, or None when a live owner holds it.
    """
    path = claim_path(out, target, sampler, cell_id)
    check_inside(out, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(5):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if not remove_stale_claim(out, target, sampler, cell_id):
                return None
            continue
        from bench.record import timestamp

        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "host": _host(), "hostname": socket.gethostname(), "time": timestamp()}, f)
        return Claim(path)
    return None


def remove_stale_claim(out: pathlib.Path, target: str, sampler: str, cell_id: str) -> bool:
    """Remove the cell's claim if its owner is gone; True when there is no claim left.

    Gone: killed mid-cell, or after writing the cell but before releasing it. The claim is renamed away first
    (only one of several takers can), and a live newcomer's claim moved by mistake is put back.

    Parameters
    ----------
    out
        The results folder.
    target
        The target's name.
    sampler
        The sampler's name.
    cell_id
        The cell's id.

    Returns
    -------
    bool
        True when there is no claim left.
    """
    path = claim_path(out, target, sampler, cell_id)
    owner = read_claim(path)
    if owner is None:
        return True
    if not owner_gone(owner["pid"], owner["host"], owner["mtime"]):
        return False
    grave = path.with_name(f".stale-{cell_id}-{_owner()}")
    try:
        os.replace(path, grave)
    except FileNotFoundError:
        return True
    moved = read_claim(grave)
    fresh = moved is not None and (moved["pid"], moved["host"]) != (owner["pid"], owner["host"])
    if fresh:  # another taker replaced the stale claim by its own meanwhile: put it back (never over a third)
        try:
            os.link(grave, path)
        except FileExistsError:
            pass
    grave.unlink(missing_ok=True)
    return not fresh


def read_claim(path: pathlib.Path) -> dict | None:
    """The claim's owner (pid, host, mtime); a claim being written (empty, unparsable) counts as fresh.

    Parameters
    ----------
    path
        The claim file.

    Returns
    -------
    dict or None
        `pid`, `host`, `mtime` and `hostname`; None when the claim is gone.
    """
    try:
        mtime = path.stat().st_mtime
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        owner = json.loads(text)
        owner = owner if isinstance(owner, dict) else {}
    except ValueError:
        owner = {}
    pid = owner.get("pid")
    return {
        "pid": pid if isinstance(pid, int) else None,
        "host": owner.get("host"),
        "mtime": mtime,
        "hostname": owner.get("hostname"),
    }


REQUIRED = {"cell_id": str, "target": str, "sampler": str, "status": str, "seed": int}


def read_records(out: pathlib.Path) -> Iterator[dict]:
    """Every readable record under `out/runs`; unreadable or malformed ones are named and skipped.

    Parameters
    ----------
    out
        The results folder.

    Yields
    ------
    dict
        Each record, in path order (a warning names each one skipped).
    """
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


def has_records(out: pathlib.Path) -> bool:
    """Whether `out/runs` holds any cell's record file (readable or not; hidden temporaries aside).

    Parameters
    ----------
    out
        The results folder.

    Returns
    -------
    bool
        True when there is one.
    """
    return any(
        not any(part.startswith(".") for part in path.relative_to(out).parts)
        for path in (pathlib.Path(out) / "runs").glob(f"**/{RECORD}")
    )


def read_cell(out: pathlib.Path, target: str, sampler: str, cell_id: str) -> dict | None:
    """The record of one cell if its folder holds a complete one; else None: the cell is to be (re)computed.

    Complete: record parsed, its required fields and id right, draws present and opening as HDF5 when it
    finished `ok`; a cell is never half-read.

    Parameters
    ----------
    out
        The results folder.
    target
        The target's name.
    sampler
        The sampler's name.
    cell_id
        The cell's id.

    Returns
    -------
    dict or None
        The record, or None.
    """
    folder = out / "runs" / target / sampler / cell_id
    try:
        record = json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(record, dict)
        or any(not isinstance(record.get(k), t) for k, t in REQUIRED.items())
        or record["cell_id"] != cell_id
    ):
        return None
    if record["status"] == "ok" and not draws_readable(folder / DRAWS):
        return None
    return record


def draws_readable(path: pathlib.Path) -> bool:
    """Whether `path` is a file that opens as HDF5 with a `posterior` group.

    A cheap check: the header and the root group, not the data; a truncated file fails here.

    Parameters
    ----------
    path
        The draws file.

    Returns
    -------
    bool
        True when it opens.
    """
    import h5py

    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as f:
            return "posterior" in f
    except (OSError, ValueError):
        return False


def to_datatree(
    positions: np.ndarray,
    statistic_names: list[str],
    statistic_values: np.ndarray,
    sample_stats: Mapping[str, np.ndarray],
    attrs: Mapping[str, Any],
    traces: Mapping[str, np.ndarray] | None = None,
    variables: Mapping[str, np.ndarray] | None = None,
):
    """The ArviZ DataTree of a cell's draws: posterior `x` and `statistics`, sample stats and training traces.

    Posterior `x` (chain, draw, x_dim) and `statistics` (chain, draw, statistic), the target's statistics at
    each draw, selectable by name (`.sel(statistic="v")`); per-step warm-up/training traces (e.g. the VAE's
    training bound) in the group `training` (step; a name `round.<name>` goes there as `<name>` over the
    dimension `round`). `variables` (name -> (chain, draw, *shape)), e.g. a numpyro model's constrained
    parameters, take x's place in the posterior group under their own names (dims `name_dim_k`, as numpyro's),
    and x moves to ArviZ's `unconstrained_posterior` group.

    Parameters
    ----------
    positions
        The draws, shape (chain, draw, x_dim).
    statistic_names
        The target's statistics' names.
    statistic_values
        Their values at the draws, shape (chain, draw, statistic).
    sample_stats
        Per-draw sample statistics (chain, draw); `logdensity` is stored as `lp`.
    attrs
        The tree's attributes (non-scalar values as JSON).
    traces
        Per-step (or `round.`-prefixed per-round) training traces, or None.
    variables
        Named parameters (chain, draw, *shape), or None.

    Returns
    -------
    xarray.DataTree
        The tree.
    """
    ss = {("lp" if k == "logdensity" else k): np.asarray(v) for k, v in sample_stats.items()}
    groups: dict = {"posterior": {"x": positions, "statistics": statistic_values}, "sample_stats": ss}
    if variables:
        groups["posterior"] = {**{k: np.asarray(v) for k, v in variables.items()}, "statistics": statistic_values}
        groups["unconstrained_posterior"] = {"x": positions}
    tree = az.from_dict(
        groups, dims={"x": ["x_dim"], "statistics": ["statistic"]}, coords={"statistic": list(statistic_names)}
    )
    tree.attrs.update({k: _attr(v) for k, v in attrs.items()})
    if traces:
        import xarray as xr

        tree["training"] = xr.DataTree(
            xr.Dataset(
                {
                    k.removeprefix("round."): ("round" if k.startswith("round.") else "step", np.asarray(v))
                    for k, v in traces.items()
                }
            )
        )
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
