"""The Target contract: a log density -U(x) that carries its ground truth.

A target is what every sampler in the suite is asked to sample, `mu(x) = exp(-U(x)) / Z`.
Following Inference Gym, it carries its ground truth: named statistics f(x) with their true
mean and standard deviation (and the standard error of that truth when it is itself Monte
Carlo), the true log Z when known, and exact draws when they can be had.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Callable, Mapping
from typing import Any

import jax

Array = jax.Array
LogDensity = Callable[[Array], Array]


@dataclasses.dataclass(frozen=True)
class Statistic:
    """A scalar function f(x) with its ground truth under the target.

    Parameters
    ----------
    name
        The statistic's name in tables and records (`mean[v]`).
    fn
        f(x) for one point of shape (dim,).
    mean
        E[f] under the target.
    sd
        sd[f] under the target.
    sq_sd
        sd[f^2], what the normalised squared bias `(E_hat[f^2] - E[f^2])^2 / Var[f^2]` divides by (None where
        unknown).
    mean_se, sd_se
        The standard errors of `mean` and `sd` when the truth is itself a Monte Carlo estimate (0 when exact):
        the bias columns add them in quadrature to the sampler's own Monte Carlo errors.
    """

    name: str
    fn: Callable[[Array], Array]
    mean: float
    sd: float
    sq_sd: float | None = None
    mean_se: float = 0.0
    sd_se: float = 0.0


@dataclasses.dataclass(frozen=True)
class Modes:
    """Mode assignment of a mixture, used for mode coverage.

    Parameters
    ----------
    count
        The number of modes.
    assign
        `assign(x) -> index in [0, count)`: the mode a point belongs to.
    """

    count: int
    assign: Callable[[Array], Array]


@dataclasses.dataclass(frozen=True)
class Wells:
    """Independent double wells, for targets whose modes are too many to count (2^wells sign patterns).

    Parameters
    ----------
    coords
        The coordinates whose side of the barrier picks each well's mode (one per well).
    barrier
        The x value of the barrier between the two modes of each well (the same in every well).
    p_upper
        The true probability that x[coords[j]] > barrier (the same in every well).
    """

    coords: tuple[int, ...]
    barrier: float
    p_upper: float


@dataclasses.dataclass(frozen=True)
class Plot:
    """How a report pictures a target's draws; every field optional (default: the headline's marginal alone).

    Parameters
    ----------
    statistic, label
        The statistic whose marginal is drawn against the exact draws' (default: the headline), and its axis
        label (default: its name).
    coords, coord_names
        (i, j): the coordinates of x drawn as a 2-D scatter over the exact draws, or None (no projection); their
        axis labels (default `x[i]`, `x[j]`).
    limits
        ((lo, hi), (lo, hi)) of the projection's axes, or None (from the draws' percentiles).
    marks, marks_label
        Points (x_i, x_j) marked on the projection (e.g. a mixture's means), and their legend entry.
    equal
        The projection drawn to equal scale on both axes.
    """

    statistic: str | None = None
    label: str | None = None
    coords: tuple[int, int] | None = None
    coord_names: tuple[str, str] | None = None
    limits: tuple[tuple[float, float], tuple[float, float]] | None = None
    marks: tuple[tuple[float, float], ...] = ()
    marks_label: str = ""
    equal: bool = False


@dataclasses.dataclass(frozen=True, eq=False)
class Target:
    """An unnormalised density `exp(log_prob(x))` on R^dim with its ground truth.

    Parameters
    ----------
    name
        The target's name in tables and records.
    dim
        The dimension of x.
    log_prob
        -U(x) for one point of shape (dim,); jit/grad/vmap-able.
    initial
        `initial(key, n) -> (n, dim)`: where every sampler starts its chains or walkers, the same for all
        samplers so that comparisons are fair (never the exact sampler).
    statistics
        Named functions of x with their true mean and sd.
    log_Z
        Log of the normaliser of exp(log_prob), or None when unknown.
    sample
        `sample(key, n) -> (n, dim)` exact draws, or None.
    modes
        Mode assignment for mixtures, else None.
    params
        The parameters that built the target: part of its identity in every result row.
    headline
        The statistic that tables show first (default: the first statistic).
    log_Z_offsets
        Name -> c for related normalisers log Z_name = log Z - c (e.g. the spin system of a relaxation),
        reported beside log Z_hat.
    constrain
        `constrain(x) -> {name: array}`: the model's named parameters at a point x (e.g. a numpyro model's
        constrained sites, x being the unconstrained vector), or None. When given, the stored draws carry
        these names (posterior group) and x moves to `unconstrained_posterior`.
    truth
        One line on where the ground truth comes from when it is not closed-form (e.g. a reference run),
        shown by `python -m bench list`; None otherwise.
    wells
        Independent double wells (too many sign patterns to count as modes), else None.
    plot
        How reports picture the draws (`Plot`: which statistic's marginal, which 2-D projection).
    """

    name: str
    dim: int
    log_prob: LogDensity
    initial: Callable[[Array, int], Array]
    statistics: tuple[Statistic, ...]
    log_Z: float | None = None
    sample: Callable[[Array, int], Array] | None = None
    modes: Modes | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    headline: str | None = None
    log_Z_offsets: Mapping[str, float] = dataclasses.field(default_factory=dict)
    constrain: Callable[[Array], Mapping[str, Array]] | None = None
    truth: str | None = None
    wells: Wells | None = None
    plot: Plot = Plot()

    @property
    def headline_statistic(self) -> Statistic:
        """The statistic named `headline`, else the first one.

        Returns
        -------
        Statistic
            The headline statistic.
        """
        return next((s for s in self.statistics if s.name == self.headline), self.statistics[0])

    @property
    def id(self) -> str:
        """`name(k=v,...)`: the target's identity as it appears in tables and result rows.

        Returns
        -------
        str
            The name with the sorted parameters, or the name alone when there are none.
        """
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.name}({inner})" if inner else self.name


def coordinate_statistic(i: int, name: str, mean: float, var: float, var_sq: float | None = None) -> Statistic:
    """Statistic f(x) = x_i from E[x_i], Var[x_i] and, when known, Var[x_i^2] = E[x_i^4] - E[x_i^2]^2.

    Parameters
    ----------
    i
        The coordinate.
    name
        The statistic's name.
    mean
        E[x_i].
    var
        Var[x_i].
    var_sq
        Var[x_i^2], or None when unknown.

    Returns
    -------
    Statistic
        f(x) = x_i with sd = sqrt(var) and sq_sd = sqrt(var_sq).
    """
    sq_sd = None if var_sq is None else float(var_sq) ** 0.5
    return Statistic(name=name, fn=lambda x: x[..., i], mean=float(mean), sd=float(var) ** 0.5, sq_sd=sq_sd)


def uniform_initial(dim: int, low: float, high: float) -> Callable[[Array, int], Array]:
    """Initial positions uniform in the box [low, high]^dim (Stan initialises in [-2, 2]).

    Parameters
    ----------
    dim
        The dimension.
    low
        The box's lower bound in every coordinate.
    high
        The box's upper bound in every coordinate.

    Returns
    -------
    Callable
        `initial(key, n) -> (n, dim)` uniform draws in the box.
    """

    def initial(key: Array, n: int) -> Array:
        return jax.random.uniform(key, (n, dim), minval=low, maxval=high)

    return initial


MAX_STATISTICS = 10_000  # one Statistic per coordinate at most: each is traced into the jitted metrics


def machine_memory() -> int | None:
    """Physical memory of this machine in bytes, or None where the system does not say.

    The memory is os.sysconf SC_PHYS_PAGES * SC_PAGE_SIZE.

    Returns
    -------
    int or None
        The physical memory in bytes, or None.
    """
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def check_finite(target: str, **params: float) -> None:
    """Raise ValueError naming the first parameter that is not a finite number (`ising: h must be finite`).

    Parameters
    ----------
    target
        The target's name, for the message.
    **params
        Parameter name -> value to check.

    Raises
    ------
    ValueError
        A value that is a bool, not a real number, or not finite.
    """
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
            raise ValueError(f"{target}: {name} must be finite, got {value!r}")


def check_size(target: str, param: str, value: int, need_bytes: float, what: str, statistics: int = 0) -> None:
    """Raise ValueError before allocating when `param = value` needs more than this machine's memory.

    Parameters
    ----------
    target
        The target's name, for the message.
    param
        The parameter that sets the size (e.g. `dim`).
    value
        Its value.
    need_bytes
        An estimate of the memory the target needs at this size; compared with `machine_memory()`.
    what
        What the memory is of (e.g. "4 dense dim x dim float64 matrices").
    statistics
        The number of Statistic objects it would build, at most MAX_STATISTICS.

    Raises
    ------
    ValueError
        More memory needed than the machine has, or more than MAX_STATISTICS statistics.
    """
    have = machine_memory()
    if have is not None and need_bytes > have:
        raise ValueError(
            f"{target}: {param} = {value} needs about {format_bytes(need_bytes)} ({what}), more than "
            f"this machine's {format_bytes(have)} of memory"
        )
    if statistics > MAX_STATISTICS:
        raise ValueError(
            f"{target}: {param} = {value} would give {statistics} statistics; at most "
            f"{MAX_STATISTICS} are supported (one per coordinate, each compiled into the metrics)"
        )


def format_bytes(n: float) -> str:
    """`1.5 GiB`: a byte count in binary units, three significant digits.

    Parameters
    ----------
    n
        The number of bytes.

    Returns
    -------
    str
        The count and its unit (B, KiB, MiB, ...).
    """
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    k = 0
    while n >= 1024 and k < len(units) - 1:
        n, k = n / 1024, k + 1
    return f"{n:.3g} {units[k]}"
