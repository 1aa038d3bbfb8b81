"""The peer samplers in the registry: `bench list` shows each with its parameters, and the CLI rejects a
bad setting with exit code 2 before anything runs (the registry's validate functions)."""

import re

import pytest

from bench.cli import main
from bench.samplers import SAMPLERS

PEERS = {
    "smc": "ref_scale",
    "pt": "beta_min",
    "mclmc": "desired_energy_var",
    "mams": "target_num_integration_steps",
    "chees": "walkers",
    "numpyro-nuts": "max_tree_depth",
    "flowmc": "n_global",
}


def test_list_shows_the_peers_with_parameters(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name, param in PEERS.items():
        assert name in SAMPLERS and f" {name} " in out and param in out, name
    assert "biased by design" in SAMPLERS["mclmc"].description


@pytest.mark.parametrize(
    "sampler, param, match",
    [
        ("smc", "target_ess=1.5", "target_ess must be in"),
        ("pt", "n_temps=1", "n_temps must be >= 2"),
        ("mclmc", "desired_energy_var=0", "desired_energy_var must be > 0"),
        ("mams", "target_acceptance_rate=0", "target_acceptance_rate must be in"),
        ("chees", "walkers=1", "walkers must be >= 2"),
        ("numpyro-nuts", "max_tree_depth=0", r"\[1, 20\]"),
        ("flowmc", "n_local=0", "must be >= 1"),
    ],
)
def test_bad_setting_exits_2_before_running(sampler, param, match, capsys, tmp_path):
    with pytest.raises(SystemExit) as err:
        main(
            [
                "run",
                "--target",
                "gaussian",
                "--param",
                "dim=2",
                "--sampler",
                sampler,
                "--sampler-param",
                param,
                "--seeds",
                "0",
                "--chains",
                "2",
                "--draws",
                "50",
                "--warmup",
                "50",
                "--out",
                str(tmp_path),
            ]
        )
    assert err.value.code == 2
    assert re.search(match, capsys.readouterr().err)
    assert not any(tmp_path.iterdir())  # nothing was run or written
