"""scripts/gpu_check.sh in its CPU mode (`--cpu --tiny`: the interpreter running the tests, no CUDA wheels, a
tiny budget) runs the funnel and gmm40 comparison, prints the leaderboard and writes its provenance. The fast
test runs NUTS alone; the slow one every registered sampler (the VAE samplers' token training and compilation
take minutes on a small CPU)."""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"


def _check(tmp_path, samplers: str | None, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "GPU_CHECK_PYTHON": sys.executable}
    env.pop("XLA_FLAGS", None)
    if samplers:
        env["GPU_CHECK_SAMPLERS"] = samplers
    return subprocess.run(
        ["bash", str(SCRIPT), "--cpu", "--tiny", "--out", str(tmp_path / "gpu")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _leaderboard_rows(stdout: str) -> dict[str, list[str]]:
    """target heading -> the sampler names of its printed Markdown table (without parameters or marks such as
    a failing row's dagger)."""
    rows, heading = {}, None
    for line in stdout.splitlines():
        if line.startswith("### "):
            heading = line[4:].split("(")[0]
            rows[heading] = []
        elif heading and line.startswith("| ") and not line.startswith(("| sampler", "|:")):
            rows[heading].append(re.match(r"[\w.-]+", line.split("|")[1].strip()).group())  # name, no marks
    return rows


def _provenance(tmp_path) -> dict:
    return json.loads((tmp_path / "gpu" / "provenance.json").read_text())


def test_gpu_check_cpu_tiny_prints_the_leaderboard(tmp_path):
    proc = _check(tmp_path, "nuts", timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "backend cpu" in proc.stdout
    assert _leaderboard_rows(proc.stdout) == {"funnel": ["nuts"], "gmm40": ["nuts"]}
    prov = _provenance(tmp_path)
    assert prov["platform"] == "cpu" and prov["devices"] == 1 and prov["sweep_exit_code"] == 0
    assert prov["version.jax"] and "chains = 2" in prov["sweep"]
    assert (tmp_path / "gpu" / "leaderboard" / "funnel.csv").exists()


def test_gpu_check_refuses_bad_usage(tmp_path):
    proc = _check(tmp_path, "nuts,no-such-sampler", timeout=120)
    assert proc.returncode == 2 and "unknown samplers ['no-such-sampler']" in proc.stderr
    assert not (tmp_path / "gpu" / "runs").exists()
    bad = subprocess.run(["bash", str(SCRIPT), "--gpus"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "unknown option '--gpus'; valid: --cpu, --tiny, --out DIR" in bad.stderr


@pytest.mark.slow
def test_gpu_check_cpu_tiny_every_sampler(tmp_path):
    from bench.samplers import SAMPLERS

    proc = _check(tmp_path, None, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = _leaderboard_rows(proc.stdout)
    assert rows.keys() == {"funnel", "gmm40"}
    assert all(sorted(r) == sorted(SAMPLERS) for r in rows.values()), rows
