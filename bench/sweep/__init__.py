"""Sweeps: a grid of targets x samplers x seeds from a TOML file, run locally, on Dask or on SLURM.

`python -m bench sweep CONFIG.toml`; from Python, `run_sweep(load("configs/example.toml"))`.
Modules: `config` (the file, checked up front), `tasks` (the unit of work a worker runs),
`executors` (local processes, dask.distributed, submitit), `runner` (plan, resume, progress).
"""

from bench.sweep.config import ConfigError, Entry, SweepConfig, load, parse
from bench.sweep.runner import Summary, plan, run_sweep
from bench.sweep.tasks import CellResult, Group, read_log, run_group

__all__ = [
    "CellResult",
    "ConfigError",
    "Entry",
    "Group",
    "Summary",
    "SweepConfig",
    "load",
    "parse",
    "plan",
    "read_log",
    "run_group",
    "run_sweep",
]
