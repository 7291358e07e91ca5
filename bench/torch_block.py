"""PyTorch baselines of issue 6: one S4Block forward and forward+backward (eager and
torch.compile, with peak memory), a training step of the Fashion-MNIST model (AdamW with the
official parameter groups), and generation with the model's recurrent view (eager loop)."""
import signal
import time

import torch
import torch.nn.functional as F

from torch_common import NotAvailable, block_cases, peak_memory, run_case, time_it
from torch_s4 import S4Block, S4Model, c_from_ctilde, optimizer_groups, setup_linear, step_state_linear


class CompileTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CompileTimeout()


def warm_compiled(fn, timeout_s):
    """Calls fn (which triggers compilation) under a wall-clock limit; returns the seconds it took."""
    if not hasattr(torch, "compile"):
        raise NotAvailable("torch.compile (PyTorch < 2.0)")
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(timeout_s))
    t0 = time.perf_counter()
    try:
        fn()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    except CompileTimeout:
        raise RuntimeError("torch.compile did not finish within %d s" % timeout_s) from None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return time.perf_counter() - t0


def run_block(spec, device, out):
    cfg, T = spec["block"], spec["timing"]
    N = cfg["N"]
    variants = [("torch-eager", False)]
    if cfg["compile"]:
        variants.append(("torch-compile", True))
    # Eager for every shape first: a compile failure or hang then costs only compile columns.
    shapes = [dict(s, bidirectional=False) for s in cfg["cases"]] + [dict(s, bidirectional=True) for s in cfg.get("bidirectionalCases", [])]
    for impl, compiled in variants:
        for shape in shapes:
            B, H, L, bi = shape["B"], shape["H"], shape["L"], shape["bidirectional"]
            label = "B=%d H=%d L=%d%s" % (B, H, L, " bidirectional" if bi else "")
            base = {"suite": "block", "impl": impl, "case": label, "shape": dict(shape, N=N)}
            torch.manual_seed(0)
            block = S4Block(H, N, bidirectional=bi).to(device)
            block.eager_complex = compiled
            fn = torch.compile(block) if compiled else block
            fwd, fwdbwd = block_cases(fn, B, H, L, device, list(block.parameters()))
            for mode, f in (("fwd", fwd), ("fwd+bwd", fwdbwd)):

                def case(f=f):
                    extra = {}
                    if compiled:
                        extra["compileS"] = warm_compiled(f, cfg["compileTimeoutS"])
                    t = time_it(f, T, device)
                    note = "forward under no_grad" if f is fwd else "grads of all parameters and of u"
                    return dict(t, **peak_memory(f, device), **extra, note=note + ("; torch.compile (kernel and FFT convolution eager: Inductor has no complex codegen), compile time excluded" if compiled else ""))

                run_case(out, dict(base, mode=mode), case)
            del block, fn


def run_model(spec, device, out):
    m = spec["model"]
    T = dict(spec["timing"], reps=m["reps"], minReps=min(spec["timing"]["minReps"], m["reps"]))
    label = "B=%d L=%d layers=%d H=%d N=%d" % (m["B"], m["L"], m["nLayers"], m["H"], m["N"])
    shape = {"B": m["B"], "L": m["L"], "H": m["H"], "N": m["N"]}

    def train_case(compiled):
        def case():
            torch.manual_seed(0)
            model = S4Model(m["dInput"], m["dOutput"], m["H"], m["nLayers"], m["N"], m["dropout"]).to(device)
            for blk in model.layers:
                blk.eager_complex = compiled
            opt = torch.optim.AdamW(optimizer_groups(model, m["lr"], m["weightDecay"]), lr=m["lr"])
            fwd = torch.compile(model) if compiled else model
            x = torch.randn(m["B"], m["dInput"], m["L"], device=device)
            labels = torch.randint(0, m["dOutput"], (m["B"],), device=device)
            model.train()

            def step():
                F.cross_entropy(fwd(x), labels).backward()
                opt.step()
                opt.zero_grad(set_to_none=True)

            extra = {"compileS": warm_compiled(step, m["compileTimeoutS"])} if compiled else {}
            t = time_it(step, T, device, inner=1)
            note = "forward + cross-entropy + backward + AdamW (official groups), dropout %g" % m["dropout"]
            return dict(t, **peak_memory(step, device), **extra, note=note + ("; model under torch.compile (kernel and FFT convolution eager: Inductor has no complex codegen), compile time excluded" if compiled else ""))

        return case

    base = {"suite": "model", "case": label, "mode": "train step", "shape": shape}
    run_case(out, dict(base, impl="torch-eager"), train_case(False))

    for B in m["genBatches"]:
        gbase = {"suite": "model", "impl": "torch-eager", "case": "%s batch=%d" % (label, B), "mode": "generate", "shape": {"B": B, "H": m["H"], "N": m["N"]}}
        run_case(out, gbase, lambda B=B: generate_case(m, B, device, T))

    if m["compile"]:
        run_case(out, dict(base, impl="torch-compile"), train_case(True))


def generate_case(m, B, device, T):
    """One token per step through the whole model: encoder, per layer the official linear step,
    D skip, GELU, output linear, GLU, residual, LayerNorm; running mean; decoder."""
    torch.manual_seed(0)
    model = S4Model(m["dInput"], m["dOutput"], m["H"], m["nLayers"], m["N"], m["dropout"]).to(device).eval()
    layers = []
    with torch.no_grad():
        for blk in model.layers:
            lam, P, Bp, Ct, dt = (t.detach().to(torch.complex128 if t.is_complex() else torch.float64) for t in blk.kernel.params())
            C = c_from_ctilde(lam, P, Bp, Ct, dt, m["L"]).to(torch.complex64)
            sp = {k: v.to(torch.complex64) for k, v in setup_linear(lam, P, Bp, dt).items()}
            layers.append((sp, C, blk))
    state = {"x": [torch.zeros(B, m["H"], m["N"] // 2, dtype=torch.complex64, device=device) for _ in layers], "sum": None, "n": 0}
    xt = torch.randn(B, m["dInput"], device=device)

    def step():
        x = model.encoder(xt)  # (B H)
        for i, (sp, C, blk) in enumerate(layers):
            state["x"][i] = step_state_linear(sp, x, state["x"][i])
            y = 2 * (C * state["x"][i]).sum(-1).real + blk.D * x
            y = F.glu(F.linear(F.gelu(y), blk.weight, blk.bias), dim=-1)
            x = model.norms[i](y + x)
        state["sum"] = x if state["sum"] is None else state["sum"] + x
        state["n"] += 1
        return model.decoder(state["sum"] / state["n"])

    with torch.no_grad():
        t = time_it(step, T, device, inner=m["genSteps"])
    return dict(t, tokensPerSec=B * 1e3 / t["ms"]["median"], note="eager loop, official _step_state_linear per layer, %d steps per repetition" % m["genSteps"])
