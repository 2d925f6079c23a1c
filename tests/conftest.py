import os
import shutil

# Without a GPU, Numba CUDA kernels run on the simulator (set before numba.cuda is imported).
if shutil.which("nvidia-smi") is None:
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)  # reproducible CI
settings.register_profile("thorough", max_examples=1000, deadline=None)  # HYPOTHESIS_PROFILE=thorough: random, to explore
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def host_kernels_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("host_kernels")


@pytest.fixture
def native_on_host(host_kernels_dir):
    """The ``native`` backends with CuPy replaced by ``tests/host_cupy.py``: the CUDA C++ kernels,
    compiled for the host with emulated warps, run behind the real Python launch code."""
    if shutil.which("g++") is None:
        pytest.skip("needs g++ to build the kernels for the host")
    import host_cupy

    host_cupy.LAUNCHES.clear()
    with host_cupy.installed(host_kernels_dir) as cupy:
        yield cupy
