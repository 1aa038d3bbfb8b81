"""The shipped reference draws pass posteriordb's checks when re-evaluated here with ArviZ, and the
targets take their truths from them; a failing reference gives no truth at all."""

import json

import arviz as az
import jax
import numpy as np
import pytest

from targets.posteriors import reference as ref
from targets.posteriors.models import model_of, reference_path, standard

jax.config.update("jax_enable_x64", True)
STANDARD = ["eight_schools", "eight_schools_nc", "cancer", "longley"]


def _values(target, x):
    flat = np.stack([np.asarray(jax.vmap(s.fn)(x.reshape(-1, x.shape[-1]))) for s in target.statistics], -1)
    return flat.reshape(*x.shape[:2], -1)


@pytest.mark.parametrize("name", STANDARD)
def test_shipped_reference_passes_posteriordb_checks(name):
    target = standard(name)
    x, names, provenance = ref.read_reference(reference_path(name))
    assert names == [s.name for s in target.statistics]
    values = _values(target, x)
    n = values.shape[0] * values.shape[1]
    assert values.shape[:2] == (10, 1000) and n == 10_000
    rhat = az.rhat(values)
    ess_bulk = az.ess(values, method="bulk")
    ess_tail = az.ess(values, method="tail", prob=(0.05, 0.95))
    low, high = n - 4 * np.sqrt(7 * n), n + 4 * np.sqrt(7 * n)  # posteriordb's ess_bounds
    assert np.all(rhat < 1.01), rhat.max()
    assert np.all((ess_bulk > low) & (ess_bulk < high)), (ess_bulk.min(), ess_bulk.max())
    assert np.all((ess_tail > low) & (ess_tail < high)), (ess_tail.min(), ess_tail.max())
    checks = provenance["checks"]
    assert checks["passed"] and checks["divergences"] == 0 and min(checks["bfmi"]) > 0.2
    assert checks["rhat_max"] == pytest.approx(rhat.max(), rel=1e-9)  # the stored values are these
    for key in ("chains", "warmup", "iterations", "thin", "seed", "version.blackjax", "version.numpyro", "date"):
        assert key in provenance


@pytest.mark.parametrize("name", STANDARD)
def test_statistics_and_sample_come_from_the_reference(name):
    target = standard(name)
    x, _, _ = ref.read_reference(reference_path(name))
    values = _values(target, x).reshape(-1, len(target.statistics))
    np.testing.assert_allclose([s.mean for s in target.statistics], values.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose([s.sd for s in target.statistics], values.std(0, ddof=1), rtol=1e-12)
    mcse = az.mcse(_values(target, x), method="mean")
    np.testing.assert_allclose([s.mean_se for s in target.statistics], mcse, rtol=1e-12)
    assert "reference posterior:" in target.truth
    draws = np.asarray(target.sample(jax.random.key(0), 500))
    pooled = x.reshape(-1, target.dim)
    assert draws.shape == (500, target.dim)
    assert len({tuple(r) for r in draws}) == 500 and {tuple(r) for r in draws} <= {tuple(r) for r in pooled}


def test_centred_reference_is_the_non_centred_posterior():
    """eight_schools' reference is eight_schools_nc's draws in centred coordinates: same mu, tau, theta."""
    c, nc = standard("eight_schools"), standard("eight_schools_nc")
    by_name = {s.name: s for s in nc.statistics}
    for s in c.statistics:
        assert s.mean == pytest.approx(by_name[s.name].mean, rel=1e-9, abs=1e-9)
        assert s.sd == pytest.approx(by_name[s.name].sd, rel=1e-9)
    _, _, provenance = ref.read_reference(reference_path("eight_schools"))
    assert provenance["derived_from"] == "eight_schools_nc"
    # tau's posterior mean: posteriordb's eight_schools reference gives about 3.6; ours within 5 MCSE of it
    tau = next(s for s in c.statistics if s.name == "tau")
    assert 3.0 < tau.mean < 4.2


def test_a_failing_reference_gives_no_truth(tmp_path):
    from targets.posteriors import from_numpyro

    target = standard("longley")
    x, names, provenance = ref.read_reference(reference_path("longley"))
    provenance["checks"] = ref.check(_values(target, x[:, :100]), divergences=3, bfmi=np.array([0.1] * 10))
    assert not provenance["checks"]["passed"]
    path = tmp_path / "bad.npz"
    ref.save_reference(path, x[:, :100], names, provenance)
    model, kwargs = model_of("longley")
    bad = from_numpyro(model, "longley", model_kwargs=kwargs, reference=path)
    assert bad.sample is None and all(np.isnan(s.mean) for s in bad.statistics)
    assert "FAILED" in bad.truth and "3 divergent transitions" in bad.truth and "1000 draws, not 10000" in bad.truth


def test_reference_of_another_model_is_refused(tmp_path):
    from targets.posteriors import from_numpyro

    model, kwargs = model_of("longley")
    with pytest.raises(ValueError, match="does not match the model"):
        from_numpyro(model, "longley", model_kwargs=kwargs, reference=reference_path("eight_schools"))


def test_check_thresholds_are_posteriordbs():
    assert ref.ess_bounds(10_000) == pytest.approx((8941.7, 11058.3), abs=0.1)
    rng = np.random.default_rng(0)
    good = ref.check(rng.normal(size=(10, 1000, 3)), 0, np.ones(10))
    assert good["passed"], good["failures"]
    sticky = np.cumsum(rng.normal(size=(10, 1000, 3)), axis=1)  # random walks: R-hat and ESS both fail
    bad = ref.check(sticky, 0, np.ones(10))
    assert not bad["passed"] and any("R-hat" in f for f in bad["failures"])
    json.dumps(bad)  # provenance-ready
