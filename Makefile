# Entry points for a fresh machine: `make demo`, `make test` and `make test-fast`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/curate: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(BIN)/curate

demo: install
	$(BIN)/curate demo

# One line per test as it finishes (readable in a CI log), then the 20 slowest.
test: install
	$(BIN)/python -m pytest -v --durations=20

# The tests that start no engine (no Spark, Beam, cluster or torchrun) and are not marked slow: README "Running the tests".
# In WORKERS pytest-xdist processes (each collects on its own; files stay whole on one worker, so a module's fixture
# is built once); WORKERS=0: in this process, a quarter less CPU in all, for a machine busy with other work.
WORKERS ?= 2
test-fast: install
	$(BIN)/python -m pytest -m fast -q -n $(WORKERS) --dist loadfile --durations=10

.PHONY: install demo test test-fast
