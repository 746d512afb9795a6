"""show_config: how this fastmlp was built and what it will run on."""
import sys

import numpy as np
import scipy
import sklearn
from threadpoolctl import threadpool_info

from fastmlp._openmp import OPENMP_ENABLED, effective_n_threads
from fastmlp._optimizers import SIMD_PATH


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
        "blas_used_by_fastmlp": blas,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }


def show_config(file=None):
    """Print OpenMP on/off, thread counts and the BLAS library and kernel."""
    cfg = get_config()
    out = file or sys.stdout
    print(f"fastmlp OpenMP: {'on' if cfg['fastmlp_openmp'] else 'OFF (serial build)'}"
          f", threads: {cfg['openmp_threads']}; optimizer kernels: "
          f"{cfg['optimizer_kernels']}", file=out)
    for b in cfg["blas_used_by_fastmlp"]:
        print(
            f"BLAS (scipy.linalg.cython_blas): {b['library']} {b['version']}, "
            f"kernel {b['kernel']}, {b['threading_layer']}, {b['num_threads']} threads "
            "(held to 1 inside fastmlp's engine)",
            file=out,
        )
    print(f"python {cfg['python']}, numpy {cfg['numpy']}, scipy {cfg['scipy']}, "
          f"scikit-learn {cfg['scikit-learn']}", file=out)
