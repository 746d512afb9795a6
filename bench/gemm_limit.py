"""The GEMM limit: NumPy matmul time at a network's own shapes.

Design: an MLP epoch is, to first order, three matrix products per layer
and minibatch (``Z = A @ W``, ``dW = A.T @ delta``, ``delta_prev = delta @
W.T``). Timing exactly those products with NumPy (same dtype, same batch
size, same memory layout: ``A.T`` and ``W.T`` are transposed views, so BLAS
gets the transpose flag just as a row-major engine would) gives the time an
epoch would take if everything except the GEMMs were free and the GEMMs ran
at the speed of the BLAS NumPy is linked against. ``fraction`` in the report
is GEMM-limit time / measured time (1.0 = at the limit; above 1 is possible
at tiny batches, where NumPy's per-call overhead dominates the product).

The first layer's ``delta @ W.T`` (gradient with respect to the input X) is
not needed by any MLP trainer, scikit-learn included, so
``seconds_per_epoch`` leaves it out; ``seconds_per_epoch_all_layers`` keeps
it (three products for every layer, the shapes the FLOP count
``6 * n_samples * sum(fan_in * fan_out)`` describes).

Sparse input (CSR): the first layer's two products are timed with
scipy.sparse on a real minibatch of the data (``X_batch @ W`` and
``X_batch.T @ delta``), because a dense GEMM at (batch, 5000) would be a
limit no sparse trainer has to meet.

Each product is timed with enough calls to last ``min_time`` seconds, best
of ``repeats``; BLAS runs with whatever thread limit the caller holds. The
suite measures the limit once per interleaved round, beside the fits, and
``best_of`` keeps each product's best time over the rounds.
"""

import math
import time

import numpy as np


def time_call(fn, repeats=3, min_time=0.01):
    """Best seconds per call of ``fn()`` over ``repeats`` timed loops."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    n_inner = max(1, int(math.ceil(min_time / once)))
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n_inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / n_inner)
    return best


def flops_per_epoch(layer_shapes, n_samples, nnz_per_row=None):
    """Floating-point operations per epoch.

    Dense: ``6 * n_samples * sum(fan_in * fan_out)`` (forward, weight
    gradient and input gradient, 2 flops per multiply-add, every layer).
    Sparse first layer (``nnz_per_row`` given): its forward and weight
    gradient cost ``2 * nnz * fan_out`` each and its input gradient is not
    needed, so it counts ``4 * n_samples * nnz_per_row * fan_out``.
    """
    total = 0.0
    for i, (fan_in, fan_out) in enumerate(layer_shapes):
        if i == 0 and nnz_per_row is not None:
            total += 4.0 * n_samples * nnz_per_row * fan_out
        else:
            total += 6.0 * n_samples * fan_in * fan_out
    return total


def _epoch_products(layer_shapes, batch, dtype, X_batch=None, rng=None):
    """List of (name, callable, flops, needed) for one minibatch."""
    rng = np.random.default_rng(0) if rng is None else rng
    products = []
    for i, (fan_in, fan_out) in enumerate(layer_shapes):
        W = rng.standard_normal((fan_in, fan_out)).astype(dtype)
        delta = rng.standard_normal((batch, fan_out)).astype(dtype)
        Z = np.empty((batch, fan_out), dtype=dtype)
        dW = np.empty((fan_in, fan_out), dtype=dtype)
        d_prev = np.empty((batch, fan_in), dtype=dtype)
        if i == 0 and X_batch is not None:
            A = X_batch  # CSR, shape (batch, fan_in)
            At = A.T  # CSC view

            def fwd(A=A, W=W):
                return A @ W

            def wgrad(At=At, delta=delta):
                return At @ delta

            nnz = A.nnz
            products.append((f"L{i} X@W (sparse)", fwd, 2.0 * nnz * fan_out, True))
            products.append((f"L{i} X.T@delta (sparse)", wgrad, 2.0 * nnz * fan_out, True))
            continue
        A = rng.standard_normal((batch, fan_in)).astype(dtype)
        At, Wt = A.T, W.T

        def fwd(A=A, W=W, Z=Z):
            np.matmul(A, W, out=Z)

        def wgrad(At=At, delta=delta, dW=dW):
            np.matmul(At, delta, out=dW)

        def igrad(delta=delta, Wt=Wt, d_prev=d_prev):
            np.matmul(delta, Wt, out=d_prev)

        f = 2.0 * batch * fan_in * fan_out
        products.append((f"L{i} A@W ({batch}x{fan_in})@({fan_in}x{fan_out})", fwd, f, True))
        products.append((f"L{i} A.T@delta ({fan_in}x{batch})@({batch}x{fan_out})", wgrad, f, True))
        products.append((f"L{i} delta@W.T ({batch}x{fan_out})@({fan_out}x{fan_in})", igrad, f, i > 0))
    return products


def _minibatch_seconds(layer_shapes, batch, dtype, repeats, X_batch=None, min_time=0.01):
    rows = []
    for name, fn, flops, needed in _epoch_products(layer_shapes, batch, dtype, X_batch):
        s = time_call(fn, repeats=repeats, min_time=min_time)
        rows.append({"product": name, "seconds": s, "gflops": flops / s / 1e9, "needed": needed})
    return rows


def gemm_limit(layer_shapes, batch_size, n_samples, dtype, repeats=3, X=None, min_time=0.01):
    """GEMM-limit seconds per epoch for an MLP on ``n_samples`` rows.

    Parameters
    ----------
    layer_shapes : list of (fan_in, fan_out)
    batch_size, n_samples : int
    dtype : numpy float type
    repeats : int
        Best of this many timed loops per product.
    X : scipy.sparse CSR matrix, optional
        The training data when it is sparse; minibatches of it are used
        for the first layer's products.
    min_time : float
        Each timed loop of a product lasts at least this many seconds.

    Returns
    -------
    dict with ``seconds_per_epoch`` (needed products), ``seconds_per_epoch_all_layers``,
    ``n_batches``, ``batches`` (batch size -> count) and ``products``
    (batch size -> per-product seconds and GFLOP/s).
    """
    batch_size = min(batch_size, n_samples)
    n_full, rem = divmod(n_samples, batch_size)
    batches = {batch_size: n_full}
    if rem:
        batches[rem] = 1
    products = {}
    for b in batches:
        X_batch = None if X is None else X[:b]
        products[b] = _minibatch_seconds(layer_shapes, b, dtype, repeats, X_batch, min_time)
    return _totals(batch_size, batches, products)


def _totals(batch_size, batches, products):
    needed = sum(count * sum(r["seconds"] for r in products[b] if r["needed"]) for b, count in batches.items())
    all_layers = sum(count * sum(r["seconds"] for r in products[b]) for b, count in batches.items())
    return {
        "seconds_per_epoch": needed,
        "seconds_per_epoch_all_layers": all_layers,
        "n_batches": sum(batches.values()),
        "batch_size": batch_size,
        "batches": {str(b): c for b, c in batches.items()},
        "products": {str(b): rows for b, rows in products.items()},
        "rounds": 1,
    }


def best_of(limits):
    """Combine ``gemm_limit`` results measured in several rounds: each
    product's best time over the rounds, then the totals again."""
    first = limits[0]
    batches = {int(b): c for b, c in first["batches"].items()}
    products = {}
    for b in batches:
        rows = []
        for i, row in enumerate(first["products"][str(b)]):
            seconds = min(lim["products"][str(b)][i]["seconds"] for lim in limits)
            rows.append({**row, "seconds": seconds, "gflops": row["gflops"] * row["seconds"] / seconds})
        products[b] = rows
    out = _totals(first["batch_size"], batches, products)
    out["rounds"] = len(limits)
    return out


def forward_limit(layer_shapes, n_rows, dtype, repeats=3):
    """Seconds for the forward products of ``n_rows`` rows in one call per layer."""
    rng = np.random.default_rng(0)
    total = 0.0
    for fan_in, fan_out in layer_shapes:
        A = rng.standard_normal((n_rows, fan_in)).astype(dtype)
        W = rng.standard_normal((fan_in, fan_out)).astype(dtype)
        Z = np.empty((n_rows, fan_out), dtype=dtype)
        total += time_call(lambda A=A, W=W, Z=Z: np.matmul(A, W, out=Z), repeats=repeats, min_time=0.0)
        del A, Z
    return total
