# `make demo` and `make test` each work on a fresh machine: they create .venv and install first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BUILD  := build

.PHONY: venv demo test test-python test-native bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0  # the CPU wheel on local disk; other versions pull CUDA builds
	$(PY) -m pip install -q -e '.[dev,bench,tensorflow]'
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(PY) -m fastseg demo

test: test-python test-native

test-python: venv
	$(PY) -m pytest -q

# Builds the CUDA C++ kernels for sm_80/sm_90 (warnings as errors) and tests them on the host (ctest).
test-native:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j 2
	ctest --test-dir $(BUILD) --output-on-failure -j 2

bench: venv
	$(PY) -m pytest bench -q --benchmark-only --benchmark-group-by=group --benchmark-columns=min,median,mean,rounds

clean:
	rm -rf $(BUILD) .benchmarks .pytest_cache .hypothesis
