# The two commands a new user needs: `make run` and `make test`.
# Both create (or reuse) .venv, install recarena editable with every extra, torch held
# at the version in constraints.txt, and then do their job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# pytest-xdist worker processes for `make test` (the suite is xdist-safe; 2 fits a 2-core
# machine; PYTEST_WORKERS=0 runs in this process, serially)
PYTEST_WORKERS ?= 2

.PHONY: run test setup lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/recarena run quickstart --workers 2

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --durations=15 $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_single_env.py
	$(BIN)/python benchmarks/bench_vector.py --ids recarena/InterestEvolution-v0 recarena/Retention-v0
	$(BIN)/python benchmarks/bench_retention.py
	$(BIN)/python benchmarks/bench_recsim_baselines.py
	$(BIN)/python benchmarks/bench_short_video.py
	$(BIN)/python benchmarks/bench_policies.py
	$(BIN)/python benchmarks/bench_policy_table.py
	$(BIN)/python benchmarks/bench_runner.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
