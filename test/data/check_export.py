"""Checks an `s4 export` file in PyTorch: the official example model (state-spaces/s4 @e757cef) built
from the exported config takes the state_dict with load_state_dict(strict=True) and reproduces our output.

Usage: S4REF=<official s4 checkout> python3 test/data/check_export.py EXPORTED(.pt|.safetensors) CONFIG.json IO.json
IO.json: {"x": {"shape": [B, L, d_input], "data": [...]}, "y": {"shape": [B, d_output], "data": [...]}} (our input and output).
Prints the relative L2 error and exits 1 when it is above 1e-4."""
import json, os, struct, sys, types
import numpy as np, torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from official_example import ExampleModel

path, cfg_path, io_path = sys.argv[1:4]
cfg = json.load(open(cfg_path)); io = json.load(open(io_path))

if path.endswith(".safetensors"):
    raw = open(path, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]; head = json.loads(raw[8:8 + n]); data = raw[8 + n:]
    dt = {"F32": np.float32, "I64": np.int64}
    sd = {k: torch.from_numpy(np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype=dt[v["dtype"]]).reshape(v["shape"]).copy())
          for k, v in head.items() if k != "__metadata__"}
else:
    sd = torch.load(path, weights_only=True)
m = ExampleModel(cfg)
m.load_state_dict(sd, strict=True)
m.eval()
x = torch.tensor(io["x"]["data"], dtype=torch.float32).reshape(io["x"]["shape"])
with torch.no_grad(): y = m(x).double().reshape(-1)
ours = torch.tensor(io["y"]["data"], dtype=torch.float64)
err = float((y - ours).norm() / ours.norm())
print(json.dumps({"file": path, "strict": True, "rel_l2": err}))
sys.exit(0 if err <= 1e-4 else 1)
