"""Every tunable of fastseg in one place: thresholds and block sizes that choose a kernel plan.

The values are read through :func:`get`, which returns the :class:`Config` in force for the
calling context. :func:`override` changes it for a ``with`` block only (a ``contextvars``
variable: per thread and per asyncio task), so tests and benchmarks pass a config instead of
mutating module globals::

    >>> import fastseg.config as config
    >>> with config.override(parallel_min_elements=0):   # always the row-parallel CPU kernels
    ...     config.get().parallel_min_elements
    0
    >>> config.get().parallel_min_elements
    16384

Plans are pure functions of (shape, dtype, config), e.g. :func:`fastseg._numba.cpu_plan`.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from typing import Iterator


@dataclasses.dataclass(frozen=True)
class Config:
    """Tunables. Each default is the value the benchmark named in its comment chose."""

    parallel_min_elements: int = 1 << 14
    """CPU: below this many elements the serial kernels run (thread wake-up costs more than the
    work); ``bench/bench_range_mae.py::test_parallel_threshold``."""

    range_loss_block_rows: tuple[tuple[int, int], ...] = ((1024, 256), (4096, 1024))
    """CUDA C++ range_mae: (longest row, threads per block) of the block-per-row kernels; longer
    rows take the warp-per-row kernels. ``bench/gpu_check.py``."""

    row_block_min_classes: int = 4096
    """CUDA C++ hinge and cross-entropy: from this many classes on, a block of threads reduces
    each row instead of one warp. ``bench/gpu_check.py``."""

    linear_ce_chunk_bytes: int = 48 << 20
    """linear_cross_entropy: bytes of the per-chunk logits/gradient buffer (its rows per chunk
    adapt to the number of classes). ``bench/bench_linear_cross_entropy.py``."""

    gpu_backend: str = "native"
    """The backend ``backend="auto"`` picks for device arrays: the faster in ``bench/gpu_check.py``."""


_DEFAULT = Config()
_CURRENT: contextvars.ContextVar[Config] = contextvars.ContextVar("fastseg_config", default=_DEFAULT)


def get() -> Config:
    """The configuration in force in this context."""
    return _CURRENT.get()


@contextlib.contextmanager
def override(**changes) -> Iterator[Config]:
    """Run a ``with`` block under a copy of the current config with ``changes`` applied.

    Raises ``TypeError`` for a name that is not a field of :class:`Config`.
    """
    config = dataclasses.replace(_CURRENT.get(), **changes)
    token = _CURRENT.set(config)
    try:
        yield config
    finally:
        _CURRENT.reset(token)
