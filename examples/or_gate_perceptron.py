"""A sigmoid perceptron learning the OR gate, with the gradient of its squared error taken right.

The loss is the mean squared error between the targets and ``p = sigmoid(X @ W + b)``. Its gradient
with respect to the prediction comes from ``fastseg.range_mse_value_and_grad`` (with ``segments``
giving every sample its own range and ``range_reduction="mean"``, that is exactly the MSE: the
targets 1, 1, 1 would otherwise form one range), and is chained through the sigmoid by hand,
``dL/dz = dL/dp * p (1 - p)``. The chain is checked against finite differences.

A common mistake is to multiply the *cost* by ``cost_derivative(cost)``: ``cost = (y - p)**2`` and
``2 * cost`` is not ``dL/dp = -2 (y - p) / N``: it is never negative, so it has the wrong sign
wherever a prediction is below its target, and the wrong size everywhere. This example prints both.

    python examples/or_gate_perceptron.py
"""

from __future__ import annotations

import numpy as np

import fastseg

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([0.0, 1.0, 1.0, 1.0])
SAMPLES = np.arange(len(Y))[None]  # one range per sample


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def loss_and_grads(W, b):
    """MSE of the perceptron and its gradients with respect to ``W`` and ``b``."""
    p = sigmoid(X @ W + b)
    loss, dp = fastseg.range_mse_value_and_grad(Y[None], p[None], segments=SAMPLES, range_reduction="mean")
    dz = dp[0] * p * (1 - p)  # through the sigmoid
    return float(loss), X.T @ dz, float(dz.sum())


def check_chain(W, b, eps=1e-6) -> float:
    """Largest difference between the chained gradient and central finite differences."""
    _, dW, db = loss_and_grads(W, b)
    worst = 0.0
    for k in range(len(W)):
        step = np.zeros_like(W)
        step[k] = eps
        numeric = (loss_and_grads(W + step, b)[0] - loss_and_grads(W - step, b)[0]) / (2 * eps)
        worst = max(worst, abs(numeric - dW[k]))
    numeric_b = (loss_and_grads(W, b + eps)[0] - loss_and_grads(W, b - eps)[0]) / (2 * eps)
    return max(worst, abs(numeric_b - db))


def main(epochs: int = 2000, learning_rate: float = 2.0, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    W, b = rng.random(2), 0.0
    p = sigmoid(X @ W + b)
    _, dp = fastseg.range_mse_value_and_grad(Y[None], p[None], segments=SAMPLES, range_reduction="mean")
    cost = (Y - p) ** 2
    print("dL/dprediction (fastseg):           ", np.round(dp[0], 4))
    print("cost * cost_derivative(cost) (wrong):", np.round(cost * 2 * cost, 4))
    print(f"chain rule vs finite differences: max difference {check_chain(W, b):.2e}")
    for _ in range(epochs):
        loss, dW, db = loss_and_grads(W, b)
        W -= learning_rate * dW
        b -= learning_rate * db
    predictions = (sigmoid(X @ W + b) > 0.5).astype(int)
    correct = int((predictions == Y).sum())
    print(f"after {epochs} steps: loss {loss:.4f}, predictions {predictions.tolist()}, {correct}/4 correct")
    return correct


if __name__ == "__main__":
    main()
