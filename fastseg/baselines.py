"""What a user would write instead of fastseg: the peers in the benchmarks and the demo's table.

None of these is used by fastseg's ops; they exist to be measured against.
"""

from __future__ import annotations

import numpy as np


def range_mae_torch_vectorized(y_true, y_pred, range_reduction: str = "sum"):
    """Best vectorised PyTorch range-wise MAE (mean over rows): range ids by a cumsum of change
    flags, per-range sums and sizes by ``index_add_``. Differentiable through autograd."""
    import torch

    rows, length = y_pred.shape
    starts = torch.ones_like(y_true, dtype=torch.bool)
    starts[:, 1:] = y_true[:, 1:] != y_true[:, :-1]
    range_id = torch.cumsum(starts.reshape(-1), 0) - 1
    n_ranges = int(range_id[-1]) + 1
    err = (y_true - y_pred).abs().reshape(-1)
    sums = err.new_zeros(n_ranges).index_add_(0, range_id, err)
    sizes = err.new_zeros(n_ranges).index_add_(0, range_id, torch.ones_like(err))
    row_of_element = torch.arange(rows, device=y_pred.device).repeat_interleave(length)
    range_row = torch.zeros(n_ranges, dtype=torch.long, device=y_pred.device)
    range_row.scatter_(0, range_id, row_of_element)
    row_loss = err.new_zeros(rows).index_add_(0, range_row, sums / sizes)
    if range_reduction == "mean":
        row_loss = row_loss / starts.sum(1)
    return row_loss.mean()


def range_mae_python_loop(y_true, y_pred):
    """The "lazy" range-wise MAE loop, element by element, in NumPy (its last-range bug kept:
    a last range of length 1 is dropped). Returns per-row losses."""
    rows, length = y_pred.shape
    losses = np.zeros(rows, dtype=y_pred.dtype)
    for ii in range(rows):
        loss, ris = 0.0, 0
        for jj in range(length - 1):
            if y_true[ii][jj] != y_true[ii][jj + 1]:
                loss += np.mean(np.abs(y_true[ii][ris:jj + 1] - y_pred[ii][ris:jj + 1]))
                ris = jj + 1
        if ris != length - 1:
            loss += np.mean(np.abs(y_true[ii][ris:length] - y_pred[ii][ris:length]))
        losses[ii] = loss
    return losses


def piecewise_constant(rng: np.random.Generator, rows: int, length: int, min_ranges: int = 2,
                       max_ranges: int = 12, dtype=np.float32) -> np.ndarray:
    """Piecewise-constant signals: ``min_ranges..max_ranges`` ranges of values in [0, 1]."""
    out = np.empty((rows, length), dtype)
    for b in range(rows):
        n = int(rng.integers(min_ranges, max_ranges + 1))
        cuts = np.sort(rng.choice(np.arange(1, length), n - 1, replace=False))
        out[b] = np.repeat(rng.random(n), np.diff(np.concatenate([[0], cuts, [length]])))
    return out


def range_mae_tf_loop(y_true, y_pred):
    """The "lazy" range-wise MAE TensorFlow loop: element by element over TF ops, per row.

    Kept as the question wrote it, bug included: the last range is dropped when it has length 1
    (``if start != length - 1``). Per-row losses, ``range_reduction="sum"`` otherwise.
    """
    import tensorflow as tf

    y_true, y_pred = tf.convert_to_tensor(y_true), tf.convert_to_tensor(y_pred)
    rows, length = y_pred.shape
    losses = tf.zeros(rows, dtype=y_pred.dtype)
    for ii in range(rows):
        loss = tf.constant(0, dtype=y_pred.dtype)
        start = 0
        for jj in range(length - 1):
            if y_true[ii][jj] != y_true[ii][jj + 1]:
                loss += tf.reduce_mean(tf.abs(y_true[ii][start:jj + 1] - y_pred[ii][start:jj + 1]))
                start = jj + 1
        if start != length - 1:
            loss += tf.reduce_mean(tf.abs(y_true[ii][start:length] - y_pred[ii][start:length]))
        losses = tf.tensor_scatter_nd_update(losses, [[ii]], [loss])
    return losses


def range_mae_tf_ragged(y_true, y_pred):
    """The ragged-tensor TF formulation (a common answer to this problem): per row, range bounds by ``tf.where`` of the changes,
    ``tf.ragged.range`` + ``tf.gather`` for the ranges, mean over ranges
    (= ``range_reduction="mean"``). Per-row losses; the row loop is a ``tf.range`` loop, so
    inside ``tf.function`` it becomes a ``tf.while_loop`` as in the answer."""
    import tensorflow as tf

    y_true, y_pred = tf.convert_to_tensor(y_true), tf.convert_to_tensor(y_pred)
    rows, length = tf.shape(y_pred)[0], tf.shape(y_pred)[1]
    losses = tf.zeros([rows], dtype=y_pred.dtype)
    for ii in tf.range(rows):
        t, p = y_true[ii], y_pred[ii]
        ends = tf.concat([tf.where(t[:-1] != t[1:])[:, 0], [tf.cast(length - 1, tf.int64)]], axis=0)
        starts = tf.concat([[tf.constant(0, tf.int64)], ends[:-1] + 1], axis=0)
        ranges = tf.ragged.range(starts, ends + 1)
        per_range = tf.reduce_mean(tf.abs(tf.gather(t, ranges) - tf.gather(p, ranges)), axis=-1)
        loss = tf.math.divide_no_nan(tf.reduce_sum(per_range), tf.cast(tf.shape(ends)[0], y_pred.dtype))
        losses = tf.tensor_scatter_nd_update(losses, [[ii]], [loss])
    return losses


def hinge_vectorized_numpy(scores, y, delta=1.0):
    """The hinge part of ``svm_loss_vectorized`` on given scores: mean loss and ``dScores``."""
    n = scores.shape[0]
    correct = scores[np.arange(n), y][:, None]
    margins = np.maximum(0, scores - correct + delta)
    margins[np.arange(n), y] = 0
    mask = (margins > 0).astype(scores.dtype)
    mask[np.arange(n), y] = -mask.sum(axis=1)
    return margins.sum() / n, mask / n


def hinge_naive_loop(scores, y, delta=1.0):
    """CS231n's naive double loop over samples and classes (``j == y[i]`` skipped), on given scores."""
    loss = 0.0
    grad = np.zeros_like(scores)
    for i in range(scores.shape[0]):
        for j in range(scores.shape[1]):
            if j == y[i]:
                continue
            margin = scores[i, j] - scores[i, y[i]] + delta
            if margin > 0:
                loss += margin
                grad[i, j] += 1
                grad[i, y[i]] -= 1
    return loss / scores.shape[0], grad / scores.shape[0]


def svm_loss_vectorized_numpy(W, X, y, reg, delta=1.0):
    """CS231n's fully vectorised ``svm_loss_vectorized`` as students write it: scores, then
    :func:`hinge_vectorized_numpy`, then ``dW`` by a matrix product."""
    loss, d_scores = hinge_vectorized_numpy(X @ W, y, delta)
    return loss + reg * np.sum(W * W), X.T @ d_scores + 2 * reg * W


def softmax_loss_naive(W, X, y, reg):
    """CS231n's ``softmax_loss_naive``: explicit loops over samples and classes (shifted scores for
    stability). ``W (D, C)``, ``X (N, D)``; returns the mean loss plus ``reg * sum(W**2)`` and ``dW``."""
    loss = 0.0
    dW = np.zeros_like(W)
    num_train, num_classes = X.shape[0], W.shape[1]
    for i in range(num_train):
        scores = X[i].dot(W)
        scores -= np.max(scores)
        exp_sum = np.sum(np.exp(scores))
        loss += -scores[y[i]] + np.log(exp_sum)
        for j in range(num_classes):
            p = np.exp(scores[j]) / exp_sum
            dW[:, j] += (p - (j == y[i])) * X[i]
    loss = loss / num_train + reg * np.sum(W * W)
    dW = dW / num_train + 2 * reg * W
    return loss, dW
