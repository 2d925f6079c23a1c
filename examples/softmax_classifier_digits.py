"""A softmax classifier on scikit-learn's bundled 8x8 digits, trained with fastseg's CS231n-style
``softmax_loss`` (the head and cross-entropy fused, chunked) and
``scipy.optimize.minimize(jac=True)`` (L-BFGS with the analytic gradient): the training loop of
linear_svm_digits.py with the softmax loss in place of the SVM loss.

    python examples/softmax_classifier_digits.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the sibling example, also when loaded by path

import fastseg  # noqa: E402
from linear_svm_digits import main as train_linear_classifier  # noqa: E402


def main(reg: float = 1e-3, maxiter: int = 200) -> float:
    """Train the softmax classifier; return its test accuracy."""
    return train_linear_classifier(reg, maxiter, loss_fn=fastseg.softmax_loss)


if __name__ == "__main__":
    main()
