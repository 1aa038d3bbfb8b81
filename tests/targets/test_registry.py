import inspect

import pytest

from targets import TARGETS, Target, make_target


def test_unknown_target_lists_the_valid_ones():
    with pytest.raises(
        KeyError,
        match="valid targets: banana, boltzmann, cancer, eight_schools, eight_schools_nc, funnel, gaussian, gmm40, ising, longley, many_well, mos, sk",
    ):
        make_target("nope")


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_factory_has_typed_defaults_and_records_them(name):
    params = inspect.signature(TARGETS[name]).parameters
    assert all(
        p.default is not inspect.Parameter.empty and p.annotation is not inspect.Parameter.empty
        for p in params.values()
    )
    target = make_target(name)
    assert target.name == name and set(target.params) == set(params)
    assert target.initial(__import__("jax").random.key(0), 3).shape == (3, target.dim)


def test_equal_targets_built_apart_share_one_compilation(monkeypatch):
    """`make_target` twice with equal arguments gives one object, so a sampler's compile cache (keyed on the log
    density) hits: the log density is traced by the first run only. Other parameters or precision: another."""
    import dataclasses

    import jax

    from baselines import nuts
    from targets.gaussian import gaussian

    traces = []

    def counted(dim: int = 2) -> Target:
        inner = gaussian(dim=dim, condition=4.0)

        def log_prob(x):
            traces.append(x.shape)  # Python runs only while JAX traces; a compiled program does not call it
            return inner.log_prob(x)

        return dataclasses.replace(inner, name="counted", log_prob=log_prob, params={"dim": dim})

    monkeypatch.setitem(TARGETS, "counted", counted)

    def run(target, seed):
        x0 = target.initial(jax.random.key(0), 2)
        return nuts(jax.random.key(seed), target.log_prob, x0, num_warmup=10, num_draws=5)

    first = run(make_target("counted", dim=2), 1)
    n = len(traces)
    assert n > 0 and not first.info["compile_cached"] and first.cost.time_compile > 0
    second = run(make_target("counted", dim=2), 2)
    assert len(traces) == n and second.info["compile_cached"] and second.cost.time_compile == 0.0
    assert make_target("counted", dim=3) is not make_target("counted", dim=2)
    jax.config.update("jax_enable_x64", False)  # a float32 build (float64 restored by the suite's fixture anyway)
    f32 = make_target("counted", dim=2)
    jax.config.update("jax_enable_x64", True)
    assert f32 is not make_target("counted", dim=2)


def test_an_unhashable_parameter_builds_afresh(monkeypatch):
    calls = []

    def listed(values: list = ()) -> Target:
        calls.append(values)
        return make_target("gaussian", dim=2)

    monkeypatch.setitem(TARGETS, "listed", listed)
    make_target("listed", values=[1, 2])
    make_target("listed", values=[1, 2])
    assert len(calls) == 2
