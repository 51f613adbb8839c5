# Two commands do all the set-up:  `make demo` (the main job on the sample corpus)
# and `make test` (the test suite). Both create .venv from pyproject.toml if needed.
# `make test-fast` leaves out the tests marked slow (models, servers, browser, hypothesis): the edit loop.

VENV      := .venv
STAMP     := $(VENV)/.installed-stamp
# Python 3.12 or 3.13: PATH first, then pyenv's versions.
FIND_PY   := for p in python3.12 python3.13 $$HOME/.pyenv/versions/3.12*/bin/python3 \
                 $$HOME/.pyenv/versions/3.13*/bin/python3 python3; do \
               "$$p" -c 'import sys; sys.exit(not (3, 12) <= sys.version_info[:2] < (3, 14))' 2>/dev/null \
                 && { echo "$$p"; break; }; done

# Test processes (pytest-xdist); each file runs whole in one of them, so module fixtures load once.
TEST_WORKERS ?= 2
PYTEST    := $(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile

.PHONY: demo test test-fast bench clean

# pip installs without byte-compiling (which took 100 of the 186 s of a fresh install on 2 cores); Python
# compiles a module when a process first imports it and keeps the result. Where PYTHONDONTWRITEBYTECODE is
# set it would compile again in every process (the suite starts many: the CLI, flow runs, Dask workers;
# measured on a fresh clone: 747 s instead of 499 s), so Make's commands run with it cleared.
export PYTHONDONTWRITEBYTECODE :=

$(STAMP): pyproject.toml
	@py="$$($(FIND_PY))"; \
	if [ -z "$$py" ]; then \
	  echo "error: Sada needs Python 3.12 or 3.13 (hazm >= 0.11 and camel-tools 1.6 require it); found none." >&2; \
	  echo "       Install one (e.g. 'pyenv install 3.12') and run make again." >&2; exit 1; fi; \
	echo "creating $(VENV) with $$py"; \
	"$$py" -m venv $(VENV) && \
	$(VENV)/bin/python -m pip install -q --upgrade pip && \
	$(VENV)/bin/python -m pip install -q --no-compile -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sada run

test: $(STAMP)
	$(PYTEST)

test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/bench_classifier.py --stream 100000
	$(VENV)/bin/python -m benchmarks.bench_flow --rows 20000 100000

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
