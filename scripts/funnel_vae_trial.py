"""VAE configurations on the funnel side by side: the measurements behind docs/experiments.md, "Choosing the funnel's VAE".

    .venv/bin/python scripts/funnel_vae_trial.py SEEDS SPEC [SPEC ...]      e.g.
    .venv/bin/python scripts/funnel_vae_trial.py 0,1,2 latent_dim=2,width=64,steps=10000,dtype=float32
    .venv/bin/python scripts/funnel_vae_trial.py --bound-only 0-9 latent_dim=1,width=64,dtype=float32

A SPEC is a comma-separated list of `vaegibbs.Config` fields (unset ones keep Config's defaults; latent_dim
unset = the funnel's 10). Per (SPEC, seed) it trains with `vaegibbs.fit` (key = seed) and prints the training
time and the KL bound L + log Z (50,000 fresh samples), then, unless --bound-only:
- importance sampling, hierarchical weights K = 8, five batches of 320,000: the importance ESS (all, and the
  smallest batch), Pareto k-hat, the self-normalised sd(v) and, per tail interval of v, the weighted mass
  over the exact mass (1 = covered);
- vae-gibbs (jitter 2.38 / sqrt(latent_dim)) and vae-imh (K = 8): 32 chains x (1,000 burn-in + 10,000
  draws) from the funnel's initial box, acceptance, bulk ESS of v and the errors of E[v] and sd(v) in
  ArviZ Monte Carlo standard errors, and the sampling time (compilation excluded).
Timings are of this machine, one job at a time.
"""

import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import arviz as az  # noqa: E402
import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from bench.metrics.evidence import pareto_khat  # noqa: E402
from targets.funnel import funnel  # noqa: E402
from vaegibbs import kernels  # noqa: E402
from vaegibbs.compile import aot_compile  # noqa: E402
from vaegibbs.objective import joint_bound  # noqa: E402
from vaegibbs.train import Config, fit  # noqa: E402

TARGET = funnel()
INNER, IS_BATCH, IS_BATCHES = 8, 320_000, 5
CHAINS, BURN, DRAWS = 32, 1000, 10_000
TAILS = [(-30, -11), (-11, -9), (9, 11), (11, 30)]


def parse(spec: str) -> Config:
    fields = {f.name: f.type for f in Config.__dataclass_fields__.values()}
    kw = {}
    for item in spec.split(","):
        name, _, raw = item.partition("=")
        kw[name] = raw if name == "dtype" else float(raw) if "float" in str(fields[name]) else int(raw)
    return Config(**kw)


def seeds_of(text: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


@eqx.filter_jit
def _is(model, key):
    return kernels.importance_sample(model, TARGET.log_prob, key, IS_BATCH, INNER)


@eqx.filter_jit
def _gibbs(model, key, x0, jitter):
    return kernels.run_chains(kernels.gibbs(model, TARGET.log_prob, jitter), key, x0, BURN + DRAWS)


@eqx.filter_jit
def _imh(model, key, x0):
    return kernels.run_independent_chains(kernels.imh(model, TARGET.log_prob, 1.0, INNER), key, x0, BURN + DRAWS)


def chain_summary(name, run, *args) -> str:
    compiled, _ = aot_compile(run, *args)  # compiled once per configuration, timed apart
    start = time.perf_counter()
    _, (states, infos) = jax.block_until_ready(compiled(*args))
    elapsed = time.perf_counter() - start
    v = np.asarray(states.position[:, BURN:, 0])
    z_mean = v.mean() / float(az.mcse(v, method="mean"))
    z_sd = (v.std() - 3.0) / float(az.mcse(v, method="sd"))
    return (
        f"{name} acceptance {float(infos.acceptance_rate[:, BURN:].mean()):.3f} ESS(v) {float(az.ess(v)):.0f} "
        f"E[v] z {z_mean:+.2f} sd(v) z {z_sd:+.2f} ({elapsed:.1f} s)"
    )


def trial(config: Config, seed: int, bound_only: bool) -> None:
    fitted = fit(TARGET.log_prob, TARGET.dim, jax.random.key(seed), config)
    model = fitted.model
    bound, se = joint_bound(model, TARGET.log_prob, jax.random.key(1), 50_000)
    print(
        f"seed {seed}: train {fitted.time_train:.1f} s, KL bound {float(bound) + TARGET.log_Z:.4f} ± {float(se):.4f}",
        flush=True,
    )
    if bound_only:
        return
    log_w, v = [], []
    for i in range(IS_BATCHES):
        s = _is(model, jax.random.key(100 + i))
        log_w.append(np.asarray(s.log_weights))
        v.append(np.asarray(s.positions[:, 0]))
    per_batch = [float(kernels.importance_ess(jnp.asarray(lw))) for lw in log_w]
    log_w, v = np.concatenate(log_w), np.concatenate(v)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    sd = np.sqrt(np.sum(w * v**2) - np.sum(w * v) ** 2)
    tails = []
    for lo, hi in TAILS:
        inside = (v >= lo) & (v < hi)
        exact = stats.norm.cdf(hi, 0, 3) - stats.norm.cdf(lo, 0, 3)
        tails.append(f"[{lo},{hi}) {w[inside].sum() / exact:.2f}")
    print(
        f"    IS (K={INNER}, {log_w.size:,}): ESS {1 / np.sum(w**2) / w.size:.3f} (smallest batch {min(per_batch):.3f}), "
        f"k-hat {pareto_khat(log_w):.2f}, sd(v) {sd:.4f}; tail mass / exact: {'  '.join(tails)}",
        flush=True,
    )
    x0 = TARGET.initial(jax.random.key(4), CHAINS)
    jitter = 2.38 / model.latent_dim**0.5
    print(
        "    "
        + chain_summary(
            f"vae-gibbs (jitter {jitter:.2f})", _gibbs, model, jax.random.key(seed + 5), x0, jnp.asarray(jitter)
        ),
        flush=True,
    )
    print("    " + chain_summary(f"vae-imh (K={INNER})", _imh, model, jax.random.key(seed + 6), x0), flush=True)


def main(argv: list[str]) -> None:
    bound_only = "--bound-only" in argv
    argv = [a for a in argv if a != "--bound-only"]
    seeds, specs = seeds_of(argv[0]), argv[1:]
    for spec in specs:
        print(f"== {spec}", flush=True)
        for seed in seeds:
            trial(parse(spec), seed, bound_only)


if __name__ == "__main__":
    main(sys.argv[1:])
