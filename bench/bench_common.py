"""The torch-free pieces of the Python workers (PyTorch and JAX): medians, the results file,
the case runner."""
import json
import math
import os
import time
import traceback


def quantile(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    pos = (len(sorted_vals) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def summarize(samples):
    s = sorted(samples)
    return {"median": quantile(s, 0.5), "p10": quantile(s, 0.1), "p90": quantile(s, 0.9), "min": s[0], "samples": len(s)}


def time_loop(fn, timing, timer, inner=None):
    """Warm-up, then timing["reps"] repetitions of a loop of `inner` calls of fn (by default
    as many as last timing["minRepMs"]); a case stops early after maxCaseS once minReps are
    done. timer(loop) runs loop() and returns its milliseconds, waiting for the device: loop
    returns fn's last result for timers that must wait on it. Milliseconds per call."""

    def loop(n):
        def run():
            last = None
            for _ in range(n):
                last = fn()
            return last

        return run

    timer(loop(timing["warmup"]))
    if not inner:
        one = timer(loop(1))
        inner = min(timing["maxInner"], max(1, math.ceil(timing["minRepMs"] / max(one, 1e-3))))
    samples = []
    start = time.perf_counter()
    for _ in range(timing["reps"]):
        samples.append(timer(loop(inner)) / inner)
        if len(samples) >= timing["minReps"] and time.perf_counter() - start > timing["maxCaseS"]:
            break
    return {"ms": summarize(samples), "inner": inner}


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


def run_case(out, base, fn, cleanup=None):
    """Runs one case; an exception marks that case failed (with its traceback) and the suite
    goes on. cleanup runs after the case either way (e.g. releasing cached device memory)."""
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
        if cleanup:
            cleanup()
