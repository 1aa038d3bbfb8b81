# Two entry points do all the set-up on a fresh machine:
#   make run    -> virtual environment + install + the VAE sampler (vae-gibbs) against NUTS and ChEES-HMC (the
#                  strongest peer on the funnel, docs/experiments.md) on the funnel, 3 seeds
#                  (50 s from a fresh clone on 2 cores, docs/quickstart.md; SAMPLERS=, SEEDS=, TARGET= and ARGS= change it)
#   make test   -> virtual environment + install + the test suite (fast tests; `make test-slow` for all)
# The environment is the lock's (uv.lock: every version and hash; scripts/install-env.sh): EXTRAS= names the
# extras (default test: the suite's; dev adds ruff, pre-commit and the docs' tools, as .ci/run uses).
# PYTHON=/path/to/python3.12 overrides the interpreter search (scripts/find-python.sh).
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= test
TARGET ?= funnel
SAMPLERS ?= vae-gibbs,nuts,chees
SEEDS ?= 0,1,2
ARGS ?=
# test workers (pytest-xdist; a test file's tests stay on one worker, sharing its fixtures and compilations;
# 0: one process)
TEST_WORKERS ?= 2
comma := ,

.PHONY: run test test-slow test-lowest lint venv lock clean reference docs report-screenshot
venv: $(VENV)/.installed-$(EXTRAS)

$(VENV)/.installed-$(EXTRAS): pyproject.toml uv.lock requirements/uv.txt scripts/install-env.sh
	scripts/install-env.sh $(VENV) $(subst $(comma), ,$(EXTRAS))
	@rm -f $(VENV)/.installed-*
	@touch $@

run: venv
	$(PY) -m bench run --target $(TARGET) --sampler $(SAMPLERS) --seeds $(SEEDS) $(ARGS)

test: venv
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(ARGS)

test-slow: venv
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "slow or not slow" $(ARGS)

# The fast tests against the lower bounds of pyproject.toml (every direct dependency at its lowest version). Old
# versions' deprecation warnings are shown, not errors: the bounds are checked for working, not for being quiet.
test-lowest:
	scripts/lowest-env.sh .venv-lowest
	.venv-lowest/bin/python -m pytest -q -W default::DeprecationWarning $(ARGS)

# ruff (lint and format check; configured in pyproject.toml) from the dev extra.
lint:
	$(MAKE) venv EXTRAS=dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# After a change to pyproject.toml's dependencies: re-resolve uv.lock (versions still allowed stay as locked;
# `uv lock --upgrade-package NAME` moves one).
lock: $(VENV)/bin/uv
	UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv lock --python $(PY)

$(VENV)/bin/uv: requirements/uv.txt
	@[ -x $(PY) ] || $$(scripts/find-python.sh) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/uv.txt

# The committed reference leaderboard (results/reference/): the sweep of configs/reference.toml (resumable; its
# records go to the git-ignored results/reference-runs/, delete it to start over), then its leaderboard.
reference: venv
	$(PY) -m bench sweep configs/reference.toml --no-progress
	$(PY) -m bench leaderboard --results results/reference-runs --out results/reference

# The documentation site (mkdocs.yml, docs/) into the git-ignored site/; --strict: every warning is an error.
# Its tools are the docs extra's (in dev).
docs:
	$(MAKE) venv EXTRAS=dev
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

# docs/img/report-funnel.png: the report of the funnel run (nuts, vae-gibbs, vae-imh, vae-is; 32 chains x 10,000
# draws; its records in the git-ignored results/report-funnel/, reused once there), its figures checked for layout
# faults, rendered by headless Chromium 1400 px wide (scripts/report_screenshot.sh; needs `chromium` on PATH)
report-screenshot: venv
	PYTHON=$(PY) scripts/report_screenshot.sh

clean:
	rm -rf $(VENV) .venv-lowest .pytest_cache
