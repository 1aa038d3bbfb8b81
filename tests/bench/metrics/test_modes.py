import numpy as np
import pytest

from bench.metrics import mode_coverage


def test_emc_is_one_for_uniform_and_zero_for_one_mode():
    assert mode_coverage(np.repeat(np.arange(40), 5), 40) == pytest.approx(
        {"modes_visited": 40, "modes_total": 40, "emc": 1.0}
    )
    assert mode_coverage(np.zeros(100, int), 40)["emc"] == 0.0


def test_emc_of_two_equal_modes_out_of_four():
    out = mode_coverage(np.array([0, 1] * 50), 4)
    assert out["modes_visited"] == 2
    assert out["emc"] == pytest.approx(np.log(2) / np.log(4))
