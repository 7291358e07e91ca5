"""The Annotated S4 (srush/annotated-s4, s4/s4.py, JAX + Flax) as a column of the block suite:
its SequenceBlock around its S4Layer (N modes, GELU, GLU of two Dense layers, residual,
post-LayerNorm, dropout 0) vmapped over the batch and jit-compiled, forward and forward+backward
(grads of the parameters and of the input) at the spec's block shapes (not bidirectional: the
Annotated S4 has no bidirectional layer).

    ANNOT=<folder> python3 bench/annotated_jax.py block <spec.json> <result.json> <cuda|cpu>

ANNOT holds s4/s4.py of srush/annotated-s4, e.g.
`mkdir -p .annot && git -C <clone of srush/annotated-s4> archive HEAD s4/s4.py | tar -x -C .annot`."""
import importlib.util
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_common import Results, run_case, time_loop

IMPL = "jax"


def load_annotated():
    root = os.environ.get("ANNOT")
    if not root:
        raise SystemExit("ANNOT is not set: it must name a folder with s4/s4.py of srush/annotated-s4")
    path = os.path.join(root, "s4", "s4.py")
    if not os.path.isfile(path):
        raise SystemExit("ANNOT=%s has no s4/s4.py" % root)
    # Loaded by path: the package's __init__ and its training modules need more than JAX and Flax.
    spec = importlib.util.spec_from_file_location("annotated_s4", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_block(A, spec, out):
    import jax
    import jax.numpy as jnp
    from flax import linen as nn

    cfg, T = spec["block"], spec["timing"]
    N = cfg["N"]
    Block = nn.vmap(A.SequenceBlock, in_axes=0, out_axes=0, variable_axes={"params": None, "dropout": None, "cache": 0, "prime": None}, split_rngs={"params": False, "dropout": True})

    def timer(loop):
        t0 = time.perf_counter()
        jax.block_until_ready(loop())
        return (time.perf_counter() - t0) * 1e3

    for shape in cfg["cases"]:
        B, H, L = shape["B"], shape["H"], shape["L"]
        base = {"suite": "block", "impl": IMPL, "case": "B=%d H=%d L=%d" % (B, H, L), "shape": dict(shape, N=N)}
        model = Block(layer_cls=A.S4Layer, layer={"N": N, "l_max": L}, dropout=0.0, d_model=H, prenorm=False, training=False)
        key = jax.random.PRNGKey(0)
        x = jax.random.normal(key, (B, L, H))
        dy = jax.random.normal(jax.random.PRNGKey(1), (B, L, H))
        params = model.init({"params": key, "dropout": key}, x)
        fwd = jax.jit(lambda p, x: model.apply(p, x))
        fwdbwd = jax.jit(jax.grad(lambda p, x: jnp.sum(model.apply(p, x) * dy), argnums=(0, 1)))
        for mode, f, note in (("fwd", fwd, "jit forward"), ("fwd+bwd", fwdbwd, "jit grad of sum(y * dy) for the parameters and x")):

            def case(f=f, note=note):
                t0 = time.perf_counter()
                jax.block_until_ready(f(params, x))
                compile_s = time.perf_counter() - t0
                t = time_loop(lambda: f(params, x), T, timer)
                return dict(t, timer="perf_counter around a loop, block_until_ready at its end", compileS=compile_s, note="The Annotated S4 SequenceBlock(S4Layer), vmapped over the batch; %s; compile time excluded" % note)

            run_case(out, dict(base, mode=mode), case)


def main():
    suite, spec_file, out_file, device_name = sys.argv[1:5]
    if suite != "block":
        raise SystemExit("annotated_jax: only the block suite is measured (got '%s')" % suite)
    import json

    import jax
    import flax

    if device_name == "cpu":
        jax.config.update("jax_platforms", "cpu")
    # Plain FP32 matmuls, as every other column (no TF32).
    jax.config.update("jax_default_matmul_precision", "float32")
    device = jax.devices()[0]
    if device_name == "cuda" and device.platform != "gpu":
        raise SystemExit("annotated_jax: CUDA requested but JAX's first device is %s" % device)
    spec = json.load(open(spec_file))
    A = load_annotated()
    meta = {
        "suite": suite,
        "impl": IMPL,
        "device": getattr(device, "device_kind", str(device)),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "python": platform.python_version(),
        "startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Results(out_file, meta)
    run_block(A, spec, out)
    out.doc["finishedAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out.flush()


if __name__ == "__main__":
    main()
