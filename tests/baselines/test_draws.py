"""The `Draws` container validates the shapes of what every sampler returns."""

import numpy as np
import pytest

from baselines import Cost, Draws


def _draws(positions, logdensity):
    return Draws(positions=positions, logdensity=logdensity, stats={}, cost=Cost())


def test_valid_shapes_accepted():
    d = _draws(np.zeros((2, 5, 3)), np.zeros((2, 5)))
    assert d.positions.shape == (2, 5, 3) and d.log_weights is None and dict(d.info) == {}


def test_positions_must_be_chains_draws_dim():
    with pytest.raises(ValueError, match=r"\(chains, draws, dim\)"):
        _draws(np.zeros((10, 3)), np.zeros((10,)))


def test_logdensity_must_match_chains_draws():
    with pytest.raises(ValueError, match=r"\(chains, draws\) = \(2, 5\)"):
        _draws(np.zeros((2, 5, 3)), np.zeros((5, 2)))
