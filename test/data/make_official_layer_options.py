"""Writes test/data/official_layer_options.json with the official S4 (state-spaces/s4 @e757cef,
models/s4/s4.py), CPU, float32: S4Blocks with the layer options this library mirrors
(channels, n_ssm, bidirectional with channels, S4D inits, kernels longer than l_max), each
with its state_dict (as torch saves it), an input, the eval-mode output and, where the block
can step, the first recurrent step outputs.

  python3 test/data/make_official_layer_options.py /path/to/s4/models/s4 > test/data/official_layer_options.json

(pytorch_lightning is only used by the official file for logging; a stub stands in for it.)
"""
import json
import sys
import types

import torch

stub = types.ModuleType("pytorch_lightning")
stub.utilities = types.ModuleType("pytorch_lightning.utilities")
stub.utilities.rank_zero_only = lambda f: f
sys.modules["pytorch_lightning"] = stub
sys.modules["pytorch_lightning.utilities"] = stub.utilities
sys.path.insert(0, sys.argv[1])
import s4 as official  # noqa: E402

H, N, B = 4, 8, 2


def entry(t):
    t = t.detach()
    if t.is_complex():
        t = torch.view_as_real(t)
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": t.reshape(-1).tolist()}


def state(block):
    return {k: entry(v) for k, v in block.state_dict().items()}


def steps(block, x, T):
    block.setup_step()
    st = block.default_state(B)
    ys = []
    with torch.no_grad():
        for t in range(T):
            y, st = block.step(x[..., t], st)
            ys.append(y)
    return torch.stack(ys, dim=-1)


def case(seed, L, config, step=False, pre_L=None):
    torch.manual_seed(seed)
    block = official.S4Block(H, transposed=True, dropout=0.0, d_state=N, verbose=False, **config)
    block.eval()
    out = {"config": dict(config, d_model=H, d_state=N)}
    with torch.no_grad():
        x = torch.randn(B, H, L)
        if pre_L is not None:
            # A first call at pre_L sets C~ up for that length (l_max None: the kernel starts
            # there); the state before the longer call is the one to load.
            block(torch.randn(B, H, pre_L))
            out["state_dict"] = state(block)
            y, _ = block(x)
        else:
            # The first call converts C to C~ for l_max (l_kernel 0 -> l_max) in place: the
            # state after it is what a trained block holds.
            y, _ = block(x)
            out["state_dict"] = state(block)
    out["x"] = entry(x)
    out["y"] = entry(y)
    if pre_L is not None:
        out["state_dict_after"] = state(block)
    if step:
        out["step_y"] = entry(steps(block, x, 8))
    return out


cases = {
    "dplr_channels2": case(1, 16, {"l_max": 16, "channels": 2}, step=True),
    "dplr_nssm2": case(2, 16, {"l_max": 16, "n_ssm": 2}, step=True),
    "dplr_bidirectional_channels2_nssm1": case(3, 16, {"l_max": 16, "channels": 2, "bidirectional": True, "n_ssm": 1}),
    "s4d_diag_lin_channels2_nssm1": case(4, 16, {"l_max": 16, "mode": "diag", "init": "diag-lin", "channels": 2, "n_ssm": 1}, step=True),
    "s4d_diag_inv": case(5, 16, {"l_max": 16, "mode": "diag", "init": "diag-inv"}, step=True),
    "dplr_grows_16_to_64": case(6, 40, {"l_max": None}, pre_L=16),
    "dplr_lmax16_input40": case(7, 40, {"l_max": 16, "bidirectional": True}),
}
json.dump({"meta": {"source": "state-spaces/s4 @e757cef models/s4/s4.py, torch %s, float32, CPU (naive Cauchy/Vandermonde)" % torch.__version__, "H": H, "N": N, "B": B}, "cases": cases}, sys.stdout)
