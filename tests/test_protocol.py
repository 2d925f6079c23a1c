"""The one seam (docs/design.md, "Backend protocol" and "Autograd memory contract"): every op's
every backend answers the same ``rows(...)`` call, forward-only, backward-only and fused alike,
and the torch adapter keeps nothing of size rows x L between forward and backward."""

import numpy as np
import pytest

from fastseg.ops import categorical_crossentropy, cross_entropy, multiclass_hinge, range_loss
from host_cupy import backend_on_host

rng = np.random.default_rng(5)
_T = np.repeat(rng.integers(0, 3, (4, 6)), 3, axis=1).astype(float)
CASES = {  # op -> (arrays in kernel order, plan options)
    "range_mae": (range_loss.OP, (_T, _T + rng.standard_normal(_T.shape), np.array([18, 0, 7, 18]), None),
                  {"range_reduction": "mean"}),
    "range_huber_segments": (range_loss.OP, (_T, _T + rng.standard_normal(_T.shape), None,
                                             np.repeat(np.arange(6)[None] // 4, 4, 0).repeat(3, 1)),
                             {"loss": "huber", "delta": 0.5}),
    "range_mse_segments": (range_loss.OP, (_T, _T + rng.standard_normal(_T.shape), np.array([18, 0, 7, 18]),
                                           np.repeat(np.arange(18)[None] // 5, 4, 0)),
                           {"loss": "mse", "range_reduction": "mean"}),
    "multiclass_hinge": (multiclass_hinge.OP, (rng.standard_normal((5, 7)), np.array([0, 6, 3, 3, 1]), rng.random(7)),
                         {"margin": 1.0, "p": 2, "divide_by_classes": False}),
    "cross_entropy": (cross_entropy.OP, (rng.standard_normal((5, 7)), np.array([0, 6, -100, 3, 1]), rng.random(7)),
                      {"ignore_index": -100, "label_smoothing": 0.1}),
    "categorical_crossentropy": (categorical_crossentropy.OP,
                                 (np.eye(7)[[0, 6, 2, 3, 1]], rng.random((5, 7)) + 0.01),
                                 {"from_logits": False, "label_smoothing": 0.0}),
}


def _call(kernels, views, plan, **outs):
    kernels.rows(*views, **outs, **plan.kernel_options)


@pytest.mark.parametrize("backend", ["reference", "cpu", "cuda", "native"])
@pytest.mark.parametrize("name", list(CASES))
def test_every_backend_answers_the_protocol(request, name, backend):
    """Forward only, backward only (per-row scale) and fused calls agree with the reference's fused
    call; range_mae's y_true gradient is the negation, from the same pass."""
    op, arrays, options = CASES[name]
    kernels = op.backend(backend) if backend in ("reference", "cpu") else backend_on_host(request, op.name, backend)
    plan = op.plan(tuple(None if a is None else a.shape for a in arrays),
                   tuple(None if a is None else a.dtype for a in arrays), **options)
    views = [None if a is None else np.ascontiguousarray(a.astype(d).reshape(s))
             for a, s, d in zip(arrays, plan.views, plan.casts)]
    primary = views[op.primary]
    scale = np.linspace(0.5, 2.0, plan.rows)
    want_loss, want_grad = np.empty(plan.rows), np.empty_like(primary)
    op.backend("reference").rows(*views, out_loss=want_loss, out_grad=want_grad, grad_scale=scale,
                                 **plan.kernel_options)
    loss, grad = np.full(plan.rows, -7.0), np.full_like(primary, -7.0)
    _call(kernels, views, plan, out_loss=loss, out_grad=grad, grad_scale=scale)
    fwd = np.full(plan.rows, -7.0)
    _call(kernels, views, plan, out_loss=fwd)
    bwd = np.full_like(primary, -7.0)
    extra = {"out_grad_true": np.full_like(primary, -7.0)} if len(op.grads) > 1 else {}
    _call(kernels, views, plan, out_grad=bwd, grad_scale=scale, **extra)
    for got in (loss, fwd):
        np.testing.assert_allclose(got, want_loss, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(bwd, grad)
    if extra:
        np.testing.assert_array_equal(extra["out_grad_true"], -grad)


def test_plans_are_pure_and_cached():
    op, arrays, options = CASES["range_mae"]
    shapes = tuple(None if a is None else a.shape for a in arrays)
    dtypes = tuple(None if a is None else a.dtype for a in arrays)
    assert op.plan(shapes, dtypes, **options) is op.plan(shapes, dtypes, **options)
    plan = op.plan(shapes, dtypes, **options)
    assert plan.rows == 4 and plan.lead == (4,)
    assert plan.kernel_options == {"kind": 0, "delta": 1.0, "mean_over_ranges": True}


def test_config_override_is_scoped():
    from fastseg import _numba, config
    assert _numba.cpu_plan(1 << 20, 2, config.get()) == "parallel"
    with config.override(parallel_min_elements=1 << 30) as cfg:
        assert config.get() is cfg and _numba.cpu_plan(1 << 20, 2, cfg) == "serial"
    assert config.get().parallel_min_elements == 1 << 14
    with pytest.raises(TypeError):
        with config.override(no_such_tunable=1):
            pass


torch = pytest.importorskip("torch")
import fastseg.torch as ft  # noqa: E402

TORCH_CALLS = {  # op -> (differentiable input, function of it, every input tensor)
    "range_mae": lambda p, t: ft.range_mae(p, t, range_reduction="mean"),
    "range_huber": lambda p, t: ft.range_huber(p, t, delta=0.3),
    "multiclass_hinge": lambda s, y: ft.multiclass_hinge(s, y, p=2),
    "cross_entropy": lambda x, y: ft.cross_entropy(x, y, label_smoothing=0.1),
}


def _torch_inputs(name, rows=64, width=300):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, width, generator=g, requires_grad=True)
    if name.startswith("range"):
        return x, torch.randint(0, 3, (rows, width // 10), generator=g).repeat_interleave(10, 1).float()
    return x, torch.randint(0, width, (rows,), generator=g)


@pytest.mark.parametrize("name", list(TORCH_CALLS))
def test_saved_for_backward_is_inputs_only(name):
    """Bytes saved between forward and backward (saved_tensors_hooks): the inputs themselves."""
    x, other = _torch_inputs(name)
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = TORCH_CALLS[name](x, other)
    input_ptrs = {x.data_ptr(), other.data_ptr()}
    rows_by_l = x.numel()
    big = [t for t in saved if t.numel() >= rows_by_l and t.data_ptr() not in input_ptrs]
    assert not big, f"{name} saved {[tuple(t.shape) for t in big]} beyond its inputs"
    extra_bytes = sum(t.numel() * t.element_size() for t in saved if t.data_ptr() not in input_ptrs)
    assert extra_bytes <= 16 * x.shape[0]  # O(rows) at most
    loss.backward()
    assert x.grad is not None


@pytest.mark.parametrize("name", list(TORCH_CALLS))
def test_retain_graph_and_reused_loss_give_the_same_gradients(name):
    x, other = _torch_inputs(name)
    loss = TORCH_CALLS[name](x, other)
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    x.grad = None
    loss.backward(retain_graph=True)
    torch.testing.assert_close(x.grad, first, rtol=0, atol=0)
    x.grad = None
    (loss + 2 * loss).backward()  # one graph, the loss used twice
    torch.testing.assert_close(x.grad, 3 * first, rtol=1e-6, atol=1e-9)
    x.grad = None
    loss2 = TORCH_CALLS[name](x, other)
    (loss2 * loss2.detach() + loss2).backward()
    torch.testing.assert_close(x.grad, (loss2.detach() + 1) * first, rtol=1e-6, atol=1e-9)
