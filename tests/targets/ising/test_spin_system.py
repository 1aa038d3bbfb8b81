"""`spin_system`: the relaxation of a user's own couplings W and fields b at any size."""

import jax
import numpy as np
import pytest

from targets.ising import exact
from targets.ising.models import ENUMERATION_MAX, spin_system


def _couplings(n, seed=0, scale=0.1):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n)) * scale
    w = (a + a.T) / 2
    np.fill_diagonal(w, 0.0)
    return w, rng.normal(size=n) * scale


def test_small_system_has_the_enumerated_truth():
    W, b = _couplings(6)
    target = spin_system(W, b)
    enum = exact.enumerate_spins(W, b)
    assert target.dim == 6 and target.sample is not None
    assert target.log_Z == pytest.approx(enum.log_Z + target.log_Z_offsets["spins"], abs=1e-12)
    assert dict(zip([s.name for s in target.statistics], [s.mean for s in target.statistics]))["m"] == pytest.approx(
        enum.mean_m, abs=1e-12
    )


def test_a_system_beyond_enumeration_runs_without_truth():
    # 30 spins of a dense random W (not a torus): the private builder assumed a torus above 24 spins
    W, b = _couplings(ENUMERATION_MAX + 6)
    target = spin_system(W, b)
    assert target.dim == 30 and target.log_Z is None and target.sample is None
    assert all(np.isnan(s.mean) and np.isnan(s.sd) for s in target.statistics)
    x = target.initial(jax.random.key(0), 3)
    assert np.all(np.isfinite(np.asarray(jax.vmap(target.log_prob)(x))))
    assert np.all(np.isfinite([float(s.fn(x[0])) for s in target.statistics]))


@pytest.mark.parametrize(
    "W, b, message",
    [
        (np.ones((3, 2)), None, "W must be N x N"),
        (np.array([[0.0, 1.0], [0.5, 0.0]]), None, "W must be symmetric"),
        (np.eye(2), None, "W must have a zero diagonal"),
        (np.zeros((2, 2)), np.zeros(3), "b of length N"),
        (np.array([[0.0, np.nan], [np.nan, 0.0]]), None, "must be finite"),
    ],
)
def test_bad_couplings_are_refused_naming_the_problem(W, b, message):
    with pytest.raises(ValueError, match=message):
        spin_system(W, b)
