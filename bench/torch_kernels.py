"""PyTorch baselines of the kernels: dplrKernel (issue 3) and fftConv (issue 4), eager, autograd."""
import json

import torch

from torch_common import golden_path, rel_l2, run_case, time_it
from torch_s4 import dplr_kernel, fft_conv, init_dplr, omega_z


def golden_check(device):
    """The baseline against the official S4's golden kernel and gradients (float64)."""
    g = json.load(open(golden_path()))["dplr"]
    cx = lambda d: torch.complex(torch.tensor(d["re"], dtype=torch.float64), torch.tensor(d["im"], dtype=torch.float64)).to(device)
    leaves = {k: cx(g[k]).requires_grad_() for k in ("lambda", "p", "b", "c_tilde")}
    leaves["dt"] = torch.tensor(g["dt"], dtype=torch.float64, device=device).requires_grad_()
    K = dplr_kernel(leaves["lambda"], leaves["p"], leaves["b"], leaves["c_tilde"], leaves["dt"], g["L"])
    W = torch.tensor(g["grad"]["W"], dtype=torch.float64, device=device)
    (K * W).sum().backward()
    errs = {"K": rel_l2(K, torch.tensor(g["K"], dtype=torch.float64))}
    for k in ("lambda", "p", "b", "c_tilde"):
        want = torch.view_as_real(cx(g["grad"][k]))
        errs["grad " + k] = rel_l2(torch.view_as_real(leaves[k].grad), want)
    errs["grad dt"] = rel_l2(leaves["dt"].grad, torch.tensor(g["grad"]["dt"], dtype=torch.float64))
    worst = max(errs.values())
    if not worst <= 1e-8:
        raise AssertionError("the PyTorch baseline differs from the official S4 golden data: %s" % errs)
    return {"check": {"name": "max relL2 of K and grads vs official S4 (float64)", "value": worst, "limit": 1e-8}}


def run_kernel(spec, device, out):
    cfg, T = spec["kernel"], spec["timing"]
    run_case(out, {"suite": "kernel", "impl": "torch-eager", "case": "golden H=2 N=16 L=64", "mode": "check"}, lambda: golden_check(device))
    H, N = cfg["H"], cfg["N"]
    p64 = init_dplr(H, N, seed=7)
    for L in cfg["Ls"]:
        shape = {"H": H, "N": N, "L": L}
        base = {"suite": "kernel", "impl": "torch-eager", "case": "H=%d N=%d L=%d" % (H, N, L), "shape": shape}
        nodes = omega_z(L, torch.complex64, device)

        def leaves(grad):
            t = {k: v.to(device=device, dtype=torch.complex64) for k, v in p64.items() if k != "dt"}
            t["dt"] = p64["dt"].to(device=device, dtype=torch.float32)
            return {k: v.requires_grad_(grad) for k, v in t.items()}

        def fwd_case():
            x = leaves(False)
            with torch.no_grad():
                return time_it(lambda: dplr_kernel(x["lambda"], x["p"], x["b"], x["c_tilde"], x["dt"], L, nodes), T, device)

        def fwdbwd_case():
            x = leaves(True)
            W = torch.randn(H, L, device=device) / L**0.5

            def step():
                dplr_kernel(x["lambda"], x["p"], x["b"], x["c_tilde"], x["dt"], L, nodes).backward(W)
                for v in x.values():
                    v.grad = None

            return dict(time_it(step, T, device), note="autograd; grads of lambda, p, b, cTilde, dt")

        run_case(out, dict(base, mode="fwd"), fwd_case)
        run_case(out, dict(base, mode="fwd+bwd"), fwdbwd_case)


def direct_conv_check(device):
    """The FFT baseline against a direct causal convolution (conv1d) on a small case."""
    B, H, L = 2, 3, 37
    g = torch.Generator().manual_seed(11)
    u, k, D = torch.randn(B, H, L, generator=g), torch.randn(H, L, generator=g) * 0.3, torch.randn(H, generator=g)
    u, k, D = (t.double().to(device) for t in (u, k, D))
    direct = torch.nn.functional.conv1d(torch.nn.functional.pad(u, (L - 1, 0)), k.flip(-1).unsqueeze(1), groups=H) + u * D.unsqueeze(-1)
    err = rel_l2(fft_conv(u, k, D), direct)
    if not err <= 1e-10:
        raise AssertionError("the FFT convolution baseline differs from the direct convolution: %g" % err)
    return {"check": {"name": "relL2 vs direct convolution (float64)", "value": err, "limit": 1e-10}}


def run_fftconv(spec, device, out):
    T = spec["timing"]
    run_case(out, {"suite": "fftconv", "impl": "torch-eager", "case": "direct B=2 H=3 L=37", "mode": "check"}, lambda: direct_conv_check(device))
    for shape in spec["fftconv"]["cases"]:
        B, H, L = shape["B"], shape["H"], shape["L"]
        base = {"suite": "fftconv", "impl": "torch-eager", "case": "B=%d H=%d L=%d" % (B, H, L), "shape": shape}

        def inputs(grad):
            g = torch.Generator(device=device).manual_seed(5)
            u = torch.randn(B, H, L, device=device, generator=g)
            k = torch.randn(H, L, device=device, generator=g) / L**0.5
            D = torch.randn(H, device=device, generator=g)
            return [t.requires_grad_(grad) for t in (u, k, D)]

        def fwd_case():
            u, k, D = inputs(False)
            with torch.no_grad():
                return time_it(lambda: fft_conv(u, k, D), T, device)

        def fwdbwd_case():
            u, k, D = inputs(True)
            G = torch.randn(B, H, L, device=device)

            def step():
                fft_conv(u, k, D).backward(G)
                u.grad = k.grad = D.grad = None

            return dict(time_it(step, T, device), note="autograd; grads of u, k and D")

        run_case(out, dict(base, mode="fwd"), fwd_case)
        run_case(out, dict(base, mode="fwd+bwd"), fwdbwd_case)
