# `make demo` and `make test` each work on a fresh machine: they create $(VENV) and install what
# they need first (each target its own set, recorded by a stamp file in $(VENV)).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
BUILD  ?= build

# torch (pip arguments) for the demo, the tests and the benchmarks, installed only when $(VENV) has no torch yet:
# a torch you put there yourself is kept. The default pins 2.13.0 because its CPU-only wheel is
# on the local disk of this project's machines (CI included); elsewhere pip downloads that
# version as a multi-GB CUDA build. Override it, e.g.
#   make test TORCH='torch --index-url https://download.pytorch.org/whl/cpu'   # CPU build
#   make demo TORCH=torch                                                      # pip's default
TORCH ?= torch==2.13.0

# numba-cuda runs the Numba CUDA kernels' tests on its CPU simulator. Not on macOS: cuda-bindings
# has no wheel there (those tests then skip).
NUMBA_CUDA ?= $(if $(filter Darwin,$(shell uname -s)),,numba-cuda>=0.20)

# Extra pytest arguments for `make bench`, e.g. BENCH_ARGS='-k "fastseg and 4096x1024"'.
BENCH_ARGS ?=
BENCH_RESULTS ?= bench/results

.PHONY: venv demo test test-python test-boundscheck test-native check-prereqs fatbins bench bench-report clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Installs $(TORCH) unless the venv can already import torch.
define install_torch
	@$(PY) -c 'import torch' 2>/dev/null && echo "torch: keeping $$($(PY) -c 'import torch; print(torch.__version__)')" \
		|| $(PIP) install $(TORCH)
endef

# `make demo`: fastseg, torch, tqdm, matplotlib.
$(VENV)/.demo-installed: pyproject.toml | $(PY)
	$(install_torch)
	$(PIP) install -e '.[demo]'
	touch $@

# `make test`: the test suite's dependencies, TensorFlow/Keras and torch included.
$(VENV)/.test-installed: pyproject.toml | $(PY)
	$(install_torch)
	$(PIP) install -e '.[dev,demo,tensorflow]' $(if $(NUMBA_CUDA),'$(NUMBA_CUDA)')
	touch $@

# `make bench`: pytest-benchmark, matplotlib, and the peers (torch, TensorFlow).
$(VENV)/.bench-installed: pyproject.toml | $(PY)
	$(install_torch)
	$(PIP) install -e '.[bench,tensorflow]'
	touch $@

venv: $(VENV)/.test-installed

demo: $(VENV)/.demo-installed
	$(PY) -m fastseg demo

test: check-prereqs
	$(MAKE) test-python test-boundscheck test-native

test-python: $(VENV)/.test-installed
	$(PY) -m pytest -q

# The CPU kernels' tests once more with Numba's bounds checks compiled in (a fresh cache: cached
# kernels were built without them): any out-of-bounds read or write raises IndexError and fails.
BOUNDSCHECK_TESTS ?= tests/test_protocol.py tests/test_bad_input.py tests/test_range_loss.py \
	tests/test_multiclass_hinge.py tests/test_cross_entropy.py tests/test_categorical_crossentropy.py
test-boundscheck: $(VENV)/.test-installed
	cache=$$(mktemp -d) && NUMBA_BOUNDSCHECK=1 NUMBA_CACHE_DIR=$$cache $(PY) -m pytest -q -p no:randomly \
		-k "not tensorflow and not keras and not torch and not compile and not ddp and not cuda and not native \
		and not simulator and not gpu" $(BOUNDSCHECK_TESTS); \
		status=$$?; rm -rf $$cache; exit $$status

# What `make test` needs besides Python: CMake >= 3.22 and a C++17 compiler (the kernels' host
# tests, and the kernels built for the host by tests/host_cupy.py). Checked before anything runs.
check-prereqs:
	@command -v cmake >/dev/null 2>&1 || { echo "make test needs CMake >= 3.22: cmake is not on PATH (e.g. apt-get install cmake, or pip install cmake)" >&2; exit 1; }
	@v=$$(cmake --version | head -n1 | awk '{print $$3}'); \
	  [ "$$(printf '%s\n' 3.22 "$$v" | sort -V | head -n1)" = 3.22 ] || { echo "make test needs CMake >= 3.22, found $$v" >&2; exit 1; }
	@printf '#include <optional>\nint main() { std::optional<int> x; if constexpr (true) return x.value_or(0); }\n' \
	  | $(CXX) -std=c++17 -x c++ - -o /dev/null 2>/dev/null || { echo "make test needs a C++17 compiler: '$(CXX) -std=c++17' failed (set CXX=...)" >&2; exit 1; }
	@command -v g++ >/dev/null 2>&1 || echo "note: no g++ on PATH: the tests that run the CUDA C++ kernels on the host will skip" >&2

# The CUDA C++ kernels' host tests (ctest): the row logic and the kernels on emulated warps.
test-native: check-prereqs
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j 2
	ctest --test-dir $(BUILD) --output-on-failure -j 2

# The kernels as fatbins for the native backend (needs nvcc; warnings are errors). No test needs
# them: without them (or with stale ones) fastseg compiles the .cu with NVRTC.
fatbins:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) --target fatbins -j 2

# Saves pytest-benchmark JSON (with machine info) under $(BENCH_RESULTS)/cpu/.
bench: $(VENV)/.bench-installed
	$(PY) -m pytest bench -q --benchmark-only --benchmark-group-by=group \
		--benchmark-columns=min,median,mean,rounds \
		--benchmark-storage=file://$(BENCH_RESULTS)/cpu --benchmark-save=bench $(BENCH_ARGS)

# Markdown tables and one log-log PNG per op from the saved runs; rewrites README's block.
bench-report: $(VENV)/.bench-installed
	$(PY) bench/report.py --results $(BENCH_RESULTS) --readme README.md

clean:
	rm -rf $(BUILD) .benchmarks .pytest_cache .hypothesis
