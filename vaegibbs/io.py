"""Save and load a trained sampler with its configuration, so that a paper's sampler can be re-used.

A saved sampler is two files: `<path>.json` (the Config, the dimension, the versions that trained it)
and `<path>.eqx` (the network weights, equinox's leaf serialisation). Loading rebuilds the model
from the Config and reads the weights into it: the same key then gives identical draws.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import pathlib

import equinox as eqx
import jax

from vaegibbs.model import VAE
from vaegibbs.train import Config, init_model

FORMAT = 1


def save(path, model: VAE, config: Config) -> pathlib.Path:
    """Write `<path>.json` and `<path>.eqx`; returns the stem path.

    Parameters
    ----------
    path
        The stem of the two files (parent folders are created).
    model
        The trained VAE, whose weights go to `<path>.eqx`.
    config
        Its training Config, written to `<path>.json` with the dimension and the versions of jax, equinox and
        optax.

    Returns
    -------
    pathlib.Path
        The stem path.
    """
    stem = pathlib.Path(path)
    stem.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "dim": model.dim,
        "config": dataclasses.asdict(config),
        "versions": {p: _version(p) for p in ("jax", "equinox", "optax")},
    }
    eqx.tree_serialise_leaves(_with(stem, ".eqx"), model)
    _with(stem, ".json").write_text(json.dumps(meta, indent=1))
    return stem


def _with(stem: pathlib.Path, suffix: str) -> pathlib.Path:
    """`stem` + suffix, keeping dots in the stem (`vae.v1` -> `vae.v1.json`, not `vae.json`)."""
    return stem.with_name(stem.name + suffix)


def load(path) -> tuple[VAE, Config]:
    """Read a sampler written by `save`; raises ValueError naming the file when it is not one.

    Parameters
    ----------
    path
        The stem that `save` was given (without `.json` or `.eqx`).

    Returns
    -------
    tuple of (VAE, Config)
        The model with the saved weights and the Config that trained it.

    Raises
    ------
    ValueError
        When the files are missing, unreadable, of an unknown format or do not fit the Config.
    """
    stem = pathlib.Path(path)
    try:
        meta = json.loads(_with(stem, ".json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"unknown format {meta.get('format')!r} (expected {FORMAT})")
        config = Config(**meta["config"])
        skeleton = init_model(int(meta["dim"]), jax.random.key(0), config)
        return eqx.tree_deserialise_leaves(_with(stem, ".eqx"), skeleton), config
    except (OSError, KeyError, TypeError, json.JSONDecodeError, ValueError, RuntimeError) as err:
        # RuntimeError: equinox's TreePathError for a truncated, foreign or mis-shaped weights file
        raise ValueError(f"cannot load a VAE sampler from {stem}(.json, .eqx): {err}") from None


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
