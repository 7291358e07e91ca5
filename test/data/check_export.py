"""Checks an `s4 export` file in PyTorch: the official example model (state-spaces/s4 @e757cef) built
from the exported config takes the state_dict with load_state_dict(strict=True) and reproduces our output.

Usage: S4REF=<official s4 checkout> python3 test/data/check_export.py EXPORTED(.pt|.safetensors) CONFIG.json IO.json
IO.json: {"x": {"shape": [B, L, d_input], "data": [...]}, "y": {"shape": [B, d_output], "data": [...]}} (our input and output).
Prints the relative L2 error and exits 1 when it is above 1e-4."""
import json, os, struct, sys, types
root = os.environ["S4REF"]; sys.path.insert(0, root)
try:
    import pytorch_lightning  # noqa
except ImportError:
    pl = types.ModuleType("pytorch_lightning"); ut = types.ModuleType("pytorch_lightning.utilities")
    ut.rank_zero_only = lambda f: f; pl.utilities = ut
    sys.modules["pytorch_lightning"] = pl; sys.modules["pytorch_lightning.utilities"] = ut
import numpy as np, torch, torch.nn as nn
from models.s4 import s4 as S4

path, cfg_path, io_path = sys.argv[1:4]
cfg = json.load(open(cfg_path)); io = json.load(open(io_path))

class ExampleModel(nn.Module):  # example.py's S4Model with the S4 block
    def __init__(s, c):
        super().__init__()
        s.prenorm, s.pool = c["prenorm"], c["pool"]
        s.encoder = nn.Linear(c["d_input"], c["d_model"])
        kw = dict(d_state=c["d_state"], l_max=c["l_max"], dropout=c["dropout"], transposed=True, mode=c["mode"], bidirectional=c["bidirectional"])
        s.s4_layers = nn.ModuleList([S4.S4Block(c["d_model"], **kw) for _ in range(c["n_layers"])])
        s.norms = nn.ModuleList([nn.LayerNorm(c["d_model"]) for _ in range(c["n_layers"])])
        s.dropouts = nn.ModuleList([nn.Dropout1d(c["dropout"]) for _ in range(c["n_layers"])])
        s.decoder = nn.Linear(c["d_model"], c["d_output"])
    def forward(s, x):
        x = s.encoder(x).transpose(-1, -2)
        for layer, norm, dropout in zip(s.s4_layers, s.norms, s.dropouts):
            z = x
            if s.prenorm: z = norm(z.transpose(-1, -2)).transpose(-1, -2)
            z, _ = layer(z); x = dropout(z) + x
            if not s.prenorm: x = norm(x.transpose(-1, -2)).transpose(-1, -2)
        x = x.transpose(-1, -2)
        x = x.mean(dim=1) if s.pool == "mean" else x[:, -1] if s.pool == "last" else x
        return s.decoder(x)

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
