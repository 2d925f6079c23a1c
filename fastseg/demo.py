"""``python -m fastseg demo``: train a small 1-D conv net with ``RangeMAELoss`` on signals like
the seed's picture, time the loss against its peers, and draw the result."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .baselines import piecewise_constant, range_mae_python_loop, range_mae_torch_vectorized


def _need(module: str):
    try:
        return __import__(module)
    except ImportError as err:
        raise SystemExit(f"the demo needs {module}: pip install 'fastseg[bench]'") from err


def _best_time(fn, repeat: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def make_data(rng, rows, length, noise=0.08):
    clean = piecewise_constant(rng, rows, length)
    return clean, (clean + noise * rng.standard_normal(clean.shape)).astype(np.float32)


def train(steps: int = 400, rows: int = 2048, length: int = 256, batch: int = 128, seed: int = 0):
    """Fit a denoiser ``noisy -> clean`` with the range-wise MAE; returns (model, losses, data)."""
    torch = _need("torch")
    tqdm = _need("tqdm").tqdm
    from .torch import RangeMAELoss

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    clean, noisy = map(torch.from_numpy, make_data(rng, rows, length))
    model = torch.nn.Sequential(
        torch.nn.Conv1d(1, 32, 9, padding=4), torch.nn.ReLU(),
        torch.nn.Conv1d(32, 32, 9, padding=4), torch.nn.ReLU(),
        torch.nn.Conv1d(32, 1, 9, padding=4))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = RangeMAELoss()
    losses = []
    with tqdm(range(steps), desc="training", unit="step", mininterval=0.5) as bar:
        for _ in bar:
            idx = torch.from_numpy(rng.integers(0, rows, batch))
            pred = model(noisy[idx, None])[:, 0]
            loss = loss_fn(pred, clean[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if len(losses) % 10 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", refresh=False)
    return model, losses, (clean, noisy)


def timing_table(y_true: np.ndarray, y_pred: np.ndarray) -> list[tuple[str, float]]:
    """fwd+bwd seconds of the loss on one batch, fastseg and its peers."""
    import torch

    import fastseg
    import fastseg.torch as ft

    t, p = torch.from_numpy(y_true), torch.from_numpy(y_pred)

    def torch_step(fn):
        def run():
            q = p.clone().requires_grad_(True)
            fn(t, q).backward()
        return run

    small = slice(0, 16)
    rows = [
        ("fastseg (NumPy API, fused value_and_grad)", _best_time(lambda: fastseg.range_mae_value_and_grad(y_true, y_pred), 50)),
        ("fastseg.torch.range_mae + backward", _best_time(torch_step(ft.range_mae), 50)),
        ("vectorised torch (cumsum + index_add_)", _best_time(torch_step(range_mae_torch_vectorized), 10)),
        ("NumPy reference (fastseg's spec)", _best_time(lambda: fastseg.range_mae_value_and_grad(y_true, y_pred, backend="reference"), 5)),
        ("seed's Python loop, fwd only (x rows/16)", _best_time(lambda: range_mae_python_loop(y_true[small], y_pred[small]), 2) * y_true.shape[0] / 16),
    ]
    return rows


def plot(path: Path, y_true: np.ndarray, y_pred: np.ndarray, n: int = 4) -> None:
    matplotlib = _need("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(n, 1, figsize=(10, 2.2 * n), sharex=True)
    for ax, t, p in zip(axes, y_true, y_pred):
        ends = np.flatnonzero(np.append(t[1:] != t[:-1], True))
        ax.plot(t, color="tab:blue", label="ground truth")
        ax.plot(p, color="tab:orange", label="prediction")
        ax.plot(ends, t[ends], "o", color="red", markersize=4, label="range end")
        ax.set_ylim(-0.1, 1.1)
    axes[0].legend(loc="upper right", ncol=3, fontsize=8)
    axes[-1].set_xlabel("position")
    fig.suptitle("fastseg demo: denoiser trained with RangeMAELoss")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(steps: int = 400, out: str = "fastseg_demo.png") -> None:
    torch = _need("torch")
    import fastseg

    model, losses, (clean, noisy) = train(steps=steps)
    with torch.no_grad():
        pred = model(noisy[:, None])[:, 0].numpy()
    y_true = clean.numpy()
    print(f"final training loss (mean of last 20 steps): {np.mean(losses[-20:]):.4f} "
          f"(first step {losses[0]:.4f})")
    print(f"range-wise MAE on all {len(y_true)} signals: {float(fastseg.range_mae(y_true, pred)):.4f}"
          f" (noisy input: {float(fastseg.range_mae(y_true, noisy.numpy())):.4f})")
    batch = slice(0, 2048)
    table = timing_table(y_true[batch], pred[batch])
    base = table[0][1]
    print(f"\nloss fwd+bwd on one {y_true[batch].shape[0]}x{y_true.shape[1]} float32 batch:")
    print(f"  {'implementation':<44} {'time':>10} {'vs fastseg':>11}")
    for name, seconds in table:
        print(f"  {name:<44} {seconds * 1e3:>8.3f}ms {seconds / base:>10.1f}x")
    plot(Path(out), y_true, pred)
    print(f"\nwrote {out}")
