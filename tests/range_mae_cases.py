"""Hand-made range_mae tables and random row generators, shared by the CPU, CUDA and torch tests."""

import numpy as np

# (name, y_true row(s), y_pred row(s), lengths, expected per-row loss for range_reduction="sum")
HAND_TABLES = [
    ("one range", [[2, 2, 2, 2]], [[1, 2, 3, 2]], None, [0.5]),
    ("every element its own range", [[0, 1, 2, 3]], [[1, 1, 1, 1]], None, [1 + 0 + 1 + 2]),
    ("length-1 range at both ends", [[5, 1, 1, 1, 7]], [[4, 1, 2, 0, 7]], None, [1 + 2 / 3 + 0]),
    ("L=1", [[3], [1]], [[1], [1]], None, [2, 0]),
    ("lengths 0 and L", [[1, 1, 2], [1, 1, 2]], [[0, 0, 0], [0, 0, 0]], [0, 3], [0, 1 + 2]),
    ("lengths cut a range", [[1, 1, 2, 2]], [[0, 1, 0, 9]], [3], [0.5 + 2]),
    ("three-level signal", [[0.2, 0.2, 0.2, 0.7, 0.7, 0.4]], [[0.3, 0.2, 0.1, 0.7, 0.5, 0.4]], None,
     [0.2 / 3 + 0.1 + 0.0]),
]

# Ranges per row of each hand table (for the "mean" range reduction).
HAND_RANGES = [[1], [4], [3], [1, 1], [0, 2], [2], [3]]


def piecewise_rows(rng, rows, length, max_ranges=12, dtype=np.float64):
    """Piecewise-constant targets with 1..max_ranges ranges per row and noisy predictions."""
    y_true = np.empty((rows, length), dtype)
    for b in range(rows):
        n = int(rng.integers(1, min(max_ranges, length) + 1))
        cuts = np.sort(rng.choice(np.arange(1, length), n - 1, replace=False)) if n > 1 else []
        sizes = np.diff(np.concatenate([[0], cuts, [length]])).astype(int)
        y_true[b] = np.repeat(rng.random(n), sizes)
    y_pred = (y_true + 0.1 * rng.standard_normal((rows, length))).astype(dtype)
    return y_true, y_pred
