"""Small files written by PyTorch and the official S4 (state-spaces/s4 @e757cef) for the import tests.

Writes into test/data/torch/:
  block.pt         torch.save(S4Block.state_dict())                        (zip format, the default)
  block.safetensors the same state_dict in the safetensors format (written by hand: F32 + I64)
  model.ckpt       a Lightning-style checkpoint of the example.py model: {'epoch', 'global_step',
                   'pytorch-lightning_version', 'state_dict' (keys 'model.*'), 'optimizer_states'
                   (an AdamW state_dict: tensors, tuples, floats), 'lr_schedulers', 'callbacks',
                   'hyper_parameters' (plain dict)}
  attrdict.ckpt    a Lightning checkpoint whose hyper_parameters is an AttributeDict (a class outside the allow-list)
  dtypes.pt        tensors of other dtypes and layouts: float64, float16, bfloat16, int64, int32,
                   bool, a transposed (strided) view, a slice with a storage offset, two views of one storage
  expected.json    configs, inputs and the official eval outputs of block.pt and model.ckpt, and
                   the values of dtypes.pt as float lists
Usage: S4REF=<official s4 checkout> python3 test/data/make_torch_files.py
"""
import json, os, struct, sys, types
from collections import OrderedDict

import torch, torch.nn as nn
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from official_example import S4, ExampleModel

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch")
os.makedirs(out, exist_ok=True)
torch.manual_seed(1)
H, N, L, B = 4, 8, 16, 2

def perturb(m):
    with torch.no_grad():
        for _, p in m.named_parameters():
            p.add_(0.05 * torch.randn_like(p) * (p.abs().mean() + 0.1))

def flat(t): return [float(f"{x:.9g}") for x in t.detach().double().reshape(-1).tolist()]
def arr(t): return {"shape": list(t.shape), "data": flat(t)}

# An S4Block (DPLR); one forward sets up C~ (l_kernel = L).
block_cfg = {"d_model": H, "d_state": N, "l_max": L, "transposed": True, "dropout": 0.0}
blk = S4.S4Block(**block_cfg); perturb(blk); blk.eval()
xb = torch.randn(B, H, L)
with torch.no_grad(): yb, _ = blk(xb)
torch.save(blk.state_dict(), os.path.join(out, "block.pt"))

def write_safetensors(path, sd):
    header, chunks, off = {}, [], 0
    for k, v in sd.items():
        v = v.detach().contiguous()
        dt = {torch.float32: "F32", torch.int64: "I64"}[v.dtype]
        b = v.numpy().tobytes()
        header[k] = {"dtype": dt, "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b); off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode(); h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h); [f.write(c) for c in chunks]
write_safetensors(os.path.join(out, "block.safetensors"), blk.state_dict())

model_cfg = {"d_input": 1, "d_output": 3, "d_model": H, "n_layers": 2, "d_state": N, "l_max": L, "prenorm": False, "pool": "mean", "dropout": 0.0}
m = ExampleModel(model_cfg); perturb(m)
opt = torch.optim.AdamW(m.parameters(), lr=0.01)
xm = torch.randn(B, L, 1)
m.train(); loss = m(xm).square().mean(); loss.backward(); opt.step(); opt.zero_grad()
m.eval()
with torch.no_grad(): ym = m(xm)
ckpt = {
    "epoch": 3,
    "global_step": 120,
    "pytorch-lightning_version": "2.0.0",
    "state_dict": OrderedDict(("model." + k, v) for k, v in m.state_dict().items()),
    "loops": {"fit_loop": {"epoch_progress": {"current": {"completed": 3}}}},
    "callbacks": {},
    "optimizer_states": [opt.state_dict()],
    "lr_schedulers": [],
    "hyper_parameters": {"model": model_cfg, "lr": 0.01, "name": "example", "tags": ["s4", "small"], "dt": None, "flag": True},
}
torch.save(ckpt, os.path.join(out, "model.ckpt"))

# A Lightning checkpoint as Lightning writes hyper_parameters: an AttributeDict (a dict subclass,
# pickled by reference to its class), so that a reader must skip a class it does not know.
parsing = types.ModuleType("pytorch_lightning.utilities.parsing")
class AttributeDict(dict):
    pass
AttributeDict.__module__ = "pytorch_lightning.utilities.parsing"
parsing.AttributeDict = AttributeDict
sys.modules["pytorch_lightning.utilities.parsing"] = parsing
torch.save({"epoch": 1, "global_step": 7, "state_dict": OrderedDict([("model.w", torch.ones(2, 3))]),
            "hyper_parameters": AttributeDict(lr=0.01, d_model=H)}, os.path.join(out, "attrdict.ckpt"))

base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
dtypes = OrderedDict([
    ("f64", torch.randn(3, 2, dtype=torch.float64)),
    ("f16", torch.randn(5).half()),
    ("bf16", torch.randn(5).bfloat16()),
    ("i64", torch.tensor([1, -2, 3, 1 << 40])),
    ("i32", torch.tensor([7, -8], dtype=torch.int32)),
    ("bool", torch.tensor([True, False, True])),
    ("scalar", torch.tensor(2.5)),
    ("transposed", base.t()),
    ("slice", base[1:3, 2:5]),
    ("view_a", base[0]),
    ("view_b", base[3]),
])
torch.save(dtypes, os.path.join(out, "dtypes.pt"))

expected = {
    "block": {"config": block_cfg, "x": arr(xb), "y": arr(yb)},
    "model": {"config": model_cfg, "x": arr(xm), "y": arr(ym), "prefix": "model."},
    "dtypes": {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", ""), "data": v.double().reshape(-1).tolist()} for k, v in dtypes.items()},  # exact
    "torch": torch.__version__,
}
json.dump(expected, open(os.path.join(out, "expected.json"), "w"))
for f in sorted(os.listdir(out)): print(f, os.path.getsize(os.path.join(out, f)))
