"""nn.BatchNorm1d(H) on [B, H, L] in training mode: forward, and forward + backward, in ms
(CUDA events around a loop), for bench/batch_norm.js. Args: device, JSON list of [B, H, L].
Prints one JSON object {"BxHxL": {"fwd": ms, "both": ms}}."""
import json
import sys

import torch

from torch_common import time_it

TIMING = {"warmup": 3, "reps": 15, "minReps": 5, "minRepMs": 20, "maxInner": 200, "maxCaseS": 3}


def main():
    device = torch.device(sys.argv[1])
    out = {}
    for B, H, L in json.loads(sys.argv[2]):
        bn = torch.nn.BatchNorm1d(H).to(device)
        x = torch.randn(B, H, L, device=device, requires_grad=True)
        g = torch.randn(B, H, L, device=device)
        with torch.no_grad():
            fwd = time_it(lambda: bn(x), TIMING, device)["ms"]["median"]

        def both():
            bn(x).backward(g)
            x.grad = None
            bn.weight.grad = None
            bn.bias.grad = None

        out["%dx%dx%d" % (B, H, L)] = {"fwd": fwd, "both": time_it(both, TIMING, device)["ms"]["median"]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
