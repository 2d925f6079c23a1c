"""The one script to run on a lent GPU machine: `python bench/gpu_check.py` (under 4 minutes).

(a) Every CUDA backend of every op against the NumPy reference: several shapes, float32/float64,
    lengths, NaN rows, through fastseg.torch on CUDA tensors (zero-copy, current stream) and
    through the NumPy API with host arrays (copies).
(b) Timings with CUDA events, float32, fwd and fwd+bwd, at 4096x1024 and 65536x1024: each native
    schedule's kernels alone (replayed from a CUDA graph: no host overhead), the torch op end to
    end, the best vectorised torch version, and a device-to-device copy of the same bytes (the
    bandwidth roofline, timed the same way); the other ops' kernels against torch's losses.
Prints a table; always writes the results as JSON and prints where: $OUT/gpu_check.json when $OUT
is set, else bench/results/gpu_check_<device>.json (bench/report.py renders it).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import fastseg  # noqa: E402
import fastseg.torch as ft  # noqa: E402
from fastseg.baselines import piecewise_constant, range_mae_torch_vectorized  # noqa: E402
from fastseg.ops.range_loss import reference  # noqa: E402
from fastseg import config  # noqa: E402
from fastseg.torch._adapter import kernel_array as device_buffer  # noqa: E402

RESULTS = {"device": None, "correctness": [], "timings": []}


def available_backends():
    names = []
    for name in ("cuda", "native"):
        try:
            importlib.import_module(f"fastseg.ops.range_loss.{name}")
            names.append(name)
        except Exception as err:  # noqa: BLE001 - report and go on
            print(f"backend {name}: not importable ({type(err).__name__}: {err})")
    return names


def data(rows, length, dtype, seed=0, max_ranges=12):
    rng = np.random.default_rng(seed)
    y_true = piecewise_constant(rng, rows, length, 1 if length < 2 else 2,
                                max(1, min(max_ranges, length)), np.float64)
    y_pred = y_true + 0.1 * rng.standard_normal((rows, length))
    return y_true.astype(dtype), y_pred.astype(dtype)


RANGE_MAE_PLANS = {"block": {}, "warp": {"range_loss_block_rows": ()}}
"""The native range_mae kernel plans, as config overrides: block per row up to 4096 elements (the
default), or a warp per row for every length."""


def check(backend):
    """range_mae on one CUDA backend; the native one under each of its kernel plans."""
    if backend != "native":
        return check_range_mae(backend)
    ok = True
    for schedule, overrides in RANGE_MAE_PLANS.items():
        print(f"range_mae native, plan {schedule!r}:")
        with config.override(**overrides):
            ok &= check_range_mae(backend, schedule)
    return ok


def check_range_mae(backend, schedule=None):
    ok_all = True
    cases = [(3, 1), (7, 100), (64, 1000), (5, 5000), (33, 129), (1000, 64), (4, 70000),
             (17, 1001), (9, 300, 300), (1, 4099, 2000)]
    for rows, length, *ranges in cases:
        for dtype in (np.float32, np.float64):
            for rr in ("sum", "mean"):
                for use_lengths in (False, True):
                    t, p = data(rows, length, dtype, max_ranges=ranges[0] if ranges else 12)
                    if rows > 2 and length > 3:
                        p[1, length // 2] = np.nan
                    lengths = np.random.default_rng(1).integers(0, length + 1, rows) if use_lengths else None
                    ref_l, ref_g = reference.row_losses(t.astype(np.float64), p.astype(np.float64), lengths,
                                                        range_reduction=rr, need_grad=True)
                    tt = torch.tensor(t, device="cuda", requires_grad=True)
                    pp = torch.tensor(p, device="cuda", requires_grad=True)
                    nn = None if lengths is None else torch.tensor(lengths, device="cuda")
                    loss = ft.range_mae(pp, tt, range_reduction=rr, reduction="none", lengths=nn, backend=backend)
                    loss.sum().backward()
                    got_l, got_g = loss.detach().cpu().numpy(), pp.grad.cpu().numpy()
                    tol = 1e-12 if dtype == np.float64 else 2e-6
                    ok = (np.allclose(got_l, ref_l, rtol=tol, atol=tol, equal_nan=True)
                          and np.allclose(got_g, ref_g, rtol=tol, atol=tol, equal_nan=True)
                          and np.array_equal(tt.grad.cpu().numpy(), -got_g, equal_nan=True))
                    nograd = ft.range_mae(pp.detach(), tt.detach(), range_reduction=rr, reduction="none",
                                          lengths=nn, backend=backend).cpu().numpy()
                    ok = ok and np.allclose(nograd, ref_l, rtol=tol, atol=tol, equal_nan=True)
                    ok_all &= ok
                    RESULTS["correctness"].append(dict(backend=backend, schedule=schedule, rows=rows, length=length,
                                                       dtype=np.dtype(dtype).name, range_reduction=rr,
                                                       lengths=use_lengths, ok=bool(ok)))
                    if not ok:
                        print(f"MISMATCH {backend} ({schedule}) {rows}x{length} {np.dtype(dtype).name} {rr} "
                              f"lengths={use_lengths}")
    # NumPy API with host arrays and backend= (copies to the device and back)
    t, p = data(50, 300, np.float64)
    loss, grad = fastseg.range_mae_value_and_grad(t, p, backend=backend)
    ref = reference.row_losses(t, p, need_grad=True)
    host_ok = np.allclose(loss, ref[0].mean(), rtol=1e-12) and np.allclose(grad, ref[1] / 50, rtol=1e-12)
    ok_all &= host_ok
    if backend == "native":
        from fastseg import _native
        src = _native.load_module("range_loss", from_source=True)
        fb = _native.load_module("range_loss")
        found = _native.find("range_loss.fatbin")
        print(f"native module: {found or 'NVRTC'}; NVRTC from source also compiled: {src is not None and fb is not None}")
    print(f"correctness {backend}: {'OK' if ok_all else 'FAILED'} ({len(RESULTS['correctness'])} cases so far; host-array API {'OK' if host_ok else 'FAILED'})")
    return ok_all


def check_hinge(backend):
    """multiclass_hinge on CUDA tensors vs the reference and torch's multi_margin_loss; a bad
    label gives a NaN row (never an out-of-bounds read)."""
    import importlib

    from fastseg.ops.multiclass_hinge import reference as hinge_ref
    ok_all = True
    rng = np.random.default_rng(5)
    for n, c in [(1, 1), (7, 10), (300, 1000), (33, 4099)]:
        for dtype in (np.float32, np.float64):
            for p, weighted in [(1, False), (2, True)]:
                s_np = rng.standard_normal((n, c)).astype(dtype)
                y_np = rng.integers(0, c, n)
                w_np = rng.random(c) if weighted else None
                s = torch.tensor(s_np, device="cuda", requires_grad=True)
                y = torch.tensor(y_np, device="cuda")
                w = None if w_np is None else torch.tensor(w_np, device="cuda")
                loss = ft.multiclass_hinge(s, y, p=p, weight=w, divide_by_classes=True, reduction="sum",
                                           backend=backend)
                loss.backward()
                ref_l, ref_g = hinge_ref.row_losses(s_np.astype(float), y_np, p=p, weight=w_np,
                                                    divide_by_classes=True, need_grad=True)
                tol = 1e-12 if dtype == np.float64 else 1e-5
                ok = (np.allclose(loss.item(), ref_l.sum(), rtol=tol)
                      and np.allclose(s.grad.cpu().numpy(), ref_g, rtol=tol, atol=tol))
                theirs = torch.nn.functional.multi_margin_loss(  # torch wants weight in the scores dtype
                    s.detach(), y, p=p, weight=None if w is None else w.to(s.dtype), reduction="sum")
                ok = ok and np.allclose(loss.item(), theirs.item(), rtol=tol)
                ok_all &= ok
                RESULTS["correctness"].append(dict(op="multiclass_hinge", backend=backend, n=n, c=c,
                                                   dtype=np.dtype(dtype).name, p=p, ok=bool(ok)))
                if not ok:
                    print(f"MISMATCH hinge {backend} {n}x{c} {np.dtype(dtype).name} p={p}")
    kernels = importlib.import_module(f"fastseg.ops.multiclass_hinge.{backend}")
    s = torch.ones(3, 5, device="cuda", dtype=torch.float64)
    loss, grad = torch.empty(3, device="cuda", dtype=torch.float64), torch.empty_like(s)
    kernels.rows(*map(device_buffer, (s, torch.tensor([0, 5, -1], device="cuda"))), None, margin=1.0, p=1,
                 divide_by_classes=False, grad_scale=1.0, out_loss=device_buffer(loss), out_grad=device_buffer(grad),
                 stream=torch.cuda.current_stream().cuda_stream)
    bad_ok = loss[0].item() == 4.0 and bool(torch.isnan(loss[1:]).all()) and bool(torch.isnan(grad[1:]).all())
    ok_all &= bad_ok
    print(f"correctness multiclass_hinge {backend}: {'OK' if ok_all else 'FAILED'} (bad labels -> NaN rows: {bad_ok})")
    return ok_all


def check_cross_entropy(backend):
    """cross_entropy on CUDA tensors vs torch.nn.functional.cross_entropy on CUDA; Keras's
    probability cross-entropy through the host-array API vs the reference."""
    import torch.nn.functional as F

    from fastseg.ops.categorical_crossentropy import reference as ce_ref
    ok_all = True
    g = torch.Generator(device="cuda").manual_seed(0)
    for n, c in [(1, 1), (9, 10), (300, 1000), (17, 32000)]:
        for dtype in (torch.float32, torch.float64):
            x = (3 * torch.randn(n, c, device="cuda", generator=g)).to(dtype)
            y = torch.randint(0, c, (n,), device="cuda", generator=g)
            if n > 2:
                y[1] = -100
            w = torch.rand(c, device="cuda", generator=g).to(dtype)
            probs = torch.softmax(torch.randn(n, c, device="cuda", generator=g), 1).to(dtype)
            for target, weight, eps in [(y, None, 0.0), (y, w, 0.1), (probs, w, 0.2)]:
                xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
                ours = ft.cross_entropy(xa, target, weight, label_smoothing=eps, backend=backend)
                theirs = F.cross_entropy(xb, target, weight, label_smoothing=eps)
                ours.backward()
                theirs.backward()
                tol = 1e-10 if dtype == torch.float64 else 2e-5
                ok = bool(torch.allclose(ours, theirs, rtol=tol, atol=tol)) and bool(
                    torch.allclose(xa.grad, xb.grad, rtol=tol, atol=tol * 1e-2))
                ok_all &= ok
                RESULTS["correctness"].append(dict(op="cross_entropy", backend=backend, n=n, c=c,
                                                   dtype=str(dtype), ok=ok))
                if not ok:
                    print(f"MISMATCH cross_entropy {backend} {n}x{c} {dtype} eps={eps} weight={weight is not None}")
    rng = np.random.default_rng(1)
    t, p = np.eye(50)[rng.integers(0, 50, 40)], rng.random((40, 50))
    p[0, 3] = 1e-12
    loss, grad = fastseg.categorical_crossentropy_value_and_grad(t, p, reduction="sum", backend=backend)
    ref_l, ref_g = ce_ref.categorical_crossentropy_rows(t, p, need_grad=True)
    keras_ok = bool(np.allclose(loss, ref_l.sum(), rtol=1e-12) and np.allclose(grad, ref_g, rtol=1e-12))
    ok_all &= keras_ok
    print(f"correctness cross_entropy {backend}: {'OK' if ok_all else 'FAILED'} (Keras probabilities: {keras_ok})")
    return ok_all


def bench_cross_entropy(backends):
    import importlib
    import torch.nn.functional as F
    for n, c in [(4096, 1000), (512, 32000), (65536, 1000)]:
        x = torch.randn(n, c, device="cuda")
        y = torch.randint(0, c, (n,), device="cuda")
        loss, grad, dst = torch.empty(n, device="cuda"), torch.empty_like(x), torch.empty_like(x)
        bx, by, bloss, bgrad = map(device_buffer, (x, y, loss, grad))
        rows_out = [("device copy of the logits", timed_kernel(lambda: dst.copy_(x)))]
        for backend in backends:
            kernels = importlib.import_module(f"fastseg.ops.cross_entropy.{backend}")
            layouts = [("", {})] if backend != "native" else [(", warp per row", {"row_block_min_classes": c + 1}),
                                                            (", block per row", {"row_block_min_classes": 0})]
            for label, overrides in layouts:
                with config.override(**overrides):
                    rows_out.append((f"fastseg {backend} fused kernel{label}", timed_kernel(lambda: kernels.rows(
                        bx, by, None, ignore_index=-100, label_smoothing=0.0, grad_scale=1.0 / n, out_loss=bloss,
                        out_grad=bgrad, stream=torch.cuda.current_stream().cuda_stream))))
                    rows_out.append((f"fastseg {backend} backward kernel{label}", timed_kernel(lambda: kernels.rows(
                        bx, by, None, ignore_index=-100, label_smoothing=0.0, grad_scale=1.0 / n,
                        out_grad=bgrad, stream=torch.cuda.current_stream().cuda_stream))))

        def ours():
            q = x.detach().requires_grad_(True)
            ft.cross_entropy(q, y).backward()
        rows_out.append(("fastseg.torch cross_entropy + backward", timed(ours, 5)))

        def theirs():
            q = x.detach().requires_grad_(True)
            F.cross_entropy(q, y).backward()
        rows_out.append(("torch cross_entropy + backward", timed(theirs, 5)))
        print(f"\ncross_entropy fwd+bwd {n}x{c} float32")
        for name, seconds in sorted(rows_out, key=lambda r: r[1]):
            gbps = 8 * n * c / seconds / 1e9
            RESULTS["timings"].append(dict(shape=f"{n}x{c}", name=f"cross_entropy: {name}", mode="fwd+bwd",
                                           seconds=seconds, gbps=gbps))
            print(f"  {name:<44} {seconds * 1e6:>8.1f}us {gbps:>8.0f} GB/s")


def bench_hinge(backends, n=65536, c=1000):
    import importlib
    s = torch.randn(n, c, device="cuda")
    y = torch.randint(0, c, (n,), device="cuda")
    loss, grad = torch.empty(n, device="cuda"), torch.empty_like(s)
    dst = torch.empty_like(s)
    bs, by, bloss, bgrad = map(device_buffer, (s, y, loss, grad))
    rows_out = [("device copy of the scores (read + write)", timed_kernel(lambda: dst.copy_(s)))]
    for backend in backends:
        kernels = importlib.import_module(f"fastseg.ops.multiclass_hinge.{backend}")
        rows_out.append((f"fastseg {backend} fused kernel", timed_kernel(lambda: kernels.rows(
            bs, by, None, margin=1.0, p=1, divide_by_classes=True, grad_scale=1.0, out_loss=bloss,
            out_grad=bgrad, stream=torch.cuda.current_stream().cuda_stream))))

    def ours():
        q = s.detach().requires_grad_(True)
        ft.multiclass_hinge(q, y, divide_by_classes=True).backward()
    rows_out.append(("fastseg.torch multiclass_hinge + backward", timed(ours, 5)))

    def theirs():
        q = s.detach().requires_grad_(True)
        torch.nn.functional.multi_margin_loss(q, y).backward()
    rows_out.append(("torch multi_margin_loss + backward", timed(theirs, 5)))
    print(f"\nmulticlass_hinge fwd+bwd {n}x{c} float32")
    for name, seconds in sorted(rows_out, key=lambda r: r[1]):
        gbps = 8 * n * c / seconds / 1e9
        RESULTS["timings"].append(dict(shape=f"{n}x{c}", name=f"hinge: {name}", mode="fwd+bwd", seconds=seconds, gbps=gbps))
        print(f"  {name:<44} {seconds * 1e6:>8.1f}us {gbps:>8.0f} GB/s")


def timed_kernel(fn, reps=20):
    """GPU time per call of ``fn`` without its host overhead: ``reps`` calls captured in one CUDA
    graph, replayed. ``fn`` must take the current stream when called. Falls back to
    :func:`timed` (with a note) when the calls cannot be captured."""
    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            fn()  # warm-up off the capture: caches, first-call compilation
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(reps):
                fn()
        return timed(graph.replay, 3) / reps
    except Exception as err:  # noqa: BLE001 - report and time with the host in the loop
        print(f"  (not capturable in a CUDA graph: {type(err).__name__}: {err}; timed with host overhead)")
        torch.cuda.synchronize()
        return timed(fn, reps)


def timed(fn, reps=20):
    fn()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    best = float("inf")
    for _ in range(3):
        start.record()
        for _ in range(reps):
            fn()
        stop.record()
        stop.synchronize()
        best = min(best, start.elapsed_time(stop) / reps / 1e3)
    return best


def bench(backends, shapes=((4096, 1024), (65536, 1024))):
    for rows, length in shapes:
        t_np, p_np = data(rows, length, np.float32, max_ranges=12)
        t = torch.tensor(t_np, device="cuda")
        p = torch.tensor(p_np, device="cuda")
        n = rows * length
        loss_rows = torch.empty(rows, device="cuda")
        grad = torch.empty_like(p)
        copy_src = torch.empty(2 * n, device="cuda")
        copy_dst = torch.empty_like(copy_src)
        copy3_src = torch.empty(3 * n // 2, device="cuda")
        copy3_dst = torch.empty_like(copy3_src)
        rows_out = []
        t_copy2 = timed_kernel(lambda: copy_dst.copy_(copy_src))  # 8n bytes read + 8n written
        t_copy3 = timed_kernel(lambda: copy3_dst.copy_(copy3_src))  # 6n read + 6n written = 12n, as fused
        rows_out.append(("device copy, bytes of fwd (8n)", "fwd", t_copy2 / 2, 8 * n))
        rows_out.append(("device copy, bytes of fwd+bwd (12n)", "fwd+bwd", t_copy3, 12 * n))
        rows_out.append(("device copy, bytes of bwd (12n)", "bwd", t_copy3, 12 * n))
        for backend in backends:
            kernels = importlib.import_module(f"fastseg.ops.range_loss.{backend}")
            bt, bp, bloss, bgrad = map(device_buffer, (t, p, loss_rows, grad))  # as fastseg.torch passes them
            stream = torch.cuda.current_stream().cuda_stream
            for schedule, overrides in (RANGE_MAE_PLANS.items() if backend == "native" else [(None, {})]):
                label = f"fastseg {backend}" + (f" {schedule}" if schedule else "")
                with config.override(**overrides):
                    rows_out.append((f"{label} kernel", "fwd", timed_kernel(lambda: kernels.rows(
                        bt, bp, None, mean_over_ranges=False, out_loss=bloss, stream=stream)), 8 * n))
                    rows_out.append((f"{label} fused kernel", "fwd+bwd", timed_kernel(lambda: kernels.rows(
                        bt, bp, None, mean_over_ranges=False, grad_scale=1.0, out_loss=bloss, out_grad=bgrad,
                        stream=stream)), 12 * n))
                    rows_out.append((f"{label} backward kernel", "bwd", timed_kernel(lambda: kernels.rows(
                        bt, bp, None, mean_over_ranges=False, grad_scale=1.0, out_grad=bgrad, stream=stream)),
                        12 * n))
                    for kind, loss_name in ((1, "mse"), (2, "huber")):  # the other element losses, fused
                        rows_out.append((f"{label} {loss_name} fused kernel", "fwd+bwd", timed_kernel(
                            lambda: kernels.rows(bt, bp, None, kind=kind, delta=1.0, mean_over_ranges=False,
                                                 grad_scale=1.0, out_loss=bloss, out_grad=bgrad, stream=stream)),
                            12 * n))

            def torch_op():
                q = p.detach().requires_grad_(True)
                ft.range_mae(q, t, backend=backend).backward()
            rows_out.append((f"fastseg.torch ({backend}) + backward", "fwd+bwd", timed(torch_op), 12 * n))

        def vec_fwd():
            with torch.no_grad():
                range_mae_torch_vectorized(t, p)

        def vec_fb():
            q = p.detach().requires_grad_(True)
            range_mae_torch_vectorized(t, q).backward()
        rows_out.append(("vectorised torch", "fwd", timed(vec_fwd, 5), 8 * n))
        rows_out.append(("vectorised torch", "fwd+bwd", timed(vec_fb, 5), 12 * n))
        for name, mode, seconds, nbytes in rows_out:
            RESULTS["timings"].append(dict(shape=f"{rows}x{length}", name=name, mode=mode,
                                           seconds=seconds, gbps=nbytes / seconds / 1e9))
        copy_rate = {mode: nbytes / seconds for name, mode, seconds, nbytes in rows_out if name.startswith("device copy")}
        torch_time = {mode: seconds for name, mode, seconds, _ in rows_out if name == "vectorised torch"}
        torch_time["bwd"] = torch_time["fwd+bwd"]
        print(f"\n{rows}x{length} float32 (the issue's targets, fused fwd+bwd: >= 70% of copy, >= 20x torch)")
        print(f"  {'implementation':<44} {'mode':<8} {'time':>10} {'GB/s':>8} {'of copy':>8} {'vs torch':>9}")
        for name, mode, seconds, nbytes in sorted(rows_out, key=lambda r: (r[1], r[2])):
            rate = nbytes / seconds
            print(f"  {name:<44} {mode:<8} {seconds * 1e6:>8.1f}us {rate / 1e9:>8.0f} "
                  f"{rate / copy_rate[mode]:>7.0%} {torch_time[mode] / seconds:>8.1f}x")
        del t, p, grad, copy_src, copy_dst, copy3_src, copy3_dst
        torch.cuda.empty_cache()


def overhead_breakdown(backend, shape=(4096, 1024), reps=50):
    """Host wall time per call, layer by layer: the kernel call with device buffers by address
    (what fastseg.torch passes), the eager forward alone, the full autograd step (synchronised
    once at the end, so launches queue up)."""
    import importlib

    kernels = importlib.import_module(f"fastseg.ops.range_loss.{backend}")
    t_np, p_np = data(*shape, np.float32)
    t, p = torch.tensor(t_np, device="cuda"), torch.tensor(p_np, device="cuda")
    loss, grad = torch.empty(shape[0], device="cuda"), torch.empty_like(p)
    stream = torch.cuda.current_stream().cuda_stream

    def step():
        q = p.detach().requires_grad_(True)
        ft.range_mae(q, t, backend=backend).backward()

    bt, bp, bloss, bgrad = map(device_buffer, (t, p, loss, grad))
    layers = [
        ("fused kernel call", lambda: kernels.rows(bt, bp, None, mean_over_ranges=False, grad_scale=1.0,
                                                   out_loss=bloss, out_grad=bgrad, stream=stream)),
        ("range_mae forward", lambda: ft.range_mae(p, t, backend=backend)),
        ("range_mae + backward", step),
    ]
    print(f"\nhost time per call, {backend}, {shape[0]}x{shape[1]}:")
    for name, fn in layers:
        fn()
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        torch.cuda.synchronize()
        us = (time.perf_counter() - start) / reps * 1e6
        RESULTS.setdefault("overhead", []).append(dict(backend=backend, layer=name, us=us))
        print(f"  {name:<24} {us:8.1f}us")


def results_path(device: str) -> Path:
    """Where the JSON goes: ``$OUT/gpu_check.json`` when ``$OUT`` is set (a lent GPU machine's
    outbox), else ``bench/results/gpu_check_<device>.json`` (e.g. ``gpu_check_h200.json``), which
    ``bench/report.py`` renders."""
    if os.environ.get("OUT"):
        return Path(os.environ["OUT"]) / "gpu_check.json"
    slug = re.sub(r"[^a-z0-9]+", "_", device.lower().removeprefix("nvidia ")).strip("_") or "gpu"
    return Path(__file__).resolve().parent / "results" / f"gpu_check_{slug}.json"


def write_results(results: dict) -> Path:
    """Write ``results`` as JSON, local paths made relative (bench/records.py); return the path."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import records

    return records.write_json(results_path(results.get("device") or "gpu"), results)


def main():
    start = time.time()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: gpu_check needs a GPU")
    RESULTS["device"] = torch.cuda.get_device_name()
    print(f"device: {RESULTS['device']}, torch {torch.__version__}")
    ok = True

    def checked(check_fn, candidates):
        """The backends whose check ran to the end (a crash is printed and counts as failed)."""
        nonlocal ok
        ran = []
        for backend in candidates:
            try:
                ok &= check_fn(backend)
                ran.append(backend)
            except Exception:  # noqa: BLE001 - keep going to the other backends and the timings
                traceback.print_exc()
                ok = False
        return ran

    backends = checked(check, available_backends())
    hinge_backends = checked(check_hinge, ("cuda", "native"))
    ce_backends = checked(check_cross_entropy, ("cuda", "native"))
    bench(backends)
    bench_hinge(hinge_backends)
    bench_cross_entropy(ce_backends)
    for backend in backends:
        overhead_breakdown(backend)
    RESULTS["ok"] = bool(ok)
    RESULTS["seconds"] = time.time() - start
    print(f"\nwrote {write_results(RESULTS)}")
    print(f"\n{'ALL CORRECT' if ok else 'SOME CHECKS FAILED'} in {RESULTS['seconds']:.0f}s")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
