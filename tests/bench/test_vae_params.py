"""The VAE samplers' parameters come from one place: the fields of vaegibbs.Config, vaegibbs.adaptive.Adaptive,
bench.vae.RunSettings and bench.vae.Moves (whose defaults are the kernels' own). No training here."""

import dataclasses
import inspect
import typing

import pytest

from bench import vae
from bench.params import parameters
from bench.run import Budget, cell_identity
from bench.samplers import BUDGET_ARGS, get_sampler
from targets import make_target
from vaegibbs import kernels
from vaegibbs.adaptive import Adaptive
from vaegibbs.train import Config

VAE_SAMPLERS = ("vae-gibbs", "vae-imh", "vae-is", "vae-hybrid")


def _field_param(cls, field):
    return vae.RENAMED.get((cls, field.name), field.name)


@pytest.mark.parametrize("name", VAE_SAMPLERS)
def test_every_training_field_is_a_sampler_parameter_with_its_default(name):
    """Every field of Config, Adaptive and RunSettings is a parameter of every VAE sampler, with the field's type
    and default (a field `int | None = None` is an int parameter 0): a new training option is one dataclass field."""
    params = parameters(get_sampler(name).run, BUDGET_ARGS)
    for cls in (Config, Adaptive, vae.RunSettings):
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            p = params[_field_param(cls, field)]
            if field.default is None:
                assert (p.default, p.annotation) == (0, int) and hints[field.name] == int | None, field.name
            else:
                assert p.default == field.default and type(p.default) is type(field.default), field.name
                assert p.annotation == hints[field.name], field.name
    kernel = set(params) - {
        _field_param(c, f) for c in (Config, Adaptive, vae.RunSettings) for f in dataclasses.fields(c)
    }
    assert kernel == set(vae.MOVES[get_sampler(name).run.__name__.removeprefix("vae_")])


def test_kernel_parameters_have_the_kernels_defaults():
    """The samplers' kernel settings (Moves) default to the keyword defaults of vaegibbs.kernels, and every
    kernel that takes a setting has the same default for it (num_inner is the samplers' `inner`)."""
    moves = {f.name: f.default for f in dataclasses.fields(vae.Moves)}
    seen = set()
    for kernel in (kernels.gibbs, kernels.imh, kernels.hybrid, kernels.imh_log_weight, kernels.importance_sample):
        for arg, p in inspect.signature(kernel).parameters.items():
            name = {"num_inner": "inner"}.get(arg, arg)
            if name in moves:
                assert p.default == moves[name], (kernel.__name__, arg)
                seen.add(name)
    assert seen == set(moves)
    for name in VAE_SAMPLERS:
        params = parameters(get_sampler(name).run, BUDGET_ARGS)
        assert all(params[n].default == moves[n] for n in moves if n in params)


def test_a_new_dataclass_field_becomes_a_parameter():
    """The parameters are read off the dataclass: a field added to (a subclass of) Config is a parameter with
    its type and default."""

    @dataclasses.dataclass(frozen=True)
    class Extended(Config):
        new_option: float = 0.25

    params = {p.name: p for p in vae._params_of(Extended)}
    assert (params["new_option"].annotation, params["new_option"].default) == (float, 0.25)
    assert params["train_steps"].field == "steps" and params["latent_dim"].default == 0


def test_per_target_defaults_are_parameters():
    """The per-target defaults are data over the dataclasses' defaults: every key is a VAE sampler's parameter."""
    names = set().union(*(parameters(get_sampler(n).run, BUDGET_ARGS) for n in VAE_SAMPLERS))
    tables = [
        *vae.TARGET_DEFAULTS.values(),
        vae.MULTIMODAL_DEFAULTS,
        *(d for by_target in vae.SAMPLER_TARGET_DEFAULTS.values() for d in by_target.values()),
    ]
    for table in tables:
        assert set(table) <= names, set(table) - names


def test_a_parameter_added_since_the_ids_is_in_the_identity_only_away_from_its_default():
    """Exposing a field (e.g. Config.grad_clip) keeps existing cells' ids: at its default it is not part of the
    identity; set to another value it is."""
    target, sampler = make_target("gaussian", dim=2), get_sampler("vae-imh")
    assert "grad_clip" not in vae.IDENTITY_ALWAYS and "train_steps" in vae.IDENTITY_ALWAYS
    plain = cell_identity(target, sampler, {}, 0, Budget())
    assert "sampler.grad_clip" not in plain and plain["sampler.train_steps"] == 3000
    assert cell_identity(target, sampler, {"grad_clip": 10.0}, 0, Budget()) == plain
    assert cell_identity(target, sampler, {"grad_clip": 5.0}, 0, Budget())["sampler.grad_clip"] == 5.0


@pytest.mark.parametrize(
    "kind, params, message",
    [
        ("imh", {"anneal_steps": 5000}, "vae samplers: anneal_steps (5000) must be <= train_steps (3000)"),
        ("imh", {"train_dtype": "float16"}, "vae samplers: train_dtype must be one of float64, float32"),
        ("imh", {"training": "adaptive", "monitor_batch": 0}, "vae samplers: monitor_batch must be >= 1, got 0"),
        ("hybrid", {"training": "adaptive", "walker_step_size": -1.0}, "walker_step_size > 0"),
        (
            "imh",
            {"training": "adaptive", "train_steps": 50, "rounds": 3, "kl_warmup_rounds": 1, "reverse_from": 1},
            "vae samplers: train_steps (50) must be a multiple of rounds (3)",
        ),
        ("imh", {"training": "adaptive", "train_dtype": "float32"}, "got train_dtype='float32', restarts=1"),
        ("gibbs", {"jitter": -0.1}, "vae samplers: jitter must be >= 0, got -0.1"),
        ("hybrid", {"num_local": 0}, "vae samplers: step_size must be > 0 and num_local >= 1"),
        ("is", {"inner": -1}, "inner (encoder draws per proposal) must be >= 0"),
        ("is", {"jitter": 0.1}, "vae samplers: unknown parameter 'jitter' of the is kernel"),
        ("imh", {"eval_batch": 1}, "eval_batch must be >= 2"),
    ],
)
def test_bad_settings_are_named_by_their_parameter(kind, params, message):
    """vaegibbs's checks (Config, Adaptive, fit_adaptive's) run once for the samplers, their messages in the
    samplers' parameter names."""
    with pytest.raises(ValueError) as info:
        vae.validate(kind, 10, 30, **params)
    assert message in str(info.value)


def test_settings_are_checked_once_per_setting():
    """validate and the run share one check of a setting (bench.vae.settings caches it)."""
    params = {"train_steps": 123, "jitter": 0.25}
    first = vae.settings("gibbs", params)
    assert vae.settings("gibbs", dict(params)) is first
    assert first.config.steps == 123 and first.moves.jitter == 0.25 and first.adaptive is None
    assert first.config == dataclasses.replace(Config(), steps=123)
