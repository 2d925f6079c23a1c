"""Test set-up: the CUDA simulator where no GPU works, the ``gpu`` marker, Hypothesis profiles,
and the CUDA C++ kernels on the host."""

import importlib.util
import os
import shutil
import sys
import types

from cuda_driver import gpu_count

GPUS = gpu_count()
"""CUDA devices a working driver reports (0 on CPU-only machines, whatever is on PATH)."""

# Without a usable GPU, Numba CUDA kernels run on the simulator (set before numba.cuda is imported).
if GPUS == 0:
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

if importlib.util.find_spec("numba_cuda") is None:
    # fastseg's Numba CUDA backend runs on numba-cuda (the `cuda` extra; not installable where
    # cuda-bindings has no wheel, e.g. macOS). Numba's own deprecated numba.cuda is hidden so that
    # the tests which `pytest.importorskip("numba.cuda")` skip instead of failing.
    sys.modules["numba.cuda"] = None

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)  # reproducible CI
settings.register_profile("thorough", max_examples=1000, deadline=None)  # HYPOTHESIS_PROFILE=thorough: random, to explore
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

BACKEND_NEEDS = {"cuda": "numba_cuda", "native": "cupy"}
"""The module each GPU backend runs on (both from the ``cuda`` extra)."""


def pytest_runtest_setup(item):
    """``@pytest.mark.gpu`` tests run on a real GPU or skip with the reason: no working CUDA
    driver with a device, the simulator forced on, or (for a test parametrized by ``backend``)
    that backend's package missing."""
    if item.get_closest_marker("gpu") is None:
        return
    if GPUS == 0:
        pytest.skip("needs a CUDA GPU: no working CUDA driver with a device found")
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("needs a real GPU: NUMBA_ENABLE_CUDASIM=1 is set")
    backend = getattr(item, "callspec", None) and item.callspec.params.get("backend")
    module = BACKEND_NEEDS.get(backend)
    if module and importlib.util.find_spec(module) is None:
        pytest.skip(f"backend={backend!r} needs {module}: pip install 'fastseg-kernels[cuda]'")


def _ours(name: str) -> bool:
    return name.split(".")[0] in ("fastseg", "cupy")


@pytest.fixture
def restore_modules():
    """Undo, after the test, what it imported of fastseg and CuPy (or stand-ins for them): the
    sys.modules entries, and the submodule attributes of fastseg's packages, as they were before.
    For tests that import fastseg's modules afresh against a missing or fake dependency, so that
    no later test gets a module bound to it."""
    before = {name: module for name, module in sys.modules.items() if _ours(name)}
    namespaces = {name: dict(vars(module)) for name, module in before.items() if module is not None}
    yield
    for name in [n for n in sys.modules if _ours(n) and n not in before]:
        del sys.modules[name]
    sys.modules.update(before)
    for name, saved in namespaces.items():  # `import a.b` sets a.b: put back what a.b was
        namespace = vars(before[name])
        for key, value in list(namespace.items()):
            if isinstance(value, types.ModuleType) and saved.get(key, None) is not value:
                if key in saved:
                    namespace[key] = saved[key]
                else:
                    del namespace[key]


@pytest.fixture(scope="session")
def host_kernels_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("host_kernels")


@pytest.fixture
def native_on_host(host_kernels_dir):
    """The ``native`` backends with CuPy replaced by ``tests/host_cupy.py``: the CUDA C++ kernels,
    compiled for the host with emulated warps, run behind the real Python launch code (on a
    machine that, as far as the launch code can tell, has one GPU)."""
    if shutil.which("g++") is None:
        pytest.skip("needs g++ to build the kernels for the host")
    import host_cupy

    host_cupy.LAUNCHES.clear()
    with host_cupy.installed(host_kernels_dir) as cupy:
        cupy.is_available = lambda: True  # what fastseg._native asks before a call on host arrays
        yield cupy
