"""The hardware ceilings behind the targets fastmlp misses (bench/README.md, "Limits").

Design: two in-process measurements, each the best of ``repeats`` interleaved
rounds, so that the report can say what a step cannot go below on the
machine that ran it, beside the times it measured:

- ``optimizer``: nanoseconds per parameter of fastmlp's own fused Adam step
  (``fastmlp._optimizers.update`` with ``repeat``: many steps per call, so no
  Python call per step), over arrays that fit L1 (1,024 parameters: 16 KB for
  p, g, m and v together), L2 (digits' 7,510: 120 KB; 65,536: 1 MB) and
  neither (1M: 16 MB).  If the cost per parameter does not grow with the
  cache level the arrays live in, the step is bound by its arithmetic (a
  sqrt and a divide per parameter), not by memory.
- ``gemm``: GFLOP/s of single products at the shapes the targets involve:
  NumPy (its own OpenBLAS) at 1 and 2 threads, and SciPy's BLAS (the one
  fastmlp calls, through ``cython_blas``) at 1 thread, as each of fastmlp's
  threads runs it.  A large square product gives the machine's practical
  peak.
"""

import time

import numpy as np

from . import gemm_limit as gl

OPT_SIZES = (1024, 7510, 65536, 1 << 20)
GEMM_SHAPES = {
    "quick": ((512, 1024, 1024), (256, 1024, 1024), (200, 64, 100), (1024, 1024, 1024)),
    "full": ((512, 1024, 1024), (256, 1024, 1024), (200, 64, 100), (2048, 2048, 2048)),
    "smoke": ((64, 32, 16),),
}
# parameter-steps per timed call: ~1 ms of Adam, whatever the size
OPT_WORK = {"quick": 3e6, "full": 3e6, "smoke": 3e4}


def _adam_ns_per_param(n, dtype, work, calls=3):
    from fastmlp import _optimizers

    rng = np.random.default_rng(n)
    p = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    m = np.zeros(n, dtype)
    v = np.zeros(n, dtype)
    steps = max(1, int(work // n))
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        _optimizers.update("adam", p, g, m, v, n, 1e-4, 1.0, 1e-3, repeat=steps)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best / n * 1e9


def optimizer_limits(mode, repeats, dtypes):
    """ns per parameter of one Adam step at each size of OPT_SIZES."""
    sizes = OPT_SIZES if mode != "smoke" else OPT_SIZES[:2]
    best = {}
    for _ in range(repeats):
        for dtype in dtypes:
            for n in sizes:
                key = (np.dtype(dtype).name, n)
                ns = _adam_ns_per_param(n, dtype, OPT_WORK[mode])
                best[key] = min(best.get(key, ns), ns)
    return [
        {"dtype": dt, "n_params": n, "ns_per_param": ns, "us_per_step": ns * n / 1e3}
        for (dt, n), ns in best.items()
    ]


def gemm_limits(mode, repeats, dtypes, min_time):
    """GFLOP/s of A @ B through NumPy at 1 and 2 threads and through SciPy's
    BLAS (fastmlp's) at 1 thread, at each shape of GEMM_SHAPES."""
    from threadpoolctl import threadpool_limits

    from fastmlp import _blas

    rng = np.random.default_rng(0)
    best = {}
    arrays = {}
    for dtype in dtypes:
        for shape in GEMM_SHAPES[mode]:
            m, k, n = shape
            arrays[(np.dtype(dtype).name, shape)] = (
                rng.standard_normal((m, k)).astype(dtype),
                rng.standard_normal((k, n)).astype(dtype),
                np.empty((m, n), dtype),
            )
    for _ in range(repeats):
        for (dt, shape), (A, B, C) in arrays.items():
            runs = (
                ("numpy_1t", 1, lambda: np.matmul(A, B, out=C)),
                ("numpy_2t", 2, lambda: np.matmul(A, B, out=C)),
                ("scipy_1t", 1, lambda: _blas.gemm(A, B, C)),
            )
            for name, threads, fn in runs:
                with threadpool_limits(limits=threads, user_api="blas"):
                    s = gl.time_call(fn, repeats=2, min_time=min_time)
                key = (dt, shape, name)
                best[key] = min(best.get(key, s), s)
    out = []
    for (dt, shape), _ in arrays.items():
        flops = 2.0 * shape[0] * shape[1] * shape[2]
        row = {"dtype": dt, "shape": list(shape)}
        for name in ("numpy_1t", "numpy_2t", "scipy_1t"):
            row[name + "_gflops"] = flops / best[(dt, shape, name)] / 1e9
        out.append(row)
    return out


def measure(mode, repeats, dtypes, min_time):
    return {
        "optimizer": optimizer_limits(mode, repeats, dtypes),
        "gemm": gemm_limits(mode, repeats, dtypes, min_time),
    }
