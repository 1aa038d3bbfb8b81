# Two entry points do all the set-up on a fresh machine:
#   make run    -> virtual environment + install + the VAE sampler (vae-gibbs) against NUTS on the funnel, 3 seeds
#                  (about 2-3 minutes on 2 cores; SAMPLERS=, SEEDS=, TARGET= and ARGS= change it)
#   make test   -> virtual environment + install + the test suite (fast tests; `make test-slow` for all)
# PYTHON=/path/to/python3.12 overrides the interpreter search (scripts/find-python.sh).
VENV ?= .venv
PY := $(VENV)/bin/python
TARGET ?= funnel
SAMPLERS ?= vae-gibbs,nuts
SEEDS ?= 0,1,2
ARGS ?=

.PHONY: run test test-slow venv clean reference docs
venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@interp=$$(scripts/find-python.sh) || exit 1; \
	  [ -x $(PY) ] || $$interp -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $@

run: venv
	$(PY) -m bench run --target $(TARGET) --sampler $(SAMPLERS) --seeds $(SEEDS) $(ARGS)

test: venv
	$(PY) -m pytest -q $(ARGS)

test-slow: venv
	$(PY) -m pytest -q -m "slow or not slow" $(ARGS)

# The committed reference leaderboard (results/reference/): the sweep of configs/reference.toml (resumable; its
# records go to the git-ignored results/reference-runs/, delete it to start over), then its leaderboard.
reference: venv
	$(PY) -m bench sweep configs/reference.toml --no-progress
	$(PY) -m bench leaderboard --results results/reference-runs --out results/reference

# The documentation site (mkdocs.yml, docs/) into the git-ignored site/; --strict: every warning is an error.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

# docs/img/report-funnel.png: the report of the funnel run (nuts, vae-gibbs, vae-imh, vae-is; 32 chains x 10,000
# draws; its records in the git-ignored results/report-funnel/, reused once there), its figures checked for layout
# faults, rendered by headless Chromium 1400 px wide (scripts/report_screenshot.sh; needs `chromium` on PATH)
.PHONY: report-screenshot
report-screenshot: venv
	PYTHON=$(PY) scripts/report_screenshot.sh

clean:
	rm -rf $(VENV) .pytest_cache
