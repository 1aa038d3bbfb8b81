"""A user's own model: registered from Python, or loaded from `module:function` / `file.py:function`."""

import textwrap

import jax
import numpy as np
import pytest

from targets.posteriors import ModelError, load_spec, register_model
from targets.registry import TARGETS, make_target

MODEL = textwrap.dedent("""
    import numpyro
    import numpyro.distributions as dist

    Y = 1.0

    def model(y=Y):
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    def needs_data(y):
        numpyro.sample("mu", dist.Normal(0.0, 1.0))

    def not_a_model():
        return 3.0

    NOT_CALLABLE = 3
""")


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "my_models.py"
    path.write_text(MODEL)
    return path


def test_file_spec(model_file):
    target = load_spec(f"{model_file}:model")
    assert target.name == "my_models.model" and target.dim == 1 and target.log_Z is None
    assert np.isfinite(target.log_prob(jax.numpy.zeros(1)))


def test_module_spec(model_file, monkeypatch):
    monkeypatch.syspath_prepend(str(model_file.parent))
    assert load_spec("my_models:model").name == "my_models.model"


@pytest.mark.parametrize(
    "attr, message",
    [
        ("nothere", "module 'my_models' has no attribute 'nothere'; its callables: model, needs_data, not_a_model"),
        ("needs_data", "could not be run as a numpyro model: TypeError"),
        ("not_a_model", "has no latent `numpyro.sample` site"),
        ("NOT_CALLABLE", "is not callable"),
    ],
)
def test_bad_attribute(model_file, attr, message):
    with pytest.raises(ModelError, match=None) as info:
        load_spec(f"{model_file}:{attr}")
    assert message in str(info.value)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("no_such_module_xyz:model", "no module named 'no_such_module_xyz'"),
        ("missing/file.py:model", "no such file 'missing/file.py'"),
        ("model_only", "expected a registered name, module:function or path/to/file.py:function"),
    ],
)
def test_bad_spec(spec, message):
    with pytest.raises(ModelError) as info:
        load_spec(spec)
    assert message in str(info.value)


def test_register_model_from_python(monkeypatch):
    import numpyro
    import numpyro.distributions as dist

    monkeypatch.setattr("targets.registry.TARGETS", dict(TARGETS))

    def model(y=2.0):
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    register_model("my_model", model, headline="mu")
    target = make_target("my_model")
    assert target.name == "my_model" and target.headline == "mu" and "no reference" in target.truth
