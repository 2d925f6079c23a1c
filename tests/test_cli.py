"""The command line: ``fastseg --version``, ``python -m fastseg --version`` and ``fastseg demo``."""

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastseg
from fastseg.__main__ import main

EXPECTED = f"fastseg {fastseg.__version__} (fastseg-kernels)"


def _run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, timeout=600)


def test_python_m_fastseg_version():
    out = _run(sys.executable, "-m", "fastseg", "--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == EXPECTED


def test_console_script_version():
    script = shutil.which("fastseg", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("fastseg is not installed in this environment (no console script)")
    out = _run(script, "--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == EXPECTED


def test_version_is_the_installed_distributions():
    try:
        installed = importlib.metadata.version("fastseg-kernels")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("fastseg-kernels is not installed (running from a bare checkout)")
    assert installed == fastseg.__version__


def test_demo_checks_its_extras_before_training(monkeypatch):
    """Without matplotlib the demo stops at once with what to install, not after training."""
    import fastseg.demo

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(fastseg.demo, "train", lambda **_: pytest.fail("trained without matplotlib"))
    with pytest.raises(SystemExit) as info:
        main(["demo", "--steps", "1"])
    assert str(info.value.code) == ("fastseg demo: fastseg demo needs matplotlib, which is not installed. "
                                    "Install it with: pip install 'fastseg-kernels[demo]'")


@pytest.mark.slow
def test_demo_runs(tmp_path):
    """``fastseg demo`` end to end, 20 training steps: scores on held-out signals, the timing table,
    a PNG."""
    for module in ("torch", "tqdm", "matplotlib"):
        pytest.importorskip(module)
    png = tmp_path / "demo.png"
    out = _run(sys.executable, "-m", "fastseg", "demo", "--steps", "20", "--out", str(png), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "range-wise MAE on the 256 held-out signals" in out.stdout
    assert "fastseg.torch.RangeMAELoss + backward" in out.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
