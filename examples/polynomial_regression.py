"""A polynomial regression that diverged, and the same loop that converges.

The setup as it was asked: features ``[1, x, x**2]`` of ``x = 1..5``, targets ``x**2``, three weights
at 0.5, plain gradient descent with learning rate 0.01 for 30 steps on the mean squared error. The
loss grows without bound: the ``x**2`` column (up to 25) makes the problem so badly conditioned that
0.01 is far past the largest stable step.

The fix: standardise the features and the targets, keep the bias as a separate parameter, and
take the MSE from ``fastseg.torch.range_mse`` (every target value differs, so every range has one
element, and ``range_reduction="mean"`` makes it exactly the mean squared error).

    python examples/polynomial_regression.py [--plot curves.png]
"""

from __future__ import annotations

import argparse

import torch

import fastseg.torch as ft


def as_asked(iterations: int = 30, alpha: float = 0.01) -> list[float]:
    """The question's loop (with the ``backward()`` call it needs): the loss per step."""
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    y = (x ** 2)[:, None]
    w = torch.full((3, 1), 0.5, requires_grad=True)
    psi = torch.stack([torch.ones_like(x), x, x ** 2], 1)
    losses = []
    for _ in range(iterations):
        loss = ((y - psi @ w) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= alpha * w.grad
            w.grad = None
        losses.append(loss.item())
    return losses


def fixed(iterations: int = 30, alpha: float = 0.1) -> list[float]:
    """Standardised features and targets, a separate bias, fastseg's MSE: the loss per step."""
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    psi = torch.stack([x, x ** 2], 1)
    psi = (psi - psi.mean(0)) / psi.std(0)
    y = x ** 2
    y = (y - y.mean()) / y.std()
    w = torch.full((2,), 0.5, requires_grad=True)
    b = torch.tensor(0.5, requires_grad=True)
    losses = []
    for _ in range(iterations):
        y_hat = psi @ w + b
        loss = ft.range_mse(y_hat[None], y[None], range_reduction="mean")  # one row of 5 one-element ranges
        loss.backward()
        with torch.no_grad():
            for p in (w, b):
                p -= alpha * p.grad
                p.grad = None
        losses.append(loss.item())
    return losses


def main(plot: str | None = None) -> tuple[list[float], list[float]]:
    diverged, converged = as_asked(), fixed()
    print(f"{'step':>4}  {'as asked (lr 0.01)':>20}  {'standardised + fastseg MSE':>28}")
    for step in range(0, 30, 5):
        print(f"{step:>4}  {diverged[step]:>20.4g}  {converged[step]:>28.4g}")
    print(f"last  {diverged[-1]:>20.4g}  {converged[-1]:>28.4g}")
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.semilogy(diverged, label="features [1, x, x²], lr 0.01 (diverges)")
        ax.semilogy(converged, label="standardised, separate bias, fastseg MSE")
        ax.set_xlabel("step")
        ax.set_ylabel("mean squared error")
        ax.legend()
        fig.tight_layout()
        fig.savefig(plot, dpi=120)
        print(f"wrote {plot}")
    return diverged, converged


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", help="write both loss curves to this PNG (needs matplotlib)")
    main(parser.parse_args().plot)
