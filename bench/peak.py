"""The machine's peak, measured in the run that quotes it.

Design: one 2048 x 2048 x 2048 product (``SIZE``; 256 in the suite's
``--smoke``, and the results say which under ``peak_size``), float32
(sgemm) and float64 (dgemm), through SciPy's BLAS -- the library fastmlp's
engine calls through ``scipy.linalg.cython_blas`` -- at 1 and at 2 threads
(threadpoolctl's limit on that library), best of ``repeats``.  A fit's
"fraction of peak" is its real flops per second over the peak at the
thread count it ran on when that count was measured (1 or 2), and over the
peak at the largest measured count (2) above that (bench/__main__.py).
Real flops (``real_flops_per_epoch``): forward and weight gradient of every
layer, and the input gradient of every layer but the first (nothing needs
the gradient of X).
"""

import time

import numpy as np

SIZE = 2048


def _scipy_blas_limits(n_threads):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n_threads, user_api="blas")


def gemm_peak(dtype, n_threads, repeats=3, size=SIZE):
    """GFLOP/s of one size^3 GEMM through SciPy's BLAS on n_threads, best of repeats."""
    from scipy.linalg import blas

    gemm = blas.sgemm if np.dtype(dtype) == np.float32 else blas.dgemm
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((size, size)).astype(dtype))
    b = np.asfortranarray(rng.standard_normal((size, size)).astype(dtype))
    best = np.inf
    with _scipy_blas_limits(n_threads):
        gemm(1.0, a[:256, :256], b[:256, :256])  # warm: threads up, pages touched
        for _ in range(repeats):
            t0 = time.perf_counter()
            gemm(1.0, a, b)
            best = min(best, time.perf_counter() - t0)
    return 2.0 * size ** 3 / best / 1e9


def machine_peaks(thread_counts=(1, 2), repeats=3, size=SIZE):
    """{dtype name: {threads: GFLOP/s}}, float32 and float64, interleaved."""
    out = {"float32": {}, "float64": {}}
    for _ in range(repeats):
        for n in thread_counts:
            for name in out:
                g = gemm_peak(np.dtype(name), n, repeats=1, size=size)
                out[name][n] = max(out[name].get(n, 0.0), g)
    return out


def real_flops_per_epoch(layer_shapes, n_samples, nnz_per_row=None):
    """Flops an epoch must do: ``2 * n * fan_in * fan_out`` for each of the
    forward product and the weight gradient of every layer, and for the
    input gradient of every layer but the first.  A sparse first layer
    costs ``2 * nnz * fan_out`` per product."""
    total = 0.0
    for i, (fan_in, fan_out) in enumerate(layer_shapes):
        if i == 0:
            per_row = nnz_per_row if nnz_per_row is not None else fan_in
            total += 4.0 * n_samples * per_row * fan_out
        else:
            total += 6.0 * n_samples * fan_in * fan_out
    return total


def peak_table(peaks, size=SIZE):
    lines = [f"| BLAS {size}³ GEMM | 1 thread | 2 threads |", "|---|---|---|"]
    for name, label in (("float32", "sgemm"), ("float64", "dgemm")):
        row = peaks.get(name, {})
        lines.append(f"| {label} GFLOP/s | " + " | ".join(
            f"{row[n]:.1f}" if n in row else "—" for n in (1, 2)) + " |")
    return "\n".join(lines)
