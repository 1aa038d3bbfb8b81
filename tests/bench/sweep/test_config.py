"""The sweep file: the grid it expands to, and its problems reported before anything runs (valid choices named)."""

import pathlib

import pytest

from bench.samplers import SAMPLERS
from bench.sweep.config import ConfigError, load, parse, peek_precision
from targets import registry

BASE = {
    "seeds": [0, 1],
    "budget": {"chains": 2, "draws": 20, "warmup": 20},
    "targets": [{"name": "gaussian", "params": {"dim": 2}}],
    "samplers": [{"name": "nuts"}],
}


def _with(**changes):
    return {**BASE, **changes}


def test_grid_is_the_product_of_targets_samplers_parameter_lists_and_seeds():
    config = parse(
        _with(
            targets=[{"name": "funnel", "params": {"dim": [2, 3]}}, {"name": "gmm40"}],
            samplers=[
                {"name": "nuts"},
                {"name": "hmc", "params": {"num_integration_steps": [4, 8], "dense_mass": True}},
            ],
            seeds=3,
        )
    )
    assert [t.kwargs for t in config.targets] == [{"dim": 2}, {"dim": 3}, {}]
    assert [s.kwargs for s in config.samplers] == [
        {},
        {"dense_mass": True, "num_integration_steps": 4},
        {"dense_mass": True, "num_integration_steps": 8},
    ]
    assert config.seeds == (0, 1, 2) and config.n_cells == 3 * 3 * 3
    assert config.executor == "local" and config.executor_options == {"workers": 1}


def test_overrides_replace_out_executor_and_its_options():
    config = parse(BASE, overrides={"out": pathlib.Path("/tmp/x"), "executor": "dask", "n_workers": 2})
    assert config.out == pathlib.Path("/tmp/x") and config.executor == "dask"
    assert config.executor_options["n_workers"] == 2 and config.executor_options["address"] == ""


@pytest.mark.parametrize(
    "changes, fragment",
    [
        (
            {"targets": [{"name": "nope"}]},
            "unknown target 'nope'; valid targets: " + ", ".join(sorted(registry.TARGETS)),
        ),
        ({"samplers": [{"name": "nutz"}]}, "unknown sampler 'nutz'; valid samplers: " + ", ".join(sorted(SAMPLERS))),
        (
            {"targets": [{"name": "funnel", "params": {"size": 3}}]},
            "unknown parameter 'size'; valid parameters: dim: int = 10",
        ),
        ({"targets": [{"name": "funnel", "params": {"dim": 1}}]}, "dim must be an integer >= 2"),
        ({"targets": [{"name": "gmm40", "params": {"dim": 3}}]}, "dim must be one of 2, 5, 10, 20, 50"),
        (
            {"samplers": [{"name": "nuts", "params": {"chain_method": "bogus"}}]},
            "is not one of auto, vectorized, sequential",
        ),
        ({"samplers": [{"name": "nuts", "params": {"max_num_doublings": 2.5}}]}, "cannot read '2.5' as int"),
        ({"samplers": [{"name": "vae-imh", "params": {"temperature": 0}}]}, "temperature must be > 0"),
        ({"samplers": [{"name": "nuts"}, {"name": "nuts"}]}, "nuts appears twice"),
        ({"seeds": [0, 0]}, "seeds must be a positive integer n"),
        ({"budget": {"chains": 1}}, "chains must be >= 2"),
        ({"budget": {"chain": 2}}, "unknown key 'chain'; valid keys: chains, draws, warmup"),
        ({"precision": "float16"}, "precision 'float16' is not one of float64, float32"),
        ({"executor": {"kind": "ray"}}, "executor kind 'ray' is not one of local, dask, slurm"),
        ({"executor": {"kind": "local", "n_workers": 2}}, "has no option 'n_workers'; valid options: workers"),
        ({"executor": {"kind": "slurm", "time": "1h"}}, "executor.time must be int"),
        ({"executor": {"kind": "slurm", "cluster": "pbs"}}, "'pbs' is not one of slurm, local, debug"),
        ({"sampler": [{"name": "nuts"}]}, "unknown key 'sampler'"),
        ({"targets": []}, "needs at least one [[targets]] table"),
        (
            {"targets": [{"name": ["gaussian"]}]},
            "[[targets]] #1: name must be a string, one of " + ", ".join(sorted(registry.TARGETS)),
        ),
        (
            {"samplers": [{"name": "nuts"}, {"name": {"a": 1}}]},
            "[[samplers]] #2: name must be a string, one of " + ", ".join(sorted(SAMPLERS)),
        ),
        (
            {"samplers": [{"name": "vae-gibbs", "params": {"jitter": float("inf")}}]},
            "sampler vae-gibbs: jitter must be a finite number, got 'inf'",
        ),
        (
            {"samplers": [{"name": "vae-imh", "params": {"temperature": float("nan")}}]},
            "sampler vae-imh: temperature must be a finite number, got 'nan'",
        ),
        ({"out": ""}, "out must name a results folder, got ''"),
        (
            {"budget": {"chains": 10**9, "draws": 1000, "warmup": 10}},
            "[budget] on [[targets]] #1 (gaussian(dim=2)): 1000000000 chains x 1000 draws",
        ),
    ],
)
def test_problems_are_named_with_the_valid_choices(changes, fragment):
    with pytest.raises(ConfigError, match=None) as err:
        parse(_with(**changes))
    assert fragment in str(err.value)


def test_unreadable_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read sweep file"):
        load(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("seeds = [0,")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(tmp_path / "bad.toml")


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe precision = 1")
    assert peek_precision(path) == "float64"  # the default; load names the problem
    with pytest.raises(ConfigError, match="binary.toml: not valid TOML: not UTF-8 text"):
        load(path)


def test_a_list_in_the_budget_names_the_file_once(tmp_path):
    path = tmp_path / "list_budget.toml"
    path.write_text(
        'seeds = [0]\n[budget]\nchains = [2, 4]\n[[targets]]\nname = "gaussian"\n[[samplers]]\nname = "nuts"\n'
    )
    with pytest.raises(ConfigError) as err:
        load(path)
    assert "budget.chains must be int, got [2, 4]" in str(err.value) and str(err.value).count(str(path)) == 1


@pytest.mark.parametrize(
    "error",
    [
        ValueError("dim 100000000 needs 71.1 PiB"),
        MemoryError("Unable to allocate 71.1 PiB"),
        OverflowError("int too large"),
    ],
)
def test_any_target_factory_error_is_a_config_error_naming_its_table(monkeypatch, error):
    def huge(dim: int = 2):
        raise error

    monkeypatch.setitem(registry.TARGETS, "huge", huge)
    with pytest.raises(ConfigError) as err:
        parse(_with(targets=[{"name": "gaussian"}, {"name": "huge", "params": {"dim": 10**8}}]))
    assert "[[targets]] #2: target huge(dim=100000000): " in str(err.value) and str(error) in str(err.value)


def test_shipped_configs_are_valid():
    root = pathlib.Path(__file__).resolve().parents[3] / "configs"
    files = sorted(root.glob("*.toml"))
    assert files, "configs/ ships example sweep files"
    for path in files:
        load(path)
