"""Reference posteriors: stored draws that stand in for exact draws, and posteriordb's checks on them.

posteriordb's definition of a reference posterior
(https://github.com/stan-dev/posteriordb/blob/master/doc/REFERENCE_POSTERIOR_DEFINITION.md, and its R package's
`check_reference_posterior_draws` / `ess_bounds`), applied here to every scalar of the model's constrained parameters:

  1. exactly N = 10,000 draws (default run: 10 chains, 10,000 warm-up + 10,000 iterations, thinned by 10);
  2. rank-normalised split R-hat (Vehtari et al. 2021) < 1.01;
  3. bulk and tail ESS (tail at the 5 % and 95 % quantiles) within N -+ 4 sqrt(7 N) = [8,942, 11,058]
     for N = 10,000: the draws must be nearly independent, neither worse nor antithetic;
  4. E-BFMI > 0.2 in every chain (computed on the energy of all post-warm-up iterations);
  5. no divergent transition after warm-up.

ESS, R-hat, MCSE and E-BFMI are ArviZ's (`arviz.ess`, `arviz.rhat`, `arviz.mcse`, `arviz.bfmi`), so the
numbers are those of posterior / Stan. A reference is an `.npz` holding `x` (chains, draws, dim), the
unconstrained draws, `names` (the constrained scalars they were checked on) and `provenance` (JSON: the
run that produced them, versions, date, and the checks' values).
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

N_DRAWS = 10_000
RHAT_MAX = 1.01
BFMI_MIN = 0.2
TAIL_PROB = (0.05, 0.95)


def ess_bounds(n: int) -> tuple[float, float]:
    """posteriordb's `ess_bounds`: n -+ 4 sqrt(7 n) (4 sds of the ESS estimate of n independent draws).

    Parameters
    ----------
    n
        The number of draws.

    Returns
    -------
    tuple of float
        The lower and upper bound of an acceptable ESS.
    """
    half = 4 * math.sqrt(7 * n)
    return n - half, n + half


def check(values: np.ndarray, divergences: int, bfmi: np.ndarray | None) -> dict[str, Any]:
    """posteriordb's criteria on `values` (chains, draws, n_scalars).

    Parameters
    ----------
    values
        The constrained scalars' draws, (chains, draws, n_scalars).
    divergences
        The number of divergent transitions after warm-up.
    bfmi
        E-BFMI per chain, or None (not checked).

    Returns
    -------
    dict
        The values, the thresholds, `failures` (a list of sentences) and `passed`.
    """
    import arviz as az

    values = np.asarray(values, dtype=np.float64)
    chains, draws, _ = values.shape
    n = chains * draws
    rhat = np.atleast_1d(az.rhat(values))
    ess_bulk = np.atleast_1d(az.ess(values, method="bulk"))
    ess_tail = np.atleast_1d(az.ess(values, method="tail", prob=TAIL_PROB))
    low, high = ess_bounds(n)
    out: dict[str, Any] = {
        "n_draws": n,
        "rhat_max": float(rhat.max()),
        "ess_bulk_min": float(ess_bulk.min()),
        "ess_bulk_max": float(ess_bulk.max()),
        "ess_tail_min": float(ess_tail.min()),
        "ess_tail_max": float(ess_tail.max()),
        "divergences": int(divergences),
        "bfmi_min": None if bfmi is None else float(np.min(bfmi)),
        "thresholds": {
            "n_draws": N_DRAWS,
            "rhat_max": RHAT_MAX,
            "ess_low": low,
            "ess_high": high,
            "bfmi_min": BFMI_MIN,
            "divergences": 0,
        },
    }
    failures = []
    if n != N_DRAWS:
        failures.append(f"{n} draws, not {N_DRAWS}")
    if not np.all(rhat < RHAT_MAX):
        failures.append(f"R-hat max {rhat.max():.4f} >= {RHAT_MAX}")
    for which, ess in (("bulk", ess_bulk), ("tail", ess_tail)):
        if not np.all((ess >= low) & (ess <= high)):
            failures.append(f"{which} ESS in [{ess.min():.0f}, {ess.max():.0f}], outside [{low:.0f}, {high:.0f}]")
    if divergences:
        failures.append(f"{divergences} divergent transitions")
    if bfmi is not None and not np.all(np.asarray(bfmi) > BFMI_MIN):
        failures.append(f"E-BFMI min {np.min(bfmi):.3f} <= {BFMI_MIN}")
    out["failures"], out["passed"] = failures, not failures
    return out


@dataclasses.dataclass(frozen=True)
class Reference:
    """A loaded reference: per-scalar truths from its draws and a resampler of them (for MMD)."""

    x: np.ndarray  # (chains, draws, dim), unconstrained
    names: tuple[str, ...]
    mean: np.ndarray
    sd: np.ndarray
    sq_sd: np.ndarray
    mean_se: np.ndarray  # ArviZ MCSE of the mean: the truth's own Monte Carlo error
    provenance: Mapping[str, Any]
    sd_se: np.ndarray | None = None  # ArviZ MCSE of the sd (None: not computed)

    @property
    def passed(self) -> bool:
        """Whether the reference passed posteriordb's checks (as recorded in its provenance).

        Returns
        -------
        bool
            True when the recorded checks passed.
        """
        return bool(self.provenance.get("checks", {}).get("passed", False))

    @property
    def failures(self) -> str:
        """The recorded checks' failures, joined by "; " ("no checks recorded" when there are none).

        Returns
        -------
        str
            The failures.
        """
        return "; ".join(self.provenance.get("checks", {}).get("failures", ["no checks recorded"]))

    @property
    def summary(self) -> str:
        """One line on the reference: its draws, where they come from, R-hat, ESS and divergences.

        Returns
        -------
        str
            The summary.
        """
        c, p = self.provenance.get("checks", {}), self.provenance
        origin = (
            f"from {p['derived_from']}'s reference"
            if p.get("derived_from")
            else f"{p.get('chains')} x {p.get('iterations')} NUTS iterations, thin {p.get('thin')}, seed {p.get('seed')}"
        )
        return (
            f"{c.get('n_draws')} draws ({origin}); R-hat max {c.get('rhat_max', float('nan')):.4f}, "
            f"ESS bulk min {c.get('ess_bulk_min', float('nan')):.0f}, tail min "
            f"{c.get('ess_tail_min', float('nan')):.0f}, {c.get('divergences')} divergences"
        )

    def sample(self, key, n: int) -> jax.Array:
        """n of the pooled draws, without replacement when n <= their number (resampling, not new draws).

        Parameters
        ----------
        key
            A JAX random key.
        n
            The number of draws.

        Returns
        -------
        jax.Array
            The draws, (n, dim), unconstrained.
        """
        pooled = self.x.reshape(-1, self.x.shape[-1])
        idx = jax.random.choice(key, pooled.shape[0], (n,), replace=n > pooled.shape[0])
        return jnp.asarray(pooled)[idx]


def save_reference(path: str | pathlib.Path, x: np.ndarray, names: list[str], provenance: Mapping[str, Any]) -> None:
    """Write a reference `.npz` (`x`, `names`, `provenance` as JSON), through a temporary file.

    Parameters
    ----------
    path
        The file to write (its folder is created).
    x
        The unconstrained draws, (chains, draws, dim).
    names
        The constrained scalars they were checked on.
    provenance
        The run that produced them, versions, date, and the checks' values.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez_compressed(
        tmp,
        x=np.asarray(x, dtype=np.float64),
        names=np.array(names),
        provenance=np.array(json.dumps(provenance, sort_keys=True, default=str)),
    )
    tmp.replace(path)


def read_reference(path: str | pathlib.Path) -> tuple[np.ndarray, list[str], dict]:
    """Read a reference `.npz`.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    tuple
        The draws `x` (chains, draws, dim), the scalars' names and the provenance (a dict).
    """
    with np.load(path, allow_pickle=False) as f:
        return f["x"], [str(s) for s in f["names"]], json.loads(str(f["provenance"]))


def load_reference(
    path: str | pathlib.Path, name: str, dim: int, flat_constrained: Callable, names: list[str]
) -> Reference:
    """Read a reference and compute the truths of the constrained scalars from its draws.

    Parameters
    ----------
    path
        The reference's `.npz`.
    name
        The target's name, for the message.
    dim
        The model's unconstrained dimension.
    flat_constrained
        (n, dim) -> (n, len(names)): the constrained scalars at unconstrained points.
    names
        The constrained scalars' names.

    Returns
    -------
    Reference
        The draws with each scalar's mean, sd, sd of the square and their ArviZ MCSEs.

    Raises
    ------
    ValueError
        The reference belongs to another model (dimension or scalars differ).
    """
    import arviz as az

    x, stored_names, provenance = read_reference(path)
    if x.ndim != 3 or x.shape[-1] != dim or list(stored_names) != list(names):
        raise ValueError(
            f"{name}: reference {path} does not match the model (dim {x.shape[-1]} vs {dim}, "
            f"scalars {stored_names[:4]}... vs {names[:4]}...)"
        )
    chains, draws, _ = x.shape
    values = np.asarray(flat_constrained(jnp.asarray(x.reshape(-1, dim))), dtype=np.float64)
    values = values.reshape(chains, draws, len(names))
    flat = values.reshape(-1, len(names))
    return Reference(
        x=x,
        names=tuple(names),
        mean=flat.mean(0),
        sd=flat.std(0, ddof=1),
        sq_sd=(flat**2).std(0, ddof=1),
        mean_se=np.atleast_1d(az.mcse(values, method="mean")),
        provenance=provenance,
        sd_se=np.atleast_1d(az.mcse(values, method="sd")),
    )
