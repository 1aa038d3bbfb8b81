"""Save and load (vaegibbs/io.py): a saved sampler gives identical draws for the same key, its Config round-
trips, and a missing or corrupt file raises ValueError naming the path."""

import dataclasses
import json
import re

import equinox as eqx
import jax
import numpy as np
import pytest

from vaegibbs import io, kernels
from vaegibbs.train import Config, init_model

from _vae_helpers import FA_CONFIG, FA_DIM, fa_log_prob, xla_optimisations


def _arrays(model):
    return [np.asarray(a) for a in jax.tree.leaves(eqx.filter(model, eqx.is_array))]


def _assert_same_model(a, b):
    assert (a.dim, a.latent_dim) == (b.dim, b.latent_dim)
    assert jax.tree.structure(eqx.filter(a, eqx.is_array)) == jax.tree.structure(eqx.filter(b, eqx.is_array))
    for x, y in zip(_arrays(a), _arrays(b)):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module", autouse=True)
def _fast_compiles():
    """Compile without most XLA optimisations (bit-reproducibility is within one compilation anyway)."""
    with xla_optimisations(False):
        yield


@eqx.filter_jit
def _draws(model, key):
    """Importance draws and a few Gibbs steps (with latent jitter): what a saved sampler is re-used for."""
    k_is, k_gibbs, k_x0 = jax.random.split(key, 3)
    x0 = jax.random.normal(k_x0, (3, FA_DIM))
    return dict(
        importance=kernels.importance_sample(model, fa_log_prob, k_is, 200),
        gibbs=kernels.run_chains(kernels.gibbs(model, fa_log_prob, 0.3), k_gibbs, x0, 5),
    )


def test_trained_sampler_round_trips_with_identical_draws(fa_fit, tmp_path):
    stem = io.save(tmp_path / "fa" / "sampler", fa_fit.model, fa_fit.config)
    assert stem == tmp_path / "fa" / "sampler"
    assert stem.with_suffix(".json").is_file() and stem.with_suffix(".eqx").is_file()
    model, config = io.load(stem)
    assert config == FA_CONFIG
    _assert_same_model(model, fa_fit.model)
    key = jax.random.key(42)
    before, after = _draws(fa_fit.model, key), _draws(model, key)
    for x, y in zip(jax.tree.leaves(before), jax.tree.leaves(after)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    # Another key gives other draws (the comparison above is not vacuous).
    other = _draws(model, jax.random.key(43))
    assert not np.array_equal(np.asarray(other["importance"].positions), np.asarray(before["importance"].positions))


def test_config_and_metadata_round_trip(tmp_path):
    config = Config(
        latent_dim=None,
        width=8,
        depth=2,
        steps=123,
        batch_size=17,
        learning_rate=1.5e-3,
        warmup_steps=11,
        grad_clip=2.5,
        beta_start=0.3,
        anneal_steps=40,
        x_loc=-0.25,
        x_scale=3.5,
        chunk=9,
    )
    model = init_model(3, jax.random.key(7), config)
    # The loaded weights must come from the file: they differ from those load's skeleton is built with.
    skeleton = init_model(3, jax.random.key(0), config)
    assert not np.array_equal(_arrays(model)[0], _arrays(skeleton)[0])
    stem = io.save(tmp_path / "s", model, config)
    meta = json.loads(stem.with_suffix(".json").read_text())
    assert meta["format"] == io.FORMAT and meta["dim"] == 3
    assert meta["config"] == dataclasses.asdict(config)
    assert set(meta["versions"]) >= {"jax", "equinox", "optax"}
    loaded, loaded_config = io.load(str(stem))  # a str path works too
    assert loaded_config == config and loaded_config.latent_dim is None
    _assert_same_model(loaded, model)
    np.testing.assert_allclose(np.asarray(loaded.x_loc), -0.25)
    np.testing.assert_allclose(np.exp(np.asarray(loaded.x_log_scale)), 3.5, rtol=1e-14)


# ------------------------------------------------------------------------------- bad files


@pytest.fixture
def saved(tmp_path):
    config = Config(latent_dim=2, width=8, depth=1)
    return io.save(tmp_path / "m", init_model(3, jax.random.key(1), config), config), config


def _raises_naming(stem):
    return pytest.raises(ValueError, match=re.escape(str(stem)))


def test_load_missing_file_raises_value_error_naming_the_path(tmp_path, saved):
    with _raises_naming(tmp_path / "nothing"):
        io.load(tmp_path / "nothing")
    stem, _ = saved
    stem.with_suffix(".eqx").unlink()  # the metadata without the weights
    with _raises_naming(stem):
        io.load(stem)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda meta: "{not json",
        lambda meta: json.dumps({**meta, "format": 999}),
        lambda meta: json.dumps({k: v for k, v in meta.items() if k != "config"}),
        lambda meta: json.dumps({**meta, "config": {**meta["config"], "no_such_field": 1}}),
        lambda meta: json.dumps({**meta, "config": {**meta["config"], "width": 0}}),  # Config rejects it
    ],
    ids=["not-json", "unknown-format", "no-config", "unknown-field", "invalid-config"],
)
def test_load_corrupt_metadata_raises_value_error_naming_the_path(saved, corrupt):
    stem, _ = saved
    path = stem.with_suffix(".json")
    path.write_text(corrupt(json.loads(path.read_text())))
    with _raises_naming(stem):
        io.load(stem)


@pytest.mark.parametrize("corrupt", ["truncated", "garbage", "empty", "other-shapes"])
def test_load_corrupt_weights_raises_value_error_naming_the_path(saved, corrupt, tmp_path):
    stem, config = saved
    path = stem.with_suffix(".eqx")
    raw = path.read_bytes()
    if corrupt == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif corrupt == "garbage":
        path.write_bytes(b"not an equinox file" * 10)
    elif corrupt == "empty":
        path.write_bytes(b"")
    else:  # weights of a 4-D model under a 3-D header
        other = io.save(tmp_path / "other", init_model(4, jax.random.key(1), config), config)
        path.write_bytes(other.with_suffix(".eqx").read_bytes())
    with _raises_naming(stem):
        io.load(stem)


def test_dotted_stems_do_not_collide(tmp_path):
    config = Config(latent_dim=2, width=8, depth=1)
    first, second = (init_model(3, jax.random.key(k), config) for k in (1, 2))
    io.save(tmp_path / "vae.v1", first, config)
    io.save(tmp_path / "vae.v2", second, config)
    loaded, _ = io.load(tmp_path / "vae.v1")
    _assert_same_model(loaded, first)
