"""README.md: it opens with its title and then the two commands, every ```python block in it runs
as written (each on its own, in a fresh namespace), and its benchmark block is what
bench/report.py makes of the committed records."""

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"^```python\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)
NEEDS = {"torch": "torch", "keras": "keras", "tensorflow": "tensorflow", "scipy": "scipy"}


def test_readme_opens_with_the_title_and_then_the_two_commands():
    lines = README.splitlines()
    assert lines[0] == "# fastseg"
    body = [line for line in lines[1:] if line.strip()]
    assert body[0] == "```" and body[3] == "```"
    assert body[1].startswith("make demo   #") and body[2].startswith("make test   #")


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}-{b.splitlines()[0]}" for i, b in enumerate(BLOCKS)])
def test_readme_python_block_runs(code, tmp_path, monkeypatch):
    for module in sorted({m for m in re.findall(r"^\s*(?:import|from) (\w+)", code, re.MULTILINE)}):
        if module in NEEDS:
            pytest.importorskip(NEEDS[module])
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})


def test_readme_benchmark_block_is_the_reports(tmp_path):
    """The block between the markers is what `make bench-report` writes from bench/results (plots,
    if any, are drawn into a temporary folder here: the lines that link them are left out)."""
    sys.path.insert(0, str(REPO / "bench"))
    import report

    def text(markdown: str) -> list[str]:
        return [line for line in markdown.splitlines() if not line.startswith("![")]

    start, end = README.index(report.BEGIN) + len(report.BEGIN) + 1, README.index(report.END)
    rendered = report.render(REPO / "bench" / "results", tmp_path, REPO)
    assert text(README[start:end]) == text(rendered), "README's benchmark block is stale: make bench-report"
