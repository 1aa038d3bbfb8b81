"""Chains sharded across devices (`baselines.devices`), tested on CPU: one subprocess with
`XLA_FLAGS=--xla_force_host_platform_device_count=4` (this test process has one device) runs NUTS, HMC, every
peer whose chains are independent (MCLMC, MAMS, numpyro NUTS, SMC, PT, ChEES's sampling) and the VAE's kernels
with the chains on 1 and on 4 devices from the same key: the same draws (each chain computes what it computes
unsharded), the same gradient counts, the lock-step bound per device block, a second seed reusing the compiled
computation; the VAE's training batch (reverse-KL and adaptive) split into per-device shares whose means it
computes; and `python -m bench run --devices` recording the count in the row and (when not 1) in the id."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from baselines import devices

ROOT = pathlib.Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np
import baselines
from baselines import devices, hmc

assert jax.device_count() == 4, jax.devices()
scale = jnp.array([1.0, 3.0, 0.5])
def logdensity(x):
    return -0.5 * jnp.sum((x / scale) ** 2)

def run(sampler, n_devices, seed, chains=4, module=baselines, **kw):
    devices.use(n_devices)
    key = jax.random.key(seed)
    x0 = jax.random.normal(jax.random.key(100 + seed), (chains, 3))
    return getattr(module, sampler)(key, logdensity, x0, num_warmup=60, num_draws=60, **kw)

def summary(d):
    return {"positions": d.positions.tolist(), "logdensity": d.logdensity.tolist(), "grads": d.cost.grad_evals,
            "grads_warmup": d.cost.grad_evals_warmup, "lockstep": d.cost.grad_evals_lockstep,
            "devices": d.info["devices"], "cached": d.info["compile_cached"], "compile": d.cost.time_compile,
            "steps": d.stats["n_steps"].tolist() if "n_steps" in d.stats else None,
            "log_weights": None if d.log_weights is None else d.log_weights.tolist(),
            "evals": d.cost.logdensity_evals_warmup + d.cost.logdensity_evals_sampling}

out = {}
for sampler, kw in [("nuts", {}), ("hmc", {"num_integration_steps": 5})]:
    for n_devices in (1, 4):
        for method in ("sequential", "vectorized"):
            out[f"{sampler}-{method}-{n_devices}"] = summary(run(sampler, n_devices, 0, chain_method=method, **kw))
    out[f"{sampler}-vectorized-4-seed1"] = summary(run(sampler, 4, 1, chain_method="vectorized", **kw))
# an uneven split: 6 chains on 4 devices use 3 (the largest divisor of 6 not above 4)
out["six_chains_devices"] = run("hmc", 4, 0, chains=6, num_integration_steps=3).info["devices"]
# the compiled computation of the 4-device run is really partitioned over 4 devices
devices.use(4)
fn = jax.jit(devices.over_chains(jax.vmap(lambda x: x * 2.0), 4))
y = fn(jnp.arange(8.0).reshape(4, 2))
out["result_devices"] = len(y.sharding.device_set)
# the peers whose chains are independent: the same draws on 1 and 4 devices (sequential chains), the same
# costs, a second seed reusing the compiled computation
peer_kw = {"mclmc": {}, "mams": {}, "numpyro_nuts": {"chain_method": "sequential"},
           "smc": {"particles": 16, "num_mcmc_steps": 2, "num_integration_steps": 3, "ref_scale": 3.0},
           "pt": {"n_temps": 3, "num_integration_steps": 3},
           "chees": {"walkers": 8, "initial_fn": lambda k, n: jax.random.normal(k, (n, 3))}}
for sampler, kw in peer_kw.items():
    kw = {"chain_method": "sequential", **kw} if sampler in ("mclmc", "mams", "pt", "smc") else kw
    for n_devices in (1, 4):
        out[f"{sampler}-{n_devices}"] = summary(run(sampler, n_devices, 0, **kw))
    out[f"{sampler}-4-seed1"] = summary(run(sampler, 4, 1, **kw))
# vectorized chains on 4 devices with 4 chains: blocks of one chain, so the lock-step bound is what they need
out["smc-vectorized-4"] = summary(run("smc", 4, 0, **{**peer_kw["smc"], "chain_method": "vectorized"}))

# the VAE samplers' chains: an untrained VAE (the kernels are exact for any networks), each kernel's chains
# on 1 and on 4 devices from the same key
from vaegibbs import kernels
from vaegibbs.train import Config, init_model
model = init_model(3, jax.random.key(7), Config(width=8, depth=2))
x0 = jax.random.normal(jax.random.key(8), (4, 3))
algorithms = {"gibbs": (kernels.run_chains, kernels.gibbs(model, logdensity, 0.5)),
              "imh": (kernels.run_independent_chains, kernels.imh(model, logdensity, 1.0, 2))}
for name, (runner, algorithm) in algorithms.items():
    for n_devices in (1, 4):
        fn = jax.jit(lambda key, x, r=runner, a=algorithm, n=n_devices: r(a, key, x, 30, n_devices=n)[1])
        states, infos = fn(jax.random.key(9), x0)
        out[f"vae-{name}-{n_devices}"] = {"positions": states.position.tolist(), "logdensity": states.logdensity.tolist(),
                                          "grads": int(infos.grad_evals.sum()), "grads_warmup": int(infos.logdensity_evals.sum())}
for n_devices in (1, 4):
    s = jax.jit(lambda key, n=n_devices: kernels.importance_sample(model, logdensity, key, 64, 2, n_devices=n))(jax.random.key(9))
    out[f"vae-is-{n_devices}"] = {"positions": s.positions[None].tolist(), "logdensity": s.logdensity[None].tolist(),
                                  "log_weights": s.log_weights.tolist(), "grads": 0, "grads_warmup": 0}
# the suite's VAE sampler end to end on 4 devices: chains and the training batch spread, a second seed compiles nothing
import bench.vae
vae_kw = dict(train_steps=40, batch_size=16, width=8, depth=2, eval_batch=64, iw_inner=2, inner=2)
for seed in (0, 1):
    d = run("vae_imh", 4, seed, module=bench.vae, **vae_kw)
    out[f"vae-imh-run-{seed}"] = {"devices": d.info["devices"], "train_devices": d.info.get("reverse.devices"),
                                  "compile": d.cost.time_compile}
# adaptive training on 4 devices: its steps' batches split too (the walkers' moves stay on one device)
d = run("vae_imh", 4, 0, module=bench.vae, **vae_kw, training="adaptive", walkers=16, explore_steps=5, rounds=4,
        reverse_from=2, kl_warmup_rounds=1, initial_fn=lambda k, n: 2.0 * jax.random.normal(k, (n, 3)))
out["vae-imh-adaptive"] = {"devices": d.info["devices"], "train_devices": d.info.get("adaptive.devices"),
                           "training": d.info["training"], "finite": bool(np.isfinite(d.traces["loss"]).all())}
print("RESULT " + json.dumps(out))
"""


def _subprocess(code: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
    }
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def sharded():
    proc = _subprocess(SCRIPT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(s for s in proc.stdout.splitlines() if s.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def _same(a, b, rounding=1e-12):
    """Equal up to float64 rounding (`rounding` of the draws' size), with equal gradient counts."""
    x, y = np.asarray(a["positions"]), np.asarray(b["positions"])
    assert np.abs(x - y).max() <= rounding * max(1.0, np.abs(x).max())
    lp, lq = np.asarray(a["logdensity"]), np.asarray(b["logdensity"])
    assert np.abs(lp - lq).max() <= 100 * rounding * max(1.0, np.abs(lp).max())
    assert (a["grads"], a["grads_warmup"]) == (b["grads"], b["grads_warmup"])


@pytest.mark.parametrize("sampler", ["nuts", "hmc"])
def test_sharded_chains_give_the_same_draws_and_gradient_counts(sharded, sampler):
    """Sequential chains: the same computation per chain on 1 or 4 devices. Vectorised chains on 4 devices
    (4 chains: blocks of one) compute what sequential chains compute; a vmapped batch of 4 on one device
    rounds differently (XLA vectorises across the batch) and the window adaptation amplifies that, so it is
    compared only in its gradient accounting."""
    one, four = sharded[f"{sampler}-sequential-1"], sharded[f"{sampler}-sequential-4"]
    assert (one["devices"], four["devices"]) == (1, 4)
    _same(one, four)
    _same(one, sharded[f"{sampler}-vectorized-4"])
    assert sharded[f"{sampler}-vectorized-1"]["devices"] == 1


PEERS = ("mclmc", "mams", "numpyro_nuts", "smc", "pt", "chees")
# MCLMC's and MAMS's tuners (step size from the energy error, L from the autocorrelation; MAMS's dual averaging)
# amplify the last-bit differences between XLA's compilations of a 4-chain and a 1-chain lax.map (measured
# 9e-11 and 1e-6 of the draws here); 1e-5 is still far below what another key or chain order gives (order 1)
ROUNDING = {"mclmc": 1e-5, "mams": 1e-5}


@pytest.mark.parametrize("sampler", PEERS)
def test_peers_sharded_give_the_same_draws_and_costs_and_compile_once(sharded, sampler):
    """Every peer whose chains are independent (SMC: its runs; PT: each chain's set of replicas; ChEES: the
    walkers of its sampling phase) on 1 and 4 devices from the same key: the same draws, weights and
    log-density and gradient counts; a second seed on 4 devices reuses the compiled computation."""
    one, four, again = sharded[f"{sampler}-1"], sharded[f"{sampler}-4"], sharded[f"{sampler}-4-seed1"]
    assert (one["devices"], four["devices"], again["devices"]) == (1, 4, 4)
    _same(one, four, ROUNDING.get(sampler, 1e-12))
    assert one["evals"] == four["evals"] and one["lockstep"] == four["lockstep"]
    if one["log_weights"] is not None:
        assert np.abs(np.subtract(one["log_weights"], four["log_weights"])).max() <= 1e-10
    assert four["cached"] is False and four["compile"] > 0
    assert again["cached"] is True and again["compile"] == 0.0


def test_peers_lockstep_bound_is_per_device_block(sharded):
    """SMC vectorised on 4 devices with 4 runs, one run per device: no run waits for another, whereas on one
    device the lock-step bound is 4 x the longest run's tempering steps."""
    four = sharded["smc-vectorized-4"]
    assert four["devices"] == 4 and four["lockstep"] == four["grads"]


@pytest.mark.parametrize("kernel", ("gibbs", "imh", "is"))
def test_vae_kernels_sharded_give_the_same_chains(sharded, kernel):
    """The VAE's kernels (an untrained VAE: exact for any networks) with their chains (vae-is: its proposals)
    on 1 and 4 devices from the same key: the same draws and evaluation counts."""
    one, four = sharded[f"vae-{kernel}-1"], sharded[f"vae-{kernel}-4"]
    _same(one, four)
    if kernel == "is":
        assert np.abs(np.subtract(one["log_weights"], four["log_weights"])).max() <= 1e-10


def test_vae_sampler_on_four_devices_records_them_and_compiles_once(sharded):
    """bench.vae's vae-imh on 4 devices: chains and training batch spread over 4, a second seed compiles
    nothing (training chunk, bounds and sampling all reused)."""
    first, again = sharded["vae-imh-run-0"], sharded["vae-imh-run-1"]
    assert first["devices"] == first["train_devices"] == again["devices"] == 4
    assert first["compile"] > 0 and again["compile"] == 0.0


def test_vae_sampler_trained_adaptively_on_four_devices_records_them(sharded):
    """bench.vae's vae-imh with training=adaptive on 4 devices: it trains (finite objective at every step) with
    each step's batch split over the 4 devices, and the row's info says so."""
    r = sharded["vae-imh-adaptive"]
    assert r["training"] == "adaptive" and r["devices"] == r["train_devices"] == 4 and r["finite"]


def test_lockstep_bound_is_per_device_block(sharded):
    """Vectorised NUTS on 4 devices with 4 chains: each device runs one chain, so no chain waits for another
    and the lock-step bound equals the gradients needed; on one device it is the whole batch's bound,
    `4 * sum_t max_c steps[c, t]` (+4 at init)."""
    four, one = sharded["nuts-vectorized-4"], sharded["nuts-vectorized-1"]
    assert four["lockstep"] == four["grads"]
    steps = np.asarray(one["steps"])
    assert one["lockstep"] >= one["grads"] and one["lockstep"] >= 4 * int(steps.max(axis=0).sum())
    hmc = sharded["hmc-vectorized-4"], sharded["hmc-vectorized-1"]  # static HMC: no lock-step waste
    assert all(h["lockstep"] == h["grads"] for h in hmc)


def test_no_recompilation_for_another_seed_on_four_devices(sharded):
    for sampler in ("nuts", "hmc"):
        first, again = sharded[f"{sampler}-vectorized-4"], sharded[f"{sampler}-vectorized-4-seed1"]
        assert first["cached"] is False and first["compile"] > 0
        assert again["cached"] is True and again["compile"] == 0.0 and again["devices"] == 4


def test_uneven_chains_use_the_largest_dividing_device_count_and_results_are_sharded(sharded):
    assert sharded["six_chains_devices"] == 3
    assert sharded["result_devices"] == 4


def test_block_max_sum():
    steps = np.array([[1, 5], [3, 1], [2, 2], [2, 2]])
    assert devices.block_max_sum(steps, 1) == 4 * (3 + 5)
    assert devices.block_max_sum(steps, 2) == 2 * (3 + 5) + 2 * (2 + 2)
    assert devices.block_max_sum(np.array([4, 1, 2, 7]), 2) == 2 * 4 + 2 * 7


def test_lockstep_grads_blocks():
    from baselines.hmc import lockstep_grads

    steps = np.array([[1, 5], [3, 1], [2, 2], [2, 2]])  # 4 chains, 2 transitions
    assert lockstep_grads(steps, 1) == 4 * (3 + 5) + 4
    assert lockstep_grads(steps, 2) == 2 * (3 + 5) + 2 * (2 + 2) + 4
    assert lockstep_grads(steps, 4) == int(steps.sum()) + 4


def test_one_device_is_the_unsharded_function_and_bad_counts_are_refused():
    import jax

    devices.use(None)
    fn = lambda x: x  # noqa: E731
    assert devices.count() == jax.device_count() == 1 and devices.over_chains(fn, 4) is fn
    assert devices.shard(fn, 1) is fn
    for bad in (0, 2, -1, 1.5):
        with pytest.raises(ValueError, match=r"devices must be an integer in \[1, 1\]"):
            devices.use(bad)
    assert devices.count() == 1


def test_one_device_keeps_the_cell_ids_of_before():
    """With one device the identity has no `devices` key, so the ids of the records already written stand;
    the provenance carries the count and kind."""
    from bench import record

    devices.use(None)
    ident = record.identity("gaussian", {"dim": 2}, "nuts", {}, 2, 10, 10, 0)
    assert "devices" not in ident
    prov = record.provenance()
    assert prov["devices"] == 1 and prov["device_kind"] == "cpu" and prov["device_count"] == 1


# a small well-conditioned Gaussian; 100 warm-up steps (20 leave the chains frozen on 1 device as on 4)
CLI = r"""
import json, sys
from bench.cli import main
codes = [main(["run", "--target", "gaussian", "--param", "dim=2", "--param", "condition=2", "--sampler", "hmc", "--chains", "4",
               "--draws", "50", "--warmup", "100", "--no-progress", "--out", sys.argv[1], *extra])
         for extra in (["--devices", "1"], ["--devices", "4"], [], ["--devices", "1", "--profile", "accelerator"])]
bad = None
try:
    main(["run", "--target", "gaussian", "--sampler", "hmc", "--devices", "5", "--out", sys.argv[1]])
except SystemExit as exit:
    bad = exit.code
print("RESULT " + json.dumps({"codes": codes, "bad": bad}))
"""


def test_cli_devices_recorded_and_in_the_id_when_not_one(tmp_path):
    from bench import store

    proc = _subprocess(CLI, str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(next(s for s in proc.stdout.splitlines() if s.startswith("RESULT "))[len("RESULT ") :])
    assert result["codes"] == [0, 0, 0, 0] and result["bad"] == 2
    assert "--devices: devices must be an integer in [1, 4]" in proc.stderr
    everything = list(store.read_records(tmp_path))
    accelerator = [r for r in everything if r["profile"] == "accelerator"]
    records = sorted([r for r in everything if r["profile"] == "cpu"], key=lambda r: r["devices"])
    # the accelerator profile (bench.profile) on CPU: vectorised chains, recorded, a cell of its own; float64 (the
    # gaussian is not among the targets measured to hold in float32)
    assert len(accelerator) == 1 and accelerator[0]["precision"] == "float64"
    assert accelerator[0]["sampler.chain_method"] == "vectorized"
    assert accelerator[0]["info.chain_method"] == "vectorized"
    assert [r["devices"] for r in records] == [1, 4]  # the default (all: 4) is the --devices 4 cell
    one, four = records
    assert one["info.devices"] == 1
    assert four["info.devices"] == 4 and four["device_count"] == 4 and four["device_kind"] == "cpu"
    assert one["cell_id"] != four["cell_id"] and accelerator[0]["cell_id"] not in (one["cell_id"], four["cell_id"])
    ident = {k: one[k] for k in ("target", "sampler", "chains", "draws", "warmup", "seed")}
    assert ident == {k: four[k] for k in ident}


TRAIN = r"""
import json
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np
from baselines import devices
from vaegibbs import Config, fit
from vaegibbs.train import batch_value_and_grad

def logdensity(x):
    return -0.5 * jnp.sum(x ** 2)

def loss_fn(params, key, beta, batch_size):           # a toy bound: a mean over batch_size draws, and its se
    terms = beta * (params["w"] * jax.random.normal(key, (batch_size,)) - params["b"]) ** 2
    return terms.mean(), terms.std() / jnp.sqrt(batch_size)

params, key, beta = {"w": jnp.array(0.7), "b": jnp.array(-0.3)}, jax.random.key(3), jnp.array(0.9)
(loss4, se4), grads4 = jax.jit(batch_value_and_grad(loss_fn, 64, 4))(params, key, beta)
shares = [jax.value_and_grad(loss_fn, has_aux=True)(params, jax.random.fold_in(key, i), beta, 16) for i in range(4)]
out = {"loss": [float(loss4), float(np.mean([s[0][0] for s in shares]))],
       "se": [float(se4), float(np.sqrt(np.mean([s[0][1] ** 2 for s in shares]) / 4))],
       "grad_w": [float(grads4["w"]), float(np.mean([s[1]["w"] for s in shares]))],
       "grad_b": [float(grads4["b"]), float(np.mean([s[1]["b"] for s in shares]))]}
# the adaptive training's step (walkers drawn, forward terms, the reverse bound's draws) split the same way
import equinox as eqx
from vaegibbs.adaptive import step_value_and_grad
from vaegibbs.train import init_model
vae_params, static = eqx.partition(init_model(2, jax.random.key(4), Config(width=8, depth=2)), eqx.is_inexact_array)
walker_args = (jax.random.normal(jax.random.key(5), (32, 2)), jnp.array(0.6), jnp.array(0.3))   # walkers, weights
(aloss4, ase4), agrads4 = jax.jit(step_value_and_grad(static, logdensity, 64, True, 4))(vae_params, key, *walker_args)
one_share = jax.jit(step_value_and_grad(static, logdensity, 16, True))
ashares = [one_share(vae_params, jax.random.fold_in(key, i), *walker_args) for i in range(4)]
agrads = [np.concatenate([np.ravel(g) for g in jax.tree.leaves(s)]) for s in [agrads4] + [a[1] for a in ashares]]
out |= {"adaptive_loss": [float(aloss4), float(np.mean([a[0][0] for a in ashares]))],
        "adaptive_se": [float(ase4), float(np.sqrt(np.mean([a[0][1] ** 2 for a in ashares]) / 4))],
        "adaptive_grad": [agrads[0].tolist(), np.mean(agrads[1:], axis=0).tolist()],
        "adaptive_share_spread": float(np.std([a[0][0] for a in ashares]))}
devices.use(4)
config = Config(width=16, depth=2, steps=200, batch_size=64, chunk=100)
first, again = fit(logdensity, 2, jax.random.key(0), config), fit(logdensity, 2, jax.random.key(1), config)
out |= {"settings": dict(first.strategy_settings), "again_compile": again.time_compile,
        "finite": bool(np.isfinite(first.loss).all()), "early": float(first.loss[:20].mean()),
        "late": float(first.loss[-50:].mean()), "late_se": float(first.loss_se[-50:].mean())}
print("RESULT " + json.dumps(out))
"""


def test_training_batch_split_over_devices_averages_values_and_gradients():
    """On 4 devices a batch of 64 is 4 shares of 16 (device i's key folded with i): the loss and gradients are
    the shares' means and se^2 the mean of their se^2 over 4, up to rounding, for the reverse-KL bound and for
    the adaptive training's step (walkers and reverse draws); `fit` trains with it (the bound falls from its
    start), says so, and a second seed reuses the compiled chunk."""
    proc = _subprocess(TRAIN)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = json.loads(next(s for s in proc.stdout.splitlines() if s.startswith("RESULT "))[len("RESULT ") :])
    for name in ("loss", "se", "grad_w", "grad_b", "adaptive_loss", "adaptive_se"):
        assert r[name][0] == pytest.approx(r[name][1], rel=1e-12, abs=1e-14), name
    # the adaptive step's gradient (every network weight) is the mean of its 4 shares' gradients; the shares
    # differ (each device its own walkers and draws), so a split that gave every device the same key would fail
    grad4, mean = np.asarray(r["adaptive_grad"][0]), np.asarray(r["adaptive_grad"][1])
    assert np.abs(grad4 - mean).max() <= 1e-12 * np.abs(mean).max()
    assert r["adaptive_share_spread"] > 1e-6
    assert r["settings"]["devices"] == 4 and r["finite"] and r["again_compile"] == 0.0
    # a standard normal in 2-d: L + log Z >= 0, started far above; 20 and 50 steps' means, se from the batches
    assert r["late"] < r["early"] - 5 * r["late_se"]
