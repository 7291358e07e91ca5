"""The official S4 (state-spaces/s4 models/s4/s4.py, its S4Block) on PyTorch CPU: block forward
and forward+backward at the CPU bench shapes, and a training step of the small Fashion-MNIST
model (the official example's model: encoder, S4Blocks, post-LayerNorm, mean pool, decoder;
AdamW). The CPU column of bench/cpu_vs_official.js.

    S4REF=<folder with models/s4> python3 bench/official_cpu.py [threads]

Prints one JSON object: median milliseconds per case."""
import json, os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "data"))
import warnings
warnings.filterwarnings("ignore")
import torch
import torch.nn as nn
from official_example import S4, ExampleModel
S4Block = S4.S4Block

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
torch.manual_seed(0)


def median_ms(fn, reps=7, warm=2):
    for _ in range(warm):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); times.append((time.perf_counter() - t) * 1e3)
    return sorted(times)[len(times) // 2]


def block_case(B, H, L, N):
    m = S4Block(H, d_state=N, l_max=L, transposed=True, dropout=0.0)
    x = torch.randn(B, H, L, requires_grad=True)
    g = torch.randn(B, H, L)
    def fwd():
        with torch.no_grad():
            m(x)
    def fb():
        y, _ = m(x)
        y.backward(g)
    return median_ms(fwd), median_ms(fb, reps=5)


def train_step_case(B=16, L=784, n_layers=2, H=32, N=32):
    m = ExampleModel({"d_input": 1, "d_output": 10, "d_model": H, "n_layers": n_layers, "d_state": N, "l_max": L, "dropout": 0.1})
    opt = torch.optim.AdamW(m.parameters(), lr=0.01, weight_decay=0.01)
    x = torch.randn(B, L, 1)
    y = torch.randint(0, 10, (B,))
    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    return median_ms(step, reps=5)


out = {"threads": torch.get_num_threads(), "torch": torch.__version__, "blocks": {}}
for (B, H, L) in [(4, 64, 1024), (8, 128, 1024), (2, 64, 4096), (16, 32, 784)]:
    f, fb = block_case(B, H, L, 64 if H > 32 else 32)
    out["blocks"][f"{B},{H},{L}"] = {"fwd": f, "fwdBwd": fb}
out["trainStep"] = train_step_case()
print(json.dumps(out))
