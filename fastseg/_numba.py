"""Numba settings shared by every CPU kernel: a cache location that always works, and the
serial/parallel switch.

``cache=True`` makes Numba look for a writable place at decoration time (next to the source,
then the user's cache directory) and raise if there is none, so a read-only install with an
unwritable HOME would fail at import. :func:`cache_enabled` checks first and, if needed, points
Numba at a private directory under the system temp dir; if even that is not writable, caching
is turned off for that module.
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from pathlib import Path

import numba
import numpy as np

from . import config
from .config import Config

FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
"""Float flags for every CPU kernel: reassociation lets sums vectorise; no ``nnan``/``ninf``,
since NaN and inf rows must come out NaN."""


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            return True
    except OSError:
        return False


@functools.lru_cache(maxsize=None)
def cache_enabled(source_file: str) -> bool:
    """Value for ``cache=`` in the ``numba.njit`` calls of the module at ``source_file``."""
    if numba.config.CACHE_DIR:
        return _writable(Path(numba.config.CACHE_DIR))
    if _writable(Path(source_file).parent / "__pycache__"):
        return True
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    if _writable(Path(xdg) / "numba"):
        return True
    private = Path(tempfile.gettempdir()) / f"fastseg-numba-cache-{os.getuid()}"
    if _writable(private):
        numba.config.CACHE_DIR = str(private)
        return True
    return False


def per_row(value, n: int, dtype) -> np.ndarray:
    """``value`` as an ``(n,)`` array: as given when it already is one, else a read-only stride-0
    view of one element (what ``np.broadcast_to`` makes, at a fraction of its host cost)."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return value if value.dtype == dtype else value.astype(dtype)
    one = np.array([value], dtype)
    view = np.ndarray((n,), dtype, one, 0, (0,))
    view.flags.writeable = False
    return view


def cpu_plan(n_elements: int, threads: int, config: Config) -> str:
    """``"parallel"`` (row-parallel kernel) or ``"serial"`` for a call over ``n_elements`` with
    ``threads`` Numba threads: a pure function of the shape and the config."""
    return "parallel" if n_elements >= config.parallel_min_elements and threads > 1 else "serial"


_parallel_lock = threading.Lock()


def run_rows(serial, parallel, n_elements: int, *args) -> None:
    """Call the row-parallel kernel when :func:`cpu_plan` says so and the thread pool is free,
    else the serial one.

    Both kernels give bitwise identical results (each row is computed by one thread, in
    order), so the choice never changes a result. Numba's thread pool must not be entered by
    two Python threads at once (the ``workqueue`` layer aborts the process), so a caller that
    finds it busy runs serially on its own thread instead of waiting.
    """
    if cpu_plan(n_elements, numba.get_num_threads(), config.get()) == "parallel":
        if _parallel_lock.acquire(blocking=False):
            try:
                parallel(*args)
                return
            finally:
                _parallel_lock.release()
    serial(*args)
