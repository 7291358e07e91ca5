"""The official S4 (state-spaces/s4 models/s4/s4.py, found through $S4REF) imported without
PyTorch Lightning, and the model of its example.py built from a config in the official
names (d_input, d_output, d_model, n_layers, d_state, l_max, dropout, prenorm, pool 'mean' |
'last' | 'none', mode, bidirectional, and lr: the learning rate of A, B, dt that example.py
passes to each block, min(0.001, lr); without it the blocks keep s4.py's default). Shared by make_torch_files.py, check_export.py,
bench/official_cpu.py and bench/official_import.py."""
import os, sys, types

sys.path.insert(0, os.environ["S4REF"])
try:
    import pytorch_lightning  # noqa: F401
except ImportError:  # s4.py imports it for a logging helper only
    lightning, utilities = types.ModuleType("pytorch_lightning"), types.ModuleType("pytorch_lightning.utilities")
    utilities.rank_zero_only, lightning.utilities = (lambda f: f), utilities
    sys.modules.update({"pytorch_lightning": lightning, "pytorch_lightning.utilities": utilities})
import torch.nn as nn
from models.s4 import s4 as S4


class ExampleModel(nn.Module):  # example.py's S4Model with the S4 block
    def __init__(s, c):
        super().__init__()
        s.prenorm, s.pool = c.get("prenorm", False), c.get("pool", "mean")
        s.encoder = nn.Linear(c["d_input"], c["d_model"])
        kw = dict(d_state=c["d_state"], l_max=c["l_max"], dropout=c.get("dropout", 0.0), transposed=True,
                  mode=c.get("mode", "dplr"), bidirectional=c.get("bidirectional", False))
        if "lr" in c: kw["lr"] = c["lr"]
        s.s4_layers = nn.ModuleList([S4.S4Block(c["d_model"], **kw) for _ in range(c["n_layers"])])
        s.norms = nn.ModuleList([nn.LayerNorm(c["d_model"]) for _ in range(c["n_layers"])])
        s.dropouts = nn.ModuleList([nn.Dropout1d(c.get("dropout", 0.0)) for _ in range(c["n_layers"])])
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
