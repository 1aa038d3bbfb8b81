"""The sampler registry: resolution of names, specs and entry points; the contract read from a signature; the
defaults a target outside the suite gets from what it is."""

import dataclasses

import pytest

from bench.samplers import SAMPLERS, check_contract, get_sampler
from targets.base import Modes
from targets.posteriors.user import SpecError
from targets.registry import make_target


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(KeyError, match="unknown sampler 'nope'; valid samplers: .*nuts.*module:function"):
        get_sampler("nope")


@pytest.mark.parametrize(
    "source, message",
    [
        (
            "def f(x, y, z, *, num_warmup, num_draws): pass",
            "first arguments must be (key, logdensity_fn, initial_positions)",
        ),
        ("def f(key, logdensity_fn, initial_positions, *, num_draws): pass", "takes no keyword argument num_warmup"),
        (
            "def f(key, logdensity_fn, initial_positions, *, num_warmup, num_draws, h): pass",
            "argument h has no default",
        ),
        (
            "def f(key, logdensity_fn, initial_positions, *, num_warmup, num_draws, h: list = []): pass",
            "parameter 'h' is annotated",
        ),
    ],
)
def test_the_contract_is_read_from_the_signature(source, message):
    namespace = {}
    exec(source, namespace)
    with pytest.raises(SpecError) as err:
        check_contract(namespace["f"], "sampler f")
    assert message in str(err.value)


def test_every_builtin_sampler_fits_the_contract():
    for sampler in SAMPLERS.values():
        check_contract(sampler.run, sampler.name)


def test_a_users_target_gets_defaults_from_what_it_is_not_its_name():
    vae = get_sampler("vae-imh")
    funnel = make_target("funnel")
    assert vae.params_for(funnel, {})["latent_dim"] == 2  # the suite's funnel: its measured setting
    renamed = dataclasses.replace(funnel, name="my.funnel")
    assert vae.params_for(renamed, {}) == {}  # a user's unimodal target: the generic setting
    modal = dataclasses.replace(renamed, modes=Modes(3, lambda x: 0))
    assert vae.params_for(modal, {})["training"] == "adaptive"  # declared modes: mode-covering training
    assert vae.params_for(modal, {"training": "reverse"})["training"] == "reverse"  # the user's word wins
    assert get_sampler("nuts").params_for(modal, {}) == {}
