"""Executors: where the groups of a sweep run.

Each yields `(group, results)` as groups finish, or `(group, exception)` when the executor lost the group (a
worker process died, a job failed); the cells of a lost group that left no record are redone by the next run of
the sweep.

- `local`: `workers = 1` (default) runs every cell in this process, one after the other (every cache
  shared); `workers = N` runs groups in N processes started with `spawn` (JAX is not fork-safe).
- `dask`: `dask.distributed`: a running scheduler (`address = "tcp://host:8786"`; its workers need this
  package installed and the results folder mounted at the same path) or, with no address, a
  `LocalCluster` of `n_workers` x `threads_per_worker` (`processes = false`: threads of this process).
- `slurm`: a submitit job array, one job per group (`partition`, `time` in minutes, `gpus` per node,
  `cpus_per_task`, `mem_gb`, `array_parallelism`, `account`, `qos`, `constraint`, `setup` lines run before
  the job, `additional` sbatch options). `cluster = "local"` runs the same jobs as local processes
  (submitit's LocalExecutor), `"debug"` in this process: for trying a configuration without a cluster.

Every executor writes to the one results folder through the atomic store (`bench.store.write_cell`).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import pathlib
import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bench.extras import require
from bench.sweep.tasks import CellResult, Group, run_group

# kind -> (module, extra): what an executor other than `local` imports, and the extra that installs it
NEEDS = {"dask": ("distributed", "dask"), "slurm": ("submitit", "slurm")}

Outcome = tuple[Group, "list[CellResult] | BaseException"]


def execute(kind: str, groups: Sequence[Group], options: Mapping[str, Any], log=print) -> Iterator[Outcome]:
    """Run `groups` on the executor `kind` with its (checked) `options`; yield outcomes as they come.

    Parameters
    ----------
    kind
        "local", "dask" or "slurm".
    groups
        The groups to run.
    options
        The executor's options (checked by the sweep file's parser).
    log
        Where the executor's messages go.

    Yields
    ------
    tuple
        `(group, results)` as a group finishes, or `(group, exception)` when the executor lost it.
    """
    runner = {"local": local, "dask": dask, "slurm": slurm}[kind]
    yield from runner(groups, log=log, **options)


def check_installed(kind: str) -> None:
    """Raise `bench.extras.MissingExtra` naming the extra when executor `kind`'s library is not installed.

    Parameters
    ----------
    kind
        The executor.

    Raises
    ------
    bench.extras.MissingExtra
        When its library is not installed.
    """
    if kind in NEEDS:
        require(*NEEDS[kind], f"the {kind} executor")


def local(groups: Sequence[Group], workers: int = 1, log=print) -> Iterator[Outcome]:
    if workers == 1:
        # one cell at a time, for progress by cell (the caches are this process's anyway); a cell claimed by
        # another sweep is put off to the end, so that both sweeps work on other cells meanwhile
        later = []
        for one in (dataclasses.replace(group, seeds=(seed,)) for group in groups for seed in group.seeds):
            try:
                results = run_group(one, wait=False)
            except Exception as err:  # noqa: BLE001 - e.g. the results folder vanished: report, go on
                yield one, err
                continue
            if results:
                yield one, results
            else:
                later.append(one)
        for one in later:
            try:
                yield one, run_group(one)
            except Exception as err:  # noqa: BLE001
                yield one, err
        return
    context = multiprocessing.get_context("spawn")
    others = set(multiprocessing.active_children())
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_leave_sigint_to_parent
    ) as pool:
        futures = {pool.submit(run_group, g): g for g in groups}
        try:
            for future in concurrent.futures.as_completed(futures):
                try:
                    yield futures[future], future.result()
                except Exception as err:  # noqa: BLE001 - BrokenProcessPool and the like
                    yield futures[future], err
        except BaseException:  # e.g. Ctrl-C: stop the workers now (a cell under way leaves no record)
            workers_now = set(multiprocessing.active_children()) - others
            for worker in workers_now:
                worker.terminate()
            for worker in workers_now:
                worker.join(timeout=10)
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _leave_sigint_to_parent() -> None:
    """A worker ignores Ctrl-C (SIGINT reaches the whole process group): the parent stops it, so one
    interruption prints one message, not a traceback per worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def dask(
    groups: Sequence[Group],
    address: str = "",
    n_workers: int = 1,
    threads_per_worker: int = 1,
    processes: bool = True,
    retries: int = 0,
    log=print,
) -> Iterator[Outcome]:
    distributed = require(*NEEDS["dask"], "the dask executor")

    cluster = None
    if address:
        client = distributed.Client(address)
    else:
        cluster = distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes, dashboard_address=None
        )
        client = distributed.Client(cluster)
    log(f"dask: {client.dashboard_link or client.scheduler.address}")
    try:
        futures = {
            client.submit(run_group_on_dask, g, pure=False, retries=retries, key=f"bench-cells-{i}-{g.sweep_run}"): g
            for i, g in enumerate(groups)
        }
        try:
            for future in distributed.as_completed(futures):
                try:
                    yield futures[future], future.result()
                except Exception as err:  # noqa: BLE001 - KilledWorker, a lost connection, ...
                    yield futures[future], err
        except BaseException:
            client.cancel(list(futures))
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_group_on_dask(group: Group) -> list[CellResult]:
    """`run_group` on a Dask worker, under dask's synchronous scheduler.

    On a worker xarray would otherwise guard the writing of a cell's draws (serialised in memory) with a
    `distributed.Lock` keyed by the in-memory file, which the scheduler refuses ("Semaphore or Lock ... not
    known"), failing every cell.

    Parameters
    ----------
    group
        The group.

    Returns
    -------
    list of CellResult
        Its cells' results.
    """
    import dask

    with dask.config.set(scheduler="synchronous"):
        return run_group(group)


def slurm(
    groups: Sequence[Group],
    cluster: str = "slurm",
    folder: str = "",
    partition: str = "",
    time: int = 60,
    gpus: int = 0,
    cpus_per_task: int = 1,
    mem_gb: float = 0,
    array_parallelism: int = 64,
    account: str = "",
    qos: str = "",
    constraint: str = "",
    setup: Sequence[str] = (),
    additional: Mapping[str, Any] | None = None,
    log=print,
    poll_s: float = 2.0,
) -> Iterator[Outcome]:
    submitit = require(*NEEDS["slurm"], "the slurm executor")

    if not groups:
        return
    folder = folder or str(pathlib.Path(groups[0].out) / "sweeps" / "submitit" / "%j")
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    params: dict[str, Any] = {
        "name": f"bench-{groups[0].sweep_name}",
        "timeout_min": time,
        "cpus_per_task": cpus_per_task,
        "slurm_array_parallelism": array_parallelism,
    }
    optional = {
        "gpus_per_node": gpus,
        "mem_gb": mem_gb,
        "slurm_partition": partition,
        "slurm_account": account,
        "slurm_qos": qos,
        "slurm_constraint": constraint,
        "slurm_setup": list(setup),
        "slurm_additional_parameters": dict(additional or {}),
    }
    params |= {k: v for k, v in optional.items() if v}
    executor.update_parameters(**params)
    jobs = executor.map_array(run_group, list(groups))
    log(f"submitit ({cluster}): {len(jobs)} jobs, first id {jobs[0].job_id}; logs under {folder}")
    pending = dict(zip(jobs, groups))
    try:
        while pending:
            for job in [j for j in pending if j.done()]:
                group = pending.pop(job)
                try:
                    yield group, job.result()
                except Exception as err:  # noqa: BLE001 - the job failed, timed out or was cancelled
                    yield group, err
            if pending:
                _sleep(poll_s)
    except BaseException:
        log(
            f"interrupted: {len(pending)} jobs still queued or running (job ids "
            f"{', '.join(j.job_id for j in pending)}); they keep writing their cells. Cancel them (scancel) "
            f"before running the sweep again, or that run would compute their cells a second time."
        )
        raise


def _sleep(seconds: float) -> None:
    time.sleep(seconds)
