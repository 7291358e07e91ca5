"""The official S4 as the benchmark's baseline: imports models/s4/s4.py from $S4REF with its
CUDA extension where it was built (extensions/kernels/structured_kernels*.so, made by
bench/official_build.py), says whether the extension loaded and why not, and counts which
Cauchy implementation the official kernel dispatched to, so that a column timed on the
pure-PyTorch fallback is never reported as the extension."""
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def s4ref():
    root = os.environ.get("S4REF")
    if not root:
        raise SystemExit("S4REF is not set: it must name a folder with the official models/s4 and extensions/kernels")
    if not os.path.isfile(os.path.join(root, "models", "s4", "s4.py")):
        raise SystemExit("S4REF=%s has no models/s4/s4.py" % root)
    return os.path.abspath(root)


def kernels_dir():
    return os.path.join(s4ref(), "extensions", "kernels")


def extension_files():
    """The built extension modules in extensions/kernels (setup.py build_ext --inplace puts them there)."""
    return sorted(glob.glob(os.path.join(kernels_dir(), "structured_kernels*.so")))


def load():
    """Imports the official s4 module; returns (module, extension status dict)."""
    # s4.py imports extensions.kernels.cauchy, which imports the built module structured_kernels.
    sys.path.insert(0, kernels_dir())
    sys.path.insert(0, os.path.join(HERE, "..", "test", "data"))
    import torch  # noqa: F401 - the extension links against the libraries torch loads

    import_error = None
    try:
        import structured_kernels  # noqa: F401

    except Exception as e:  # noqa: BLE001 - the reason is reported, the fallback still runs
        import_error = "%s: %s" % (type(e).__name__, " ".join(str(e).split())[:300])
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)  # s4.py logs a warning per missing optional backend
    from official_example import S4

    logging.disable(logging.NOTSET)
    status = {
        "loaded": bool(S4.has_cuda_extension),
        "pykeops": bool(S4.has_pykeops),
        "files": [os.path.basename(f) for f in extension_files()],
        "importError": None if S4.has_cuda_extension else import_error or "extensions.kernels.cauchy did not import",
    }
    return S4, status


class CauchyCounter:
    """Wraps the official module's Cauchy implementations (looked up by name at each kernel
    call) and counts the calls of each, so every timed case says which one it ran."""

    NAMES = {"cauchy_cuda": "CUDA extension", "cauchy_keops": "pykeops", "cauchy_naive": "pure PyTorch (cauchy_naive)"}

    def __init__(self, S4):
        self.counts = {}
        for name, label in self.NAMES.items():
            fn = getattr(S4, name, None)
            if fn is not None:
                setattr(S4, name, self._counted(fn, label))

    def _counted(self, fn, label):
        def counted(*args, **kwargs):
            self.counts[label] = self.counts.get(label, 0) + 1
            return fn(*args, **kwargs)

        return counted

    def reset(self):
        self.counts = {}

    def used(self):
        """The implementations called since the last reset, e.g. 'CUDA extension' (None: no Cauchy call)."""
        return " + ".join(sorted(self.counts)) or None
