"""show_config: how this fastmlp was built and what it will run on."""
import sys

import numpy as np
import scipy
import sklearn
from threadpoolctl import threadpool_info

from fastmlp import _build_facts, _omp_idle, _tuning
from fastmlp._openmp import OPENMP_ENABLED, effective_n_threads
from fastmlp._optimizers import SIMD_PATH

try:  # written by setup.py at build time
    from fastmlp._build_info import BUILD as _BUILD
except ImportError:  # pragma: no cover - built without setup.py's build_ext
    _BUILD = None


def _build():
    """The build as the compiler reported it (_build_facts), with setup.py's
    record of what it asked for and why (_build_info); `mismatches` lists
    where the two disagree (empty for a sound build)."""
    rec = _BUILD or {}
    facts = {
        "compiler": _build_facts.COMPILER,
        "openmp": OPENMP_ENABLED,
        "openmp_version": _build_facts.OPENMP_VERSION,
        "simd_clones": _build_facts.SIMD_CLONES,
        "barrier": "spin" if _build_facts.SPIN_BARRIER else "omp",
        "debug": _build_facts.BOUNDSCHECK,
    }
    claimed = {
        "openmp": rec.get("openmp", {}).get("enabled"),
        "simd_clones": rec.get("simd_clones", {}).get("enabled"),
        "barrier": rec.get("barrier", {}).get("kind"),
        "debug": rec.get("debug"),
    }
    mismatches = [f"{key}: setup.py asked for {want!r}, the compiled code has {facts[key]!r}"
                  for key, want in claimed.items() if want is not None and want != facts[key]]
    if bool(_build_facts.OPENMP_VERSION) != OPENMP_ENABLED:
        mismatches.append("openmp: _openmp and _build_facts were compiled differently")
    return {
        **facts,
        "compiler_command": rec.get("compiler", {}).get("command"),
        "compiler_version": rec.get("compiler", {}).get("version"),
        "why": {key: rec[key].get("why") for key in ("openmp", "simd_clones", "barrier")
                if isinstance(rec.get(key), dict)},
        "compile_args": rec.get("compile_args"),
        "module_args": rec.get("module_args"),
        "setup_record": _BUILD is not None,
        "mismatches": mismatches,
    }


def get_config():
    """The build and runtime facts as a dict (what ``show_config`` prints)."""
    blas = [
        {
            "library": info.get("prefix"),
            "version": info.get("version"),
            "kernel": info.get("architecture"),
            "threading_layer": info.get("threading_layer"),
            "num_threads": info.get("num_threads"),
            "filepath": info.get("filepath"),
        }
        for info in threadpool_info()
        # the BLAS that scipy.linalg.cython_blas resolves to ships in scipy.libs
        if info.get("user_api") == "blas" and "scipy.libs" in str(info.get("filepath", ""))
    ]
    return {
        "fastmlp_openmp": OPENMP_ENABLED,
        "optimizer_kernels": SIMD_PATH,
        "openmp_threads": effective_n_threads(),
        "pacer": _tuning.PACE_DEFAULT,
        "openmp_idle": _omp_idle.state(),
        "build": _build(),
        "blas_used_by_fastmlp": blas,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }


def show_config(file=None):
    """Print how fastmlp was built (compiler, OpenMP, SIMD clones, barrier,
    bounds checks), its thread count, how its idle OpenMP threads wait,
    whether the pacer is on, and the BLAS library and kernel.

    Parameters
    ----------
    file : file-like, default=None
        Where to print (``print``'s ``file``); None: ``sys.stdout``.
    """
    cfg = get_config()
    b = cfg["build"]
    out = file or sys.stdout

    def why(key):  # setup.py's reason, where it left a record
        return f" -- {b['why'][key]}" if key in b["why"] else ""

    command = f" ({b['compiler_command']})" if b["compiler_command"] else ""
    openmp = f"on (_OPENMP {b['openmp_version']})" if b["openmp"] else "OFF (serial build)"
    clones = "on" if b["simd_clones"] else "off (portable loops)"
    print(f"fastmlp built by {b['compiler']}{command}", file=out)
    print(f"  OpenMP: {openmp}, threads: {cfg['openmp_threads']}{why('openmp')}", file=out)
    print(f"  SIMD clones: {clones}, optimizer kernels: {cfg['optimizer_kernels']}"
          f"{why('simd_clones')}", file=out)
    print(f"  online step's barrier: {_build_facts.BARRIER}{why('barrier')}", file=out)
    print(f"  OpenMP {cfg['openmp_idle']}", file=out)
    print(f"  pacer (team or one thread on a busy machine): "
          f"{'on' if cfg['pacer'] else 'off (FASTMLP_PACE=0)'}", file=out)
    print(f"  bounds checks (FASTMLP_DEBUG): {'ON (debug build)' if b['debug'] else 'off'}",
          file=out)
    if not b["setup_record"]:
        print("  (no fastmlp/_build_info.py: not built by fastmlp's setup.py)", file=out)
    for m in b["mismatches"]:
        print(f"  MISMATCH {m}", file=out)
    for blas in cfg["blas_used_by_fastmlp"]:
        print(
            f"BLAS (scipy.linalg.cython_blas): {blas['library']} {blas['version']}, "
            f"kernel {blas['kernel']}, {blas['threading_layer']}, {blas['num_threads']} threads "
            "(held to 1 inside fastmlp's engine)",
            file=out,
        )
    print(f"python {cfg['python']}, numpy {cfg['numpy']}, scipy {cfg['scipy']}, "
          f"scikit-learn {cfg['scikit-learn']}", file=out)
