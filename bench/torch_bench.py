"""The PyTorch half of the benchmarks, one suite per process:
python3 bench/torch_bench.py <suite> <spec.json> <result.json> <cuda|cpu>"""
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    suite, spec_file, out_file, device_name = sys.argv[1:5]
    import torch

    from torch_common import Results, plain_fp32

    spec = json.load(open(spec_file))
    if device_name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("torch_bench: CUDA requested but torch.cuda.is_available() is False")
    device = torch.device(device_name)
    plain_fp32()
    meta = {
        "suite": suite,
        "impl": "torch",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (%s)" % platform.processor(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Results(out_file, meta)
    if suite == "kernel":
        from torch_kernels import run_kernel as run
    elif suite == "fftconv":
        from torch_kernels import run_fftconv as run
    elif suite == "step":
        from torch_step import run_step as run
    elif suite == "block":
        from torch_block import run_block as run
    elif suite == "model":
        from torch_block import run_model as run
    else:
        raise SystemExit("torch_bench: unknown suite '%s'" % suite)
    run(spec, device, out)
    out.doc["finishedAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out.flush()


if __name__ == "__main__":
    main()
