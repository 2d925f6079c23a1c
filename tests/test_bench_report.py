"""Benchmark records: ``make bench`` saves pytest-benchmark JSON with machine info and no local
paths; ``make bench-report`` renders saved runs as Markdown tables (min and median) and one
log-log PNG per op, and rewrites README's marked block; bench/gpu_check.py always writes its JSON
to a path it prints."""

import importlib.util
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))
import records  # noqa: E402
import report  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _make_command(target: str, **variables) -> str:
    """The command ``make TARGET`` runs last, for this Python's environment, without installing."""
    venv = Path(sys.executable).parent.parent
    stamp = venv / f".{target.removeprefix('bench-').replace('report', 'bench')}-installed"
    args = ["make", "-s", "-n", "--no-print-directory", "-o", str(stamp), target, f"VENV={venv}"]
    args += [f"{k}={v}" for k, v in variables.items()]
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=True, env=env)
    return out.stdout.strip().replace("\\\n", " ").splitlines()[-1]


def test_scrub_paths():
    data = {"a": f"{REPO}/build/range_mae.fatbin", "b": ["/home/someone/x/y.json", 3, None],
            "c": "native module: /work/other-checkout/build/range_mae.fatbin; NVRTC", "d": "fwd+bwd 4096x1024"}
    assert records.scrub_paths(data) == {"a": "build/range_mae.fatbin", "b": ["y.json", 3, None],
                                         "c": "native module: range_mae.fatbin; NVRTC",
                                         "d": "fwd+bwd 4096x1024"}


def test_fmt_time_keeps_three_digits():
    assert [report.fmt_time(s) for s in (2.5e-9, 41.23e-6, 1.5e-3, 412e-3, 3.0)] == \
        ["2.50 ns", "41.2 µs", "1.50 ms", "412 ms", "3.00 s"]


def test_member_and_size_come_from_the_group_and_the_id():
    assert report._size("range_mae fwd+bwd 4096x1024") == (4096 * 1024, "range_mae fwd+bwd")
    assert report._size("range_mae threshold fwd+bwd 16384 elements") == (16384, "range_mae threshold fwd+bwd")
    assert report._size("svm_loss N=500 D=3073 C=10 (1 thread)")[0] is None
    assert report._member("test_fastseg[4096x1024-1thread-fwd]") == "fastseg[1thread-fwd]"
    assert report._member("test_fastseg_small[64x1024]") == "fastseg_small"
    assert report._member("test_threshold[4096-serial]", "range_mae threshold 4096 elements") == "threshold[serial]"


TINY_BENCH = '''
import pytest

@pytest.mark.parametrize("n", [1000, 4000])
@pytest.mark.parametrize("impl", ["fastseg", "peer"])
def test_op(benchmark, impl, n):
    benchmark.group = f"toyop fwd 2x{n}"
    benchmark.pedantic(sum, (range(n if impl == "fastseg" else 3 * n),), rounds=3)
'''


@pytest.mark.slow
def test_saved_run_renders_to_tables_plots_and_the_readme_block(tmp_path):
    """A real pytest-benchmark run saved as `make bench` saves it (its command line, a toy
    benchmark), then `make bench-report`'s command on it."""
    pytest.importorskip("pytest_benchmark")
    pytest.importorskip("matplotlib")
    results = tmp_path / "results"
    (tmp_path / "bench_toy.py").write_text(TINY_BENCH)
    command = _make_command("bench", BENCH_RESULTS=results, BENCH_ARGS="bench_toy.py")
    # `make bench` runs `pytest bench ...`: here the toy file, from its own folder, replaces bench
    args = [a for a in shlex.split(command) if a != "bench"]
    run = subprocess.run(args + ["-p", "no:cacheprovider", f"--rootdir={tmp_path}"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    [[saved]] = records.cpu_machine_runs(results).values()
    assert saved.name == "0001_bench.json"

    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{report.BEGIN}\nold table\n{report.END}\nafter\n")
    command = _make_command("bench-report", BENCH_RESULTS=results)
    assert "bench/report.py --results" in command and "--readme README.md" in command
    report.main(["--results", str(results), "--readme", str(readme)])

    text = (results / "REPORT.md").read_text()
    assert "**toyop fwd 2x4000**" in text and "| benchmark | min | median | median / fastseg's |" in text
    assert "| `op[fastseg]` |" in text and "| `op[peer]` |" in text
    pngs = sorted((results / "plots").glob("*.png"))
    assert [p.name for p in pngs] == [f"cpu_{saved.parent.name}_toyop.png"]
    assert pngs[0].read_bytes()[:8] == PNG
    assert f"](plots/{pngs[0].name})" in text

    new = readme.read_text()
    assert new.startswith("# title\n\nbefore\n" + report.BEGIN) and new.endswith(report.END + "\nafter\n")
    assert "old table" not in new and "**toyop fwd 2x1000**" in new
    assert f"](results/plots/{pngs[0].name})" in new
    for written in (text, new):
        assert str(tmp_path) not in written and str(REPO) not in written


@pytest.mark.slow
def test_bench_records_machine_info_without_local_paths(tmp_path):
    """bench/conftest.py's hooks on a real (one-benchmark) run of the project's own bench folder."""
    pytest.importorskip("pytest_benchmark")
    pytest.importorskip("torch")
    command = _make_command("bench", BENCH_RESULTS=tmp_path, BENCH_ARGS="-k test_fastseg_small")
    run = subprocess.run(shlex.split(command), cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    [[saved]] = records.cpu_machine_runs(tmp_path).values()
    text = saved.read_text()
    data = json.loads(text)
    assert data["machine_info"]["node"] == "" and data["commit_info"].get("project", "fastseg") == "fastseg"
    assert "numba" in data["machine_info"]["versions"] and data["machine_info"]["numba_threads"] >= 1
    assert [b["name"] for b in data["benchmarks"]] == ["test_fastseg_small[64x1024]"]
    assert str(REPO) not in text and str(Path.home()) + "/" not in text


@pytest.fixture(scope="module")
def gpu_check():
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("gpu_check", BENCH / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_results_path(gpu_check, monkeypatch, tmp_path):
    monkeypatch.delenv("OUT", raising=False)
    assert gpu_check.results_path("NVIDIA H200") == BENCH / "results" / "gpu_check_h200.json"
    assert gpu_check.results_path("NVIDIA GeForce RTX 4090").name == "gpu_check_geforce_rtx_4090.json"
    monkeypatch.setenv("OUT", str(tmp_path))
    assert gpu_check.results_path("NVIDIA H200") == tmp_path / "gpu_check.json"


def test_gpu_check_writes_its_json_without_local_paths(gpu_check, monkeypatch, tmp_path):
    monkeypatch.setenv("OUT", str(tmp_path))
    path = gpu_check.write_results({"device": "NVIDIA H200", "module": f"{REPO}/build/range_mae.fatbin"})
    assert path == tmp_path / "gpu_check.json"
    assert json.loads(path.read_text()) == {"device": "NVIDIA H200", "module": "build/range_mae.fatbin"}


def test_committed_results_hold_no_local_paths():
    for path in (BENCH / "results").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".txt", ".md"):
            text = path.read_text()
            assert str(REPO) not in text and "/work/" not in text and "/home/" not in text, path
    assert os.path.isfile(BENCH / "results" / "gpu_check_h200.json")


def _run(*benches):
    """A saved run as pytest-benchmark writes it: ``(name, group, median)`` per benchmark."""
    return {"benchmarks": [{"name": n, "group": g, "stats": {"min": m / 2, "median": m}} for n, g, m in benches]}


def test_a_partial_run_replaces_only_its_groups():
    old = _run(("test_fastseg[4096x1024-1thread-fwd]", "range_mae fwd 4096x1024", 4.0),
               ("test_op[fastseg]", "toyop fwd 2x4000", 1.0))
    new = _run(("test_fastseg[4096x1024-1thread-fwd]", "range_mae fwd 4096x1024", 3.0))
    rows, used = report.latest_groups([(Path("0001.json"), old), (Path("0002.json"), new)])
    assert {(r.group, r.median) for r in rows} == {("range_mae fwd 4096x1024", 3.0), ("toyop fwd 2x4000", 1.0)}
    assert [p.name for p, _ in used] == ["0001.json", "0002.json"]
    rows, used = report.latest_groups([(Path("0001.json"), new), (Path("0002.json"), new)])
    assert [p.name for p, _ in used] == ["0002.json"] and len(rows) == 1


def test_density_table_gives_ratios_to_np_add():
    """Benchmark ids as bench/bench_range_mae.py's density tests make them."""
    group = "range_mae_density {} 65536x64 {}"
    run = _run(*[(f"test_density_{member}[65536x64-len2-{params}{mode}]", group.format(mode, "mean-length 2"), t)
                 for mode, scale in (("fwd", 1.0), ("fwd+bwd", 2.0))
                 for member, params, t in (("fastseg", "1thread-", 3.0 * scale),
                                           ("fastseg", "allthreads-", 1.5 * scale),
                                           ("numpy_add_roofline", "", 1.0), ("torch_vectorized", "", 40.0))]
               + [(f"test_density_fastseg[65536x64-one-range-1thread-{m}]", group.format(m, "one-range"), 2.0)
                  for m in ("fwd", "fwd+bwd")]
               + [(f"test_density_numpy_add_roofline[65536x64-one-range-{m}]", group.format(m, "one-range"), 1.0)
                  for m in ("fwd", "fwd+bwd")])
    rows = report.cpu_rows(run)
    assert all(r.elements is None for r in rows)  # tabulated, not plotted
    table = report.density_table(rows).splitlines()
    assert table[-2] == "| 65536x64 | mean-length 2 | 6.00x | 3.00x | 2.00x | 2.00x | 40.00x |"
    assert table[-1] == "| 65536x64 | one-range | 2.00x | 2.00x |  |  |  |"
    assert report.density_table(report.cpu_rows(_run(("test_op[fastseg]", "toyop fwd 2x4000", 1.0)))) == ""
