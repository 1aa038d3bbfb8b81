"""The environment: uv.lock is in step with pyproject.toml, and each lower bound in pyproject.toml is the version
the lowest resolution picks (`uv pip compile --resolution lowest-direct`): the bound is reachable, not shadowed
by a higher one that a dependency needs. Both ask PyPI through uv (the lock's installer): slow, skipped without
uv. `make test-lowest` runs the test suite in that lowest environment. The pre-commit hooks run the lock's ruff."""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXTRAS = ("dev",)  # dev = test (dask, slurm, report) + docs + the tools
UV = shutil.which("uv", path=str(pathlib.Path(sys.executable).parent)) or shutil.which("uv")


def _uv(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [UV, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )


def _lower_bounds() -> dict[str, Version]:
    """Normalised name -> lower bound (>= or ==) of every direct dependency of the core and EXTRAS' closure."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo, seen, bounds = list(EXTRAS), set(), {}
    requirements = [Requirement(r) for r in project["dependencies"]]
    while todo:
        extra = todo.pop()
        seen.add(extra)
        for r in map(Requirement, project["optional-dependencies"][extra]):
            if r.name == project["name"]:
                todo += [e for e in r.extras if e not in seen]
            else:
                requirements.append(r)
    for r in requirements:
        lows = [Version(s.version) for s in r.specifier if s.operator in (">=", "==")]
        if lows:
            bounds[_normal(r.name)] = max(lows)
    return bounds


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_pre_commit_hooks_run_the_locked_ruff():
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {p["version"] for p in lock["package"] if p["name"] == "ruff"}
    hooks = re.findall(r'"ruff==([^"]+)"', (ROOT / ".pre-commit-config.yaml").read_text())
    assert len(locked) == 1 and len(hooks) == 2 and set(hooks) == locked, (locked, hooks)


@pytest.mark.slow
@pytest.mark.skipif(UV is None, reason="uv is not installed (make venv installs it)")
def test_the_lock_is_in_step_with_pyproject():
    proc = _uv("lock", "--check", "--python", sys.executable)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.skipif(UV is None, reason="uv is not installed (make venv installs it)")
def test_every_lower_bound_is_what_the_lowest_resolution_picks():
    proc = _uv(
        "pip",
        "compile",
        "pyproject.toml",
        *(f"--extra={e}" for e in EXTRAS),
        "--resolution",
        "lowest-direct",
        "--python",
        sys.executable,
        "--no-header",
        "--no-annotate",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    resolved = {_normal(n): Version(v) for n, v in (line.split("==") for line in proc.stdout.split() if "==" in line)}
    bounds = _lower_bounds()
    assert {"jax", "blackjax", "numpy", "pandas", "matplotlib", "dask", "pytest", "ruff"} <= set(bounds)
    wrong = {
        name: f"bound {low}, resolved {resolved.get(name)}" for name, low in bounds.items() if resolved.get(name) != low
    }
    assert not wrong, wrong
