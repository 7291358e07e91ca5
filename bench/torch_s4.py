"""S4 in plain PyTorch, written after the official S4 (state-spaces/s4, models/s4/s4.py):
HiPPO-LegS NPLR init, the DPLR kernel by Cauchy sums (the official `cauchy_naive`: torch
broadcasting over the conjugate-completed state), Woodbury, 2/(1+omega), irfft; FFTConv with
the D skip; S4Block (GELU, transposed output linear H -> 2H, GLU); the example S4Model;
and the official stepping set-up `_setup_linear` / `_step_state_linear` (plus the dense form)."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def _conj(x):
    return torch.cat([x, x.conj()], dim=-1)


def cauchy_naive(v, z, w):
    """sum_n v_n / (z - w_n) over the stored terms and their conjugates: (..., N2), (L), (..., N2) -> (..., L)."""
    v = _conj(v)
    w = _conj(w)
    cauchy_matrix = v.unsqueeze(-1) / (z.unsqueeze(-2) - w.unsqueeze(-1))  # (... N L)
    return torch.sum(cauchy_matrix, dim=-2)


def omega_z(L, cdtype, device):
    """The official nodes: omega_j = exp(-2 pi i j / L), z_j = 2 (1 - omega_j) / (1 + omega_j), j = 0..L/2."""
    omega = torch.tensor(np.exp(-2j * np.pi / L), dtype=cdtype, device=device)
    omega = omega ** torch.arange(0, L // 2 + 1, device=device)
    z = 2 * (1 - omega) / (1 + omega)
    return omega, z


def dplr_kernel(lam, P, B, Ct, dt, L, nodes=None):
    """K [H, L] from Lambda, P, B, C~ (complex [H, N2]) and dt [H], as SSMKernelDPLR.forward (rank 1, one channel);
    C~ of shape [C, H, N2] gives C channels in one pass, K [C, H, L], as the official kernel's channels."""
    omega, z = nodes if nodes is not None else omega_z(L, lam.dtype, lam.device)
    dt = dt.unsqueeze(-1)  # (H 1)
    w = lam * dt  # (H N2)
    Q = P.conj()
    Cc = Ct if Ct.dim() == 3 else Ct.unsqueeze(0)  # (C H N2)
    Bs = torch.stack([B, P], dim=0)  # (2 H N2): B and p
    Cs = torch.cat([Cc, Q.unsqueeze(0)], dim=0)  # (C+1 H N2): C~ and q
    v = Bs.unsqueeze(-3) * Cs.unsqueeze(-4)  # (2 C+1 H N2)
    v = v * dt
    r = cauchy_naive(v, z, w)  # (2 C+1 H L/2+1)
    k_f = r[:-1, :-1] - r[:-1, -1:] * r[-1:, :-1] / (1 + r[-1:, -1:])  # Woodbury, rank 1
    k_f = k_f * 2 / (1 + omega)
    k = torch.fft.irfft(k_f, n=L)[0]  # (C H L)
    return k if Ct.dim() == 3 else k[0]


def nplr_legs(N):
    """Official `nplr('legs', N)`: Lambda, P, B (N/2 conjugate-pair representatives), float64."""
    q = np.arange(N, dtype=np.float64)
    col, row = np.meshgrid(q, q)
    r = 2 * q + 1
    M = -(np.where(row >= col, r, 0) - np.diag(q))
    T = np.sqrt(np.diag(2 * q + 1))
    A = T @ M @ np.linalg.inv(T)
    Bv = np.diag(T).copy()
    A = torch.as_tensor(A, dtype=torch.float64)
    Bv = torch.as_tensor(Bv, dtype=torch.float64)
    Pv = torch.sqrt(0.5 + torch.arange(N, dtype=torch.float64)).unsqueeze(0)  # (1 N)
    AP = A + torch.sum(Pv.unsqueeze(-2) * Pv.unsqueeze(-1), dim=-3)
    W_re = torch.mean(torch.diagonal(AP), -1, keepdim=True)
    W_im, V = torch.linalg.eigh(AP * -1j)
    W = W_re + 1j * W_im
    _, idx = torch.sort(W.imag)
    V = V[:, idx][:, : N // 2]
    W = W[idx][: N // 2]
    V_inv = V.conj().transpose(-1, -2)
    Bc = V_inv @ Bv.to(V)
    Pc = (V_inv @ Pv.to(V).transpose(0, 1)).transpose(0, 1)[0]
    Bc = Bc.real + 1j * torch.clamp(Bc.imag, min=-2.0, max=2.0)  # official B_clip
    return W, Pc, Bc


def init_dplr(H, N, dt_min=1e-3, dt_max=1e-1, seed=0):
    """Per-channel copies of the LegS NPLR form, dt log-uniform, C (used as C~) complex normal: float64 CPU tensors."""
    g = torch.Generator().manual_seed(seed)
    W, Pc, Bc = nplr_legs(N)
    rep = lambda x: x.unsqueeze(0).repeat(H, 1).to(torch.complex128)
    log_dt = torch.rand(H, generator=g, dtype=torch.float64) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
    C = torch.randn(H, N // 2, 2, generator=g, dtype=torch.float64) * math.sqrt(0.5)
    return {"lambda": rep(W), "p": rep(Pc), "b": rep(Bc), "c_tilde": torch.view_as_complex(C), "dt": log_dt.exp()}


class SSMKernelDPLR(nn.Module):
    """Trainable DPLR kernel with the official parametrization: log(-Re Lambda), Im Lambda, P, B, C~ (real views), log dt."""

    def __init__(self, H, N, dt_min=1e-3, dt_max=1e-1, seed=0, channels=1):
        super().__init__()
        p = init_dplr(H, N, dt_min, dt_max, seed)
        if channels > 1:  # the official kernel's channels (bidirectional: 2): one C~ per channel
            g = torch.Generator().manual_seed(seed + 1)
            extra = torch.randn(channels - 1, H, N // 2, 2, generator=g, dtype=torch.float64) * math.sqrt(0.5)
            p["c_tilde"] = torch.cat([p["c_tilde"].unsqueeze(0), torch.view_as_complex(extra)], dim=0)
        c2r = lambda x: nn.Parameter(torch.view_as_real(x.to(torch.complex64)).clone())
        self.log_w_real = nn.Parameter(torch.log(-p["lambda"].real).float())
        self.w_imag = nn.Parameter(p["lambda"].imag.float())
        self.P = c2r(p["p"])
        self.B = c2r(p["b"])
        self.C = c2r(p["c_tilde"])
        self.inv_dt = nn.Parameter(torch.log(p["dt"]).float())
        self.nodes = {}
        for name in ("log_w_real", "w_imag", "P", "B", "inv_dt"):
            getattr(self, name)._optim = {"weight_decay": 0.0}  # official: A, B, dt get their own lr, no wd

    def params(self):
        lam = -torch.exp(self.log_w_real) + 1j * self.w_imag
        return lam, torch.view_as_complex(self.P), torch.view_as_complex(self.B), torch.view_as_complex(self.C), torch.exp(self.inv_dt)

    def forward(self, L):
        if L not in self.nodes:
            self.nodes[L] = omega_z(L, torch.complex64, self.C.device)
        lam, P, B, C, dt = self.params()
        return dplr_kernel(lam, P, B, C, dt, L, self.nodes[L])


def fft_conv(u, k, D):
    """Official FFTConv core: rfft/irfft with n = 2L, then the D skip. u (B H L), k (H L), D (H)."""
    L = u.size(-1)
    k_f = torch.fft.rfft(k, n=2 * L)
    u_f = torch.fft.rfft(u, n=2 * L)
    y = torch.fft.irfft(u_f * k_f, n=2 * L)[..., :L]
    return y + u * D.unsqueeze(-1)


def fft_conv_bidirectional(u, k, D):
    """Official FFTConv, bidirectional: k (2 H L) -> pad(k0, (0, L)) + pad(flip(k1), (L, 0)), rfft/irfft with n = 2L."""
    L = u.size(-1)
    k = F.pad(k[0], (0, L)) + F.pad(k[1].flip(-1), (L, 0))
    k_f = torch.fft.rfft(k, n=2 * L)
    u_f = torch.fft.rfft(u, n=2 * L)
    y = torch.fft.irfft(u_f * k_f, n=2 * L)[..., :L]
    return y + u * D.unsqueeze(-1)


def ssm_conv(kernel, x, D):
    """Kernel generation and FFT convolution with the D skip: the complex-valued part of a block."""
    k = kernel(x.size(-1))
    return fft_conv_bidirectional(x, k, D) if k.dim() == 3 else fft_conv(x, k, D)


# Inductor generates no code for complex operators (compiling them fails), so under
# torch.compile this part runs eagerly and the real-valued rest of the block is compiled.
_disable = getattr(getattr(torch, "compiler", None), "disable", None)
ssm_conv_eager = _disable(ssm_conv) if _disable else ssm_conv


class S4Block(nn.Module):
    """Official S4Block defaults (transposed, channels 1, dropout 0, GELU, output linear H -> 2H, GLU).
    eager_complex: run the kernel and convolution outside torch.compile's graph."""

    def __init__(self, H, N=64, dropout=0.0, seed=0, bidirectional=False):
        super().__init__()
        self.kernel = SSMKernelDPLR(H, N, seed=seed, channels=2 if bidirectional else 1)
        self.D = nn.Parameter(torch.randn(1, H)[0])
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        lin = nn.Linear(H, 2 * H)  # TransposedLinear: same init, applied over channels
        self.weight = nn.Parameter(lin.weight.detach().clone())
        self.bias = nn.Parameter(lin.bias.detach().clone())
        self.eager_complex = False

    def forward(self, x):  # (B H L)
        conv = ssm_conv_eager if self.eager_complex else ssm_conv
        y = F.gelu(conv(self.kernel, x, self.D))
        y = self.drop(y)
        y = torch.einsum("bul,vu->bvl", y, self.weight) + self.bias.unsqueeze(-1)
        return F.glu(y, dim=-2)


class S4Model(nn.Module):
    """The official example model: encoder, n S4 blocks with residual, dropout and post-LayerNorm, mean pooling, decoder."""

    def __init__(self, d_input, d_output, H, n_layers, N, dropout, seed=0):
        super().__init__()
        self.encoder = nn.Linear(d_input, H)
        self.layers = nn.ModuleList([S4Block(H, N, dropout, seed=seed + i) for i in range(n_layers)])
        self.norms = nn.ModuleList([nn.LayerNorm(H) for _ in range(n_layers)])
        self.drops = nn.ModuleList([nn.Dropout(dropout) if dropout > 0 else nn.Identity() for _ in range(n_layers)])
        self.decoder = nn.Linear(H, d_output)

    def forward(self, x):  # (B d_input L)
        x = self.encoder(x.transpose(-1, -2)).transpose(-1, -2)  # (B H L)
        for layer, norm, drop in zip(self.layers, self.norms, self.drops):
            x = drop(layer(x)) + x
            x = norm(x.transpose(-1, -2)).transpose(-1, -2)
        return self.decoder(x.mean(dim=-1))


def optimizer_groups(model, lr, weight_decay):
    """Official setup_optimizer: parameters with `_optim` get lr min(0.001, lr) and no weight decay."""
    plain = [p for p in model.parameters() if not hasattr(p, "_optim")]
    ssm = [p for p in model.parameters() if hasattr(p, "_optim")]
    return [{"params": plain, "lr": lr, "weight_decay": weight_decay}, {"params": ssm, "lr": min(0.001, lr), "weight_decay": 0.0}]


# ---- recurrent view ----

def c_from_ctilde(lam, P, B, Ct, dt, L):
    """C = C~ (I - dA^L)^-1 in the conjugate-completed space (dense, complex128), as the official _setup_step."""
    A, dA, _ = dense_discrete(lam, P, B, dt)
    N = dA.size(-1)
    eye = torch.eye(N, dtype=dA.dtype, device=dA.device)
    dA_L = torch.linalg.matrix_power(dA, L)
    C_full = torch.linalg.solve((eye - dA_L).transpose(-1, -2), _conj(Ct).unsqueeze(-1)).squeeze(-1)
    return C_full[..., : lam.size(-1)]


def dense_discrete(lam, P, B, dt):
    """Bilinear dA, dB of A = diag(Lambda) - P P^* on the full conjugate-completed state: (H N N), (H N)."""
    lam_f, P_f, B_f = _conj(lam), _conj(P), _conj(B)
    N = lam_f.size(-1)
    eye = torch.eye(N, dtype=lam_f.dtype, device=lam_f.device)
    A = torch.diag_embed(lam_f) - P_f.unsqueeze(-1) * P_f.conj().unsqueeze(-2)
    c = (dt / 2).to(lam_f.dtype)[:, None, None]
    dA = torch.linalg.solve(eye - c * A, eye + c * A)
    dB = torch.linalg.solve(eye - c * A, (dt.to(lam_f.dtype)[:, None] * B_f).unsqueeze(-1)).squeeze(-1)
    return A, dA, dB


def setup_linear(lam, P, B, dt):
    """Official _setup_linear (rank 1): the Woodbury stepping parameters."""
    dt = dt.unsqueeze(-1)
    Pr, Qr = P.unsqueeze(0), P.conj().unsqueeze(0)  # (1 H N2)
    D = (2.0 / dt - lam).reciprocal()  # (H N2)
    R = torch.eye(1, dtype=lam.dtype, device=lam.device) + 2 * torch.einsum("rhn,hn,shn->hrs", Qr, D, Pr).real
    Q_D = (Qr * D).permute(1, 0, 2)  # (H 1 N2)
    R = torch.linalg.solve(R.to(Q_D), Q_D).permute(1, 0, 2)  # (1 H N2)
    return {"D": D, "R": R, "P": Pr, "Q": Qr, "B": B.unsqueeze(0), "E": 2.0 / dt + lam}


def step_state_linear(sp, u, state):
    """Official _step_state_linear with half of the conjugate pairs stored: x (b H N2), u (b H)."""
    N2 = state.size(-1)

    def contract_fn(p, x, y):
        # contract('r h n, r h m, ... h m -> ... h n') as opt_einsum orders it (inner product
        # over m first); torch.einsum without opt_einsum would form the r h n m outer product.
        s = (_conj(x) * _conj(y)).sum(-1, keepdim=True)  # (b H 1), rank 1
        return (_conj(p) * s)[..., :N2]

    new_state = sp["E"] * state - contract_fn(sp["P"], sp["Q"], state)
    new_state = new_state + 2.0 * sp["B"] * u.unsqueeze(-1)
    return sp["D"] * (new_state - contract_fn(sp["P"], sp["R"], new_state))


def step_state_dense(dA, dB, u, state):
    """Official _step_state (dense): x (b H N) on the full space."""
    return torch.einsum("hmn,bhn->bhm", dA, state) + torch.einsum("hn,bh->bhn", dB, u.to(dB.dtype))
