"""Optional dependencies (bench.extras): a feature whose extra is not installed fails with a message naming the
extra (`pip install "vaegibbs-bench[EXTRA]"`), and the CLI exits 2 on it. A missing module is simulated by a
None entry in sys.modules, which makes its import raise ImportError."""

import sys

import pytest

from bench.cli import main
from bench.extras import MissingExtra, require
from bench.sweep import executors


def test_require_returns_the_module():
    import json

    assert require("json", "report", "the report") is json


def test_a_missing_module_names_its_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(
        MissingExtra,
        match=r"the report needs matplotlib, which is not installed: "
        r'pip install "vaegibbs-bench\[report\]"',
    ):
        require("matplotlib", "report", "the report")


@pytest.mark.parametrize("kind, module, extra", [("dask", "distributed", "dask"), ("slurm", "submitit", "slurm")])
def test_an_executor_without_its_library_names_its_extra(monkeypatch, kind, module, extra):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtra, match=rf'the {kind} executor needs {module}, .*"vaegibbs-bench\[{extra}\]"'):
        executors.check_installed(kind)
    executors.check_installed("local")  # needs nothing


def test_report_without_matplotlib_exits_2_naming_the_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "bench.report", raising=False)  # imported again, without matplotlib
    (tmp_path / "runs").mkdir()
    assert main(["report", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert 'the report needs matplotlib, which is not installed: pip install "vaegibbs-bench[report]"' in err
    assert "Traceback" not in err


def test_a_dask_sweep_without_dask_exits_2_before_any_cell(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)
    path = tmp_path / "s.toml"
    path.write_text(
        'seeds = 1\n[budget]\nchains = 2\ndraws = 20\nwarmup = 20\n[executor]\nkind = "dask"\n'
        '[[targets]]\nname = "gaussian"\nparams = { dim = 2 }\n[[samplers]]\nname = "nuts"\n'
    )
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 2
    assert '"vaegibbs-bench[dask]"' in capsys.readouterr().err
    assert not out.exists()
