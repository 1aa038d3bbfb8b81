#!/usr/bin/env bash
# The prepared GPU check: one command that installs uv.lock's environment with the `cuda12` extra into .venv-gpu
# (scripts/install-env.sh), prints the devices, runs the funnel and gmm40 comparison (every sampler registered in
# bench/samplers.py at run time: the VAE samplers, NUTS, HMC and the peers), writes the leaderboard and provenance.
#
#   scripts/gpu_check.sh                 # on a GPU machine: .venv-gpu, budget sized for < 8 min on one GPU
#   scripts/gpu_check.sh --cpu --tiny    # on CPU, the existing environment, a tiny budget (its own test)
#
# Options: --cpu (JAX on CPU; no CUDA wheels; the interpreter is $GPU_CHECK_PYTHON, default .venv/bin/python),
# --tiny (2 chains, 50 draws, 100 warm-up steps, VAE training 100 steps), --out DIR (default results/gpu).
# Environment: GPU_CHECK_CHAINS, GPU_CHECK_DRAWS, GPU_CHECK_WARMUP, GPU_CHECK_SEEDS (e.g. "[0]"),
# GPU_CHECK_SAMPLERS (comma-separated; default every registered sampler), GPU_CHECK_PRECISION (default: the
# device profile's, bench/profile.py: float32 on a GPU, float64 on CPU), GPU_CHECK_PROFILE (cpu|accelerator;
# default by the device),
# GPU_CHECK_TIMEOUT_S (480: the sweep is stopped with Ctrl-C after this long; the finished cells are kept and
# tabled, a rerun resumes), GPU_CHECK_VENV (.venv-gpu). The GPU budget is an estimate, not yet measured on a
# GPU; the timeout bounds the sweep at 8 minutes whatever it costs.
# Writes: DIR/runs (records, draws), DIR/leaderboard/ (leaderboard.md, per-target tables), DIR/provenance.json
# (devices, versions, commit, budget, seconds). Exit 0 when every cell finished ok, 1 otherwise, 2 bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CPU=0 TINY=0 OUT=results/gpu
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) CPU=1 ;;
    --tiny) TINY=1 ;;
    --out) [ $# -ge 2 ] || { echo "gpu_check: --out needs a folder" >&2; exit 2; }; OUT=$2; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown option '$1'; valid: --cpu, --tiny, --out DIR" >&2; exit 2 ;;
  esac
  shift
done

if [ "$CPU" = 1 ]; then
  PY=${GPU_CHECK_PYTHON:-.venv/bin/python}
  [ -x "$PY" ] || command -v "$PY" >/dev/null 2>&1 || {
    echo "gpu_check --cpu: no interpreter at $PY (make venv, or set GPU_CHECK_PYTHON)" >&2; exit 2; }
  export JAX_PLATFORMS=cpu
else
  VENV=${GPU_CHECK_VENV:-.venv-gpu}
  scripts/install-env.sh "$VENV" cuda12   # uv.lock's versions, JAX's CUDA 12 wheels
  PY=$VENV/bin/python
  export JAX_PLATFORMS=cuda
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

if [ "$TINY" = 1 ]; then
  CHAINS=${GPU_CHECK_CHAINS:-2} DRAWS=${GPU_CHECK_DRAWS:-50} WARMUP=${GPU_CHECK_WARMUP:-100} TRAIN_STEPS=100   # the adaptive training's rounds (100) must divide it
else
  # one GPU: many chains cost little (vectorized); the VAE samplers train with their per-target defaults
  CHAINS=${GPU_CHECK_CHAINS:-16} DRAWS=${GPU_CHECK_DRAWS:-1000} WARMUP=${GPU_CHECK_WARMUP:-1000} TRAIN_STEPS=
fi
SEEDS=${GPU_CHECK_SEEDS:-[0]}
PRECISION=${GPU_CHECK_PRECISION:-}   # empty: the profile's
PROFILE_ARGS=()
[ -n "${GPU_CHECK_PROFILE:-}" ] && PROFILE_ARGS=(--profile "$GPU_CHECK_PROFILE")
TIMEOUT_S=${GPU_CHECK_TIMEOUT_S:-480}
mkdir -p "$OUT"

echo "== devices"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L || true
"$PY" - "$CPU" <<'EOF'
import sys
import jax
print(f"jax {jax.__version__}: backend {jax.default_backend()}, {jax.device_count()} devices: {jax.devices()}")
if sys.argv[1] == "0" and jax.default_backend() != "gpu":
    sys.exit("gpu_check: JAX found no GPU (install of the cuda12 extra, driver?); run with --cpu to check on CPU")
EOF

echo "== sweep"
SWEEP="$OUT/gpu_check.toml"
"$PY" - "$SWEEP" "$OUT" "$CHAINS" "$DRAWS" "$WARMUP" "$SEEDS" "$PRECISION" "$TRAIN_STEPS" \
  "${GPU_CHECK_SAMPLERS:-}" <<'EOF'
"""The sweep file: funnel and gmm40 x every registered sampler (peers included, as registered now)."""
import json, sys
from bench.params import parameters
from bench.samplers import BUDGET_ARGS, SAMPLERS

path, out, chains, draws, warmup, seeds, precision, train_steps, only = sys.argv[1:]
names = [n.strip() for n in only.split(",")] if only else list(SAMPLERS)
unknown = [n for n in names if n not in SAMPLERS]
if unknown:
    print(f"gpu_check: GPU_CHECK_SAMPLERS names unknown samplers {unknown}; valid: {', '.join(SAMPLERS)}",
          file=sys.stderr)
    sys.exit(2)
lines = ['name = "gpu-check"', f"out = {json.dumps(out)}", *([f'precision = "{precision}"'] if precision else []),
         f"seeds = {seeds}",
         "[budget]", f"chains = {chains}", f"draws = {draws}", f"warmup = {warmup}",
         "[executor]", 'kind = "local"', "workers = 1",   # one process: a seed's VAE samplers share one training
         "[[targets]]", 'name = "funnel"', "[[targets]]", 'name = "gmm40"']
for name in names:
    sampler = SAMPLERS[name]
    lines += ["[[samplers]]", f'name = "{name}"']
    takes = parameters(sampler.run, BUDGET_ARGS)
    if train_steps and "train_steps" in takes:   # --tiny: a token training
        extra = {"train_steps": int(train_steps), **({"restarts": 1} if "restarts" in takes else {})}
        lines.append("params = { " + ", ".join(f"{k} = {v}" for k, v in extra.items()) + " }")
open(path, "w").write("\n".join(lines) + "\n")
print(f"{len(names)} samplers ({', '.join(names)}) x funnel, gmm40; {chains} chains, {draws} draws, "
      f"{warmup} warm-up, seeds {seeds}, {precision or 'the profile precision'}")
EOF

START=$(date +%s)
set +e
timeout --signal=INT "$TIMEOUT_S" "$PY" -m bench sweep "$SWEEP" --no-progress ${PROFILE_ARGS[@]+"${PROFILE_ARGS[@]}"}
RC=$?
set -e
[ "$RC" = 2 ] && { echo "gpu_check: the sweep refused its input (exit 2)" >&2; exit 2; }
SECONDS_TAKEN=$(( $(date +%s) - START ))
if [ "$RC" = 124 ] || [ "$RC" = 130 ]; then
  echo "gpu_check: the sweep was stopped after ${TIMEOUT_S} s; the table holds the cells finished (rerun to resume)" >&2
fi

echo "== leaderboard"
"$PY" -m bench leaderboard --results "$OUT"   # also after a stopped sweep
"$PY" - "$OUT" "$SWEEP" "$SECONDS_TAKEN" "$RC" <<'EOF'
"""DIR/provenance.json: what produced the table."""
import json, pathlib, sys
import jax
from bench import record
out, sweep, seconds, rc = sys.argv[1:]
prov = {**record.provenance(), "devices_visible": [str(d) for d in jax.devices()], "sweep_file": sweep,
        "sweep": pathlib.Path(sweep).read_text(), "sweep_seconds": int(seconds), "sweep_exit_code": int(rc)}
pathlib.Path(out, "provenance.json").write_text(json.dumps(prov, indent=1, sort_keys=True, default=str) + "\n")
EOF
cat "$OUT/leaderboard/leaderboard.md"
echo
echo "provenance: $OUT/provenance.json; sweep: ${SECONDS_TAKEN} s (exit $RC)"
[ "$RC" = 0 ]
