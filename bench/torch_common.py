"""Shared pieces of the PyTorch half: timing with CUDA events, results file, case runner."""
import json
import math
import os
import time
import traceback

import torch


def quantile(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    pos = (len(sorted_vals) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def summarize(samples):
    s = sorted(samples)
    return {"median": quantile(s, 0.5), "p10": quantile(s, 0.1), "p90": quantile(s, 0.9), "min": s[0], "samples": len(s)}


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
    """Warm-up, then reps repetitions of a loop of `inner` calls, each timed with CUDA events
    recorded around the loop; milliseconds per call (median, p10, p90, min)."""
    for _ in range(timing["warmup"]):
        fn()
    sync(device)
    if not inner:
        with Timer(device) as t:
            fn()
        inner = min(timing["maxInner"], max(1, math.ceil(timing["minRepMs"] / max(t.ms, 1e-3))))
    samples = []
    start = time.perf_counter()
    for _ in range(timing["reps"]):
        with Timer(device) as t:
            for _ in range(inner):
                fn()
        samples.append(t.ms / inner)
        if len(samples) >= timing["minReps"] and time.perf_counter() - start > timing["maxCaseS"]:
            break
    timer = "CUDA events around a loop" if device.type == "cuda" else "perf_counter around a loop"
    return {"ms": summarize(samples), "inner": inner, "timer": timer}


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


class NotAvailable(Exception):
    """A baseline that cannot run here (not a failure of the baseline itself)."""


class Results:
    """Results of one suite, rewritten after each case so a crash keeps what was done."""

    def __init__(self, path, meta):
        self.path = path
        self.doc = dict(meta, results=[])
        self.flush()

    def add(self, r):
        self.doc["results"].append(r)
        if r["status"] == "ok":
            parts = []
            if "ms" in r:
                m = r["ms"]
                parts.append("%.4g ms (p10 %.3g, p90 %.3g, n=%d)" % (m["median"], m["p10"], m["p90"], m["samples"]))
            if r.get("tokensPerSec"):
                parts.append("%d tokens/s" % r["tokensPerSec"])
            if r.get("peakBytes"):
                parts.append("peak %.1f MiB" % (r["peakBytes"] / 2**20))
            if r.get("check"):
                parts.append("check %s: %.2e (limit %g)" % (r["check"]["name"], r["check"]["value"], r["check"]["limit"]))
            what = ", ".join(parts)
        else:
            what = "%s: %s" % (r["status"].upper(), r.get("error", ""))
        print("[%s] %s %s %s: %s" % (r["impl"], r["suite"], r["case"], r["mode"], what), flush=True)
        self.flush()

    def flush(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.doc, f, indent=1)
        os.replace(tmp, self.path)


def run_case(out, base, fn):
    """Runs one case; an exception marks that case failed (with its traceback) and the suite goes on."""
    try:
        r = fn()
        out.add(dict(base, status="ok", **r))
    except NotAvailable as e:
        out.add(dict(base, status="n/a", error="not available: %s" % e))
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the suite
        head = " ".join(str(e).split())[:500]
        where = [l.strip() for l in traceback.format_exc().splitlines() if l.strip().startswith("File ")][-2:]
        out.add(dict(base, status="error", error="%s: %s | %s" % (type(e).__name__, head, " | ".join(where))))
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def rel_l2(got, want):
    """Relative L2 error; NaN or Inf counts as failure (inf)."""
    got = got.detach().to(torch.float64).flatten().cpu()
    want = want.detach().to(torch.float64).flatten().cpu()
    r = (torch.linalg.vector_norm(got - want) / torch.linalg.vector_norm(want).clamp_min(1e-300)).item()
    return r if math.isfinite(r) else float("inf")


def golden_path():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared", "golden", "s4_reference_small.json")
