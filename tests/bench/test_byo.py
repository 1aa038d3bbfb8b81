"""Bring your own method: a sampler and a target in a folder outside the repository run through `bench run`, a
sweep file, an entry point of an installed package and the Python API, exactly as the suite's own."""

import json
import pathlib
import shutil
import textwrap

import numpy as np
import pytest

from bench.cli import main

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "docs" / "examples"
BUDGET = ["--chains", "2", "--draws", "60", "--warmup", "40", "--no-progress"]


@pytest.fixture()
def user(tmp_path) -> pathlib.Path:
    """The user's own folder (outside the repository) with the example sampler (blackjax MALA) and target
    (Haario's banana, exact draws, no numpyro)."""
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(EXAMPLES / "my_sampler.py", folder / "my_sampler.py")
    shutil.copy(EXAMPLES / "my_target.py", folder / "my_target.py")
    return folder


def _records(out: pathlib.Path, target: str):
    return [json.loads(p.read_text()) for p in (out / "runs" / target).glob("*/*/record.json")]


def test_a_file_sampler_and_a_file_target_run_through_bench_run(user, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--target",
            f"{user}/my_target.py:banana",
            "--param",
            "dim=3",
            "--sampler",
            f"nuts,{user}/my_sampler.py:mala",
            "--sampler-param",
            f"{user}/my_sampler.py:mala.step_size=0.2",
            "--out",
            str(out),
            *BUDGET,
        ]
    )
    assert code == 0, capsys.readouterr()
    records = _records(out, "haario_banana")
    assert sorted(r["sampler"] for r in records) == ["my_sampler.mala", "nuts"]
    mala = next(r for r in records if r["sampler"] == "my_sampler.mala")
    assert mala["sampler.step_size"] == 0.2 and mala["status"] == "ok" and mala["target.dim"] == 3
    assert mala["grad_evals"] == 2 * (40 + 60 + 1)  # what the sampler reported, into the record
    assert "mmd2" in mala and np.isfinite(mala["mmd2"])  # the banana's exact draws are used by the metrics
    assert "my_sampler.mala" in capsys.readouterr().out


def test_a_module_sampler_resolves_from_the_working_directory(user, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(user)
    monkeypatch.syspath_prepend(str(user))
    code = main(
        ["run", "--target", "my_target:banana", "--sampler", "my_sampler:mala", "--out", str(tmp_path / "o"), *BUDGET]
    )
    assert code == 0, capsys.readouterr()
    assert [r["sampler"] for r in _records(tmp_path / "o", "haario_banana")] == ["my_sampler.mala"]


def test_a_sweep_file_takes_specs(user, tmp_path, capsys):
    config = tmp_path / "byo.toml"
    config.write_text(
        textwrap.dedent(f'''
        out = "{tmp_path / "sweep-out"}"
        seeds = [0, 1]
        [budget]
        chains = 2
        draws = 60
        warmup = 40
        [[targets]]
        name = "{user}/my_target.py:banana"
        params = {{ dim = [2, 3] }}
        [[samplers]]
        name = "{user}/my_sampler.py:mala"
        params = {{ step_size = 0.2 }}
    ''')
    )
    assert main(["sweep", str(config), "--no-progress"]) == 0, capsys.readouterr()
    records = _records(tmp_path / "sweep-out", "haario_banana")
    assert len(records) == 4 and {r["sampler"] for r in records} == {"my_sampler.mala"}
    assert {r["target.dim"] for r in records} == {2, 3} and all(r["status"] == "ok" for r in records)
    # the dry run of a second pass finds every cell finished (the spec's cells are under its resolved name)
    assert main(["sweep", str(config), "--dry-run"]) == 0
    assert "4 finished before, 0 to run" in capsys.readouterr().out


def test_a_bad_spec_in_a_sweep_file_exits_2(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text(f'[[targets]]\nname = "funnel"\n[[samplers]]\nname = "{tmp_path}/nope.py:mala"\n')
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(config), "--dry-run"])
    assert exit_.value.code == 2
    assert "no such file" in capsys.readouterr().err


@pytest.fixture()
def plugin(user, tmp_path, monkeypatch):
    """A tiny installed package: a .dist-info with entry points on sys.path (what `pip install` leaves)."""
    site = tmp_path / "site"
    (site / "byo_plugin-0.1.dist-info").mkdir(parents=True)
    for name in ("my_sampler.py", "my_target.py"):
        shutil.copy(user / name, site / name)
    (site / "byo_plugin-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: byo-plugin\nVersion: 0.1\n"
    )
    (site / "byo_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[vaegibbs_bench.samplers]\nmy_mala = my_sampler:mala\n\n[vaegibbs_bench.targets]\nmy_banana = my_target:banana\n"
    )
    monkeypatch.syspath_prepend(str(site))
    return site


def test_an_entry_point_package_registers_its_sampler_and_target(plugin, tmp_path, capsys):
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "plugin byo-plugin (my_sampler:mala)" in listing and "plugin byo-plugin (my_target:banana)" in listing
    code = main(
        [
            "run",
            "--target",
            "my_banana",
            "--param",
            "dim=2",
            "--sampler",
            "my_mala,nuts",
            "--out",
            str(tmp_path / "o"),
            *BUDGET,
        ]
    )
    assert code == 0, capsys.readouterr()
    assert sorted(r["sampler"] for r in _records(tmp_path / "o", "haario_banana")) == ["my_mala", "nuts"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("{user}/my_sampler.py:nope", "has no attribute 'nope'; its callables: "),
        ("{user}/nope.py:mala", "no such file"),
        ("no_such_module_xyz:mala", "no module named 'no_such_module_xyz'"),
        ("{user}/my_target.py:banana", "its first arguments must be (key, logdensity_fn, initial_positions)"),
    ],
)
def test_a_sampler_spec_that_does_not_resolve_or_fit_exits_2(user, tmp_path, capsys, spec, message):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--target", "gaussian", "--sampler", spec.format(user=user), "--out", str(tmp_path), *BUDGET])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing computed


def test_a_sampler_parameter_of_an_unreadable_type_is_refused(tmp_path, capsys):
    path = tmp_path / "odd.py"
    path.write_text(
        "def odd(key, logdensity_fn, initial_positions, *, num_warmup, num_draws, table: dict = {}):\n    pass\n"
    )
    with pytest.raises(SystemExit):
        main(["run", "--target", "gaussian", "--sampler", f"{path}:odd", "--out", str(tmp_path), *BUDGET])
    assert "parameter 'table' is annotated" in capsys.readouterr().err


def test_a_target_factory_is_not_called_a_numpyro_model(tmp_path, capsys, user):
    # without a return annotation: tried as a factory first
    path = tmp_path / "plain.py"
    path.write_text(
        f"import sys; sys.path.insert(0, {str(user)!r})\nfrom my_target import banana as _b\n"
        "def make():\n    return _b(dim=2)\n"
    )
    code = main(["run", "--target", f"{path}:make", "--sampler", "nuts", "--out", str(tmp_path / "o"), *BUDGET])
    assert code == 0, capsys.readouterr()
    with pytest.raises(SystemExit):  # --param for a factory without the `-> Target` annotation: refused, said why
        main(["run", "--target", f"{path}:make", "--param", "dim=3", "--out", str(tmp_path / "o"), *BUDGET])
    assert "a factory without the `-> Target` annotation takes no --param" in capsys.readouterr().err


def test_python_api_compare(user, tmp_path):
    import sys

    sys.path.insert(0, str(user))
    try:
        import bench

        from my_target import banana

        df = bench.compare(
            banana(dim=2), ["nuts", f"{user}/my_sampler.py:mala"], seeds=[0, 1], budget=bench.Budget(2, 60, 40)
        )
    finally:
        sys.path.remove(str(user))
    assert len(df) == 4 and set(df["status"]) == {"ok"}
    assert set(df["sampler"]) == {"nuts", "my_sampler.mala"} and "ess_bulk_min_per_1k_grads" in df


def test_python_api_refuses_a_float32_target_in_a_float64_run():
    import dataclasses

    import jax
    import jax.numpy as jnp

    import bench

    target = bench.make_target("gaussian", dim=2)
    f32 = dataclasses.replace(
        target,
        initial=lambda key, n: jnp.zeros((n, 2), jnp.float32),
        log_prob=lambda x: -jnp.sum(x.astype(jnp.float32) ** 2),
    )
    with pytest.raises(ValueError, match="float32.*the run is in float64"):
        bench.compare(f32, ["nuts"], budget=bench.Budget(2, 10, 10))
    assert jax.config.jax_enable_x64


def test_import_bench_enables_float64_in_a_fresh_process():
    import subprocess
    import sys

    code = "import bench, jax.numpy as jnp; print(jnp.zeros(1).dtype)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=pathlib.Path(__file__).resolve().parents[2],
    )
    assert done.stdout.strip() == "float64", done.stderr
