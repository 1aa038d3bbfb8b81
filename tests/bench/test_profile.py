"""Device profiles (`bench.profile`): cpu by default on a CPU, the accelerator profile's sampler parameters
under the given ones and a target's defaults, recorded in the provenance and (when not cpu) in the identity."""

import pytest

from bench import profile, record
from bench.samplers import get_sampler


@pytest.fixture(autouse=True)
def _reset():
    yield
    profile.use(None)


def test_cpu_is_the_default_here_and_changes_nothing():
    assert profile.current() == profile.default() == "cpu" and profile.precision("funnel") == "float64"
    assert get_sampler("nuts").params_for("funnel", {}) == {}
    ident = record.identity("gaussian", {"dim": 2}, "nuts", {}, 2, 10, 10, 0)
    assert "profile" not in ident and record.provenance()["profile"] == "cpu"


def test_accelerator_profile_params_under_given_and_target_defaults():
    profile.use("accelerator")
    # float32 only where measured to hold (docs/gpu.md): the funnel alone, not gmm40, not a target unmeasured
    assert profile.precision("funnel") == profile.precision(["funnel"]) == "float32"
    assert profile.precision(["funnel", "gmm40"]) == profile.precision("gaussian") == profile.precision() == "float64"
    assert get_sampler("nuts").params_for("funnel", {}) == {"chain_method": "vectorized"}
    assert get_sampler("nuts").params_for("funnel", {"chain_method": "sequential"}) == {"chain_method": "sequential"}
    vae = get_sampler("vae-imh").params_for("funnel", {})
    assert vae["batch_size"] == 1024 and "chain_method" not in vae  # vae-imh takes no chain_method
    assert vae["train_steps"] == 20000  # the funnel's own default stands
    assert get_sampler("vae-imh").params_for("funnel", {"batch_size": 64})["batch_size"] == 64
    assert "batch_size" not in get_sampler("flowmc").params_for("funnel", {})


def test_accelerator_profile_is_recorded_and_changes_the_id():
    cpu = record.identity("gaussian", {"dim": 2}, "nuts", {}, 2, 10, 10, 0)
    profile.use("accelerator")
    acc = record.identity("gaussian", {"dim": 2}, "nuts", {}, 2, 10, 10, 0)
    assert acc["profile"] == "accelerator" and record.provenance()["profile"] == "accelerator"
    assert record.cell_id(acc) != record.cell_id(cpu)


def test_bad_profile_is_refused_naming_the_valid_ones():
    with pytest.raises(ValueError, match="profile must be one of cpu, accelerator, got 'gpu'"):
        profile.use("gpu")
    assert profile.current() == "cpu"
