"""A missing extra gives one clear error that says what to install; a CUDA backend without a
usable GPU says so. Missing modules are simulated with ``sys.modules[name] = None`` (what
``import`` then raises is what it raises for a module that is not installed); the real thing, a
wheel installed beside NumPy and Numba alone, is in test_packaging.py."""

import importlib
import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

import fastseg
from fastseg._extras import MissingExtraError, NoGPUError, install_hint, require

pytestmark = pytest.mark.usefixtures("restore_modules")  # no module bound to a fake outlives a test
OPS = ("range_mae", "multiclass_hinge", "cross_entropy", "categorical_crossentropy")
MODULES = ("range_loss", "multiclass_hinge", "cross_entropy", "categorical_crossentropy")  # fastseg.ops.<m>


def _call(op: str, backend: str):
    """One small call of ``op`` through the public NumPy API."""
    if op == "range_mae":
        return fastseg.range_mae(np.array([[0.0, 0.0, 1.0]]), np.array([[1.0, 0.0, 1.0]]), backend=backend)
    scores = np.array([[1.0, 2.0, 0.5]])
    if op == "multiclass_hinge":
        return fastseg.multiclass_hinge(scores, np.array([0]), backend=backend)
    if op == "categorical_crossentropy":
        return fastseg.categorical_crossentropy(np.array([[1.0, 0.0, 0.0]]), scores, backend=backend)
    return fastseg.cross_entropy(scores, np.array([0]), backend=backend)


def _forget(monkeypatch, *prefixes: str) -> None:
    """Drop the modules under ``prefixes`` from sys.modules (restored after the test), so that the
    next import runs their code again."""
    for name in [m for m in sys.modules if any(m == p or m.startswith(p + ".") for p in prefixes)]:
        monkeypatch.delitem(sys.modules, name)


def _uninstall(monkeypatch, *modules: str) -> None:
    """Make ``import module`` fail as if it were not installed."""
    for module in modules:
        _forget(monkeypatch, module)
        monkeypatch.setitem(sys.modules, module, None)


def test_install_hint_names_the_distribution():
    assert install_hint("torch") == "pip install 'fastseg-kernels[torch]'"


@pytest.mark.parametrize("adapter, module, extra", [
    ("fastseg.torch", "torch", "torch"),
    ("fastseg.tensorflow", "tensorflow", "tensorflow"),
    ("fastseg.keras", "keras", "tensorflow"),
])
def test_framework_adapter_without_its_framework(monkeypatch, adapter, module, extra):
    _forget(monkeypatch, adapter)
    _uninstall(monkeypatch, module)
    with pytest.raises(MissingExtraError) as info:
        importlib.import_module(adapter)
    message = str(info.value)
    assert f"{adapter} needs {module}, which is not installed" in message
    assert f"pip install 'fastseg-kernels[{extra}]'" in message
    assert isinstance(info.value, ModuleNotFoundError) and info.value.name == module
    assert info.value.__suppress_context__  # one error, not the import machinery's chain


def test_require_names_a_missing_dependency_of_the_module(tmp_path, monkeypatch):
    """A framework that is installed but cannot import what it needs (Keras without its backend):
    the message names both."""
    (tmp_path / "frameworkish").mkdir()
    (tmp_path / "frameworkish" / "__init__.py").write_text("import its_backend_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtraError, match=r"importing frameworkish failed: no module named "
                                                r"'its_backend_xyz'.*fastseg-kernels\[tensorflow\]"):
        require("frameworkish", extra="tensorflow", feature="fastseg.keras")
    assert require("numpy", extra="x", feature="y") is np


@pytest.mark.parametrize("op", OPS)
def test_cuda_backend_without_numba_cuda(monkeypatch, op):
    pytest.importorskip("numba.cuda")  # imported first: numba's redirect to numba-cuda is done
    _forget(monkeypatch, "fastseg._numba_cuda", *(f"fastseg.ops.{m}.cuda" for m in MODULES))
    _uninstall(monkeypatch, "numba_cuda")
    with pytest.raises(MissingExtraError, match=r"backend='cuda' .* needs numba-cuda, which is not "
                                                r"installed\. Install it with: pip install "
                                                r"'fastseg-kernels\[cuda\]'"):
        _call(op, "cuda")


@pytest.mark.parametrize("op", ["range_mae", "multiclass_hinge", "cross_entropy", "categorical_crossentropy"])
def test_native_backend_without_cupy(monkeypatch, op):
    _forget(monkeypatch, "fastseg._native", *(f"fastseg.ops.{m}.native" for m in MODULES))
    _uninstall(monkeypatch, "cupy")
    with pytest.raises(MissingExtraError) as info:
        _call(op, "native")
    assert "backend='native'" in str(info.value)
    assert "needs cupy, which is not installed. Install it with: pip install 'fastseg-kernels[cuda]'" \
        in str(info.value)


def _cupy_without_gpu() -> types.ModuleType:
    """A CuPy as installed on a machine with no usable GPU: it imports; asking for devices fails."""
    class CUDARuntimeError(RuntimeError):
        pass

    def get_device_count():
        raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    cupy = types.ModuleType("cupy")
    cupy.is_available = lambda: False
    cupy.ndarray = type("ndarray", (), {})
    cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(
        getDeviceCount=get_device_count, CUDARuntimeError=CUDARuntimeError))
    return cupy


@pytest.mark.parametrize("op", OPS)
def test_native_backend_without_a_gpu(monkeypatch, op):
    _forget(monkeypatch, "fastseg._native", *(f"fastseg.ops.{m}.native" for m in MODULES))
    monkeypatch.setitem(sys.modules, "cupy", _cupy_without_gpu())
    with pytest.raises(NoGPUError, match=r"backend='native' .* needs a CUDA GPU: no CUDA driver/GPU "
                                         r"found \(cudaErrorNoDevice: no CUDA-capable device is "
                                         r"detected\)\. Use backend='cpu'"):
        _call(op, "native")


@pytest.mark.parametrize("op", OPS)
def test_cuda_backend_without_a_gpu(monkeypatch, op):
    """Under the simulator (CPU CI) Numba CUDA can launch; here its driver check says it cannot."""
    pytest.importorskip("numba.cuda")
    numba_cuda = importlib.import_module("fastseg._numba_cuda")
    monkeypatch.setattr(numba_cuda, "_driver_problem", lambda: "CUDA driver library cannot be found.")
    with pytest.raises(NoGPUError, match=r"backend='cuda' .* needs a CUDA GPU: no CUDA driver/GPU found "
                                         r"\(CUDA driver library cannot be found\.\)"):
        _call(op, "cuda")


def _run(code: str, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**environ, **env}, timeout=300)


@pytest.mark.slow
def test_cuda_backend_on_this_machine_without_a_driver():
    """For real, without the simulator: where no CUDA driver works, one short error, not Numba's
    CudaSupportError traceback."""
    pytest.importorskip("numba.cuda")
    from cuda_driver import gpu_count

    if gpu_count():
        pytest.skip("this machine has a working CUDA driver and GPU")
    out = _run("""
        import numpy as np, fastseg
        fastseg.range_mae(np.zeros((2, 3)), np.ones((2, 3)), backend="cuda")
    """)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("fastseg._extras.NoGPUError: backend='cuda'"), out.stderr
    assert "no CUDA driver/GPU found" in last
    assert "CudaSupportError" not in out.stderr and "During handling" not in out.stderr


def test_gpu_detection_agrees_with_numba_cuda():
    """tests/cuda_driver.py (which picks the simulator) and Numba CUDA itself, without the
    simulator, see the same thing: a working driver with a GPU, or not."""
    pytest.importorskip("numba.cuda")
    from cuda_driver import gpu_count

    out = _run("from numba import cuda; print(cuda.is_available())")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == str(gpu_count() > 0)


def test_numba_cuda_works_with_a_numpy_without_row_stack():
    """NumPy 2.5 removed np.row_stack, for which numba-cuda 0.30 registers an overload when the
    first kernel compiles (importing numba.cuda.np.arrayobj): fastseg._numba_cuda supplies the
    alias so that the pairing works."""
    pytest.importorskip("numba.cuda")
    out = _run("""
        import numpy as np
        if hasattr(np, "row_stack"):
            del np.row_stack  # as in NumPy >= 2.5
        import fastseg._numba_cuda
        import numba.cuda.np.arrayobj  # what compiling the first CUDA kernel imports
        print(np.row_stack is np.vstack)
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "True"
