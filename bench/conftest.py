"""Fixtures shared by the benchmarks."""

import numba
import pytest


@pytest.fixture
def one_thread():
    """Run the benchmark with Numba and torch on one thread each, restoring both afterwards."""
    torch = pytest.importorskip("torch")
    numba.set_num_threads(1)
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    torch.set_num_threads(torch_threads)
