"""Every target factory refuses bad parameters up front with a ValueError naming the parameter (the CLI
turns it into exit 2): non-finite numbers, out-of-range values, and sizes the machine cannot hold."""

import inspect
import math
import time

import pytest

from targets import TARGETS, base, make_target

FLOAT_PARAMS = [
    (name, p)
    for name in sorted(TARGETS)
    for p, spec in inspect.signature(TARGETS[name]).parameters.items()
    if spec.annotation in (float, "float")
]


@pytest.mark.parametrize("name,param", FLOAT_PARAMS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_every_float_parameter_must_be_finite(name, param, value):
    with pytest.raises(ValueError, match=rf"^{name}: {param} must be"):
        make_target(name, **{param: value})


def test_float_parameters_are_found():
    assert {
        ("ising", "h"),
        ("ising", "beta"),
        ("sk", "beta"),
        ("gaussian", "condition"),
        ("boltzmann", "margin"),
    } <= set(FLOAT_PARAMS)


@pytest.mark.parametrize(
    "name,params,message",
    [
        ("ising", {"beta": -0.5}, "ising: beta must be >= 0"),
        ("ising", {"margin": 0.0}, "ising: margin must be > 0"),
        ("sk", {"beta": -1.0}, "sk: beta must be >= 0"),
        ("sk", {"seed": -1}, "sk: seed must be an integer"),
        ("boltzmann", {"seed": -3}, "boltzmann: seed must be an integer"),
        ("sk", {"N": 25}, r"sk: N must be an integer in \[2, 24\]"),
    ],
)
def test_out_of_range_parameters_are_named(name, params, message):
    with pytest.raises(ValueError, match=message):
        make_target(name, **params)


@pytest.mark.parametrize(
    "name,params,param",
    [
        ("gaussian", {"dim": 10**9}, "dim = 1000000000"),
        ("gaussian", {"dim": 10**8}, "dim = 100000000"),
        ("funnel", {"dim": 10**9}, "dim = 1000000000"),
        ("ising", {"L": 1000, "M": 1000}, "L\\*M = 1000000"),
    ],
)
def test_huge_sizes_are_refused_before_allocating(name, params, param):
    """Each needs far more than any machine's memory (>= 900 GiB): refused in well under a second,
    with the size and the machine's memory in the message (before: a NumPy memory traceback, or a hang
    building 10^9 statistics)."""
    start = time.perf_counter()
    with pytest.raises(ValueError, match=rf"^{name}: {param} needs about .* more than this machine's .* of memory"):
        make_target(name, **params)
    assert time.perf_counter() - start < 5.0


def test_size_check_uses_the_machine_memory(monkeypatch):
    """With a pretend 1 MiB machine a 200-dimensional gaussian (8 x 200^2 x 8 bytes = 2.4 MiB) is refused;
    dim 100 (0.6 MiB) is built."""
    monkeypatch.setattr(base, "machine_memory", lambda: 2**20)
    with pytest.raises(ValueError, match=r"gaussian: dim = 200 needs about 2.44 MiB .* 1 MiB of memory"):
        make_target("gaussian", dim=200)
    assert make_target("gaussian", dim=100).dim == 100


def test_statistics_count_has_a_documented_maximum():
    with pytest.raises(
        ValueError,
        match=rf"funnel: dim = {base.MAX_STATISTICS + 1} would give .* at most "
        rf"{base.MAX_STATISTICS}",
    ):
        make_target("funnel", dim=base.MAX_STATISTICS + 1)
    assert make_target("funnel", dim=base.MAX_STATISTICS).dim == base.MAX_STATISTICS
