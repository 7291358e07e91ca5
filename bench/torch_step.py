"""PyTorch baseline of recurrent stepping: one token per step in an eager Python loop,
the official `_step_state_linear` (Woodbury, O(N)) and the official dense `_step_state`
(O(N^2) matvec with dA); tokens/s = batch x steps / s."""
import torch

from torch_common import rel_l2, run_case, time_it
from torch_s4 import _conj, c_from_ctilde, dense_discrete, dplr_kernel, fft_conv, init_dplr, setup_linear, step_state_dense, step_state_linear


def recurrence_check(p, C, L, device):
    """Both stepping baselines (float64) against the convolution with the kernel they must reproduce."""
    H, T = p["dt"].numel(), 64
    u = torch.randn(1, H, T, dtype=torch.float64, device=device)
    K = dplr_kernel(p["lambda"], p["p"], p["b"], p["c_tilde"], p["dt"], L)[:, :T]
    want = fft_conv(u, K, torch.zeros(H, dtype=torch.float64, device=device))
    sp = setup_linear(p["lambda"], p["p"], p["b"], p["dt"])
    _, dA, dB = dense_discrete(p["lambda"], p["p"], p["b"], p["dt"])
    x_lin = torch.zeros(1, H, C.size(-1), dtype=C.dtype, device=device)
    x_den = torch.zeros(1, H, 2 * C.size(-1), dtype=C.dtype, device=device)
    y_lin, y_den = [], []
    for t in range(T):
        x_lin = step_state_linear(sp, u[..., t], x_lin)
        x_den = step_state_dense(dA, dB, u[..., t], x_den)
        y_lin.append(2 * (C * x_lin).sum(-1).real)
        y_den.append((_conj(C) * x_den).sum(-1).real)
    err = max(rel_l2(torch.stack(y_lin, -1), want), rel_l2(torch.stack(y_den, -1), want))
    if not err <= 1e-6:
        raise AssertionError("stepping baselines differ from the convolution with the kernel: relL2 %g" % err)
    return {"check": {"name": "max relL2, linear and dense steps vs conv with K (float64, 64 steps)", "value": err, "limit": 1e-6}}


def run_step(spec, device, out):
    cfg = spec["step"]
    T = dict(spec["timing"], reps=cfg["reps"], minReps=min(spec["timing"]["minReps"], cfg["reps"]))
    H, N, L = cfg["H"], cfg["N"], cfg["L"]
    p = {k: v.to(device) for k, v in init_dplr(H, N, seed=3).items()}
    C = c_from_ctilde(p["lambda"], p["p"], p["b"], p["c_tilde"], p["dt"], L)  # (H N2), float64 set-up
    D = torch.randn(H, device=device)
    run_case(out, {"suite": "step", "impl": "torch-eager", "case": "recurrence H=%d N=%d L=%d" % (H, N, L), "mode": "check"}, lambda: recurrence_check(p, C, L, device))
    for B in cfg["batches"]:
        shape = {"B": B, "H": H, "N": N}
        u = torch.randn(B, H, device=device)

        def linear_case():
            sp = {k: v.to(torch.complex64) for k, v in setup_linear(p["lambda"], p["p"], p["b"], p["dt"]).items()}
            C32 = C.to(torch.complex64)
            st = [torch.zeros(B, H, N // 2, dtype=torch.complex64, device=device)]

            def step():
                st[0] = step_state_linear(sp, u, st[0])
                return 2 * (C32 * st[0]).sum(-1).real + D * u

            with torch.no_grad():
                t = time_it(step, T, device, inner=cfg["stepsPerRep"])
            return dict(t, tokensPerSec=B * 1e3 / t["ms"]["median"], note="official _step_state_linear (Woodbury), complex64, %d steps per repetition" % cfg["stepsPerRep"])

        def dense_case():
            _, dA, dB = dense_discrete(p["lambda"], p["p"], p["b"], p["dt"])
            dA, dB, Cf = dA.to(torch.complex64), dB.to(torch.complex64), _conj(C).to(torch.complex64)
            st = [torch.zeros(B, H, N, dtype=torch.complex64, device=device)]

            def step():
                st[0] = step_state_dense(dA, dB, u, st[0])
                return (Cf * st[0]).sum(-1).real + D * u

            with torch.no_grad():
                t = time_it(step, T, device, inner=cfg["stepsPerRep"])
            return dict(t, tokensPerSec=B * 1e3 / t["ms"]["median"], note="official _step_state (dense dA matvec, full N), complex64, %d steps per repetition" % cfg["stepsPerRep"])

        base = {"suite": "step", "case": "B=%d H=%d N=%d" % (B, H, N), "shape": shape, "mode": "step"}
        run_case(out, dict(base, impl="torch-eager"), linear_case)
        run_case(out, dict(base, impl="torch-eager-dense"), dense_case)
