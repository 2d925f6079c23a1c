"""Fixtures shared by the benchmarks, and what a saved run records (``make bench`` saves
pytest-benchmark JSON under bench/results/cpu/): library versions and thread counts in the
machine info, no host name, no local paths."""

import importlib.metadata

import numba
import pytest

from records import scrub_paths

RECORDED_VERSIONS = ("fastseg-kernels", "numpy", "numba", "torch", "tensorflow", "tensorflow-cpu", "keras")


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


def _versions() -> dict:
    found = {}
    for name in RECORDED_VERSIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["node"] = ""  # a host name says nothing about speed
    machine_info["versions"] = _versions()
    machine_info["numba_threads"] = numba.config.NUMBA_NUM_THREADS


def pytest_benchmark_update_commit_info(config, commit_info):
    commit_info["project"] = "fastseg"  # not the checkout's directory name


def pytest_benchmark_update_json(config, benchmarks, output_json):
    scrubbed = scrub_paths(output_json)
    output_json.clear()
    output_json.update(scrubbed)
