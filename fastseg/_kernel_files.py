"""Where the CUDA C++ kernels are: the ``.cu`` sources (shipped in the package) and the fatbins
that ``make fatbins`` builds in a checkout, and whether a fatbin is older than its sources.

Pure file logic, no CuPy: ``fastseg._native`` decides what to load from it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)


def kernel_dirs() -> list[Path]:
    """Where the ``.cu`` sources and built fatbins may be, in order of preference:
    ``$FASTSEG_KERNEL_DIR``, a checkout's ``build/`` and ``kernels/``, an installed package's
    ``fastseg/kernels/`` (the wheel ships the sources there)."""
    dirs = [Path(os.environ["FASTSEG_KERNEL_DIR"])] if os.environ.get("FASTSEG_KERNEL_DIR") else []
    package = Path(__file__).resolve().parent
    repo = package.parent
    if (repo / "CMakeLists.txt").is_file():  # a checkout (or an unpacked sdist), not site-packages
        dirs += [repo / "build", repo / "kernels"]
    return dirs + [package / "kernels"]


def find(name: str) -> Path | None:
    """The first file called ``name`` in :func:`kernel_dirs`, or None."""
    return next((d / name for d in kernel_dirs() if (d / name).is_file()), None)


def sources(source: Path) -> list[Path]:
    """``source`` and every file it includes with ``#include "..."``, transitively (those found
    next to it; system headers in ``<...>`` are not followed)."""
    seen: list[Path] = []
    todo = [source]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.append(path)
        todo += [path.parent / name for name in _INCLUDE.findall(path.read_text())]
    return seen


def is_stale(fatbin: Path, source: Path) -> bool:
    """Whether ``fatbin`` is older than ``source`` or any header it includes (an edited kernel
    whose fatbin was not rebuilt)."""
    built = fatbin.stat().st_mtime
    return any(path.stat().st_mtime > built for path in sources(source))


def fresh_fatbin(op: str) -> tuple[Path | None, str]:
    """``(fatbin, why)``: the fatbin to load for ``op``, or None with the reason to compile
    ``<op>.cu`` with NVRTC instead (no fatbin found, or one older than its sources)."""
    fatbin = find(f"{op}.fatbin")
    if fatbin is None:
        return None, f"no {op}.fatbin found"
    source = find(f"{op}.cu")
    if source is not None and is_stale(fatbin, source):
        return None, f"{fatbin.name} is older than {source.name} or a header it includes"
    return fatbin, f"{fatbin.name} is up to date"
