# pfda: every target sets up .venv on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all bench bench-quick paper lint clean

DEMO_STAMP := $(VENV)/.installed-demo

$(STAMP): pyproject.toml
	@echo "pfda: installing pfda with every extra (Qiskit, Matplotlib, the test tools) into $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-compile -e '.[dev]'  # no .pyc up front: imports make their own
	touch $(STAMP) $(DEMO_STAMP)

# the demo needs pfda and Matplotlib only: a smaller install, with pip's progress shown
$(DEMO_STAMP): pyproject.toml
	@echo "pfda: installing pfda and Matplotlib into $(VENV) (about a minute on a fresh machine)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --no-compile --progress-bar on -e '.[plot]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(VENV)/bin/pfda demo

# two workers: most of a cold run is Numba compiling, one kernel per process at a time
test: $(STAMP)
	$(PY) -m pytest -q -n 2

test-all: $(STAMP)
	$(PY) -m pytest -q -n 2 -m ""

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

bench-quick: $(STAMP)
	$(PY) benchmarks/run_all.py --quick

paper: $(STAMP)
	$(PY) paper/make_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check pfda quantum tests examples benchmarks paper
	$(VENV)/bin/ruff format --check pfda quantum tests examples benchmarks paper

clean:
	rm -rf $(VENV) pfda-output .pytest_cache .ruff_cache
