"""The unit of work an executor ships: a group of cells sharing one target and one sampler configuration.

A group runs its seeds one after the other in one process, so the compiled sampler (the AOT caches of
`baselines` and `vaegibbs.compile`) is built once and reused across seeds. A `Group` is plain data
(picklable for process pools, Dask and submitit); `run_group` is the function the workers call.

Before each cell the worker looks for the cell's finished record, under the id the cell has *on this
worker* (the device is part of a cell's identity, `bench.record.identity`): a cell already finished on
this kind of device is skipped, so a resumed sweep computes it once. To compute a cell the worker first
takes its claim (`bench.store.claim_cell`); a cell claimed by a live owner (another sweep over the same
folder) is put off to the end of the group (with one local worker: of the sweep), then waited for: its
record, once written, is reported as "computed by another sweep"; if its owner died without one, this
worker computes it. So two sweeps over one folder compute each cell once.

A record that cannot be written (e.g. a full disk) makes a failed cell with that reason (no record on
disk, so the next run computes it again); the group goes on with its other seeds.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
import socket
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from bench.run import Budget

LOG = "log.jsonl"
WAIT_POLL_S = 0.5  # how often a cell claimed by another sweep is looked at again


@dataclasses.dataclass(frozen=True)
class Group:
    target: str
    target_params: tuple[tuple[str, Any], ...]
    sampler: str
    sampler_params: tuple[tuple[str, Any], ...]
    seeds: tuple[int, ...]
    chains: int
    draws: int
    warmup: int
    precision: str
    out: str
    sweep_name: str
    sweep_run: str
    retry_failed: bool = False
    planned: tuple[str, ...] = ()  # ids the planner found unfinished: finished later means by another sweep
    profile: str | None = None  # bench.profile asked for (--profile); None: each worker's device's default

    @property
    def budget(self) -> Budget:
        return Budget(self.chains, self.draws, self.warmup)

    @property
    def label(self) -> str:
        from bench.record import label

        return f"{label(self.target, dict(self.target_params))} · {label(self.sampler, dict(self.sampler_params))}"


class CellResult(NamedTuple):
    """What a worker sends back for one cell (the record itself is on disk)."""

    cell_id: str
    label: str
    seed: int
    status: str  # "ok" or "failed"
    skipped: bool  # finished before this sweep reached it, or by another sweep; not recomputed
    error: str | None = None
    elsewhere: bool = False  # computed by another sweep over the same folder after this one planned it


def set_precision(precision: str) -> None:
    """Set JAX's precision, before any JAX computation of the process (a fresh worker starts in float32).

    Parameters
    ----------
    precision
        "float64" (x64 enabled) or "float32".
    """
    import jax

    jax.config.update("jax_enable_x64", precision == "float64")


@functools.lru_cache(maxsize=32)
def make_target(name: str, params: tuple[tuple[str, Any], ...]):
    """One Target object per configuration and process.

    The samplers' and metrics' compile caches are keyed by the log-density function, so the same object must
    come back for every seed.

    Parameters
    ----------
    name
        The registered target's name.
    params
        Its parameters as sorted (name, value) pairs (hashable).

    Returns
    -------
    Target
        The target (the same object for equal arguments).
    """
    from targets.registry import make_target as build

    return build(name, **dict(params))


def finished(out: pathlib.Path, target: str, sampler: str, cell_id: str, retry_failed: bool) -> dict | None:
    """The cell's record if it counts as finished.

    Finished: readable, complete (`bench.store.read_cell`), and `ok` (or `failed` unless failed cells are
    retried). A stale claim left beside a finished cell is removed.

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
    retry_failed
        Whether a failed cell counts as not finished.

    Returns
    -------
    dict or None
        The record, or None.
    """
    from bench import store

    record = store.read_cell(out, target, sampler, cell_id)
    if record is None or (retry_failed and record["status"] != "ok"):
        return None
    store.remove_stale_claim(out, target, sampler, cell_id)  # left by an owner killed after writing the cell
    return record


def cell_ids(group: Group) -> list[str]:
    """The ids of the group's cells on the device of this process.

    Parameters
    ----------
    group
        The group.

    Returns
    -------
    list of str
        One id per seed, in the group's order.
    """
    from bench import record as rec
    from bench.run import cell_identity
    from bench.samplers import get_sampler

    target, sampler = make_target(group.target, group.target_params), get_sampler(group.sampler)
    return [
        rec.cell_id(cell_identity(target, sampler, dict(group.sampler_params), seed, group.budget))
        for seed in group.seeds
    ]


def run_group(group: Group, on_cell: Callable[[CellResult], None] | None = None, wait: bool = True) -> list[CellResult]:
    """Run (or skip, when finished) each seed of the group; write each record atomically under `group.out`.

    Cells claimed by another live process are done last: waited for, then skipped or computed; with
    `wait = False` they are left out of the results (the caller runs them again later).

    Parameters
    ----------
    group
        The group.
    on_cell
        Called with each cell's result as it comes; None: not called.
    wait
        Whether to wait for cells claimed by another live process.

    Returns
    -------
    list of CellResult
        The cells' results.
    """
    set_precision(group.precision)
    from bench import profile
    from bench.samplers import get_sampler

    profile.use(group.profile)

    out = pathlib.Path(group.out)
    target, sampler = make_target(group.target, group.target_params), get_sampler(group.sampler)
    params = dict(group.sampler_params)
    results, waiting = [], []
    for seed, cell_id in zip(group.seeds, cell_ids(group)):
        result = _try_cell(group, out, target, sampler, params, seed, cell_id)
        if result is None:
            waiting.append((seed, cell_id))
            continue
        results.append(result)
        if on_cell is not None:
            on_cell(result)
    for seed, cell_id in waiting if wait else ():
        result = None
        while result is None:
            _wait_claim(out, group, cell_id)
            result = _try_cell(group, out, target, sampler, params, seed, cell_id, elsewhere=True)
        results.append(result)
        if on_cell is not None:
            on_cell(result)
    return results


def _try_cell(
    group: Group, out: pathlib.Path, target, sampler, params, seed: int, cell_id: str, elsewhere: bool = False
) -> CellResult | None:
    """The cell's result: skipped when finished (`elsewhere`: by another sweep we waited for), else computed
    under its claim; None when another live process holds the claim."""
    from bench import store
    from bench.run import run_cell

    done = finished(out, group.target, group.sampler, cell_id, group.retry_failed)
    if done is not None:
        elsewhere = elsewhere or cell_id in group.planned  # unfinished when planned (same device): not before
        return CellResult(cell_id, group.label, seed, done["status"], True, done.get("error"), elsewhere)
    claim = store.claim_cell(out, group.target, group.sampler, cell_id)
    if claim is None:
        return None
    with claim:
        done = finished(out, group.target, group.sampler, cell_id, group.retry_failed)  # finished meanwhile
        if done is not None:
            return CellResult(cell_id, group.label, seed, done["status"], True, done.get("error"), True)
        append_event(out, {"event": "started", "cell_id": cell_id, "sweep.run": group.sweep_run})
        try:
            record = run_cell(
                target,
                sampler,
                params,
                seed,
                group.budget,
                out,
                extra={"sweep.name": group.sweep_name, "sweep.run": group.sweep_run},
            )
        except OSError as err:  # the record could not be written (a full disk, a vanished folder)
            error = f"results not written: {type(err).__name__}: {err}"
            append_event(
                out, {"event": "not written", "cell_id": cell_id, "error": error, "sweep.run": group.sweep_run}
            )
            return CellResult(cell_id, group.label, seed, "failed", False, error)
        append_event(
            out, {"event": "written", "cell_id": cell_id, "status": record["status"], "sweep.run": group.sweep_run}
        )
        return CellResult(cell_id, group.label, seed, record["status"], False, record.get("error"))


def _wait_claim(out: pathlib.Path, group: Group, cell_id: str) -> None:
    """Until the cell's claim is released or its owner is gone (`bench.store.owner_gone`)."""
    from bench import store

    path = store.claim_path(out, group.target, group.sampler, cell_id)
    while True:
        owner = store.read_claim(path)
        if owner is None or store.owner_gone(owner["pid"], owner["host"], owner["mtime"]):
            return
        time.sleep(WAIT_POLL_S)


def append_event(out: pathlib.Path, event: dict[str, Any]) -> None:
    """Append one line to `<out>/sweeps/log.jsonl` (host, pid, time added), with a single O_APPEND write.

    Whole lines on a local file system (on NFS lines from several hosts may interleave; it is a log). A line
    that cannot be written (a full disk) is warned about, never fatal to the cell.

    Parameters
    ----------
    out
        The results folder.
    event
        The event's fields.
    """
    import warnings

    from bench.record import timestamp

    folder = out / "sweeps"
    line = json.dumps({**event, "host": socket.gethostname(), "pid": os.getpid(), "time": timestamp()}) + "\n"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError as err:
        warnings.warn(f"could not log {event.get('event')!r} to {folder / LOG}: {err}", stacklevel=2)


def read_log(out: pathlib.Path) -> list[dict]:
    """The sweep log's events; a torn last line (a process killed mid-write) is skipped.

    Parameters
    ----------
    out
        The results folder.

    Returns
    -------
    list of dict
        The events, in order; [] without a log.
    """
    path = out / "sweeps" / LOG
    events = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events
