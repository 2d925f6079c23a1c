"""Whether this machine has a working CUDA driver with a device: asked of the driver itself
(``cuInit`` and ``cuDeviceGetCount`` through ctypes, in a child process so that the test process
never initialises CUDA), not inferred from ``nvidia-smi`` being on PATH."""

from __future__ import annotations

import functools
import subprocess
import sys

_PROBE = r"""
import ctypes, sys
for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll", "libcuda.dylib"):
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        continue
    count = ctypes.c_int(0)
    ok = lib.cuInit(0) == 0 and lib.cuDeviceGetCount(ctypes.byref(count)) == 0
    print(count.value if ok else 0)
    sys.exit()
print(0)
"""


@functools.lru_cache(maxsize=None)
def gpu_count() -> int:
    """CUDA devices the driver reports; 0 without a driver, with a broken one, or with no GPU."""
    try:
        out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60)
        return int(out.stdout.strip() or 0) if out.returncode == 0 else 0
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return 0
