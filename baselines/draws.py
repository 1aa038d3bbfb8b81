"""What every sampler of the suite returns: draws, per-draw statistics, and what they cost.

The sampler contract (docs/design.md): samples shaped (chains, draws, dim), the log
density at each draw, per-draw statistics (acceptance, divergences, steps...), and a cost account split into
compile, warm-up (or training) and sampling, counted in log-density and gradient evaluations
as well as seconds. The VAE sampler and every baseline return the same `Draws`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class Cost:
    """What a run spent.

    `grad_evals_*` count the gradients the chains needed (sum over chains). `grad_evals_lockstep`
    bounds from below what the hardware ran (warm-up and sampling together): under `vmap`, NUTS chains
    advance in lock-step, so each transition costs at least `chains * max_chain(steps)`; blackjax's
    nested doubling loops can run more (finished chains keep building subtrees), which the transition info
    cannot tell. Sequential chains: equal to the gradients needed. Times are wall-clock seconds;
    compile time is kept apart and is 0 when a compiled computation was reused (e.g. a later seed).
    """

    logdensity_evals_warmup: int = 0
    logdensity_evals_sampling: int = 0
    grad_evals_warmup: int = 0
    grad_evals_sampling: int = 0
    grad_evals_lockstep: int = 0
    time_compile: float = 0.0
    time_warmup: float = 0.0
    time_sampling: float = 0.0

    @property
    def grad_evals(self) -> int:
        """The gradients the chains needed, warm-up plus sampling.

        Returns
        -------
        int
            `grad_evals_warmup + grad_evals_sampling`.
        """
        return self.grad_evals_warmup + self.grad_evals_sampling

    @property
    def time_run(self) -> float:
        """Warm-up (or training) plus sampling: everything but compilation.

        Returns
        -------
        float
            `time_warmup + time_sampling`, in seconds.
        """
        return self.time_warmup + self.time_sampling


@dataclasses.dataclass(frozen=True)
class Draws:
    """Samples `(chains, draws, dim)` with the log density at each and what they cost.

    Parameters
    ----------
    positions
        The samples, (chains, draws, dim).
    logdensity
        The log density at each draw, (chains, draws).
    stats
        Per-draw arrays shaped (chains, draws), named as ArviZ's `sample_stats`
        (`acceptance_rate`, `diverging`, `n_steps`, ...).
    cost
        What the run spent (`Cost`).
    info
        Scalars of the run: tuned step sizes, chain method, ... (JSON-able).
    log_weights
        Importance log weights (chains, draws) for weighted samplers, else None.
    log_weight_fn
        For samplers that give weights: `log_weight_fn(key, x) -> log w` at points x of the
        target (for the EUBO on exact draws), else None.
    traces
        Per-step arrays of the warm-up or training (e.g. the training bound), stored with the draws.
    artifacts
        Name -> `write(path_stem)`: files the run leaves beside its record (e.g. the trained VAE).

    Raises
    ------
    ValueError
        `positions` is not (chains, draws, dim) or `logdensity` not (chains, draws).
    """

    positions: np.ndarray
    logdensity: np.ndarray
    stats: Mapping[str, np.ndarray]
    cost: Cost
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    log_weights: np.ndarray | None = None
    log_weight_fn: Callable | None = None
    traces: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    artifacts: Mapping[str, Callable] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.positions.ndim != 3:
            raise ValueError(f"positions must be (chains, draws, dim), got shape {self.positions.shape}")
        if self.logdensity.shape != self.positions.shape[:2]:
            raise ValueError(
                f"logdensity must be (chains, draws) = {self.positions.shape[:2]}, got {self.logdensity.shape}"
            )
