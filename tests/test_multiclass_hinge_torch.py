"""fastseg.torch.multiclass_hinge: parity with torch.nn.functional.multi_margin_loss, gradcheck,
torch.compile."""

import pytest

torch = pytest.importorskip("torch")

import fastseg.torch as ft  # noqa: E402
import torch.nn.functional as F  # noqa: E402


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_equals_multi_margin_loss(p, margin, weighted, reduction):
    g = torch.Generator().manual_seed(0)
    s = torch.randn(20, 7, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randint(0, 7, (20,), generator=g)
    with torch.no_grad():  # exact-zero margins: s_j - s_y + margin == 0
        s[0, (y[0] + 1) % 7] = s[0, y[0]] - margin
        s[1, (y[1] + 2) % 7] = s[1, y[1]] - margin
    w = torch.rand(7, dtype=torch.float64, generator=g) if weighted else None
    ours = ft.multiclass_hinge(s, y, p=p, margin=margin, weight=w, divide_by_classes=True, reduction=reduction)
    theirs = F.multi_margin_loss(s, y, p=p, margin=margin, weight=w, reduction=reduction)
    torch.testing.assert_close(ours, theirs, rtol=1e-13, atol=1e-15)
    g_ours, = torch.autograd.grad(ours.sum(), s)
    g_theirs, = torch.autograd.grad(theirs.sum(), s)
    torch.testing.assert_close(g_ours, g_theirs, rtol=1e-13, atol=1e-15)


def test_gradcheck_and_module():
    g = torch.Generator().manual_seed(1)
    s = torch.randn(5, 6, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randint(0, 6, (5,), generator=g)
    for p in (1, 2):
        assert torch.autograd.gradcheck(lambda x: ft.multiclass_hinge(x, y, p=p, reduction="none"), (s,))
    loss = ft.MulticlassHingeLoss(p=2, divide_by_classes=True)
    assert "p=2" in repr(loss)
    torch.testing.assert_close(loss(s, y), F.multi_margin_loss(s, y, p=2))


def test_compile_fullgraph_and_half():
    s = torch.randn(8, 10, requires_grad=True)
    y = torch.randint(0, 10, (8,))
    compiled = torch.compile(lambda x: ft.multiclass_hinge(x * 1.0, y), fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(s), ft.multiclass_hinge(s, y))
    half = s.detach().to(torch.bfloat16).requires_grad_(True)
    out = ft.multiclass_hinge(half, y)
    out.backward()
    assert out.dtype == torch.bfloat16 and half.grad.dtype == torch.bfloat16


def test_label_errors():
    s = torch.zeros(2, 3)
    with pytest.raises(IndexError, match="not a class index"):
        ft.multiclass_hinge(s, torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="labels must be an integer"):
        ft.multiclass_hinge(s, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="labels must have shape"):
        ft.multiclass_hinge(s, torch.tensor([[0, 1]]))
