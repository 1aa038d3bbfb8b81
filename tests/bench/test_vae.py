"""The VAE samplers in the suite: cost split, record columns, training curve, saved sampler re-used."""

import arviz as az
import jax
import numpy as np
import pytest

from bench import store
from bench.run import Budget, run_cell
from bench.samplers import get_sampler
from targets import make_target

TINY = dict(train_steps=40, batch_size=16, width=16, depth=1, eval_batch=200, iw_inner=2)
BUDGET = Budget(chains=2, draws=30, warmup=10)


@pytest.fixture(scope="module")
def target():
    return make_target("gaussian", dim=2, condition=4.0)


@pytest.fixture(scope="module")
def records(target, tmp_path_factory):
    out = tmp_path_factory.mktemp("vae")
    recs = {
        name: run_cell(target, get_sampler(name), TINY, 0, BUDGET, out) for name in ("vae-imh", "vae-is", "vae-hybrid")
    }
    return out, recs


def test_cost_is_split_between_training_burn_in_and_sampling(records):
    _, recs = records
    train = TINY["batch_size"] * TINY["train_steps"]
    imh, is_, hybrid = recs["vae-imh"], recs["vae-is"], recs["vae-hybrid"]
    assert all(r["status"] == "ok" for r in recs.values()), [r.get("traceback") for r in recs.values()]
    assert imh["grad_evals_warmup"] == train and imh["grad_evals_sampling"] == 0
    assert imh["logdensity_evals_warmup"] == train + BUDGET.chains * BUDGET.warmup
    assert imh["logdensity_evals_sampling"] == BUDGET.chains * BUDGET.draws
    # importance sampling has no burn-in: every proposal is a kept draw
    assert is_["logdensity_evals_warmup"] == train
    assert is_["logdensity_evals_sampling"] == BUDGET.chains * BUDGET.draws
    # hybrid: 1 VAE evaluation + (num_local + 1) MALA value-and-gradients per step
    local = hybrid["sampler.num_local"]
    assert hybrid["grad_evals_sampling"] == BUDGET.chains * BUDGET.draws * (local + 1)
    assert hybrid["grad_evals_warmup"] == train + BUDGET.chains * BUDGET.warmup * (local + 1)


def test_vae_columns_and_training_curve(records, target):
    out, recs = records
    r = recs["vae-imh"]
    # the bound L >= -log Z: the KL bound is positive up to its Monte Carlo error (4 SE)
    assert r["kl_bound"] > -4 * r["kl_bound_se"]
    assert r["eubo"] >= r["elbo"] - 4 * (r["eubo_se"] + r["elbo_se"])  # EUBO >= log Z >= ELBO
    for column in (
        "iw_kl_bound",
        "iw_kl_bound_se",
        "abs_delta_log_Z",
        "importance_ess",
        "info.config.steps",
        "info.train_grad_evals",
        "info.time_train",
        "acceptance_rate",
    ):
        assert column in r, column
    tree = az.from_netcdf(store.cell_dir(out, r) / "draws.nc")
    assert tree["training"]["loss"].shape == (TINY["train_steps"],)
    # vae-is scores its own weights: its log Z_hat is not the evaluation batch's
    is_tree = az.from_netcdf(store.cell_dir(out, recs["vae-is"]) / "draws.nc")
    lw = np.asarray(is_tree["sample_stats"]["log_weight"]).ravel()
    assert recs["vae-is"]["log_Z_hat"] == pytest.approx(np.log(np.mean(np.exp(lw))), rel=1e-10, abs=1e-12)


def test_saved_sampler_is_reused_and_gives_the_same_draws(records, target, tmp_path):
    out, recs = records
    stem = store.cell_dir(out, recs["vae-imh"]) / "vae"
    assert stem.with_name("vae.json").exists() and stem.with_name("vae.eqx").exists()
    params = {k: v for k, v in TINY.items() if k not in ("train_steps",)} | {"model_path": str(stem)}
    again = [run_cell(target, get_sampler("vae-imh"), params, 0, BUDGET, tmp_path / str(i)) for i in range(2)]
    assert all(r["status"] == "ok" for r in again)
    assert again[0]["grad_evals_warmup"] == 0 and again[0]["info.config.steps"] == TINY["train_steps"]
    a, b = (az.from_netcdf(store.cell_dir(tmp_path / str(i), r) / "draws.nc") for i, r in enumerate(again))
    np.testing.assert_array_equal(a["posterior"]["x"], b["posterior"]["x"])


TINY_ADAPTIVE = dict(TINY, train_steps=40, walkers=32, explore_steps=5, rounds=4, reverse_from=2, kl_warmup_rounds=1)


def test_target_defaults_choose_adaptive_training():
    """gmm40's and ising's default is training=adaptive (bench.vae.TARGET_DEFAULTS), for every VAE sampler;
    a given `training` overrides the target's default; the other targets train on the reverse bound."""
    for name in ("vae-gibbs", "vae-imh", "vae-is", "vae-hybrid"):
        sampler = get_sampler(name)
        assert sampler.params_for("gmm40", {})["training"] == sampler.params_for("ising", {})["training"] == "adaptive"
        assert sampler.params_for("gmm40", {"training": "reverse"})["training"] == "reverse"
        assert "training" not in sampler.params_for("funnel", {}) and sampler.params_for("gaussian", {}) == {}


def test_adaptive_training_by_default_is_recorded_with_its_settings(tmp_path):
    """A gmm40 run trains adaptively without being told: the record's sampler id and info say so with its
    settings, the training gradients add up (reverse steps, the walkers' MALA moves and rebuilds), and the
    training group holds the per-round bound."""
    target = make_target("gmm40")
    r = run_cell(target, get_sampler("vae-imh"), dict(TINY_ADAPTIVE), 0, BUDGET, tmp_path)
    assert r["status"] == "ok", r.get("traceback")
    assert "training=adaptive" in r["sampler_id"] and r["sampler.training"] == "adaptive"
    assert r["info.training"] == "adaptive" and r["info.adaptive.walkers"] == TINY_ADAPTIVE["walkers"]
    walkers, rounds = TINY_ADAPTIVE["walkers"], TINY_ADAPTIVE["rounds"]
    mala = walkers * (1 + TINY_ADAPTIVE["explore_steps"] + rounds * 5)
    reverse_steps = TINY_ADAPTIVE["train_steps"] // 2
    assert r["info.train_grad_evals"] == TINY["batch_size"] * reverse_steps + mala + walkers * rounds
    assert r["grad_evals_warmup"] == r["info.train_grad_evals"]
    tree = az.from_netcdf(store.cell_dir(tmp_path, r) / "draws.nc")
    assert tree["training"]["bound"].dims == ("round",) and tree["training"]["bound"].shape == (rounds,)
    assert tree["training"]["loss"].shape == (TINY_ADAPTIVE["train_steps"],)


def test_adaptive_settings_are_checked_before_training():
    validate = get_sampler("vae-imh").validate
    with pytest.raises(ValueError, match="multiple of rounds"):
        validate(10, 30, training="adaptive", train_steps=50, rounds=3, kl_warmup_rounds=1, reverse_from=1)
    with pytest.raises(ValueError, match="training must be one of reverse, adaptive"):
        validate(10, 30, training="forward")
    with pytest.raises(ValueError, match="walkers"):
        validate(10, 30, training="adaptive", walkers=0)


def test_per_sampler_target_defaults_on_the_funnel():
    """The funnel's VAE defaults (bench.vae.TARGET_DEFAULTS) hold for every VAE sampler, SAMPLER_TARGET_DEFAULTS
    adds vae-gibbs's own on top (a shorter training, the random-walk jitter of a 2-d latent); a given value
    overrides both; other targets and the baselines are untouched."""
    gibbs, imh, nuts = (get_sampler(n).params_for("funnel", {}) for n in ("vae-gibbs", "vae-imh", "nuts"))
    assert imh["latent_dim"] == gibbs["latent_dim"] == 2 and imh["train_dtype"] == gibbs["train_dtype"] == "float32"
    assert imh["restarts"] == gibbs["restarts"] == 2
    assert imh["train_steps"] == 20000 and imh["inner"] == 8 and "jitter" not in imh
    assert gibbs["train_steps"] == 3000 and gibbs["jitter"] == pytest.approx(2.38 / 2**0.5, abs=0.01)
    assert "inner" not in gibbs and nuts == {}  # only what each sampler takes
    assert get_sampler("vae-gibbs").params_for("funnel", {"train_steps": 500})["train_steps"] == 500
    assert get_sampler("vae-gibbs").params_for("gaussian", {}) == {}


def test_float32_training_and_restarts_are_sampler_parameters_and_adaptive_refuses_them(target):
    validate = get_sampler("vae-imh").validate
    for bad in (dict(train_dtype="float32"), dict(restarts=2)):
        with pytest.raises(ValueError, match="float64 only"):
            validate(10, 30, training="adaptive", **bad)
    with pytest.raises(ValueError, match=r"restart_steps \(300\) must be in \(0, train_steps = 200\); pass restarts=1"):
        validate(10, 30, train_steps=200, restarts=2)
    r = run_cell(
        target,
        get_sampler("vae-gibbs"),
        TINY | {"train_dtype": "float32", "restarts": 2, "restart_steps": 10},
        0,
        BUDGET,
        None,
    )
    assert r["status"] == "ok", r.get("traceback")
    assert r["sampler.train_dtype"] == "float32" and r["info.config.dtype"] == "float32"
    losses = [r["info.reverse.restart_loss_0"], r["info.reverse.restart_loss_1"]]
    assert r["info.config.restarts"] == 2 and r["info.reverse.restart_chosen"] == int(np.argmin(losses))
    assert r["info.train_grad_evals"] == TINY["batch_size"] * (TINY["train_steps"] + 10)


def test_vae_imh_diagnostics_are_of_its_own_weights(records, target):
    """vae-imh's k-hat, importance ESS and log Z_hat come from its own weights: inner = K = 4 and 0 on the
    same VAE (one training, shared by the seed's samplers) give different values, each equal to importance
    sampling with that K on the evaluation batch's key (the key path of bench.run and bench.vae). vae-gibbs,
    which has no weights, reports the joint K=0 weights' values and says so."""
    from bench.metrics.evidence import pareto_khat
    from vaegibbs import io as vae_io, kernels

    out, recs = records
    imh0 = recs["vae-imh"]
    imh4, gibbs = (
        run_cell(target, get_sampler(name), TINY | params, 0, BUDGET, out)
        for name, params in (("vae-imh", {"inner": 4}), ("vae-gibbs", {}))
    )
    assert imh4["status"] == gibbs["status"] == "ok", (imh4.get("error"), gibbs.get("error"))
    assert imh4["pareto_khat"] != imh0["pareto_khat"] and imh4["importance_ess"] != imh0["importance_ess"]
    model, _ = vae_io.load(store.cell_dir(out, imh4) / "vae")
    key_run = jax.random.split(jax.random.key(0), 3)[1]
    key_eval = jax.random.split(key_run, 3)[1]
    for rec, inner in ((imh0, 0), (imh4, 4)):
        log_w = kernels.importance_sample(
            model, target.log_prob, jax.random.split(key_eval, 3)[2], TINY["eval_batch"], inner
        ).log_weights
        assert rec["importance_ess"] == pytest.approx(float(kernels.importance_ess(log_w)), rel=1e-9)
        assert rec["pareto_khat"] == pytest.approx(pareto_khat(log_w), rel=1e-9)
        assert rec["info.diagnostics_weights"] == "own"
    assert gibbs["info.diagnostics_weights"] == "joint K=0" and "khat_unreliable" not in gibbs
    assert gibbs["importance_ess"] == imh0["importance_ess"]  # K = 0, t = 1: the joint weights


def test_a_loaded_model_records_its_own_training_settings(records, target, tmp_path):
    """A run with model_path records the saved model's training settings (vaegibbs.io saves its Config), not
    the defaults that were never used; the strategy and adaptive settings, which the file does not hold, are
    left out."""
    out, recs = records
    stem = store.cell_dir(out, recs["vae-imh"]) / "vae"
    r = run_cell(target, get_sampler("vae-imh"), {"model_path": str(stem), "eval_batch": 200}, 0, BUDGET, tmp_path)
    assert r["status"] == "ok", r.get("error")
    for param, value in (
        ("train_steps", 40),
        ("batch_size", 16),
        ("width", 16),
        ("depth", 1),
        ("latent_dim", 0),
        ("train_dtype", "float64"),
        ("model_path", str(stem)),
        ("eval_batch", 200),
    ):
        assert r[f"sampler.{param}"] == value, param
    assert "sampler.training" not in r and "sampler.walkers" not in r
