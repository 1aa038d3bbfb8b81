import inspect

import pytest

from targets import TARGETS, make_target


def test_unknown_target_lists_the_valid_ones():
    with pytest.raises(KeyError, match="valid targets: banana, boltzmann, cancer, eight_schools, eight_schools_nc, funnel, gaussian, gmm40, ising, longley, many_well, mos, sk"):
        make_target("nope")


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_factory_has_typed_defaults_and_records_them(name):
    params = inspect.signature(TARGETS[name]).parameters
    assert all(p.default is not inspect.Parameter.empty and p.annotation is not inspect.Parameter.empty
               for p in params.values())
    target = make_target(name)
    assert target.name == name and set(target.params) == set(params)
    assert target.initial(__import__("jax").random.key(0), 3).shape == (3, target.dim)
