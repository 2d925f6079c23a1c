"""Optional dependencies ("extras"): one clear error that says what to install when one is missing.

fastseg's hard dependencies are NumPy and Numba. PyTorch, TensorFlow/Keras and the CUDA
libraries are extras of the distribution ``fastseg-kernels`` (the import name stays ``fastseg``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

DISTRIBUTION = "fastseg-kernels"
"""The name fastseg is published under on PyPI (``fastseg`` there is an unrelated project)."""


def install_hint(extra: str) -> str:
    """The pip command that installs ``extra``, e.g. ``pip install 'fastseg-kernels[torch]'``."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


class MissingExtraError(ModuleNotFoundError):
    """An optional dependency of fastseg is not installed.

    A :class:`ModuleNotFoundError` (so ``except ImportError`` still catches it) whose message
    names the missing module and the extra that provides it.
    """

    def __init__(self, feature: str, module: str, extra: str, detail: str | None = None):
        self.feature, self.extra = feature, extra
        why = f" ({detail})" if detail else ""
        super().__init__(f"{feature} needs {module}, which is not installed{why}. "
                         f"Install it with: {install_hint(extra)}", name=module)


class NoGPUError(RuntimeError):
    """A CUDA backend was asked for, its libraries are installed, but no CUDA driver or GPU
    can be used."""

    def __init__(self, feature: str, detail: str | None = None):
        why = f" ({detail})" if detail else ""
        super().__init__(f"{feature} needs a CUDA GPU: no CUDA driver/GPU found{why}. "
                         "Use backend='cpu' (the default for NumPy arrays) on this machine.")


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` and return it; if it (or something it needs) is missing, raise
    :class:`MissingExtraError` naming the extra to install.

    Parameters
    ----------
    module : str
        The module to import, e.g. ``"torch"``.
    extra : str
        The extra of ``fastseg-kernels`` that installs it, e.g. ``"torch"``.
    feature : str
        What needs it, for the message, e.g. ``"fastseg.torch"``.

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    MissingExtraError
        When importing ``module`` raises :class:`ModuleNotFoundError`.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        missing = err.name or module
        detail = None if missing == module or missing.startswith(module + ".") else \
            f"importing {module} failed: no module named {missing!r}"
        raise MissingExtraError(feature, module, extra, detail) from None
