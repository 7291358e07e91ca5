"""Writes batch_norm_torch.json: torch.nn.BatchNorm1d on [B, H, L] (float64), for
test/batch_norm.test.ts. Two training calls (outputs, running statistics, batch counter,
gradients of sum(y * dy)), then an eval call (output, gradients). Inputs are float32 values
(stored as such) so the float32 op sees exactly what torch saw. Run: python3 batch_norm_torch.py
"""
import json
import torch

torch.manual_seed(0)


def f32(t):
    return t.float().double()


def case(B, H, L, momentum, eps, offset):
    bn = torch.nn.BatchNorm1d(H, momentum=momentum, eps=eps).double()
    with torch.no_grad():
        bn.weight.copy_(f32(1 + 0.5 * torch.randn(H)))
        bn.bias.copy_(f32(torch.randn(H)))
        bn.running_mean.copy_(f32(torch.randn(H)))
        bn.running_var.copy_(f32(0.5 + torch.rand(H)))
    init = {k: v.tolist() for k, v in bn.state_dict().items() if k != 'num_batches_tracked'}
    calls = []
    for training in (True, True, False):
        bn.train(training)
        x = f32(offset + 2 * torch.randn(B, H, L)).requires_grad_(True)
        dy = f32(torch.randn(B, H, L))
        bn.weight.grad = None
        bn.bias.grad = None
        y = bn(x)
        (y * dy).sum().backward()
        calls.append({
            'training': training,
            'x': x.detach().flatten().tolist(),
            'dy': dy.flatten().tolist(),
            'y': y.detach().flatten().tolist(),
            'dx': x.grad.flatten().tolist(),
            'dw': bn.weight.grad.tolist(),
            'db': bn.bias.grad.tolist(),
            'running_mean': bn.running_mean.tolist(),
            'running_var': bn.running_var.tolist(),
            'num_batches_tracked': int(bn.num_batches_tracked),
        })
    return {'B': B, 'H': H, 'L': L, 'momentum': momentum, 'eps': eps, 'init': init, 'calls': calls}


cases = [case(3, 4, 5, 0.1, 1e-5, 0.0), case(1, 3, 7, 0.3, 1e-3, 50.0), case(6, 2, 1, 0.1, 1e-5, -3.0)]
with open(__file__.replace('.py', '.json'), 'w') as f:
    json.dump({'torch': torch.__version__, 'cases': cases}, f)
