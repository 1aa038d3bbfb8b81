"""Posterior targets through the harness: named constrained draws in the DataTree, accuracy against the
reference, a user's model from the CLI, and clean NaN/absent columns where there is no truth or log Z."""

import json
import textwrap

import arviz as az
import jax
import numpy as np
import pytest

from bench.cli import main


def test_names_round_trip_into_the_datatree(tmp_path):
    code = main(
        [
            "run",
            "--target",
            "eight_schools_nc",
            "--sampler",
            "nuts",
            "--chains",
            "2",
            "--draws",
            "50",
            "--warmup",
            "50",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0
    cell = next((tmp_path / "runs" / "eight_schools_nc" / "nuts").iterdir())
    tree = az.from_netcdf(cell / "draws.nc")
    post = tree["posterior"]
    assert set(post.data_vars) == {"mu", "tau", "theta_tilde", "theta", "statistics"}
    assert post["theta"].shape == (2, 50, 8) and post["tau"].shape == (2, 50)
    x = tree["unconstrained_posterior"]["x"].values
    from targets.posteriors.models import standard

    c = jax.vmap(standard("eight_schools_nc").constrain)(jax.numpy.asarray(x[0]))
    np.testing.assert_allclose(post["theta"].values[0], c["theta"], rtol=1e-12)
    np.testing.assert_allclose(post["tau"].values, np.exp(x[..., 1]), rtol=1e-12)  # tau = exp(x_tau)
    assert list(post["statistic"].values[:2]) == ["mu", "tau"]
    record = json.loads((cell / "record.json").read_text())
    assert record["target_log_Z"] is None and np.isfinite(record["bias_mean_sd[tau]"]) and "mmd2" in record


MODEL = textwrap.dedent("""
    import numpyro
    import numpyro.distributions as dist

    def model(y=1.0):
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    def not_a_model():
        return 3.0
""")


@pytest.mark.parametrize("samplers", ["nuts", pytest.param("nuts,vae-is", marks=pytest.mark.slow)])
def test_user_model_from_the_cli_without_truth_or_log_z(tmp_path, samplers, capsys, monkeypatch):
    """No reference and log Z = None: the runs finish, accuracy and |dlog Z| columns are absent (null)."""
    path = tmp_path / "mine.py"
    path.write_text(MODEL)
    argv = [
        "run",
        "--target",
        f"{path}:model",
        "--sampler",
        samplers,
        "--chains",
        "2",
        "--draws",
        "50",
        "--warmup",
        "20",
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
    ]
    if "vae-is" in samplers:
        argv += [
            "--sampler-param",
            "train_steps=20",
            "--sampler-param",
            "batch_size=32",
            "--sampler-param",
            "eval_batch=200",
            "--sampler-param",
            "width=16",
        ]
    monkeypatch.setenv("COLUMNS", "250")
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "mine.model" in out and "truth" in out
    records = [json.loads(p.read_text()) for p in (tmp_path / "out" / "runs" / "mine.model").glob("*/*/record.json")]
    assert len(records) == len(samplers.split(",")) and all(r["status"] == "ok" for r in records)
    for r in records:
        assert r["bias_mean_sd[mu]"] is None and "worst_stat" not in r and "abs_delta_log_Z" not in r
        assert r["target_log_Z"] is None
    if "vae-is" in samplers:
        assert any(np.isfinite(r.get("log_Z_hat") or np.nan) for r in records)  # vae-is still estimates log Z


def test_weighted_draws_on_a_posterior_without_log_z_or_truth():
    """The metrics of a weighted (vae-is-like) run where log Z is None and the truths are NaN: no crash,
    log Z_hat reported, no |dlog Z|, no KL bound, biases NaN."""
    import numpyro
    import numpyro.distributions as dist

    from baselines.draws import Cost, Draws
    from bench.metrics import evaluate
    from targets.posteriors import from_numpyro

    def model(y=1.0):
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    target = from_numpyro(model, "tiny")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 200, 1))
    draws = Draws(
        positions=x,
        logdensity=np.zeros((1, 200)),
        stats={},
        cost=Cost(time_sampling=1.0, time_warmup=1.0),
        info={"loss": 0.1, "loss_se": 0.01, "iw_bound": 0.05, "iw_bound_se": 0.01, "log_Z_hat": -1.0},
        log_weights=rng.normal(size=(1, 200)) * 0.1,
    )
    row = evaluate(target, draws, jax.random.key(0))
    assert np.isfinite(row["log_Z_hat"]) and "abs_delta_log_Z" not in row and "kl_bound" not in row
    assert np.isnan(row["bias_mean_sd[mu]"]) and "worst_stat" not in row and "mmd2" not in row


@pytest.mark.parametrize(
    "target, fragment",
    [
        ("no_such_module_xyz:model", "no module named 'no_such_module_xyz'"),
        ("{dir}/mine.py:nothere", "has no attribute 'nothere'; its callables: model, not_a_model"),
        ("{dir}/mine.py:not_a_model", "has no latent `numpyro.sample` site"),
        ("{dir}/absent.py:model", "no such file"),
    ],
)
def test_bad_model_spec_exits_2(target, fragment, tmp_path, capsys):
    (tmp_path / "mine.py").write_text(MODEL)
    with pytest.raises(SystemExit) as info:
        main(["run", "--target", target.format(dir=tmp_path), "--out", str(tmp_path / "out")])
    assert info.value.code == 2 and fragment in " ".join(capsys.readouterr().err.split())


def test_model_spec_takes_no_param(tmp_path, capsys):
    (tmp_path / "mine.py").write_text(MODEL)
    with pytest.raises(SystemExit) as info:
        main(["run", "--target", f"{tmp_path}/mine.py:model", "--param", "dim=3", "--out", str(tmp_path / "o")])
    assert info.value.code == 2 and "takes no --param" in capsys.readouterr().err
