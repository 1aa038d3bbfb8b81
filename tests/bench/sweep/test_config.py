"""The sweep file: the grid it expands to, and its problems reported before anything runs (valid choices named)."""
import pathlib

import pytest

from bench.sweep.config import ConfigError, load, parse

BASE = {"seeds": [0, 1], "budget": {"chains": 2, "draws": 20, "warmup": 20},
        "targets": [{"name": "gaussian", "params": {"dim": 2}}], "samplers": [{"name": "nuts"}]}


def _with(**changes):
    return {**BASE, **changes}


def test_grid_is_the_product_of_targets_samplers_parameter_lists_and_seeds():
    config = parse(_with(targets=[{"name": "funnel", "params": {"dim": [2, 3]}}, {"name": "gmm40"}],
                         samplers=[{"name": "nuts"}, {"name": "hmc", "params": {"num_integration_steps": [4, 8],
                                                                               "dense_mass": True}}],
                         seeds=3))
    assert [t.kwargs for t in config.targets] == [{"dim": 2}, {"dim": 3}, {}]
    assert [s.kwargs for s in config.samplers] == [{}, {"dense_mass": True, "num_integration_steps": 4},
                                                   {"dense_mass": True, "num_integration_steps": 8}]
    assert config.seeds == (0, 1, 2) and config.n_cells == 3 * 3 * 3
    assert config.executor == "local" and config.executor_options == {"workers": 1}


def test_overrides_replace_out_executor_and_its_options():
    config = parse(BASE, overrides={"out": pathlib.Path("/tmp/x"), "executor": "dask", "n_workers": 2})
    assert config.out == pathlib.Path("/tmp/x") and config.executor == "dask"
    assert config.executor_options["n_workers"] == 2 and config.executor_options["address"] == ""


@pytest.mark.parametrize("changes, fragment", [
    ({"targets": [{"name": "nope"}]}, "unknown target 'nope'; valid targets: boltzmann, cancer, eight_schools, eight_schools_nc, funnel"),
    ({"samplers": [{"name": "nutz"}]}, "unknown sampler 'nutz'; valid samplers: hmc, nuts, vae-gibbs"),
    ({"targets": [{"name": "funnel", "params": {"size": 3}}]}, "unknown parameter 'size'; valid parameters: dim: int = 10"),
    ({"targets": [{"name": "funnel", "params": {"dim": 1}}]}, "dim must be an integer >= 2"),
    ({"targets": [{"name": "gmm40", "params": {"dim": 3}}]}, "dim must be one of 2, 5, 10, 20, 50"),
    ({"samplers": [{"name": "nuts", "params": {"chain_method": "bogus"}}]}, "is not one of auto, vectorized, sequential"),
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
])
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


def test_shipped_configs_are_valid():
    root = pathlib.Path(__file__).resolve().parents[3] / "configs"
    files = sorted(root.glob("*.toml"))
    assert files, "configs/ ships example sweep files"
    for path in files:
        load(path)
