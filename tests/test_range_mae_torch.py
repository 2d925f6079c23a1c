"""fastseg.torch.range_mae: eager, gradcheck, torch.compile, half precision, DDP."""

import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastseg.torch as ft  # noqa: E402
from fastseg.ops.range_loss import reference  # noqa: E402
from range_mae_cases import piecewise_rows  # noqa: E402


def _tensors(rows=6, length=37, dtype=torch.float64, seed=0):
    y_true, y_pred = piecewise_rows(np.random.default_rng(seed), rows, length)
    return (torch.tensor(y_true, dtype=dtype), torch.tensor(y_pred, dtype=dtype, requires_grad=True))


@pytest.mark.parametrize("range_reduction", ["sum", "mean"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_eager_matches_reference(range_reduction, reduction):
    y_true, y_pred = _tensors()
    y_true.requires_grad_(True)
    lengths = torch.tensor([37, 0, 5, 36, 1, 20])
    loss = ft.range_mae(y_pred, y_true, range_reduction=range_reduction, reduction=reduction,
                        lengths=lengths)
    rows, grad = reference.row_losses(y_true.detach().numpy(), y_pred.detach().numpy(), lengths.numpy(),
                                      range_reduction=range_reduction, need_grad=True)
    upstream = {"mean": 1 / 6, "sum": 1.0, "none": 1.0}[reduction]
    want = {"mean": rows.mean(), "sum": rows.sum(), "none": rows}[reduction]
    np.testing.assert_allclose(loss.detach().numpy(), want, rtol=1e-12)
    loss.sum().backward()
    np.testing.assert_allclose(y_pred.grad.numpy(), grad * upstream, rtol=1e-12)
    np.testing.assert_allclose(y_true.grad.numpy(), -grad * upstream, rtol=1e-12)


def test_gradcheck_float64():
    y_true, y_pred = _tensors(rows=3, length=11)
    y_true = y_true.requires_grad_(True)
    # finite differences cross no kink: predictions stay >= 0.05 away from their targets
    with torch.no_grad():
        y_pred.copy_(y_true + torch.where(y_pred > y_true, 0.05, -0.05) + 0.1 * (y_pred - y_true))
    for rr in ("sum", "mean"):
        assert torch.autograd.gradcheck(
            lambda p: ft.range_mae(p, y_true.detach(), range_reduction=rr, reduction="none"), (y_pred,))
    # y_true's gradient (ranges held fixed) is checked as -grad(y_pred) in test_eager_matches_reference:
    # finite differences in y_true would split its ranges.


def test_torch_compile_fullgraph_no_graph_break():
    y_true, y_pred = _tensors()
    lengths = torch.tensor([37, 0, 5, 36, 1, 20])
    loss_fn = ft.RangeMAELoss(range_reduction="mean")

    def step(p, t, n):
        return loss_fn(p * 2.0, t, n)

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    eager_loss = step(y_pred, y_true, lengths)
    eager_loss.backward()
    eager_grad = y_pred.grad.clone()
    y_pred.grad = None
    compiled_loss = compiled(y_pred, y_true, lengths)
    compiled_loss.backward()
    torch.testing.assert_close(compiled_loss, eager_loss, rtol=0, atol=0)
    torch.testing.assert_close(y_pred.grad, eager_grad, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(dtype):
    y_true, y_pred = _tensors(dtype=torch.float32)
    p_half = y_pred.detach().to(dtype).requires_grad_(True)
    loss = ft.range_mae(p_half, y_true.to(dtype))
    assert loss.dtype == dtype
    loss.backward()
    assert p_half.grad.dtype == dtype
    p32 = p_half.detach().float().requires_grad_(True)
    ref = ft.range_mae(p32, y_true.to(dtype).float())
    ref.backward()
    torch.testing.assert_close(loss.float(), ref, rtol=1e-2, atol=1e-3)
    torch.testing.assert_close(p_half.grad.float(), p32.grad, rtol=1e-2, atol=1e-4)


def test_module_and_errors():
    y_true, y_pred = _tensors()
    assert "range_reduction='sum'" in repr(ft.RangeMAELoss())
    torch.testing.assert_close(ft.RangeMAELoss(reduction="sum")(y_pred, y_true),
                               ft.range_mae(y_pred, y_true, reduction="sum"))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        ft.range_mae(y_pred, y_true.numpy())
    with pytest.raises(ValueError, match="same shape"):
        ft.range_mae(y_pred, y_true[:, :3])
    with pytest.raises(ValueError, match="lengths must lie"):
        ft.range_mae(y_pred, y_true, lengths=torch.full((6,), 99))
    with pytest.raises(ValueError, match="reduction must be one of"):
        ft.RangeMAELoss(reduction="batchmean")


def test_argument_order_is_torchs_input_then_target():
    """As ``l1_loss(input, target)``: the ranges come from the second argument. Written the other
    way round the loss differs (ranges from the prediction), which is what this pins."""
    pred = torch.tensor([[0.0, 1.0, 1.0, 1.0, 0.0]], requires_grad=True)
    target = torch.tensor([[0.0, 0.0, 1.0, 1.0, 1.0]])
    loss = ft.range_mae(pred, target)
    torch.testing.assert_close(loss, torch.tensor(0.5 + 1 / 3))  # ranges of target: [0, 0], [1, 1, 1]
    torch.testing.assert_close(ft.range_mae(target, pred), torch.tensor(0.0 + 1 / 3 + 1.0))
    torch.testing.assert_close(ft.RangeMAELoss()(pred, target), loss)
    loss.backward()
    torch.testing.assert_close(pred.grad, torch.tensor([[0.0, 0.5, 0.0, 0.0, -1 / 3]]))


def _ddp_worker(rank, world, path, seed):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ["FASTSEG_TEST_PORT"])
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(seed)
    model = torch.nn.Conv1d(1, 1, 5, padding=2, dtype=torch.float64)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    y_true, _ = _tensors(rows=8, length=40, seed=seed)
    x = y_true + 0.1 * torch.randn(y_true.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    shard = slice(rank * 4, rank * 4 + 4)
    loss = ft.range_mae(ddp(x[shard, None])[:, 0], y_true[shard])
    loss.backward()
    if rank == 0:
        torch.save([p.grad for p in model.parameters()], path)
    dist.barrier()  # neither rank tears gloo down while the other still uses it
    dist.destroy_process_group()
    # Any process that has run a Numba-compiled function beside gloo aborts at interpreter exit
    # in 1-3 of 16 runs ("terminate called without an active exception", static destructors;
    # reproduced with a bare numba.njit and no fastseg code). The work is done and saved: skip
    # the C++ teardown.
    sys.stdout.flush()
    os._exit(0)


@pytest.mark.slow
def test_ddp_gloo_two_processes_matches_single_process(tmp_path):
    import socket
    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        os.environ["FASTSEG_TEST_PORT"] = str(s.getsockname()[1])
    seed = 3
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / "g.pt"), seed), nprocs=2, join=True)
    ddp_grads = torch.load(tmp_path / "g.pt")
    torch.manual_seed(seed)
    model = torch.nn.Conv1d(1, 1, 5, padding=2, dtype=torch.float64)
    y_true, _ = _tensors(rows=8, length=40, seed=seed)
    x = y_true + 0.1 * torch.randn(y_true.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ft.range_mae(model(x[:, None])[:, 0], y_true).backward()
    for got, want in zip(ddp_grads, model.parameters()):
        torch.testing.assert_close(got, want.grad, rtol=1e-12, atol=1e-14)
