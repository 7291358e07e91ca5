"""Shared pieces of the PyTorch workers: timing with CUDA events, peak memory, errors; the
torch-free pieces (results file, medians, case runner) are bench_common's."""
import math
import os
import time

import torch

from bench_common import NotAvailable, Results, quantile, summarize, time_loop  # noqa: F401 - the workers import them from here
from bench_common import run_case as _run_case


def plain_fp32():
    """FP32 matmuls and convolutions without TF32, as our kernels compute: every PyTorch worker."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def block_cases(block, B, H, L, device, grad_leaves):
    """(fwd, fwd+bwd) measuring functions for a callable block on u [B H L] that returns
    y [B H L]: fwd under no_grad; fwd+bwd backpropagates a fixed random G and clears the
    gradients of grad_leaves and u."""
    u = torch.randn(B, H, L, device=device)
    ug = u.clone().requires_grad_()
    G = torch.randn(B, H, L, device=device)

    def fwd():
        with torch.no_grad():
            block(u)

    def fwdbwd():
        block(ug).backward(G)
        for p in grad_leaves + [ug]:
            p.grad = None

    return fwd, fwdbwd


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


class Timer:
    """Elapsed milliseconds of GPU work (CUDA events) or of wall time on the CPU."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def __enter__(self):
        if self.cuda:
            self.start = torch.cuda.Event(enable_timing=True)
            self.end = torch.cuda.Event(enable_timing=True)
            self.start.record()
        else:
            self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.cuda:
            self.end.record()
            self.end.synchronize()
            self.ms = self.start.elapsed_time(self.end)
        else:
            self.ms = (time.perf_counter() - self.t0) * 1e3
        return False


def time_it(fn, timing, device, inner=None):
    """bench_common.time_loop with each loop timed by CUDA events recorded around it (the
    wall clock on the CPU); milliseconds per call (median, p10, p90, min)."""

    def timer(loop):
        with Timer(device) as t:
            loop()
        return t.ms

    timer_name = "CUDA events around a loop" if device.type == "cuda" else "perf_counter around a loop"
    return dict(time_loop(fn, timing, timer, inner), timer=timer_name)


def peak_memory(fn, device):
    """Peak bytes allocated by the caching allocator during one call of fn (None on the CPU)."""
    if device.type != "cuda":
        return {}
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return {"peakBytes": torch.cuda.max_memory_allocated(), "baseBytes": base}


def _release_cuda_cache():
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_case(out, base, fn):
    """bench_common.run_case, releasing the CUDA caching allocator's memory after each case."""
    _run_case(out, base, fn, cleanup=_release_cuda_cache)


def rel_l2(got, want):
    """Relative L2 error; NaN or Inf counts as failure (inf)."""
    got = got.detach().to(torch.float64).flatten().cpu()
    want = want.detach().to(torch.float64).flatten().cpu()
    r = (torch.linalg.vector_norm(got - want) / torch.linalg.vector_norm(want).clamp_min(1e-300)).item()
    return r if math.isfinite(r) else float("inf")


def golden_path():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared", "golden", "s4_reference_small.json")
