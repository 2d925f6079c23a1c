"""Which CUDA C++ kernel build the ``native`` backend loads: a fatbin only when it is not older
than its ``.cu`` and the headers that includes; NVRTC from the source otherwise, and when the
fatbin does not load on the device. CuPy is a recording stand-in here (no GPU needed)."""

import os
import sys
import types
from pathlib import Path

import pytest

from fastseg import _kernel_files

pytestmark = pytest.mark.usefixtures("restore_modules")  # no module bound to a fake outlives a test
KERNELS = Path(__file__).resolve().parents[1] / "kernels"


def _touch(path: Path, mtime: float, text: str | None = None) -> Path:
    if text is not None:
        path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def kernel_dir(tmp_path, monkeypatch):
    """``$FASTSEG_KERNEL_DIR`` with ``op.cu`` -> ``op_row.cuh`` -> ``common.cuh`` and ``op.fatbin``
    built after all three."""
    _touch(tmp_path / "common.cuh", 1000, "#pragma once\n")
    _touch(tmp_path / "op_row.cuh", 1000, '#pragma once\n#include "common.cuh"\n')
    _touch(tmp_path / "op.cu", 1000, '#include <cstdint>\n#include "op_row.cuh"\n')
    _touch(tmp_path / "op.fatbin", 2000, "")
    monkeypatch.setenv("FASTSEG_KERNEL_DIR", str(tmp_path))
    return tmp_path


def test_sources_follow_quoted_includes(kernel_dir):
    names = {p.name for p in _kernel_files.sources(kernel_dir / "op.cu")}
    assert names == {"op.cu", "op_row.cuh", "common.cuh"}  # <cstdint> is not followed


@pytest.mark.parametrize("op", ["range_loss", "multiclass_hinge", "cross_entropy"])
def test_sources_of_the_real_kernels(op):
    names = {p.name for p in _kernel_files.sources(KERNELS / f"{op}.cu")}
    assert {f"{op}.cu", f"{op}_row.cuh", "common.cuh"} <= names
    assert all((KERNELS / name).is_file() for name in names)


def test_fresh_fatbin_is_used(kernel_dir):
    fatbin, why = _kernel_files.fresh_fatbin("op")
    assert fatbin == kernel_dir / "op.fatbin" and "up to date" in why


@pytest.mark.parametrize("edited", ["op.cu", "op_row.cuh", "common.cuh"])
def test_fatbin_older_than_a_source_is_not_used(kernel_dir, edited):
    _touch(kernel_dir / edited, 3000)
    fatbin, why = _kernel_files.fresh_fatbin("op")
    assert fatbin is None and "op.fatbin is older than op.cu or a header it includes" == why


def test_no_fatbin(kernel_dir):
    (kernel_dir / "op.fatbin").unlink()
    assert _kernel_files.fresh_fatbin("op") == (None, "no op.fatbin found")


class _DriverError(Exception):
    pass


def _recording_cupy(fatbin_loads: bool) -> types.ModuleType:
    """A CuPy stand-in whose RawModules record how they were made; a fatbin module's
    get_function fails as the driver does for a GPU it has no code for, unless ``fatbin_loads``."""
    class RawModule:
        def __init__(self, code=None, path=None, options=()):
            self.code, self.path = code, path

        def get_function(self, name):
            if self.path is not None and not fatbin_loads:
                raise _DriverError("CUDA_ERROR_NO_BINARY_FOR_GPU: no kernel image is available")
            return ("from fatbin" if self.path else "from source", name)

    class Device:
        def __init__(self, device=None):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    cupy = types.ModuleType("cupy")
    cupy.RawModule, cupy.ndarray, cupy.is_available = RawModule, type("ndarray", (), {}), lambda: True
    cupy.cuda = types.SimpleNamespace(Device=Device, driver=types.SimpleNamespace(CUDADriverError=_DriverError))
    return cupy


@pytest.fixture
def native(monkeypatch, kernel_dir):
    """``fastseg._native`` imported afresh against the stand-in (restored afterwards)."""
    def load(fatbin_loads=True):
        for name in [m for m in sys.modules if m == "fastseg._native"]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, "cupy", _recording_cupy(fatbin_loads))
        import fastseg._native as module
        return module
    return load


def test_load_module_takes_a_fresh_fatbin(native, kernel_dir):
    module = native().load_module("op")
    assert module.path == str(kernel_dir / "op.fatbin") and module.code is None


def test_load_module_compiles_the_source_when_the_fatbin_is_stale(native, kernel_dir):
    _touch(kernel_dir / "common.cuh", 3000)
    with pytest.warns(UserWarning, match="op.fatbin is older than op.cu .*NVRTC"):
        module = native().load_module("op")
    assert module.path is None and module.code == (kernel_dir / "op.cu").read_text()


def test_function_falls_back_to_nvrtc_when_the_fatbin_does_not_load(native):
    with pytest.warns(UserWarning, match="op.fatbin does not load on CUDA device 0 .*NO_BINARY_FOR_GPU"):
        assert native(fatbin_loads=False).function("op", "kern", 0) == ("from source", "kern")


def test_function_uses_the_fatbin_when_it_loads(native):
    assert native(fatbin_loads=True).function("op", "kern", 0) == ("from fatbin", "kern")
