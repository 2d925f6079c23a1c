"""``fastseg demo``: train a small 1-D conv denoiser with ``RangeMAELoss`` on signals like the
seed's picture, score it on held-out signals, time the loss against its peers, and draw the result.

Needs the ``demo`` extra (torch, tqdm, matplotlib); all three are checked before training starts.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType
from typing import Callable, NamedTuple

import numpy as np

from ._extras import require
from .baselines import piecewise_constant, range_mae_python_loop, range_mae_torch_vectorized

HELD_OUT = 1 / 8
"""Share of the signals kept out of training: the scores and the figure are on these."""


class Needs(NamedTuple):
    """The demo's optional dependencies, imported."""

    torch: ModuleType
    tqdm: ModuleType
    pyplot: ModuleType


def needs() -> Needs:
    """Import torch, tqdm and matplotlib (Agg backend), or raise
    :class:`~fastseg._extras.MissingExtraError` naming the ``demo`` extra."""
    torch = require("torch", extra="demo", feature="fastseg demo")
    tqdm = require("tqdm", extra="demo", feature="fastseg demo")
    matplotlib = require("matplotlib", extra="demo", feature="fastseg demo")
    matplotlib.use("Agg")
    return Needs(torch, tqdm, require("matplotlib.pyplot", extra="demo", feature="fastseg demo"))


def _best_time(fn: Callable[[], object], repeat: int) -> float:
    """Fastest of ``repeat`` timed calls of ``fn`` (after one untimed warm-up call), in seconds."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def make_data(rng: np.random.Generator, rows: int, length: int,
              noise: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """``(clean, noisy)`` float32 signals: piecewise-constant rows and the same plus Gaussian noise."""
    clean = piecewise_constant(rng, rows, length)
    return clean, (clean + noise * rng.standard_normal(clean.shape)).astype(np.float32)


class Trained(NamedTuple):
    """What :func:`train` returns."""

    model: object
    losses: list[float]
    clean: np.ndarray
    noisy: np.ndarray
    split: int
    """Rows ``[:split]`` were trained on, rows ``[split:]`` are held out."""


def train(steps: int = 400, rows: int = 2048, length: int = 256, batch: int = 128,
          seed: int = 0) -> Trained:
    """Fit a denoiser ``noisy -> clean`` with the range-wise MAE on all but the held-out rows.

    Parameters
    ----------
    steps : int
        Adam steps, one random batch of training rows each.
    rows, length : int
        Signals made, and their length.
    batch : int
        Rows per step.
    seed : int
        Seeds the data, the batches and torch.

    Returns
    -------
    Trained
        The model, the loss of every step, the data and where the held-out rows start.
    """
    torch, tqdm, _ = needs()
    from .torch import RangeMAELoss

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    clean, noisy = make_data(rng, rows, length)
    split = rows - max(1, int(rows * HELD_OUT))
    x, y = torch.from_numpy(noisy[:split]), torch.from_numpy(clean[:split])
    model = torch.nn.Sequential(
        torch.nn.Conv1d(1, 32, 9, padding=4), torch.nn.ReLU(),
        torch.nn.Conv1d(32, 32, 9, padding=4), torch.nn.ReLU(),
        torch.nn.Conv1d(32, 1, 9, padding=4))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = RangeMAELoss()
    losses: list[float] = []
    with tqdm.tqdm(range(steps), desc="training", unit="step", mininterval=0.5) as bar:
        for _ in bar:
            idx = torch.from_numpy(rng.integers(0, split, batch))
            loss = loss_fn(model(x[idx, None])[:, 0], y[idx])  # (prediction, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if len(losses) % 10 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", refresh=False)
    return Trained(model, losses, clean, noisy, split)


def timing_table(y_true: np.ndarray, y_pred: np.ndarray) -> list[tuple[str, float]]:
    """fwd+bwd seconds of the loss on one batch, fastseg and its peers (best of several calls)."""
    import torch

    import fastseg
    import fastseg.torch as ft

    t, p = torch.from_numpy(y_true), torch.from_numpy(y_pred)
    fastseg_loss = ft.RangeMAELoss()

    def torch_step(fn):
        def run():
            q = p.clone().requires_grad_(True)
            fn(q, t).backward()
        return run

    small = slice(0, 16)
    return [
        ("fastseg (NumPy API, fused value_and_grad)",
         _best_time(lambda: fastseg.range_mae_value_and_grad(y_true, y_pred), 50)),
        ("fastseg.torch.RangeMAELoss + backward", _best_time(torch_step(fastseg_loss), 50)),
        ("vectorised torch (cumsum + index_add_)",
         _best_time(torch_step(lambda q, t: range_mae_torch_vectorized(t, q)), 10)),
        ("NumPy reference (fastseg's spec)",
         _best_time(lambda: fastseg.range_mae_value_and_grad(y_true, y_pred, backend="reference"), 5)),
        ("seed's Python loop, fwd only (x rows/16)",
         _best_time(lambda: range_mae_python_loop(y_true[small], y_pred[small]), 2) * y_true.shape[0] / 16),
    ]


def plot(path: Path, pyplot: ModuleType, noisy: np.ndarray, pred: np.ndarray, target: np.ndarray,
         losses: list[float], n: int = 4) -> None:
    """Draw ``n`` held-out signals (noisy input, prediction, target, where ranges end) above the
    training-loss curve, into the PNG ``path``."""
    fig = pyplot.figure(figsize=(11, 2.0 * n + 2.6))
    grid = fig.add_gridspec(n + 1, 1, height_ratios=[1] * n + [1.3])
    for i in range(n):
        ax = fig.add_subplot(grid[i])
        t = target[i]
        ends = np.flatnonzero(np.append(t[1:] != t[:-1], True))
        ax.plot(noisy[i], color="0.6", linewidth=0.8, label="noisy input")
        ax.plot(t, color="tab:blue", linewidth=1.6, label="target")
        ax.plot(pred[i], color="tab:orange", linewidth=1.2, label="prediction")
        ax.plot(ends, t[ends], "o", color="red", markersize=3, label="range end")
        ax.set_ylim(-0.3, 1.3)
        ax.set_ylabel(f"held-out {i}")
        if i == 0:
            ax.legend(loc="upper right", ncol=4, fontsize=8)
    ax = fig.add_subplot(grid[n])
    steps = np.arange(1, len(losses) + 1)
    ax.plot(steps, losses, color="0.7", linewidth=0.8, label="per step")
    window = min(20, len(losses))
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    ax.plot(steps[window - 1:], smooth, color="tab:green", label=f"mean of {window} steps")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("RangeMAELoss")
    ax.legend(loc="upper right", fontsize=8)
    fig.suptitle("fastseg demo: a 1-D conv denoiser trained with RangeMAELoss, on held-out signals")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot.close(fig)


def main(steps: int = 400, out: str = "fastseg_demo.png") -> None:
    """Train, score on the held-out signals, time the loss, write the figure to ``out``."""
    torch, _, pyplot = needs()  # all three before training, not after it
    import fastseg

    trained = train(steps=steps)
    held = slice(trained.split, None)
    with torch.no_grad():
        pred = trained.model(torch.from_numpy(trained.noisy[held, None]))[:, 0].numpy()
    clean, noisy = trained.clean[held], trained.noisy[held]
    losses = trained.losses
    print(f"training loss: {losses[0]:.4f} at the first step, {np.mean(losses[-20:]):.4f} "
          f"over the last {min(20, len(losses))}")
    print(f"range-wise MAE on the {len(clean)} held-out signals: "
          f"{float(fastseg.range_mae(clean, pred)):.4f} (noisy input: {float(fastseg.range_mae(clean, noisy)):.4f})")
    with torch.no_grad():
        train_pred = trained.model(torch.from_numpy(trained.noisy[:trained.split, None]))[:, 0].numpy()
    y_true = trained.clean[:trained.split]
    table = timing_table(y_true, train_pred)
    base = table[0][1]
    print(f"\nloss fwd+bwd on one {y_true.shape[0]}x{y_true.shape[1]} float32 batch:")
    print(f"  {'implementation':<44} {'time':>10} {'vs fastseg':>11}")
    for name, seconds in table:
        print(f"  {name:<44} {seconds * 1e3:>8.3f}ms {seconds / base:>10.1f}x")
    plot(Path(out), pyplot, noisy, pred, clean, losses)
    print(f"\nwrote {out}")
