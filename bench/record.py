"""A run's identity and provenance: the columns every result row carries.

One cell = (target + params, sampler + params + budget, seed, precision). Its id is a hash of
that identity, so a rerun of the same cell lands in the same place. A user's target (not one of the
suite's registered built-ins) adds `target.fingerprint`, a hash of what defines it (`target_fingerprint`),
so a changed log density or statistic is a new cell, never a silent replacement of the old one.
Provenance says what produced the numbers: package versions, the lock file (`lock_hash`, 12 hex digits of
the SHA-256 of uv.lock) and whether the environment is the lock's (`lock_matches`), device, the number of
devices the chains were spread over, git commit, precision (read off JAX, not assumed). The device count used
(`baselines.devices`) is part of the identity only when it is not 1, so one device keeps the ids of before.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import importlib.metadata
import json
import pathlib
import platform
import subprocess
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

_ROOT = pathlib.Path(__file__).resolve().parents[1]  # the repository (or site-packages) holding bench/
PACKAGES = ("jax", "jaxlib", "blackjax", "arviz", "arviz-stats", "numpy", "optax", "numpyro")


def identity(
    target_name: str,
    target_params: Mapping[str, Any],
    sampler_name: str,
    sampler_params: Mapping[str, Any],
    chains: int,
    draws: int,
    warmup: int,
    seed: int,
    target_fingerprint: str | None = None,
) -> dict:
    """The flat identity of a cell; `target.*` and `sampler.*` hold the parameters.

    `target.fingerprint` holds a user's target's fingerprint, when given. The device is part of it, so runs of
    one cell on a CPU and on a GPU are two cells (and `chain_method=auto` resolves by device); so is the
    number of devices used (`devices`), added only when it is not 1 (one device: the ids of before), and the
    device profile (`bench.profile`), added only when it is not `cpu`.

    Parameters
    ----------
    target_name
        The target's name.
    target_params
        The target's parameters.
    sampler_name
        The sampler's name.
    sampler_params
        The sampler's parameters.
    chains
        Chains of the budget.
    draws
        Draws per chain.
    warmup
        Warm-up steps per chain.
    seed
        The seed.
    target_fingerprint
        A user's target's fingerprint (`target_fingerprint`); None: a built-in target.

    Returns
    -------
    dict
        The identity's columns, with the precision and the device.
    """
    from baselines import devices

    fingerprint = {} if target_fingerprint is None else {"target.fingerprint": target_fingerprint}
    from bench import profile

    spread = {} if devices.count() == 1 else {"devices": devices.count()}
    if profile.current() != "cpu":
        spread["profile"] = profile.current()
    return {
        "target": target_name,
        **{f"target.{k}": v for k, v in sorted(target_params.items())},
        **fingerprint,
        "sampler": sampler_name,
        **{f"sampler.{k}": v for k, v in sorted(sampler_params.items())},
        "chains": int(chains),
        "draws": int(draws),
        "warmup": int(warmup),
        "seed": int(seed),
        "precision": precision(),
        "device": provenance()["device"],
        **spread,
    }


def cell_id(ident: Mapping[str, Any]) -> str:
    """16 hex digits of the SHA-256 of the identity (sorted JSON).

    Parameters
    ----------
    ident
        A cell's identity (`identity`).

    Returns
    -------
    str
        The cell id.
    """
    return hashlib.sha256(json.dumps(dict(ident), sort_keys=True, default=str).encode()).hexdigest()[:16]


FINGERPRINT_POINTS = 8  # fixed points (seeded standard normal draws) where a user's target is evaluated


def is_builtin(target) -> bool:
    """Whether `target` is one of the suite's registered targets (built by its factory in `targets`).

    The factory's code fixes it with its parameters: its name is registered by the package (not
    `register_model`) and its log density is the package's code.

    Parameters
    ----------
    target
        The target.

    Returns
    -------
    bool
        True for a built-in target.
    """
    from targets.registry import TARGETS

    factory = TARGETS.get(target.name)
    return (
        factory is not None
        and factory.__module__.startswith("targets.")
        and factory.__module__ != "targets.posteriors.user"
        and getattr(target.log_prob, "__module__", "").startswith("targets.")
    )


@functools.lru_cache(maxsize=64)
def target_fingerprint(target) -> str | None:
    """16 hex digits of the SHA-256 of what defines a user's target, None for a built-in (`is_builtin`).

    What defines it: its dim, log Z, its log density, initial positions and statistics' values at
    FINGERPRINT_POINTS fixed points (standard normal, seed 0; values to 10 significant digits), and its
    statistics' names and truths (mean, sd, sd of the square, se of the mean).

    Parameters
    ----------
    target
        The target.

    Returns
    -------
    str or None
        The fingerprint, or None for a built-in.
    """
    import numpy as np

    if is_builtin(target):
        return None
    x = jnp.asarray(np.random.default_rng(0).normal(size=(FINGERPRINT_POINTS, target.dim)), dtype=jnp.zeros(()).dtype)
    values = [jax.vmap(target.log_prob)(x), target.initial(jax.random.key(0), 2)]
    values += [jax.vmap(s.fn)(x) for s in target.statistics]
    numbers = [[f"{v:.10g}" for v in np.asarray(a, dtype=float).ravel()] for a in values]
    truths = [
        [s.name, *(None if v is None else f"{float(v):.10g}" for v in (s.mean, s.sd, s.sq_sd, s.mean_se))]
        for s in target.statistics
    ]
    text = json.dumps(
        {
            "dim": int(target.dim),
            "log_Z": None if target.log_Z is None else f"{target.log_Z:.10g}",
            "values": numbers,
            "statistics": truths,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def label(name: str, params: Mapping[str, Any]) -> str:
    """`name(k=v,...)`, the human-readable id of a target or sampler configuration.

    Parameters
    ----------
    name
        The target's or sampler's name.
    params
        Its parameters (sorted by name in the label).

    Returns
    -------
    str
        The label; `name` alone without parameters.
    """
    inner = ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{name}({inner})" if inner else name


def precision() -> str:
    """The float type JAX actually uses now (float64 only if x64 was enabled before use).

    Returns
    -------
    str
        "float64" or "float32".
    """
    return str(jnp.zeros(()).dtype)


def provenance() -> dict:
    """Versions, device, device count visible and used, the device profile, git commit.

    Returns
    -------
    dict
        The provenance columns: `version.*`, `device`, `device_count` (visible), `devices` and `device_kind`
        (used), `profile`, `git_commit`, `git_dirty`, `lock_hash`, `lock_matches` and the host's.
    """
    from baselines import devices
    from bench import profile

    return {
        **_fixed_provenance(),
        "devices": devices.count(),
        "device_kind": devices.kind(),
        "profile": profile.current(),
    }


@functools.cache
def _fixed_provenance() -> dict:
    """What is fixed for the life of the process: versions, device, git commit."""
    out = {f"version.{p}": _version(p) for p in PACKAGES}
    out["version.python"] = platform.python_version()
    device = jax.devices()[0]
    out["platform"] = device.platform
    out["device"] = _cpu_name() if device.platform == "cpu" else getattr(device, "device_kind", str(device))
    out["device_count"] = jax.device_count()
    out["host_cpus"] = _cpu_count()
    out["git_commit"], out["git_dirty"] = _git()
    out["lock_hash"], out["lock_matches"] = lock_provenance(_ROOT / "uv.lock", _installed())
    return out


def lock_provenance(lock: pathlib.Path, installed: Mapping[str, str]) -> tuple[str | None, bool | None]:
    """The lock file's hash and whether the installed environment is the lock's.

    Parameters
    ----------
    lock
        A uv.lock (TOML: `[[package]]` tables with `name` and `version`).
    installed
        Normalised distribution name -> installed version (`_installed`).

    Returns
    -------
    tuple of (str or None, bool or None)
        (12 hex digits of the SHA-256 of the lock file `lock`, whether every installed distribution that it
        names has a version it locks), or (None, None) without a lock file (e.g. installed from a wheel).
    """
    import tomllib

    try:
        data = lock.read_bytes()
    except OSError:
        return None, None
    locked: dict[str, set[str]] = {}
    for package in tomllib.loads(data.decode()).get("package", []):
        locked.setdefault(_normalise(package["name"]), set()).add(str(package.get("version")))
    matches = all(version in locked[name] for name, version in installed.items() if name in locked)
    return hashlib.sha256(data).hexdigest()[:12], matches


def timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _normalise(name: str) -> str:
    """A distribution name in PEP 503's normal form (`flowMC` -> `flowmc`, `ott_jax` -> `ott-jax`)."""
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _installed() -> dict[str, str]:
    """Normalised name -> version of every distribution installed in this environment."""
    return {_normalise(d.metadata["Name"]): d.version for d in importlib.metadata.distributions() if d.metadata["Name"]}


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_name() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return "cpu: " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu: " + (platform.processor() or platform.machine())


def _cpu_count() -> int | None:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _git() -> tuple[str | None, bool | None]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = (
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=_ROOT,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            != ""
        )
        return commit, dirty
    except (OSError, subprocess.SubprocessError):
        return None, None
