# Two entry points: `make run` (set up + main job) and `make test` (set up + test suite).
VENV      ?= .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.llmrec-installed
# Default to the offline copies beside the checkout, but only when they are there: a set variable
# tells the real-dataset tests to run (and fail on missing files); unset, they skip and say why.
ifeq ($(origin LLMREC_DATA_DIR),undefined)
  ifneq ($(wildcard ../shared/data),)
    export LLMREC_DATA_DIR := $(abspath ../shared/data)
  endif
endif

.PHONY: setup run serve test lint clean browser

setup: $(STAMP)

# torch first, pinned to the local CPU build: a bare `torch` requirement would pull the CUDA wheels.
# --no-cache-dir: the venv is ~2.1 GB; a second copy of every wheel in pip's cache once filled a CI disk.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --no-cache-dir torch==2.13.0
	$(PY) -m pip install -q --no-cache-dir -e '.[dev,encode]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/llmrec run examples/ml100k.toml --out runs/ml100k

# Serve what `make run` produced (the best model on validation) on http://127.0.0.1:8000/ (page) and /docs (API).
serve: $(STAMP)
	$(VENV)/bin/llmrec serve runs/ml100k

# The report test opens report.html in a real headless Chromium: Debian's package, installed when
# missing and we may (root with apt). Elsewhere the test skips, unless LLMREC_REQUIRE_BROWSER=1 (CI).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y -q chromium >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) || \
	    echo "warning: could not install chromium; the browser test needs it"; \
	  else echo "note: no chromium; install it (apt-get install chromium) for the browser test"; fi

test: $(STAMP) browser
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy src
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy src
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf $(VENV) runs .pytest_cache
