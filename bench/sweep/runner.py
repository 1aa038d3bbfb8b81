"""Plan a sweep (which cells are left), run it on an executor, report progress, rebuild the leaderboards.

Resuming is running the sweep again: a cell whose complete record is already in the results folder
(under the id it has on this machine: device and precision are part of a cell's identity) is skipped;
a missing, partial or unreadable one is computed. Failed cells are skipped too (their failure is a
seeded, repeatable Python exception, recorded with its reason) unless `retry_failed`. A cell lost with
its worker (a killed process, a failed job) leaves no record, so the next run computes it.
"""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from collections.abc import Callable

from bench import profile
from bench.sweep.config import SweepConfig
from bench.sweep.executors import execute
from bench.sweep.tasks import CellResult, Group, cell_ids, finished, set_precision


@dataclasses.dataclass
class Summary:
    total: int
    ok: int = 0
    failed: int = 0
    skipped: int = 0  # finished before this run (ok or failed), counted in ok / failed too
    elsewhere: int = 0  # of those, computed meanwhile by another sweep over the same folder
    lost: int = 0  # cells of groups the executor lost: no record, redone next time
    failures: list[CellResult] = dataclasses.field(default_factory=list)

    @property
    def done(self) -> int:
        return self.ok + self.failed

    @property
    def left(self) -> int:
        return self.total - self.done

    def add(self, result: CellResult) -> None:
        self.ok += result.status == "ok"
        self.failed += result.status != "ok"
        self.skipped += result.skipped and not result.elsewhere
        self.elsewhere += result.elsewhere
        if result.status != "ok":
            self.failures.append(result)

    def line(self) -> str:
        other = f", {self.elsewhere} computed by another sweep" if self.elsewhere else ""
        return (
            f"{self.done}/{self.total} cells done ({self.ok} ok, {self.failed} failed; {self.skipped} "
            f"finished before{other}), {self.left} left"
        )


def groups_of(config: SweepConfig, run_id: str, retry_failed: bool = False) -> list[Group]:
    """One group per (target, sampler) configuration, every seed.

    Sorted by target, so one process meets each target configuration's cells together.

    Parameters
    ----------
    config
        The sweep.
    run_id
        This run's id (`new_run_id`).
    retry_failed
        Whether cells that failed before are run again.

    Returns
    -------
    list of Group
        The groups.
    """
    out = str(config.out.resolve())
    return [
        Group(
            target=t.name,
            target_params=t.params,
            sampler=s.name,
            sampler_params=s.params,
            seeds=config.seeds,
            chains=config.budget.chains,
            draws=config.budget.draws,
            warmup=config.budget.warmup,
            precision=config.precision,
            out=out,
            sweep_name=config.name,
            sweep_run=run_id,
            retry_failed=retry_failed,
            profile=profile.requested(),
        )
        for t in config.targets
        for s in config.samplers
    ]


def plan(config: SweepConfig, run_id: str, retry_failed: bool = False) -> tuple[list[Group], list[CellResult]]:
    """(groups of the cells left, results of the cells finished before).

    Cell ids are formed on this machine; the workers check again under their own device before each cell.

    Parameters
    ----------
    config
        The sweep.
    run_id
        This run's id.
    retry_failed
        Whether cells that failed before count as left.

    Returns
    -------
    tuple of (list of Group, list of CellResult)
        The groups of the cells left (their seeds only) and the results of those finished before.
    """
    set_precision(config.precision)
    todo, before = [], []
    for group in groups_of(config, run_id, retry_failed):
        seeds, ids = [], []
        for seed, cell_id in zip(group.seeds, cell_ids(group)):
            record = finished(config.out, group.target, group.sampler, cell_id, retry_failed)
            if record is None:
                seeds.append(seed)
                ids.append(cell_id)
            else:
                before.append(CellResult(cell_id, group.label, seed, record["status"], True, record.get("error")))
        if seeds:
            todo.append(dataclasses.replace(group, seeds=tuple(seeds), planned=tuple(ids)))
    return todo, before


def new_run_id() -> str:
    from bench.record import timestamp

    return f"{timestamp().replace(':', '').replace('+0000', 'Z')}-{uuid.uuid4().hex[:6]}"


def run_sweep(
    config: SweepConfig,
    retry_failed: bool = False,
    log: Callable[[str], None] = print,
    on_progress: Callable[[Summary, str], None] | None = None,
) -> Summary:
    """Run every cell left; returns the summary.

    Parameters
    ----------
    config
        The sweep.
    retry_failed
        Whether cells that failed before are run again.
    log
        Where the messages go.
    on_progress
        `on_progress(summary, last)`, called at the start and after each cell or group; None: not called.

    Returns
    -------
    Summary
        The counts of cells ok, failed, finished before and lost, and the failures.
    """
    from bench import store
    from bench.sweep.tasks import append_event

    check_writable(config)
    run_id = new_run_id()
    groups, before = plan(config, run_id, retry_failed)
    summary = Summary(total=config.n_cells)
    for result in before:
        summary.add(result)
    _keep_config(config, run_id)
    append_event(
        config.out,
        {
            "event": "sweep",
            "sweep.name": config.name,
            "sweep.run": run_id,
            "executor": config.executor,
            "cells": config.n_cells,
            "left": summary.left,
        },
    )
    log(
        f"sweep {config.name} ({run_id}): {config.n_cells} cells, {summary.done} finished before, "
        f"{summary.left} to run in {len(groups)} groups on {config.executor}"
    )
    if on_progress:
        on_progress(summary, "")
    for group, outcome in execute(config.executor, groups, config.executor_options, log=log):
        if isinstance(outcome, BaseException):
            reason = f"{type(outcome).__name__}: {outcome}"
            log(f"lost {group.label} seeds {', '.join(map(str, group.seeds))}: {reason}")
            # cells of the group that were written before the loss count; the rest are redone next time
            for seed, cell_id in zip(group.seeds, cell_ids(group)):
                record = store.read_cell(config.out, group.target, group.sampler, cell_id)
                if record is None:
                    summary.lost += 1
                    summary.failures.append(
                        CellResult(cell_id, group.label, seed, "lost", False, f"no record ({reason})")
                    )
                else:
                    summary.add(CellResult(cell_id, group.label, seed, record["status"], False, record.get("error")))
            last = f"{group.label}: lost"
        else:
            for result in outcome:
                summary.add(result)
            last = f"{group.label} seeds {', '.join(str(r.seed) for r in outcome)}"
        if on_progress:
            on_progress(summary, last)
    append_event(
        config.out,
        {
            "event": "sweep finished",
            "sweep.run": run_id,
            "ok": summary.ok,
            "failed": summary.failed,
            "lost": summary.lost,
        },
    )
    return summary


def check_writable(config: SweepConfig) -> None:
    """`bench.store.check_writable` for the sweep's folder, target names and sweep name (ResultsError).

    Parameters
    ----------
    config
        The sweep.

    Raises
    ------
    bench.store.ResultsError
        When the results cannot be written.
    """
    from bench import store

    store.check_writable(config.out, targets_of(config), sweep=config.name)


def _keep_config(config: SweepConfig, run_id: str) -> None:
    """A copy of the sweep file beside the results (`sweeps/<name>-<run>.toml`): what produced them."""
    from bench import store

    if config.path is not None and config.path.is_file():
        folder = config.out / "sweeps"
        path = folder / f"{store.check_name('sweep', config.name)}-{run_id}.toml"
        store.check_inside(config.out, path)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(config.path, path)


def targets_of(config: SweepConfig) -> list[str]:
    return sorted({t.name for t in config.targets})
