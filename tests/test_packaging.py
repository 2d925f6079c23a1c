"""The distributions: the sdist is the whole project (every tracked file: tests, kernels and their
ctest, benchmarks) and its tests run against the wheel; the wheel, beside NumPy and Numba alone,
runs the NumPy API and says what to install for everything else."""

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIP_COPY = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                   ".hypothesis", ".benchmarks", "fastseg_demo.png")
# Must be in the sdist for its tests to collect and for `make test` to run from it.
NEEDED = ["LICENSE", "README.md", "Makefile", "CMakeLists.txt", "MANIFEST.in", "pyproject.toml",
          "tests/conftest.py", "tests/host_cupy.py", "tests/range_mae_cases.py", "tests/tolerance.py",
          "tests/cuda_driver.py", "kernels/range_loss.cu", "kernels/tests/warp_sim.h",
          "bench/bench_range_mae.py", "bench/report.py", "bench/records.py", "examples/keras_range_mae.py"]


def _tracked_files() -> list[str] | None:
    """Files git tracks in this checkout (None when this is not a git checkout, e.g. an sdist)."""
    if shutil.which("git") is None:
        return None
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    return out.stdout.split() if out.returncode == 0 and out.stdout else None


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """``(sdist, wheel, unpacked sdist folder)``: built as pip builds them (the wheel from the
    sdist), from a copy of this checkout, with this environment's setuptools."""
    pytest.importorskip("build")
    top = tmp_path_factory.mktemp("dists")
    source = top / "source"
    shutil.copytree(REPO, source, ignore=SKIP_COPY)
    out = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(top / "dist"),
                          str(source)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    [sdist] = (top / "dist").glob("*.tar.gz")
    [wheel] = (top / "dist").glob("*.whl")
    with tarfile.open(sdist) as tar:
        tar.extractall(top / "unpacked", filter="data")
    [unpacked] = (top / "unpacked").iterdir()
    return sdist, wheel, unpacked


@pytest.mark.slow
def test_sdist_is_the_whole_project(dists):
    sdist, _, unpacked = dists
    assert sdist.name.startswith("fastseg_kernels-")
    shipped = {p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()}
    assert set(NEEDED) <= shipped
    tracked = _tracked_files()
    if tracked is not None:
        missing = sorted(set(tracked) - shipped - {".gitignore"})
        assert not missing, f"tracked files missing from the sdist: {missing}"
    assert not [p for p in shipped if "__pycache__" in p or p.endswith(".pyc")]


@pytest.mark.slow
def test_wheel_holds_the_package_and_kernel_sources(dists):
    _, wheel, _ = dists
    names = zipfile.ZipFile(wheel).namelist()
    assert wheel.name.startswith("fastseg_kernels-")
    assert "fastseg/kernels/range_loss.cu" in names and "fastseg/kernels/reduce.cuh" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "bench/")) or "/kernels/tests/" in n]
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in metadata
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    hard = [line for line in requires if "extra ==" not in line]
    assert [line.split()[1].split(">")[0] for line in hard] == ["numpy", "numba"]
    cuda_only = ("numba-cuda", "cuda-bindings", "cupy")
    for line in requires:  # CUDA packages only in the cuda extras (they have no macOS wheels)
        if any(name in line for name in cuda_only):
            assert 'extra == "cuda12"' in line or 'extra == "cuda13"' in line, line


def _install_wheel(wheel: Path, target: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--quiet",
                          "--target", str(target), str(wheel)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.slow
def test_sdist_tests_run_against_the_wheel(dists, tmp_path):
    """A subset of the shipped tests, collected from the unpacked sdist (its conftest and helpers),
    importing fastseg from the installed wheel."""
    _, wheel, unpacked = dists
    _install_wheel(wheel, tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    where = subprocess.run([sys.executable, "-c", "import fastseg; print(fastseg.__file__)"], env=env,
                           cwd=tmp_path, capture_output=True, text=True)
    assert where.stdout.strip() == str(tmp_path / "site" / "fastseg" / "__init__.py"), where.stderr
    tests = ["tests/test_docs.py::test_numpy_api_examples", "tests/test_kernel_files.py",
             "tests/test_extras.py", "tests/test_range_mae.py::test_import_is_lazy_and_works_read_only"]
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--rootdir={unpacked}",
                          "-c", str(unpacked / "pyproject.toml"), *(str(unpacked / t) for t in tests)],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout.splitlines()[-1]


def _numpy_and_numba_only(folder: Path) -> Path:
    """A folder holding only NumPy, Numba and llvmlite (links into this environment): with
    ``python -S`` and it on PYTHONPATH nothing else installed here can be imported."""
    folder.mkdir()
    for dist in ("numpy", "numba", "llvmlite"):
        found = importlib.metadata.distribution(dist)
        for top in sorted({f.parts[0] for f in found.files if f.parts[0] != ".."}):
            source = Path(found.locate_file(top))
            if source.exists():
                (folder / top).symlink_to(source)
    return folder


WHEEL_ONLY = textwrap.dedent('''
    import importlib, importlib.util, sys
    import numpy as np
    import fastseg
    for name in ("torch", "tensorflow", "keras", "cupy", "numba_cuda", "scipy", "matplotlib", "pytest"):
        assert importlib.util.find_spec(name) is None, f"{name} is importable: not a bare environment"

    y_true, y_pred = np.array([[0., 0., 1., 1., 1.]]), np.array([[0., 1., 1., 1., 0.]])
    scores, labels = np.array([[1., 2., 0.5], [0., 0., 3.]]), np.array([0, 2])
    for backend in ("cpu", "reference"):
        assert np.isclose(fastseg.range_mae(y_true, y_pred, backend=backend), 1 / 2 + 1 / 3)
        loss, grad = fastseg.multiclass_hinge_value_and_grad(scores, labels, backend=backend)
        loss, grad = fastseg.cross_entropy_value_and_grad(scores, labels, backend=backend)
        assert grad.shape == scores.shape
    print("numpy api ok")

    def error(fn):
        try:
            fn()
        except Exception as err:
            return f"{type(err).__name__}: {err}"
        return "no error"

    print("torch |", error(lambda: importlib.import_module("fastseg.torch")))
    print("tensorflow |", error(lambda: importlib.import_module("fastseg.tensorflow")))
    print("keras |", error(lambda: importlib.import_module("fastseg.keras")))
    print("cuda |", error(lambda: fastseg.range_mae(y_true, y_pred, backend="cuda")))
    print("native hinge |", error(lambda: fastseg.multiclass_hinge(scores, labels, backend="native")))
    print("native ce |", error(lambda: fastseg.cross_entropy(scores, labels, backend="native")))
    from fastseg.__main__ import main
    main(["--version"])
''')


@pytest.mark.slow
def test_wheel_beside_numpy_and_numba_alone(dists, tmp_path):
    _, wheel, _ = dists
    _install_wheel(wheel, tmp_path / "site")
    path = os.pathsep.join([str(tmp_path / "site"), str(_numpy_and_numba_only(tmp_path / "deps"))])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NUMBA_ENABLE_CUDASIM"))}
    out = subprocess.run([sys.executable, "-S", "-c", WHEEL_ONLY], env={**env, "PYTHONPATH": path},
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = dict(line.split(" | ", 1) for line in out.stdout.splitlines() if " | " in line)
    assert "numpy api ok" in out.stdout
    hint = "Install it with: pip install 'fastseg-kernels[{}]'"
    assert lines["torch"] == "MissingExtraError: fastseg.torch needs torch, which is not installed. " + \
        hint.format("torch")
    assert lines["tensorflow"].endswith("needs tensorflow, which is not installed. " + hint.format("tensorflow"))
    assert lines["keras"].endswith("needs keras, which is not installed. " + hint.format("tensorflow"))
    assert lines["cuda"].endswith("needs numba-cuda, which is not installed. " + hint.format("cuda"))
    for op in ("native hinge", "native ce"):
        assert lines[op].endswith("needs cupy, which is not installed. " + hint.format("cuda")), lines[op]
    assert out.stdout.strip().splitlines()[-1].startswith("fastseg 0.1.0 (fastseg-kernels)")
