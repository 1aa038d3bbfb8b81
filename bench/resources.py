"""The memory a run's kept draws need, against this machine's: a budget that cannot fit is refused up front.

A sampler keeps, per chain and draw, the position (`dim` numbers), its log density and a few sample
statistics (acceptance, divergence, steps, energy, tree depth: `PER_DRAW` numbers in all besides the
position), and per chain and warm-up step one number (the adaptation's step counts). That is a lower
bound on what a run holds in memory (the arrays are copied from the device and into the draws file),
so a budget refused here could never have run.
"""

from __future__ import annotations

from targets.base import format_bytes, machine_memory

PER_DRAW = 6  # log density + acceptance, divergence, steps, energy, tree depth


def draws_bytes(chains: int, draws: int, warmup: int, dim: int, precision: str = "float64") -> int:
    """Lower bound on a run's kept draws: chains x (draws x (dim + PER_DRAW) + warmup) x itemsize bytes.

    The itemsize is 8 for float64 and 4 for float32.

    Parameters
    ----------
    chains
        Chains of the budget.
    draws
        Draws per chain.
    warmup
        Warm-up steps per chain.
    dim
        The target's dimension.
    precision
        "float64" or "float32".

    Returns
    -------
    int
        The bytes.
    """
    itemsize = 8 if precision == "float64" else 4
    return chains * (draws * (dim + PER_DRAW) + warmup) * itemsize


def check_fits(
    chains: int, draws: int, warmup: int, dim: int, precision: str = "float64", memory: int | None = None
) -> None:
    """Raise ValueError if the draws of this budget (`draws_bytes`) exceed `memory` (default: this machine's).

    Parameters
    ----------
    chains
        Chains of the budget.
    draws
        Draws per chain.
    warmup
        Warm-up steps per chain.
    dim
        The target's dimension.
    precision
        "float64" or "float32".
    memory
        The bytes available; None: this machine's memory (no check when it is unknown).

    Raises
    ------
    ValueError
        When the draws need more than `memory`.
    """
    memory = machine_memory() if memory is None else memory
    need = draws_bytes(chains, draws, warmup, dim, precision)
    if memory is not None and need > memory:
        raise ValueError(
            f"{chains} chains x {draws} draws (+ {warmup} warm-up steps) of a {dim}-d target need at "
            f"least {format_bytes(need)} in {precision} (chains x (draws x (dim + {PER_DRAW}) + warmup) x "
            f"{8 if precision == 'float64' else 4} bytes), more than this machine's "
            f"{format_bytes(memory)} of memory; use fewer chains or draws"
        )
