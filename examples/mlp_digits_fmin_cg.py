"""An MLP that would not train with fmin_cg, fixed: a 64-25-10 sigmoid MLP on scikit-learn's bundled 8x8 digits,
trained by ``scipy.optimize.fmin_cg`` *with* the analytic gradient (``fprime``).

The output layer's loss is softmax cross-entropy, ``fastseg.cross_entropy_value_and_grad`` gives
the loss and ``d loss / d logits`` in one fused pass, and backpropagation through the hidden
sigmoid layer is two matrix products. Without ``fprime``, SciPy estimates the gradient by finite
differences: one loss evaluation per parameter (1,885 here) per gradient.

    python examples/mlp_digits_fmin_cg.py
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import fmin_cg
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastseg

SIZES = (64, 25, 10)


def unpack(theta):
    d, h, c = SIZES
    W1 = theta[: (d + 1) * h].reshape(d + 1, h)
    W2 = theta[(d + 1) * h:].reshape(h + 1, c)
    return W1, W2


def with_bias(a):
    return np.hstack([np.ones((a.shape[0], 1)), a])


def forward(theta, X):
    W1, W2 = unpack(theta)
    hidden = 1.0 / (1.0 + np.exp(-(with_bias(X) @ W1)))
    return hidden, with_bias(hidden) @ W2


def loss_and_grad(theta, X, y, reg):
    W1, W2 = unpack(theta)
    hidden, logits = forward(theta, X)
    loss, d_logits = fastseg.cross_entropy_value_and_grad(logits, y)
    d_hidden = (d_logits @ W2[1:].T) * hidden * (1.0 - hidden)
    g1, g2 = with_bias(X).T @ d_hidden, with_bias(hidden).T @ d_logits
    g1[1:] += reg * W1[1:]
    g2[1:] += reg * W2[1:]
    loss = float(loss) + 0.5 * reg * (np.sum(W1[1:] ** 2) + np.sum(W2[1:] ** 2))
    return loss, np.concatenate([g1.ravel(), g2.ravel()])


def main(maxiter: int = 200, reg: float = 1e-3, compare_iterations: int = 2) -> float:
    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(digits.data / 16.0, digits.target, test_size=0.25,
                                                        random_state=0)
    n_params = (SIZES[0] + 1) * SIZES[1] + (SIZES[1] + 1) * SIZES[2]
    theta0 = np.random.default_rng(0).uniform(-0.12, 0.12, n_params)
    calls = {"f": 0, "fprime": 0}

    def f(theta):
        calls["f"] += 1
        return loss_and_grad(theta, X_train, y_train, reg)[0]

    def fprime(theta):
        calls["fprime"] += 1
        return loss_and_grad(theta, X_train, y_train, reg)[1]

    history = []
    theta = fmin_cg(f, theta0, fprime=fprime, maxiter=maxiter, disp=False,
                    callback=lambda t: history.append(f(t)))
    accuracy = float(np.mean(forward(theta, X_test)[1].argmax(1) == y_test))
    with_fprime = (calls["f"] - len(history) + calls["fprime"]) / max(len(history), 1)
    print(f"loss {history[0]:.3f} (iteration 1) -> {history[len(history) // 2]:.3f} -> {history[-1]:.3f} "
          f"after {len(history)} iterations; test accuracy {accuracy:.3f}")

    calls["f"] = 0
    fmin_cg(f, theta0, maxiter=compare_iterations, disp=False)  # no fprime: finite differences
    without = calls["f"] / compare_iterations
    print(f"function calls per iteration: {with_fprime:.1f} with fprime, {without:.0f} without "
          f"({without / with_fprime:.0f}x more; {n_params} parameters)")
    return accuracy


if __name__ == "__main__":
    main()
