"""CUDA graph capture of every fastseg.torch op on CUDA tensors (docs/design.md, "Numba and CUDA
rules": no host synchronisation, no allocation outside torch's allocator, launches on the current
stream). Runs on a GPU; skips with the reason elsewhere (the ``gpu`` marker)."""

import pytest

torch = pytest.importorskip("torch")
import fastseg.torch as ft  # noqa: E402

pytestmark = pytest.mark.gpu

CASES = {  # op -> (prediction shape, other input, loss of (prediction, other))
    "range_mae": lambda d: (torch.randn(64, 300, device=d),
                            torch.randint(0, 3, (64, 30), device=d).repeat_interleave(10, 1).float(),
                            lambda p, t: ft.range_mae(p, t)),
    "range_huber_segments": lambda d: (torch.randn(64, 300, device=d), torch.randn(64, 300, device=d),
                                       lambda p, t: ft.range_huber(
                                           p, t, delta=0.5,
                                           segments=torch.arange(300, device=d).div(7, rounding_mode="floor")
                                           .repeat(64, 1))),
    "cross_entropy": lambda d: (torch.randn(64, 1000, device=d), torch.randint(0, 1000, (64,), device=d),
                                lambda x, y: ft.cross_entropy(x, y)),
    "multiclass_hinge": lambda d: (torch.randn(64, 1000, device=d), torch.randint(0, 1000, (64,), device=d),
                                   lambda s, y: ft.multiclass_hinge(s, y)),
}


@pytest.mark.parametrize("backend", ["native", "cuda"])
@pytest.mark.parametrize("name", list(CASES))
def test_forward_and_backward_replay_from_a_cuda_graph(name, backend):
    pred, other, loss_fn = CASES[name]("cuda")
    static = pred.clone().requires_grad_(True)

    def step():
        static.grad = None
        loss = loss_fn(static, other) if backend == "native" else _with_backend(loss_fn, backend)(static, other)
        loss.backward()
        return loss

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up off the capture: kernel loading, device constants
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    static.grad = None
    with torch.cuda.graph(graph):
        static_loss = step()
    eager = pred.clone().requires_grad_(True)
    want = _with_backend(loss_fn, backend)(eager, other)
    want.backward()
    with torch.no_grad():
        static.copy_(pred)
    graph.replay()
    torch.cuda.synchronize()
    torch.testing.assert_close(static_loss, want)
    torch.testing.assert_close(static.grad, eager.grad)


def _with_backend(loss_fn, backend):
    """``loss_fn`` with ``$FASTSEG_BACKEND``'s choice made explicit for this call."""
    import os

    def call(*args):
        old = os.environ.get("FASTSEG_BACKEND")
        os.environ["FASTSEG_BACKEND"] = backend
        try:
            return loss_fn(*args)
        finally:
            if old is None:
                del os.environ["FASTSEG_BACKEND"]
            else:
                os.environ["FASTSEG_BACKEND"] = old
    return call


@pytest.mark.parametrize("name", list(CASES))
def test_torch_compile_reduce_overhead(name):
    pred, other, loss_fn = CASES[name]("cuda")
    compiled = torch.compile(loss_fn, mode="reduce-overhead", fullgraph=True)
    for _ in range(3):  # record, then replay
        x = pred.clone().requires_grad_(True)
        loss = compiled(x, other)
        loss.backward()
    y = pred.clone().requires_grad_(True)
    want = loss_fn(y, other)
    want.backward()
    torch.testing.assert_close(loss, want)
    torch.testing.assert_close(x.grad, y.grad)
