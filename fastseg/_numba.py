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


PARALLEL_MIN_ELEMENTS = 1 << 14
"""Below this many elements the row-parallel kernels lose to the serial ones (thread wake-up
costs more than the work); measured by ``bench/bench_range_mae.py::test_parallel_threshold``."""

_parallel_lock = threading.Lock()


def run_rows(serial, parallel, n_elements: int, *args) -> None:
    """Call the row-parallel kernel when it pays off and the thread pool is free, else the serial one.

    Both kernels give bitwise identical results (each row is computed by one thread, in
    order), so the choice never changes a result. Numba's thread pool must not be entered by
    two Python threads at once (the ``workqueue`` layer aborts the process), so a caller that
    finds it busy runs serially on its own thread instead of waiting.
    """
    if n_elements >= PARALLEL_MIN_ELEMENTS and numba.get_num_threads() > 1:
        if _parallel_lock.acquire(blocking=False):
            try:
                parallel(*args)
                return
            finally:
                _parallel_lock.release()
    serial(*args)
