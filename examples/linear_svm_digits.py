"""A linear SVM on scikit-learn's bundled 8x8 digits, trained with fastseg's CS231n-style
``svm_loss`` and ``scipy.optimize.minimize(jac=True)`` (L-BFGS with the analytic gradient).

    python examples/linear_svm_digits.py
"""

import numpy as np
from scipy.optimize import minimize
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastseg


def main(reg: float = 1e-3, maxiter: int = 200, loss_fn=fastseg.svm_loss) -> float:
    """Train a linear classifier with ``loss_fn(W, X, y, reg) -> (loss, dW)`` (CS231n's signature:
    ``fastseg.svm_loss`` here, ``fastseg.softmax_loss`` in softmax_classifier_digits.py); return
    the test accuracy."""
    digits = load_digits()
    X = digits.data / 16.0
    X = np.hstack([X, np.ones((len(X), 1))])  # bias trick, as CS231n
    X_train, X_test, y_train, y_test = train_test_split(X, digits.target, test_size=0.25, random_state=0)
    D, C = X.shape[1], 10

    def objective(w):
        loss, dW = loss_fn(w.reshape(D, C), X_train, y_train, reg)
        return loss, dW.ravel()

    w0 = 1e-3 * np.random.default_rng(0).standard_normal(D * C)
    result = minimize(objective, w0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter})
    W = result.x.reshape(D, C)
    accuracy = float(np.mean((X_test @ W).argmax(axis=1) == y_test))
    print(f"loss {objective(w0)[0]:.3f} -> {result.fun:.3f} in {result.nit} iterations "
          f"({result.nfev} loss+gradient evaluations); test accuracy {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
