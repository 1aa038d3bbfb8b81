"""Conformance checks of a sampler and of a target, like `benchopt test`.

The commands: `python -m bench check-sampler SPEC`, `python -m bench check-target SPEC`.

A sampler is run three times on a 2-D correlated Gaussian (`GAUSS_MEAN`, `GAUSS_COV`) through a counting log
density (its evaluations and gradients counted by `jax.debug.callback`, its Python body's traces counted too):
key A, key A again, key B. Checked: the `Draws` and its shapes (chains, draws, dim) and dtype, finite values,
the recorded log density equal to the target's at the draws, the fields filled (cost, statistics shaped
(chains, draws), JSON-able info), the gradients and log-density evaluations the cost reports against those
counted (less the diagnostics' evaluations a sampler records apart as `info["eval_logdensity_evals"]`), the
same key giving the same draws and another key others, later calls compiling nothing (no new trace of the log
density; `time_compile == 0` with another key, i.e. a later seed: a sampler may memoise a result per key, and
report its cost again), and for a sampler claiming exactness (`exact` attribute,
default True) the means and second moments within Monte Carlo error: |z| <= Z_MAX with z = (estimate - truth)
/ MCSE, the MCSE from ArviZ (`az.mcse`, autocorrelation-aware) or, for weighted draws, the delta-method
standard error of the self-normalised estimate. For such a sampler with unweighted draws, also stationarity:
STATIONARY_CHAINS chains started at exact draws of the Gaussian keep its moments after the warm-up and
STATIONARY_DRAWS draws, z = (mean over chains of f at the last draw - truth) / (sd / sqrt(chains)), the chains
being independent. An exact kernel leaves the target invariant whatever its tuning, so a failure here is a
bug of the kernel (or of its adaptation), while a moments failure with stationarity passed is slow convergence
from the initial box (e.g. a poorly trained proposal), which ArviZ's MCSE cannot see when every chain is slow.

A target: `initial` shaped (n, dim) in the run's precision with a finite log density there; `log_prob`
jit-able (equal to the eager value), grad-able (finite), vmap-able (equal to a loop); the statistics finite
at `initial`; exact draws shaped (n, dim) whose statistics agree with the truth, z = (mean_hat - mean) /
sqrt(sd^2 / n + mean_se^2) and z = (sd_hat - sd) / sqrt(se(sd_hat)^2 + sd_se^2), |z| <= Z_MAX; and log Z
against importance sampling from a wide Gaussian (the draws' or the initial box's moments, sds doubled) in
dim <= IS_MAX_DIM, z = (log Z_hat - log Z) / se with the delta-method se = sd(w) / (mean(w) sqrt(n)), when
the weights' Pareto k-hat is <= KHAT_MAX (else inconclusive, skipped).

Z_MAX = 5: with at most a dozen z-scores per check, a correct component fails with probability < 1e-5.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from baselines.draws import Draws
from bench.metrics.evidence import KHAT_MAX, pareto_khat
from bench.run import Budget
from bench.samplers import Sampler
from targets.base import Target

Z_MAX = 5.0
COUNT_TOL = 0.02  # reported gradients / evaluations within 2 % of those counted
GAUSS_MEAN = np.array([1.0, -1.0])
GAUSS_COV = np.array([[1.0, 1.6], [1.6, 4.0]])  # sds 1 and 2, correlation 0.8
IS_MAX_DIM = 10
COUNT_STEPS = 50  # warm-up and draws of the run whose evaluations are counted (a callback each: slow)
MIN_ESS = 100  # below it a moments check is inconclusive: its MCSE is itself unreliable
STATIONARY_CHAINS = 1000  # chains started at exact draws: the moments' standard errors are sd / sqrt(1000)
STATIONARY_DRAWS = 10


@dataclasses.dataclass(frozen=True)
class Check:
    """One check's outcome: ok True (passed), False (failed) or None (skipped), and what it found."""

    name: str
    ok: bool | None
    message: str


def report(title: str, checks: list[Check]) -> str:
    """The lines `bench check-*` prints: PASS/FAIL/SKIP per check, then a summary.

    Parameters
    ----------
    title
        The first line.
    checks
        The checks' outcomes.

    Returns
    -------
    str
        The report, one line per check and the summary.
    """
    mark = {True: "PASS", False: "FAIL", None: "SKIP"}
    lines = [title] + [f"  {mark[c.ok]}  {c.name}: {c.message}" for c in checks]
    failed = [c.name for c in checks if c.ok is False]
    lines.append(
        f"{len(checks) - len(failed)} of {len(checks)} checks passed or skipped"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    return "\n".join(lines)


class Counter:
    """Evaluations, gradients (per point, whatever the batching) and traces of a counting log density."""

    def __init__(self):
        self.evals = self.grads = self.traces = 0

    def reset(self):
        self.evals = self.grads = 0


def counting_logdensity(logdensity, counter: Counter, dim: int):
    """`logdensity` with its evaluations, gradients and traces counted.

    Evaluations and gradients are counted at run time (`jax.debug.callback`, counting x.size / dim points per
    call, so batched and looped calls count alike), traces when JAX traces its Python body.

    Parameters
    ----------
    logdensity
        The log density of one point.
    counter
        The Counter whose `evals`, `grads` and `traces` are incremented.
    dim
        The dimension of one point.

    Returns
    -------
    Callable
        The counting log density (a `jax.custom_vjp` function).
    """

    def count(kind):
        def add(x):
            setattr(counter, kind, getattr(counter, kind) + int(np.size(x)) // dim)

        return add

    @jax.custom_vjp
    def f(x):
        counter.traces += 1
        jax.debug.callback(count("evals"), x)
        return logdensity(x)

    def fwd(x):
        counter.traces += 1
        jax.debug.callback(count("evals"), x)
        return logdensity(x), x

    def bwd(x, g):
        jax.debug.callback(count("grads"), x)
        return (g * jax.grad(logdensity)(x),)

    f.defvjp(fwd, bwd)
    return f


def gaussian_logdensity(mean=GAUSS_MEAN, cov=GAUSS_COV):
    """log N(x; mean, cov) up to its constant.

    Parameters
    ----------
    mean
        The Gaussian's mean.
    cov
        Its covariance matrix.

    Returns
    -------
    Callable
        `x -> -(x - mean)^T cov^-1 (x - mean) / 2`.
    """
    prec = jnp.asarray(np.linalg.inv(cov))
    mu = jnp.asarray(mean)
    return lambda x: -0.5 * (x - mu) @ prec @ (x - mu)


def check_sampler(
    sampler: Sampler,
    params: Mapping[str, Any] | None = None,
    budget: Budget = Budget(4, 1000, 500),
    seed: int = 0,
    exactness: bool = True,
) -> list[Check]:
    """Every check of the module docstring on `sampler` with `params`; never raises for the sampler's faults.

    Parameters
    ----------
    sampler
        The sampler under test.
    params
        Its parameters; None: its defaults.
    budget
        Chains, draws and warm-up steps of each run.
    seed
        The seed of the keys A and B and of the initial positions.
    exactness
        Whether to check the moments (and stationarity) of a sampler that claims exactness.

    Returns
    -------
    list of Check
        The checks' outcomes, in order; a sampler that raises ends the list with a failed check.
    """
    params = dict(params or {})
    dim = GAUSS_MEAN.size
    counter = Counter()
    logdensity = gaussian_logdensity()
    counted = counting_logdensity(logdensity, counter, dim)

    def traced(x):  # the plain log density, its traces counted (no run-time callback: full speed)
        counter.traces += 1
        return logdensity(x)

    initial_fn = lambda key, n: jax.random.uniform(key, (n, dim), minval=-2.0, maxval=2.0)  # noqa: E731
    key_a, key_b, key_init = jax.random.split(jax.random.key(seed), 3)
    initial = initial_fn(key_init, budget.chains)
    takes_initial = "initial_fn" in inspect.signature(sampler.run).parameters

    def run(key, fn, b, initial=initial):
        draws = sampler.run(
            key,
            fn,
            initial,
            num_warmup=b.warmup,
            num_draws=b.draws,
            **({"initial_fn": initial_fn} if takes_initial else {}),
            **params,
        )
        jax.effects_barrier()
        return draws

    checks: list[Check] = []
    try:
        first = run(key_a, traced, budget)
    except Exception as err:  # noqa: BLE001 - the sampler's failure is the finding
        return [Check("runs", False, f"the sampler raised {type(err).__name__}: {err}")]
    traces_first = counter.traces
    checks.append(_check_type(first))
    if checks[-1].ok is False:
        return checks
    checks.append(_check_shapes(first, budget, dim, initial.dtype))
    checks.append(_check_finite(first))
    checks.append(_check_logdensity(first, logdensity))
    checks.append(_check_fields(first, budget))
    try:
        again = run(key_a, traced, budget)
        traces_again = counter.traces
        other = run(key_b, traced, budget)
        traces_other = counter.traces
        short = dataclasses.replace(
            budget, warmup=min(budget.warmup, COUNT_STEPS), draws=min(budget.draws, COUNT_STEPS)
        )
        counter.reset()
        for_counts = run(key_a, counted, short)
    except Exception as err:  # noqa: BLE001
        return checks + [Check("reruns", False, f"a second call raised {type(err).__name__}: {err}")]
    checks.append(_check_counts(for_counts, (counter.evals, counter.grads), budget.chains))
    checks.append(_check_keys(first, again, other))
    checks.append(_check_reuse(traces_first, traces_again, traces_other, again, other))
    if not exactness or not sampler.exact:
        why = "the sampler says exact = False" if not sampler.exact else "--no-exactness"
        checks.append(Check("moments", None, f"not checked ({why})"))
    else:
        checks.append(_check_moments(first))
        if first.log_weights is None:
            stationary = dataclasses.replace(budget, chains=STATIONARY_CHAINS, draws=STATIONARY_DRAWS)
            try:
                x0 = jnp.asarray(
                    exact_gaussian_draws(jax.random.fold_in(key_init, 1), STATIONARY_CHAINS), initial.dtype
                )
                checks.append(_check_stationarity(run(key_b, logdensity, stationary, x0)))
            except Exception as err:  # noqa: BLE001
                checks.append(Check("stationarity", False, f"the sampler raised {type(err).__name__}: {err}"))
            if checks[-2].ok is False and checks[-1].ok:
                checks[-2] = Check(
                    "moments",
                    False,
                    checks[-2].message + "; the kernel keeps the target invariant "
                    "(stationarity passed): slow convergence from the initial box, not a wrong kernel",
                )
    return checks


def _check_type(draws) -> Check:
    if not isinstance(draws, Draws):
        return Check("returns Draws", False, f"returned a {type(draws).__name__}, not a baselines.Draws")
    return Check("returns Draws", True, "a baselines.Draws")


def _check_shapes(draws: Draws, budget: Budget, dim: int, dtype) -> Check:
    want = (budget.chains, budget.draws, dim)
    x, lp = np.asarray(draws.positions), np.asarray(draws.logdensity)
    if x.shape != want:
        return Check("shapes", False, f"positions have shape {x.shape}, expected (chains, draws, dim) = {want}")
    if lp.shape != want[:2]:
        return Check("shapes", False, f"logdensity has shape {lp.shape}, expected (chains, draws) = {want[:2]}")
    if x.dtype != np.dtype(dtype):
        return Check("shapes", False, f"positions are {x.dtype}, but the initial positions are {np.dtype(dtype)}")
    if draws.log_weights is not None and np.shape(draws.log_weights) != want[:2]:
        return Check("shapes", False, f"log_weights have shape {np.shape(draws.log_weights)}, expected {want[:2]}")
    return Check("shapes", True, f"positions {want} {x.dtype}, logdensity {want[:2]}")


def _check_finite(draws: Draws) -> Check:
    bad = int((~np.isfinite(draws.positions)).any(-1).sum() + (~np.isfinite(draws.logdensity)).sum())
    if bad:
        return Check("finite", False, f"{bad} non-finite positions or log densities")
    return Check("finite", True, "all positions and log densities finite")


def _check_logdensity(draws: Draws, logdensity) -> Check:
    x = np.asarray(draws.positions)
    true = np.asarray(jax.vmap(logdensity)(jnp.asarray(x.reshape(-1, x.shape[-1])))).reshape(x.shape[:2])
    err = np.abs(np.asarray(draws.logdensity) - true) / (1.0 + np.abs(true))
    if not np.all(err <= 1e-6):
        c, d = map(int, np.unravel_index(int(np.nanargmax(err)), err.shape))
        return Check(
            "logdensity",
            False,
            f"the recorded log density is not the target's at the draws: chain {c}, "
            f"draw {d}: {draws.logdensity[c, d]} recorded, {true[c, d]} true",
        )
    return Check("logdensity", True, "the recorded log density is the target's at every draw (rel. 1e-6)")


def _check_fields(draws: Draws, budget: Budget) -> Check:
    c = draws.cost
    problems = []
    if c.time_warmup + c.time_sampling <= 0:
        problems.append("cost.time_warmup + time_sampling is 0 (the run's seconds are not recorded)")
    if c.grad_evals + c.logdensity_evals_warmup + c.logdensity_evals_sampling <= 0:
        problems.append("the cost counts no log-density or gradient evaluation")
    bad = [k for k, v in draws.stats.items() if np.shape(v) != (budget.chains, budget.draws)]
    if bad:
        problems.append(f"stats {', '.join(bad)} are not shaped (chains, draws) = {(budget.chains, budget.draws)}")
    try:
        json.dumps(dict(draws.info))
    except (TypeError, ValueError) as err:
        problems.append(f"info is not JSON-able: {err}")
    if problems:
        return Check("fields", False, "; ".join(problems))
    return Check("fields", True, f"cost filled; stats {', '.join(draws.stats) or '(none)'}; info JSON-able")


def _check_counts(draws: Draws, counts: tuple[int, int], chains: int) -> Check:
    """Reported gradients (or evaluations) against those counted; under `vmap`, NUTS's lock-step runs more
    gradients than the chains need, so up to `grad_evals_lockstep` counted ones are accepted."""
    evals, grads = counts
    c = draws.cost
    problems = []
    reported_grads = c.grad_evals
    allowed = max(reported_grads, c.grad_evals_lockstep)
    if grads > allowed * (1 + COUNT_TOL) + chains:
        problems.append(
            f"{grads} gradients were computed but the cost reports {reported_grads} "
            f"(grad_evals_warmup + grad_evals_sampling; lock-step bound {c.grad_evals_lockstep}): "
            f"under-counted"
        )
    if reported_grads > grads * (1 + COUNT_TOL) + chains:
        problems.append(f"the cost reports {reported_grads} gradients but only {grads} were computed: over-counted")
    reported_evals = c.logdensity_evals_warmup + c.logdensity_evals_sampling
    evals -= int(draws.info.get("eval_logdensity_evals", 0))  # diagnostics' evaluations, recorded apart in info
    if reported_evals > evals * (1 + COUNT_TOL) + chains:
        problems.append(
            f"the cost reports {reported_evals} log-density evaluations but only {evals} were computed: over-counted"
        )
    if evals > max(reported_evals, allowed) * (1 + COUNT_TOL) + chains:
        problems.append(
            f"{evals} log-density evaluations were computed (gradients included) but the cost reports "
            f"{reported_evals} evaluations and {reported_grads} gradients: under-counted"
        )
    if problems:
        return Check("cost", False, "; ".join(problems))
    return Check(
        "cost",
        True,
        f"{grads} gradients and {evals} evaluations counted; reported {reported_grads} and {reported_evals}",
    )


def _check_keys(first: Draws, again: Draws, other: Draws) -> Check:
    if not np.array_equal(first.positions, again.positions):
        return Check("keys", False, "the same key gave different draws (the run is not a function of its key)")
    if np.array_equal(first.positions, other.positions):
        return Check("keys", False, "another key gave the same draws (the key is not used)")
    x = np.asarray(first.positions)
    if x.shape[0] > 1 and np.array_equal(x[0], x[1]):
        return Check("keys", False, "chains 0 and 1 are identical (every chain got the same key)")
    return Check("keys", True, "same key -> same draws, another key -> other draws, chains differ")


def _check_reuse(traces_first: int, traces_again: int, traces_other: int, again: Draws, other: Draws) -> Check:
    if traces_again > traces_first or traces_other > traces_again:
        return Check(
            "compile reuse",
            False,
            f"the log density was traced again on a second call with the same "
            f"shapes ({traces_first} traces, then {traces_again}, then "
            f"{traces_other}): the computation is not compiled once and reused",
        )
    if other.cost.time_compile > 0:
        return Check(
            "compile reuse",
            False,
            f"a call with another key (a later seed) reports compile time "
            f"{other.cost.time_compile:.3g} s (should be 0: compiled once, reused)",
        )
    return Check(
        "compile reuse", True, f"{traces_first} traces on the first call, none after; another key's time_compile 0"
    )


def moment_values(x: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(names, f(x) shaped (..., 5), truth): x0, x1, x0^2, x1^2, x0 x1 under N(GAUSS_MEAN, GAUSS_COV).

    Parameters
    ----------
    x
        Points of the 2-D Gaussian, shape (..., 2).

    Returns
    -------
    tuple of (list of str, numpy.ndarray, numpy.ndarray)
        The moments' names, their values at x (..., 5) and their true values (5,).
    """
    m, S = GAUSS_MEAN, GAUSS_COV
    f = np.stack([x[..., 0], x[..., 1], x[..., 0] ** 2, x[..., 1] ** 2, x[..., 0] * x[..., 1]], -1)
    truth = np.array([m[0], m[1], S[0, 0] + m[0] ** 2, S[1, 1] + m[1] ** 2, S[0, 1] + m[0] * m[1]])
    return ["E[x0]", "E[x1]", "E[x0^2]", "E[x1^2]", "E[x0 x1]"], f, truth


def exact_gaussian_draws(key, n: int) -> np.ndarray:
    """n exact draws of N(GAUSS_MEAN, GAUSS_COV), shaped (n, 2).

    Parameters
    ----------
    key
        The JAX random key.
    n
        The number of draws.

    Returns
    -------
    numpy.ndarray
        The draws, shape (n, 2).
    """
    eps = np.asarray(jax.random.normal(key, (n, GAUSS_MEAN.size), jnp.float64))
    return GAUSS_MEAN + eps @ np.linalg.cholesky(GAUSS_COV).T


def _check_stationarity(draws: Draws) -> Check:
    names, f, truth = moment_values(np.asarray(draws.positions, dtype=np.float64)[:, -1])  # (chains, 5)
    z = (f.mean(0) - truth) / (f.std(0, ddof=1) / math.sqrt(f.shape[0]))
    worst = int(np.argmax(np.abs(z)))
    summary = ", ".join(f"{n} z={v:+.1f}" for n, v in zip(names, z))
    if not np.all(np.abs(z) <= Z_MAX):
        return Check(
            "stationarity",
            False,
            f"the kernel does not keep the target: {f.shape[0]} chains started at "
            f"exact draws have {names[worst]} = {f.mean(0)[worst]:.4g} (true "
            f"{truth[worst]:.4g}, {z[worst]:+.1f} SE) after the warm-up and "
            f"{draws.positions.shape[1]} draws; {summary}",
        )
    return Check("stationarity", True, f"{f.shape[0]} chains started at exact draws keep the moments ({summary})")


def _check_moments(draws: Draws) -> Check:
    import arviz as az

    names, f, truth = moment_values(np.asarray(draws.positions, dtype=np.float64))
    if draws.log_weights is not None:
        lw = np.asarray(draws.log_weights, dtype=np.float64).ravel()
        w = np.exp(lw - lw.max())
        w /= w.sum()
        flat = f.reshape(-1, f.shape[-1])
        est = w @ flat
        se = np.sqrt((w[:, None] ** 2 * (flat - est) ** 2).sum(0))
        ess = np.full(len(names), 1.0 / (w**2).sum())
    else:
        est = f.mean((0, 1))
        se = np.array([float(az.mcse(f[..., i], method="mean")) for i in range(f.shape[-1])])
        ess = np.array([float(az.ess(f[..., i], method="bulk")) for i in range(f.shape[-1])])
    if not np.all(ess >= MIN_ESS):
        return Check(
            "moments",
            False,
            f"inconclusive: effective sample size {ess.min():.0f} < {MIN_ESS} on the "
            f"2-D Gaussian (chains not mixing, or too few draws: raise --draws)",
        )
    z = (est - truth) / se
    worst = int(np.argmax(np.abs(z)))
    summary = ", ".join(f"{n} z={v:+.1f}" for n, v in zip(names, z))
    if not np.all(np.abs(z) <= Z_MAX):
        return Check(
            "moments",
            False,
            f"biased: {names[worst]} = {est[worst]:.4g}, true {truth[worst]:.4g}, "
            f"{z[worst]:+.1f} MCSE off (|z| > {Z_MAX:g}); {summary}",
        )
    return Check("moments", True, f"within {Z_MAX:g} MCSE of the 2-D Gaussian's ({summary}; ESS >= {ess.min():.0f})")


def check_target(target: Target, n: int = 20000, seed: int = 0) -> list[Check]:
    """Every target check of the module docstring; never raises for the target's faults.

    Parameters
    ----------
    target
        The target under test.
    n
        The number of exact draws (and of importance-sampling draws for log Z).
    seed
        The seed of the keys.

    Returns
    -------
    list of Check
        The checks' outcomes, in order.
    """
    key_init, key_draws, key_is = jax.random.split(jax.random.key(seed), 3)
    checks: list[Check] = []
    try:
        x0 = target.initial(key_init, 8)
        lp = np.asarray(jax.vmap(target.log_prob)(x0))
    except Exception as err:  # noqa: BLE001
        return [Check("initial", False, f"initial or log_prob raised {type(err).__name__}: {err}")]
    want = jnp.zeros(()).dtype
    if np.shape(x0) != (8, target.dim) or np.dtype(x0.dtype) != np.dtype(want):
        checks.append(
            Check(
                "initial",
                False,
                f"initial(key, 8) has shape {np.shape(x0)} and dtype {x0.dtype}, expected {(8, target.dim)} {want}",
            )
        )
        return checks
    if not np.all(np.isfinite(lp)):
        checks.append(Check("initial", False, f"log_prob is not finite at initial positions: {lp.tolist()}"))
        return checks
    checks.append(Check("initial", True, f"8 points ({target.dim}-d, {want}), log_prob finite there"))
    checks.append(_check_transforms(target, x0))
    checks.append(_check_statistics_finite(target, x0))
    if target.sample is None:
        checks.append(Check("exact draws", None, "the target has no exact draws"))
        checks.append(
            Check("log Z", None, "not checked (no exact draws to check it against its truth)")
            if target.log_Z is None
            else _check_log_Z(target, None, x0, key_is, n)
        )
        return checks
    try:
        xs = np.asarray(target.sample(key_draws, n))
    except Exception as err:  # noqa: BLE001
        return checks + [Check("exact draws", False, f"sample(key, {n}) raised {type(err).__name__}: {err}")]
    if xs.shape != (n, target.dim) or not np.all(np.isfinite(xs)):
        return checks + [
            Check(
                "exact draws",
                False,
                f"sample(key, {n}) has shape {xs.shape} (expected {(n, target.dim)}) or non-finite values",
            )
        ]
    checks.append(_check_truth(target, xs))
    checks.append(
        Check("log Z", None, "the target declares no log Z")
        if target.log_Z is None
        else _check_log_Z(target, xs, x0, key_is, n)
    )
    return checks


def _check_transforms(target: Target, x0) -> Check:
    try:
        eager = np.array([float(target.log_prob(x)) for x in x0[:4]])
        jitted = np.asarray(jax.vmap(jax.jit(target.log_prob))(x0[:4]))
        grads = np.asarray(jax.vmap(jax.grad(target.log_prob))(x0[:4]))
    except Exception as err:  # noqa: BLE001
        return Check("jit/grad/vmap", False, f"log_prob under jit, grad or vmap raised {type(err).__name__}: {err}")
    if not np.allclose(eager, jitted, rtol=1e-6, atol=1e-8):
        return Check(
            "jit/grad/vmap", False, f"jit(vmap(log_prob)) {jitted.tolist()} differs from the eager {eager.tolist()}"
        )
    if grads.shape != (4, target.dim) or not np.all(np.isfinite(grads)):
        return Check("jit/grad/vmap", False, f"grad(log_prob) at initial has shape {grads.shape} or is not finite")
    return Check("jit/grad/vmap", True, "jit and vmap agree with eager evaluation; gradients finite at initial")


def _check_statistics_finite(target: Target, x0) -> Check:
    bad = []
    for s in target.statistics:
        try:
            v = np.asarray(jax.vmap(s.fn)(x0))
            if v.shape != (len(x0),) or not np.all(np.isfinite(v)):
                bad.append(f"{s.name} (shape {v.shape})")
        except Exception as err:  # noqa: BLE001
            bad.append(f"{s.name} ({type(err).__name__}: {err})")
    if bad:
        return Check("statistics", False, f"not a finite scalar per point at initial: {', '.join(bad)}")
    return Check("statistics", True, f"{len(target.statistics)} statistics finite at initial")


def _check_truth(target: Target, xs: np.ndarray) -> Check:
    """z-scores of each statistic's mean and sd on the exact draws against its truth (module docstring)."""
    from targets.ising.models import iid_sd_and_se

    n = xs.shape[0]
    values = np.asarray(jax.jit(jax.vmap(lambda x: jnp.stack([s.fn(x) for s in target.statistics])))(xs))
    sd_hat, sd_hat_se = iid_sd_and_se(values)
    scores, skipped = [], []
    for i, s in enumerate(target.statistics):
        if not (math.isfinite(s.mean) and math.isfinite(s.sd)):
            skipped.append(s.name)
            continue
        z_mean = (values[:, i].mean() - s.mean) / math.sqrt(sd_hat[i] ** 2 / n + s.mean_se**2 + 1e-300)
        z_sd = (sd_hat[i] - s.sd) / math.sqrt(sd_hat_se[i] ** 2 + s.sd_se**2 + 1e-300)
        scores += [(f"mean[{s.name}]", z_mean, values[:, i].mean(), s.mean), (f"sd[{s.name}]", z_sd, sd_hat[i], s.sd)]
    if not scores:
        return Check("exact draws", None, f"no statistic has a truth to check ({', '.join(skipped)})")
    name, z, est, true = max(scores, key=lambda t: abs(t[1]) if np.isfinite(t[1]) else np.inf)
    if not abs(z) <= Z_MAX:
        return Check(
            "exact draws",
            False,
            f"the exact draws disagree with the truth: {name} = {est:.5g} on {n} "
            f"draws, truth {true:.5g}, z = {z:+.1f} (|z| > {Z_MAX:g})",
        )
    return Check(
        "exact draws",
        True,
        f"{len(scores)} means and sds within {Z_MAX:g} standard errors of the truth "
        f"on {n} draws (largest |z| {abs(z):.1f}, {name})",
    )


def _check_log_Z(target: Target, xs: np.ndarray | None, x0, key, n: int) -> Check:
    if target.dim > IS_MAX_DIM:
        return Check("log Z", None, f"not checked (dim {target.dim} > {IS_MAX_DIM}: importance sampling unreliable)")
    pilot = xs if xs is not None else np.asarray(target.initial(key, max(n, 1000)))
    mu, sd = pilot.mean(0), 2.0 * pilot.std(0) + 1e-12
    z = jax.random.normal(key, (n, target.dim), dtype=jnp.zeros(()).dtype)
    q = mu + sd * np.asarray(z)
    log_q = (-0.5 * np.asarray(z) ** 2 - np.log(sd) - 0.5 * math.log(2 * math.pi)).sum(-1)
    lw = np.asarray(jax.jit(jax.vmap(target.log_prob))(jnp.asarray(q))) - log_q
    lw = np.where(np.isfinite(lw), lw, -np.inf)
    top = lw.max()
    w = np.exp(lw - top)
    log_Z_hat = top + math.log(w.mean())
    se = w.std(ddof=1) / (w.mean() * math.sqrt(n))
    khat = pareto_khat(lw[np.isfinite(lw)])
    if not khat <= KHAT_MAX:
        return Check(
            "log Z",
            None,
            f"inconclusive: importance weights from N(mean, (2 sd)^2) have Pareto k-hat "
            f"{khat:.2f} > {KHAT_MAX} (log Z_hat {log_Z_hat:.4f}, declared {target.log_Z:.4f})",
        )
    zscore = (log_Z_hat - target.log_Z) / se
    if not abs(zscore) <= Z_MAX:
        return Check(
            "log Z",
            False,
            f"log Z = {target.log_Z:.5g} declared, importance sampling gives "
            f"{log_Z_hat:.5g} ± {se:.2g} (z = {zscore:+.1f}, Pareto k-hat {khat:.2f})",
        )
    return Check(
        "log Z",
        True,
        f"declared {target.log_Z:.5g}, importance sampling {log_Z_hat:.5g} ± {se:.2g} "
        f"(z = {zscore:+.1f}, k-hat {khat:.2f}, {n} draws)",
    )
