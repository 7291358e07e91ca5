"""The official S4 column of the benchmarks (state-spaces/s4 models/s4/s4.py at $S4REF, with its
CUDA Cauchy extension where bench/official_build.py could build it), one suite per process:

    S4REF=<folder> python3 bench/official_bench.py <kernel|step|block|model> <spec.json> <result.json> <cuda|cpu>

kernel: SSMKernelDPLR generation, fwd and fwd+bwd; block: S4Block fwd and fwd+bwd with peak
memory; step: S4Block.step in the official modes dense, linear and diagonal; model: the official
example.py recipe's training step and, with the same model, recurrent generation. The shapes and
timing settings are the spec's (bench/specs.js), as for our worker and the PyTorch rewrite.
Every timed case records which Cauchy implementation the official code ran ("cauchy")."""
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch
import torch.nn.functional as F

from official_import import CauchyCounter, load, s4ref
from torch_common import NotAvailable, Results, block_cases, peak_memory, plain_fp32, rel_l2, run_case, time_it

IMPL = "official"
STEP_MODES = ("dense", "linear", "diagonal")


def timed(counter, fn):
    """Runs a measuring function with the Cauchy counter reset; adds which implementation ran."""
    counter.reset()
    r = fn()
    used = counter.used()
    return dict(r, cauchy=used) if used else r


def extension_check(S4, ext, device, H, N, L):
    """The kernel with the extension against the same kernel on the official pure-PyTorch
    Cauchy (the code path a run without the extension times): they must agree."""
    if not ext["loaded"]:
        raise NotAvailable("the CUDA extension is not loaded (%s)" % ext["importError"])
    if device.type != "cuda":
        raise NotAvailable("the CUDA extension runs on CUDA devices only")
    torch.manual_seed(0)
    k = S4.SSMKernelDPLR(d_model=H, d_state=N, l_max=L, channels=1).to(device)
    with torch.no_grad():
        with_ext = k(L=L)[0]
        S4.has_cuda_extension = False
        try:
            naive = k(L=L)[0]
        finally:
            S4.has_cuda_extension = True
    err = rel_l2(with_ext, naive)
    if not err <= 1e-4:
        raise AssertionError("the official kernel with the CUDA extension differs from its pure-PyTorch Cauchy: relL2 %g" % err)
    return {"check": {"name": "relL2 of the kernel, CUDA extension vs official cauchy_naive (FP32)", "value": err, "limit": 1e-4}}


def run_kernel(S4, ext, counter, spec, device, out):
    cfg, T = spec["kernel"], spec["timing"]
    H, N = cfg["H"], cfg["N"]
    L0 = cfg["Ls"][0]
    run_case(out, {"suite": "kernel", "impl": IMPL, "case": "extension H=%d N=%d L=%d" % (H, N, L0), "mode": "check"}, lambda: extension_check(S4, ext, device, H, N, L0))
    for L in cfg["Ls"]:
        base = {"suite": "kernel", "impl": IMPL, "case": "H=%d N=%d L=%d" % (H, N, L), "shape": {"H": H, "N": N, "L": L}}
        torch.manual_seed(0)
        k = S4.SSMKernelDPLR(d_model=H, d_state=N, l_max=L, channels=1).to(device)
        params = list(k.parameters())
        W = torch.randn(1, H, L, device=device) / L**0.5

        def fwd():
            with torch.no_grad():
                k(L=L)

        def fwdbwd():
            k(L=L)[0].backward(W)
            for p in params:
                p.grad = None

        run_case(out, dict(base, mode="fwd"), lambda: timed(counter, lambda: dict(time_it(fwd, T, device), note="SSMKernelDPLR(L=L), no autograd")))
        run_case(out, dict(base, mode="fwd+bwd"), lambda: timed(counter, lambda: dict(time_it(fwdbwd, T, device), note="autograd; grads of the kernel's parameters")))
        del k


def run_block(S4, ext, counter, spec, device, out):
    cfg, T = spec["block"], spec["timing"]
    N = cfg["N"]
    shapes = [dict(s, bidirectional=False) for s in cfg["cases"]] + [dict(s, bidirectional=True) for s in cfg.get("bidirectionalCases", [])]
    for shape in shapes:
        B, H, L, bi = shape["B"], shape["H"], shape["L"], shape["bidirectional"]
        base = {"suite": "block", "impl": IMPL, "case": "B=%d H=%d L=%d%s" % (B, H, L, " bidirectional" if bi else ""), "shape": dict(shape, N=N)}
        torch.manual_seed(0)
        blk = S4.S4Block(H, d_state=N, l_max=L, transposed=True, dropout=0.0, bidirectional=bi).to(device)
        # S4Block returns (y, state): the cases time y.
        fwd, fwdbwd = block_cases(lambda x, blk=blk: blk(x)[0], B, H, L, device, list(blk.parameters()))
        for mode, f, note in (("fwd", fwd, "forward under no_grad"), ("fwd+bwd", fwdbwd, "grads of all parameters and of u")):
            run_case(out, dict(base, mode=mode), lambda f=f, note=note: timed(counter, lambda: dict(time_it(f, T, device), **peak_memory(f, device), note="official S4Block; " + note)))
        del blk, fwd, fwdbwd


def step_check(S4, device, H, N, L, mode):
    """An official step mode, run from the zero state, against the block's own convolution on
    the same input (FP32, 64 steps): the stepping that is timed computes the layer. The
    diagonal mode diagonalizes the non-normal DPLR matrix with torch.linalg.eig, so its error
    is the official code's, reported as it is."""
    torch.manual_seed(0)
    blk = S4.S4Block(H, d_state=N, l_max=L, transposed=True).to(device).eval()
    steps = 64
    u = torch.randn(1, H, steps, device=device)
    with torch.no_grad():
        want = blk(u)[0]
        blk.setup_step(mode=mode)
        st = blk.default_state(1, device=device)
        ys = []
        for t in range(steps):
            y, st = blk.step(u[..., t], st)
            ys.append(y)
    err = rel_l2(torch.stack(ys, -1), want)
    if not err <= 1e-3:
        raise AssertionError("the official step mode '%s' differs from the block's convolution: relL2 %g" % (mode, err))
    return {"check": {"name": "relL2 of S4Block.step (mode %s) vs its forward (FP32, 64 steps)" % mode, "value": err, "limit": 1e-3}}


def run_step(S4, ext, counter, spec, device, out):
    cfg = spec["step"]
    T = dict(spec["timing"], reps=cfg["reps"], minReps=min(spec["timing"]["minReps"], cfg["reps"]))
    H, N, L = cfg["H"], cfg["N"], cfg["L"]
    for mode in STEP_MODES:
        run_case(out, {"suite": "step", "impl": IMPL, "case": "recurrence %s H=%d N=%d L=%d" % (mode, H, N, L), "mode": "check"}, lambda mode=mode: step_check(S4, device, H, N, L, mode))
    for B in cfg["batches"]:
        for mode in STEP_MODES:

            def case(B=B, mode=mode):
                torch.manual_seed(0)
                blk = S4.S4Block(H, d_state=N, l_max=L, transposed=True).to(device).eval()
                with torch.no_grad():
                    blk.setup_step(mode=mode)
                st = [blk.default_state(B, device=device)]
                x = torch.randn(B, H, device=device)

                def step():
                    y, st[0] = blk.step(x, st[0])
                    return y

                with torch.no_grad():
                    t = time_it(step, T, device, inner=cfg["stepsPerRep"])
                return dict(t, tokensPerSec=B * 1e3 / t["ms"]["median"], note="official S4Block.step, setup_step(mode='%s'), %d steps per repetition" % (mode, cfg["stepsPerRep"]))

            base = {"suite": "step", "impl": IMPL, "case": "B=%d H=%d N=%d" % (B, H, N), "mode": "step %s" % mode, "shape": {"B": B, "H": H, "N": N}}
            run_case(out, base, case)


def example_model(m, device):
    """The official example.py model and optimizer: S4Blocks with lr min(0.001, lr) on A, B, dt,
    AdamW with those in their own groups (no weight decay), as example.py's setup_optimizer."""
    from official_example import ExampleModel

    torch.manual_seed(0)
    model = ExampleModel({"d_input": m["dInput"], "d_output": m["dOutput"], "d_model": m["H"], "n_layers": m["nLayers"], "d_state": m["N"], "l_max": m["L"], "dropout": m["dropout"], "lr": min(0.001, m["lr"])}).to(device)
    params = list(model.parameters())
    opt = torch.optim.AdamW([p for p in params if not hasattr(p, "_optim")], lr=m["lr"], weight_decay=m["weightDecay"])
    hps = [getattr(p, "_optim") for p in params if hasattr(p, "_optim")]
    for hp in [dict(s) for s in sorted(list(dict.fromkeys(frozenset(hp.items()) for hp in hps)))]:
        opt.add_param_group({"params": [p for p in params if getattr(p, "_optim", None) == hp], **hp})
    return model, opt


def run_model(S4, ext, counter, spec, device, out):
    m = spec["model"]
    T = dict(spec["timing"], reps=m["reps"], minReps=min(spec["timing"]["minReps"], m["reps"]))
    label = "B=%d L=%d layers=%d H=%d N=%d" % (m["B"], m["L"], m["nLayers"], m["H"], m["N"])

    def train_case():
        model, opt = example_model(m, device)
        x = torch.randn(m["B"], m["L"], m["dInput"], device=device)
        labels = torch.randint(0, m["dOutput"], (m["B"],), device=device)
        model.train()

        def step():
            F.cross_entropy(model(x), labels).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        t = time_it(step, T, device, inner=1)
        note = "official example.py model and optimizer groups: forward + cross-entropy + backward + AdamW, dropout %g" % m["dropout"]
        return dict(t, **peak_memory(step, device), params=sum(p.numel() for p in model.parameters()), note=note)

    base = {"suite": "model", "impl": IMPL, "case": label, "mode": "train step", "shape": {"B": m["B"], "L": m["L"], "H": m["H"], "N": m["N"]}}
    run_case(out, base, lambda: timed(counter, train_case))
    for B in m["genBatches"]:
        gbase = {"suite": "model", "impl": IMPL, "case": "%s batch=%d" % (label, B), "mode": "generate", "shape": {"B": B, "H": m["H"], "N": m["N"]}}
        run_case(out, gbase, lambda B=B: generate_case(m, B, device, T))


def generate_case(m, B, device, T):
    """One token per call through the example model: encoder, per layer the official
    S4Block.step (its default mode, dense) with residual and post-LayerNorm, running mean, decoder."""
    model, _ = example_model(m, device)
    model.eval()
    with torch.no_grad():
        for layer in model.s4_layers:
            layer.setup_step()
    state = {"x": [layer.default_state(B, device=device) for layer in model.s4_layers], "sum": None, "n": 0}
    xt = torch.randn(B, m["dInput"], device=device)

    def step():
        x = model.encoder(xt)  # (B H)
        for i, (layer, norm) in enumerate(zip(model.s4_layers, model.norms)):
            z, state["x"][i] = layer.step(x, state["x"][i])
            x = norm(z + x)
        state["sum"] = x if state["sum"] is None else state["sum"] + x
        state["n"] += 1
        return model.decoder(state["sum"] / state["n"])

    with torch.no_grad():
        t = time_it(step, T, device, inner=m["genSteps"])
    return dict(t, tokensPerSec=B * 1e3 / t["ms"]["median"], note="official S4Block.step (mode dense) per layer, eager loop, %d steps per repetition" % m["genSteps"])


SUITES = {"kernel": run_kernel, "block": run_block, "step": run_step, "model": run_model}


def main():
    suite, spec_file, out_file, device_name = sys.argv[1:5]
    if suite not in SUITES:
        raise SystemExit("official_bench: unknown suite '%s' (one of %s)" % (suite, ", ".join(SUITES)))
    spec = json.load(open(spec_file))
    if device_name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("official_bench: CUDA requested but torch.cuda.is_available() is False")
    device = torch.device(device_name)
    plain_fp32()
    S4, ext = load()
    commit_file = os.path.join(s4ref(), "COMMIT")
    meta = {
        "suite": suite,
        "impl": IMPL,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (%s)" % platform.processor(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "official": {"commit": open(commit_file).read().strip() if os.path.isfile(commit_file) else None, "cudaExtension": ext},
        "startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print("official S4: CUDA extension %s" % ("loaded" if ext["loaded"] else "NOT loaded (%s): the pure-PyTorch fallback is timed" % ext["importError"]), flush=True)
    out = Results(out_file, meta)
    SUITES[suite](S4, ext, CauchyCounter(S4), spec, device, out)
    out.doc["finishedAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out.flush()


if __name__ == "__main__":
    main()
