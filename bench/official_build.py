"""Makes the official S4's CUDA extension usable for the benchmark: probes
$S4REF/extensions/kernels in a fresh interpreter (import it, run its Cauchy kernel on this GPU,
compare with the formula) and, where that fails (never built, built for another GPU or another
PyTorch), builds it with `setup.py build_ext --inplace --force` for this GPU's architecture
within a time limit, the compiler's output in this process's output, then probes again.

    S4REF=<folder> python3 bench/official_build.py <result.json> <cuda|cpu> [timeout_s]

The result file says what happened (already built / built / failed and why / not on a CPU
run); bench/official_bench.py then reports whether the extension loaded in each suite."""
import glob
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch

from official_import import extension_files, kernels_dir
from torch_common import Results

# Run in a fresh interpreter, so that a module built by this process is the one imported.
PROBE = r"""
import json, sys
import torch
sys.path.insert(0, sys.argv[1])
try:
    from cauchy import cauchy_mult
    from vandermonde import log_vandermonde_cuda  # noqa: F401 - s4.py needs both to use the extension
    g = torch.Generator().manual_seed(0)
    c = lambda *s: torch.complex(torch.randn(*s, generator=g), torch.randn(*s, generator=g)).cuda()
    # As in s4.py: w with negative real parts, z on the imaginary axis (well conditioned).
    v, w = c(8, 32), c(8, 32)
    w = torch.complex(-0.5 - w.real.abs(), w.imag)
    z = 1j * torch.linspace(-10, 10, 64).cuda()
    got = cauchy_mult(v, z, w)
    want = (v[:, None, :] / (z[:, None] - w[:, None, :]) + v.conj()[:, None, :] / (z[:, None] - w.conj()[:, None, :])).sum(-1)
    err = (torch.linalg.vector_norm(got - want) / torch.linalg.vector_norm(want)).item()
    print(json.dumps({"ok": err <= 1e-4, "relL2": err, "error": None if err <= 1e-4 else "Cauchy relL2 %g vs the formula" % err}))
except Exception as e:
    print(json.dumps({"ok": False, "error": "%s: %s" % (type(e).__name__, " ".join(str(e).split())[:400])}))
"""


def probe():
    r = subprocess.run([sys.executable, "-c", PROBE, kernels_dir()], capture_output=True, text=True, timeout=180)
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or not lines:
        return {"ok": False, "error": "probe exited with %s: %s" % (r.returncode, " ".join(r.stderr.split())[-400:])}
    return json.loads(lines[-1])


def build(arch, timeout_s):
    """setup.py build_ext --inplace --force for one architecture; returns (ok, seconds, error)."""
    kdir = kernels_dir()
    # A module or objects of an earlier build (another GPU or PyTorch) must not be relinked.
    for f in glob.glob(os.path.join(kdir, "structured_kernels*.so")):
        os.remove(f)
    shutil.rmtree(os.path.join(kdir, "build"), ignore_errors=True)
    env = dict(os.environ, TORCH_CUDA_ARCH_LIST=arch, MAX_JOBS=os.environ.get("MAX_JOBS", str(os.cpu_count() or 4)))
    cmd = [sys.executable, "setup.py", "build_ext", "--inplace", "--force"]
    print("$ cd %s && TORCH_CUDA_ARCH_LIST=%s %s" % (kdir, arch, " ".join(cmd)), flush=True)
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=kdir, env=env, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False, time.perf_counter() - t0, "the build did not finish within %d s" % timeout_s
    seconds = time.perf_counter() - t0
    return r.returncode == 0, seconds, None if r.returncode == 0 else "setup.py exited with code %d (compiler output above)" % r.returncode


def outcome(device, timeout_s):
    if device != "cuda":
        return {"status": "n/a", "action": "not built", "error": "a CPU run: the extension is CUDA only, the official code runs its pure-PyTorch Cauchy"}
    if not torch.cuda.is_available():
        return {"status": "error", "action": "not built", "error": "torch.cuda.is_available() is False"}
    major, minor = torch.cuda.get_device_capability()
    arch = "%d.%d" % (major, minor)
    before = probe()
    if before["ok"]:
        return {"status": "ok", "action": "already built", "arch": arch, "probe": before}
    print("official CUDA extension not usable here (%s): building it for sm_%d%d" % (before["error"], major, minor), flush=True)
    from torch.utils.cpp_extension import CUDA_HOME

    if CUDA_HOME is None:
        return {"status": "error", "action": "not built", "arch": arch, "error": "no CUDA toolkit (torch.utils.cpp_extension.CUDA_HOME is None); before: %s" % before["error"]}
    ok, seconds, err = build(arch, timeout_s)
    if ok and not extension_files():
        # setup.py adds the extension only where its own torch sees CUDA and a toolkit.
        ok, err = False, "setup.py made no structured_kernels module (its torch saw no CUDA device or no CUDA_HOME)"
    after = probe()
    if ok and after["ok"]:
        return {"status": "ok", "action": "built", "arch": arch, "buildS": seconds, "probe": after}
    return {"status": "error", "action": "build failed", "arch": arch, "buildS": seconds, "error": err or "built, but the probe failed: %s" % after["error"], "probe": after}


def main():
    out_file, device = sys.argv[1:3]
    timeout_s = float(sys.argv[3]) if len(sys.argv) > 3 else 300
    meta = {
        "suite": "build",
        "impl": "official",
        "device": torch.cuda.get_device_name(0) if device == "cuda" and torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "kernelsDir": kernels_dir(),
        "startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Results(out_file, meta)
    r = outcome(device, timeout_s)
    out.doc["extension"] = r
    row = {"suite": "build", "impl": "official", "case": "official CUDA extension", "mode": "build"}
    row.update({k: v for k, v in r.items() if k in ("status", "error", "action", "arch", "buildS")})
    if r["status"] == "ok":
        row["note"] = "%s for sm_%s" % (r["action"], r["arch"].replace(".", ""))
    out.add(row)


if __name__ == "__main__":
    main()
