"""A stand-in for CuPy that runs fastseg's CUDA C++ kernels on the host, for the tests of the
``native`` backends on a machine with no GPU.

Each ``kernels/<op>.cu`` is compiled with g++ against ``kernels/tests/warp_sim.h`` (warps emulated
on the host) into a shared library, with one host entry point per ``extern "C"`` kernel. The
kernel signatures are read from the preprocessed source, and every launch is checked against
them: the number of arguments, and for each one its exact kind (an address for a pointer, and
``np.int32``, ``np.int64`` or ``np.float64`` for ``int``, ``long long`` and ``double``), the way
CuPy packs them. So the Python side of the native backends (``fastseg/_native.py``,
``fastseg/ops/*/native.py``) runs end to end here, down to the kernels' results.

"Device memory" is host memory: a device array is a NumPy array with a device-array face, and a
device address is a host address.
"""

from __future__ import annotations

import ctypes
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
KERNELS = REPO / "kernels"
OPS = ("range_loss", "multiclass_hinge", "cross_entropy")

_CTYPE = {"int": (ctypes.c_int, np.int32), "long long": (ctypes.c_longlong, np.int64),
          "double": (ctypes.c_double, np.float64)}


class Kernel:
    """One compiled kernel: its C parameter list and the host entry point that launches it."""

    def __init__(self, lib, name: str, params: list[str]):
        self.name = name
        self.params = params
        self.pointer = ["*" in p for p in params]
        self.entry = getattr(lib, f"sim_{name}")
        argtypes = [ctypes.c_uint, ctypes.c_uint]
        for p, is_ptr in zip(params, self.pointer):
            argtypes.append(ctypes.c_void_p if is_ptr else _CTYPE[_base_type(p)][0])
        self.entry.argtypes = argtypes
        self.entry.restype = None

    def convert(self, args) -> list:
        if len(args) != len(self.params):
            raise TypeError(f"{self.name} takes {len(self.params)} arguments, the launch passed {len(args)}")
        out = []
        for i, (a, p, is_ptr) in enumerate(zip(args, self.params, self.pointer)):
            if is_ptr:
                if isinstance(a, ndarray):
                    out.append(a.ptr)
                elif type(a) is np.uint64:
                    out.append(int(a) or None)
                else:
                    raise TypeError(f"{self.name} argument {i} ({p}) takes a device array or an address, "
                                    f"got {type(a).__name__}")
            else:
                want = _CTYPE[_base_type(p)][1]
                if type(a) is not want:
                    raise TypeError(f"{self.name} argument {i} ({p}) takes {want.__name__}, got {type(a).__name__}")
                out.append(a.item())
        return out


def _base_type(param: str) -> str:
    words = param.replace("const", "").split()[:-1]
    return " ".join(words)


def _signatures(op: str) -> dict[str, list[str]]:
    pre = subprocess.run(["g++", "-E", "-P", "-x", "c++", "-std=c++17", f"-I{KERNELS}",
                          "-include", str(KERNELS / "tests" / "warp_sim.h"), str(KERNELS / f"{op}.cu")],
                         check=True, capture_output=True, text=True).stdout
    return {m.group(1): [p.strip() for p in m.group(2).split(",")]
            for m in re.finditer(r'extern "C" void (\w+)\(([^)]*)\)', pre)}


def build(op: str, out_dir: Path) -> dict[str, Kernel]:
    """Compile ``kernels/<op>.cu`` for the host; return its kernels by name."""
    sigs = _signatures(op)
    entries = []
    for name, params in sigs.items():
        names = [p.split()[-1].lstrip("*") for p in params]
        entries.append(f'extern "C" void sim_{name}(unsigned grid, unsigned block, {", ".join(params)}) {{\n'
                       f"  warp_sim::launch({name}, grid, block, warp_sim::Order::forward, {', '.join(names)});\n}}\n")
    source = out_dir / f"{op}_host.cpp"
    source.write_text(f'#include "tests/warp_sim.h"\n#include "{op}.cu"\n\n' + "\n".join(entries))
    lib_path = out_dir / f"{op}_host.so"
    subprocess.run(["g++", "-std=c++17", "-O1", "-shared", "-fPIC", "-Wno-unknown-pragmas",
                    "-fno-strict-aliasing", f"-I{KERNELS}", "-o", str(lib_path), str(source)], check=True)
    lib = ctypes.CDLL(str(lib_path))
    return {name: Kernel(lib, name, params) for name, params in sigs.items()}


# --- the CuPy surface fastseg._native and the ops' native modules use -----------------------

KERNELS_BY_NAME: dict[str, Kernel] = {}
LAUNCHES: list[tuple[str, tuple, tuple, int | None]] = []
"""Every launch: (kernel name, grid, block, stream address)."""


class _Flags:
    def __init__(self, a):
        self.c_contiguous = a.flags.c_contiguous


class _Device:
    current = 0

    def __init__(self, device=None):
        self.id = _Device.current if device is None else int(device)
        self._saved = []

    def __enter__(self):
        self._saved.append(_Device.current)
        _Device.current = self.id
        return self

    def __exit__(self, *exc):
        _Device.current = self._saved.pop()


class ndarray:  # noqa: N801 - CuPy's name
    """A "device" array: host memory behind CuPy's array surface."""

    def __init__(self, shape, dtype=float, memptr=None, strides=None, *, _array=None):
        if _array is None:
            if memptr is None:
                _array = np.empty(shape, dtype)
            else:
                raw = (ctypes.c_char * max(memptr.size, 1)).from_address(memptr.ptr)
                _array = np.ndarray(shape, dtype, buffer=raw, strides=strides)
        self._a = _array
        self._owner = getattr(memptr, "owner", None)

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    flags = property(lambda self: _Flags(self._a))
    ptr = property(lambda self: self._a.ctypes.data)
    device = property(lambda self: _Device(0))

    def astype(self, dtype, copy=True):
        return self if (not copy and self._a.dtype == np.dtype(dtype)) else ndarray(None, _array=self._a.astype(dtype))

    def get(self, out=None, stream=None):
        if out is None:
            return self._a.copy()
        out[...] = self._a
        return out


class _Stream:
    def __init__(self, ptr=0):
        self.ptr = ptr

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def synchronize(self):
        pass


class _Memory:
    """``UnownedMemory(ptr, size, owner)`` and ``MemoryPointer(memory, offset)``."""

    def __init__(self, ptr, size=0, owner=None):
        if isinstance(ptr, _Memory):
            self.ptr, self.size, self.owner = ptr.ptr + size, ptr.size - size, ptr.owner
        else:
            self.ptr, self.size, self.owner = ptr, size, owner


class _Function:
    def __init__(self, name):
        if name not in KERNELS_BY_NAME:
            raise AttributeError(f"no kernel named {name!r} in kernels/*.cu")
        self.kernel = KERNELS_BY_NAME[name]

    def __call__(self, grid, block, args, stream=None):
        LAUNCHES.append((self.kernel.name, tuple(grid), tuple(block), getattr(stream, "ptr", None)))
        self.kernel.entry(grid[0], block[0], *self.kernel.convert(args))


class _RawModule:
    def __init__(self, code=None, path=None, options=()):
        self.source = path or "NVRTC"

    def get_function(self, name):
        return _Function(name)


def module(build_dir: Path) -> types.ModuleType:
    """The stand-in ``cupy`` module, with every op's kernels built into ``build_dir``."""
    if not KERNELS_BY_NAME:
        for op in OPS:
            KERNELS_BY_NAME.update(build(op, build_dir))
    cupy = types.ModuleType("cupy")
    cupy.ndarray = ndarray
    cupy.RawModule = _RawModule
    cupy.asarray = lambda a: a if isinstance(a, ndarray) else ndarray(None, _array=np.array(a))
    cupy.ascontiguousarray = lambda a: (a if a.flags.c_contiguous
                                        else ndarray(None, _array=np.ascontiguousarray(a._a)))
    cupy.empty = lambda shape, dtype=float: ndarray(shape, dtype)
    cupy.cuda = types.SimpleNamespace(
        Device=_Device, ExternalStream=_Stream, get_current_stream=lambda: _Stream(0),
        UnownedMemory=_Memory, MemoryPointer=_Memory)
    return cupy


def native_modules() -> list[str]:
    return [m for m in sys.modules if m == "fastseg._native" or m.endswith(".native")]


def installed(build_dir: Path):
    """Context: ``sys.modules["cupy"]`` is the stand-in and the native modules are imported
    against it; afterwards everything is as it was."""
    import contextlib

    @contextlib.contextmanager
    def scope():
        saved = {name: sys.modules.pop(name) for name in native_modules() + ["cupy"] if name in sys.modules}
        sys.modules["cupy"] = module(build_dir)
        try:
            yield sys.modules["cupy"]
        finally:
            for name in native_modules() + ["cupy"]:
                sys.modules.pop(name, None)
                parent, _, child = name.rpartition(".")
                if parent in sys.modules and hasattr(sys.modules[parent], child):
                    delattr(sys.modules[parent], child)  # the import system set it; a stale one misleads
            sys.modules.update(saved)
            for name, mod in saved.items():
                parent, _, child = name.rpartition(".")
                if parent in sys.modules:
                    setattr(sys.modules[parent], child, mod)

    return scope()


def host_buffer(a: np.ndarray):
    """A host array as the DeviceBuffer that fastseg.torch makes of a CUDA tensor."""
    from fastseg._device import DeviceBuffer

    return DeviceBuffer(a.ctypes.data, a.shape, a.dtype, 0, a)


def backend_on_host(request, op: str, backend: str):
    """``fastseg.ops.<op>.<backend>``, runnable on this machine: ``"cuda"`` on Numba's simulator,
    ``"native"`` on this stand-in for CuPy (the ``native_on_host`` fixture)."""
    import importlib
    import os

    import pytest

    if backend == "cuda":
        pytest.importorskip("numba.cuda")
        if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
            pytest.skip("real GPU: bench/gpu_check.py covers it")
    else:
        request.getfixturevalue("native_on_host")
    return importlib.import_module(f"fastseg.ops.{op}.{backend}")


DEVICE_VARIANTS = {
    "cuda-simulator": ("cuda", False, False),
    "native-host-arrays": ("native", False, False),
    "native-buffers": ("native", True, False),
    "native-buffers-block-per-row": ("native", True, True),
}
"""How a row-per-warp-or-block op's device kernels run here: (backend, inputs as device buffers,
one block per row even for narrow rows)."""


def device_variant(request, op: str, variant: str):
    """``(kernels, dev)`` for one of ``DEVICE_VARIANTS``: the op's CUDA backend module, runnable
    here, and the function that turns a host array into what the test passes it. The block-per-row
    variant runs the test under a config with a low ``row_block_min_classes``."""
    from fastseg import config

    backend, as_buffers, block_per_row = DEVICE_VARIANTS[variant]
    kernels = backend_on_host(request, op, backend)
    if block_per_row:
        override = config.override(row_block_min_classes=100)
        override.__enter__()
        request.addfinalizer(lambda: override.__exit__(None, None, None))
    return kernels, (host_buffer if as_buffers else (lambda a: a))
