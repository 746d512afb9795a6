"""One timed training run per library: fastmlp, scikit-learn, PyTorch.

Design: every runner trains the same network (layer shapes, ReLU hidden
layers, softmax + log-loss or identity + squared loss), with Adam at
scikit-learn's defaults, the same batch size, Glorot-uniform init and a
reshuffle each epoch, for a fixed number of epochs, and returns a
``FitResult`` with the wall time of the whole fit, the number of epochs run,
and the score on a held-out split.

- fastmlp / scikit-learn: ``fit`` with ``solver="adam", max_iter=E, tol=0,
  n_iter_no_change=E`` (so no early stop); seconds per epoch is
  ``fit time / n_iter_``. ConvergenceWarning is silenced.
- PyTorch: an explicit loop (see ``_torch_fit``). The equivalences to
  scikit-learn are written next to each line of that loop.

The fastmlp column always imports ``fastmlp``: there is no fallback to
scikit-learn. If fastmlp cannot be imported, its runner raises.

This module also runs as a child process for the peak-memory measurement:
``python -m bench.runners memory LIB DTYPE MODE`` prints one JSON line (see
``memory_of_fit``).
"""

import contextlib
import gc
import json
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from . import workloads as wl

LIBS = ("fastmlp", "sklearn", "torch")

# scikit-learn defaults used everywhere (Adam).
ALPHA = 1e-4
LEARNING_RATE = 1e-3
BETA_1 = 0.9
BETA_2 = 0.999
EPSILON = 1e-8
RANDOM_STATE = 0


@dataclass
class FitResult:
    lib: str
    n_train: int
    n_iter: int
    seconds: float
    seconds_per_epoch: float
    us_per_sample: float
    score: float
    score_name: str
    note: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self):
        return asdict(self)


# --------------------------------------------------------------------------
# Availability
# --------------------------------------------------------------------------


def fastmlp_module():
    """Import fastmlp; raises ImportError if it is not built."""
    import fastmlp

    return fastmlp


def fastmlp_status():
    """(available, message)."""
    try:
        mod = fastmlp_module()
    except Exception as exc:  # ImportError, or a broken extension module
        return False, f"fastmlp not importable: {type(exc).__name__}: {exc}"
    missing = [name for name in ("MLPClassifier", "MLPRegressor") if not hasattr(mod, name)]
    if missing:
        return False, f"fastmlp at {list(getattr(mod, '__path__', []))} has no {', '.join(missing)} (not built yet?)"
    return True, f"fastmlp {getattr(mod, '__version__', '?')} from {getattr(mod, '__file__', '?')}"


def torch_status():
    """(available, message)."""
    try:
        import torch
    except Exception as exc:
        return False, f"torch not installed ({type(exc).__name__}: {exc}); torch columns skipped"
    return True, f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads"


def estimator_class(lib, kind):
    """The MLPClassifier/MLPRegressor class of ``lib`` ('fastmlp' or 'sklearn')."""
    if lib == "fastmlp":
        mod = fastmlp_module()
    elif lib == "sklearn":
        import sklearn.neural_network as mod
    else:
        raise ValueError(f"lib must be 'fastmlp' or 'sklearn', got {lib!r}")
    return mod.MLPClassifier if kind == "classification" else mod.MLPRegressor


def estimator_params(workload, epochs):
    """Parameters shared by fastmlp and scikit-learn for ``workload``."""
    return dict(
        hidden_layer_sizes=workload.hidden,
        activation="relu",
        solver="adam",
        alpha=ALPHA,
        batch_size=workload.batch_size,
        learning_rate_init=LEARNING_RATE,
        beta_1=BETA_1,
        beta_2=BETA_2,
        epsilon=EPSILON,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs,
        shuffle=True,
        early_stopping=False,
        random_state=RANDOM_STATE,
    )


@contextlib.contextmanager
def _quiet_convergence():
    """Silence ConvergenceWarning (and fastmlp's, if it has its own class)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*[Mm]aximum iterations.*")
        # smoke sizes can be smaller than the batch: the estimator clips it
        warnings.filterwarnings("ignore", message=".*batch_size.*clipped.*")
        yield


def _threads_ctx(n_threads):
    if n_threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n_threads)


def _score_name(kind):
    return "accuracy" if kind == "classification" else "r2"


# --------------------------------------------------------------------------
# fastmlp / scikit-learn
# --------------------------------------------------------------------------


def fit_estimator(lib, workload, epochs, X, y, X_test, y_test, n_threads=None):
    """Fit ``lib``'s estimator once; returns ``(FitResult, fitted estimator)``.

    ``n_threads``: if given, ``threadpoolctl.threadpool_limits(n_threads)`` is
    held around ``fit``; it limits BLAS and every loaded OpenMP runtime.
    """
    cls = estimator_class(lib, workload.kind)
    est = cls(**estimator_params(workload, epochs))
    gc.collect()
    with _quiet_convergence(), _threads_ctx(n_threads):
        t0 = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - t0
    n_iter = int(est.n_iter_)
    score = float(est.score(X_test, y_test))
    n_train = X.shape[0]
    per_epoch = seconds / n_iter
    return FitResult(
        lib=lib,
        n_train=n_train,
        n_iter=n_iter,
        seconds=seconds,
        seconds_per_epoch=per_epoch,
        us_per_sample=per_epoch / n_train * 1e6,
        score=score,
        score_name=_score_name(workload.kind),
        note="" if n_iter == epochs else f"stopped after {n_iter} of {epochs} epochs",
    ), est


# --------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------


def _glorot_uniform(shapes, dtype, seed=RANDOM_STATE):
    """scikit-learn's init for ReLU: U(-b, b) with b = sqrt(6 / (fan_in + fan_out)),
    for coefs (fan_in, fan_out) and intercepts (fan_out,) alike."""
    rng = np.random.RandomState(seed)
    coefs, intercepts = [], []
    for fan_in, fan_out in shapes:
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        intercepts.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
    return coefs, intercepts


def _torch_csr(X_batch, torch):
    """scipy CSR -> torch sparse CSR tensor (shares no memory; int64 indices)."""
    return torch.sparse_csr_tensor(
        torch.from_numpy(X_batch.indptr.astype(np.int64)),
        torch.from_numpy(X_batch.indices.astype(np.int64)),
        torch.from_numpy(X_batch.data),
        size=X_batch.shape,
    )


def fit_torch(workload, epochs, X, y, X_test, y_test, adam_impl="fused", n_threads=None):
    """Train the same network with a PyTorch CPU loop; returns a ``FitResult``.

    Equivalence with scikit-learn's Adam fit:

    - layers: ``h = relu(h @ W + b)`` with ``W`` of shape (fan_in, fan_out)
      (``torch.addmm``), last layer linear; init as ``_glorot_uniform``.
    - loss: classification ``cross_entropy(logits, y)`` (mean over the batch):
      its gradient is ``(softmax - onehot) / n_batch``, scikit-learn's
      ``(activations[-1] - y) / n_batch``. Regression
      ``0.5 * sum((out - y)**2) / n_batch``: gradient ``(out - y) / n_batch``,
      scikit-learn's.
    - L2: scikit-learn adds ``0.5 * alpha * ||W||^2 / n_batch`` (coefs only,
      not intercepts) to the loss, i.e. ``alpha * W / n_batch`` to each coef
      gradient. We add that gradient directly after ``backward``
      (``torch._foreach_add_(grads, W, alpha=alpha / n_batch)``), which is the
      same update without computing the penalty value each step. Adam's own
      ``weight_decay`` is not used: it would be ``alpha * W`` without the
      ``1 / n_batch`` and would also hit the intercepts.
    - Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-8. One known difference:
      scikit-learn folds the bias corrections into the step size,
      ``lr_t * m / (sqrt(v) + eps)``, while PyTorch adds ``eps`` after
      ``sqrt(v_hat)``; with eps 1e-8 this changes nothing measurable.
    - shuffle: a new ``torch.randperm`` each epoch; minibatches are gathered
      with ``index_select`` (dense) or scipy row indexing converted to a
      torch CSR tensor (sparse: ``torch.sparse.mm`` for the first layer).
    - ``adam_impl``: "fused" (``fused=True``) or "foreach" (``foreach=True``).
    - ``n_threads``: ``torch.set_num_threads`` for this fit (restored after);
      None keeps the current setting.

    Timing includes wrapping the arrays, building the parameters and the
    whole loop, as ``fit`` does.
    """
    import torch

    previous = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    try:
        return _fit_torch(workload, epochs, X, y, X_test, y_test, adam_impl)
    finally:
        torch.set_num_threads(previous)


def _fit_torch(workload, epochs, X, y, X_test, y_test, adam_impl):
    import torch
    import torch.nn.functional as F

    dtype = X.dtype
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    sparse = workload.sparse
    regression = workload.kind == "regression"
    n_train = X.shape[0]
    batch_size = min(workload.batch_size, n_train)
    gc.collect()
    t0 = time.perf_counter()

    coefs_np, intercepts_np = _glorot_uniform(workload.layer_shapes(), dtype)
    coefs = [torch.nn.Parameter(torch.from_numpy(c)) for c in coefs_np]
    intercepts = [torch.nn.Parameter(torch.from_numpy(b)) for b in intercepts_np]
    params = [p for pair in zip(coefs, intercepts) for p in pair]
    opt_kw = {"fused": True} if adam_impl == "fused" else {"foreach": True}
    opt = torch.optim.Adam(params, lr=LEARNING_RATE, betas=(BETA_1, BETA_2), eps=EPSILON, weight_decay=0.0, **opt_kw)
    Xt = None if sparse else torch.from_numpy(X)
    yt = torch.from_numpy(y.reshape(-1, 1) if regression else y.astype(np.int64))
    gen = torch.Generator().manual_seed(RANDOM_STATE)
    last = len(coefs) - 1

    def forward(h):
        for i, (W, b) in enumerate(zip(coefs, intercepts)):
            if i == 0 and sparse:
                h = torch.sparse.mm(h, W) + b
            else:
                h = torch.addmm(b, h, W)
            if i < last:
                h = torch.relu(h)
        return h

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        for _ in range(epochs):
            perm = torch.randperm(n_train, generator=gen)
            perm_np = perm.numpy() if sparse else None
            for start in range(0, n_train, batch_size):
                idx = perm[start : start + batch_size]
                n_batch = idx.shape[0]
                if sparse:
                    xb = _torch_csr(X[perm_np[start : start + batch_size]], torch)
                else:
                    xb = Xt.index_select(0, idx)
                yb = yt.index_select(0, idx)
                out = forward(xb)
                if regression:
                    loss = 0.5 * (out - yb).pow(2).sum() / n_batch
                else:
                    loss = F.cross_entropy(out, yb)
                opt.zero_grad(set_to_none=False)
                loss.backward()
                # L2 as scikit-learn: grad_W += alpha * W / n_batch
                torch._foreach_add_([W.grad for W in coefs], coefs, alpha=ALPHA / n_batch)
                opt.step()
    seconds = time.perf_counter() - t0

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        xt = _torch_csr(X_test, torch) if sparse else torch.from_numpy(X_test)
        out = forward(xt).numpy()
    if regression:
        from sklearn.metrics import r2_score

        score = float(r2_score(y_test, out.ravel()))
    else:
        score = float(np.mean(out.argmax(axis=1) == y_test))
    per_epoch = seconds / epochs
    return FitResult(
        lib="torch",
        n_train=n_train,
        n_iter=epochs,
        seconds=seconds,
        seconds_per_epoch=per_epoch,
        us_per_sample=per_epoch / n_train * 1e6,
        score=score,
        score_name=_score_name(workload.kind),
        note=f"Adam {adam_impl}, {torch.get_num_threads()} threads",
        extra={
            "variant": f"{adam_impl}/{torch.get_num_threads()}T",
            "adam_impl": adam_impl,
            "torch_threads": torch.get_num_threads(),
            "torch_dtype": str(torch_dtype),
        },
    )


# --------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------


def predict_latency(est, row, n_calls):
    """Wall times (seconds) of ``n_calls`` calls of ``est.predict(row)``, one row."""
    est.predict(row)  # warm
    times = np.empty(n_calls)
    predict = est.predict
    clock = time.perf_counter
    gc.disable()
    try:
        for i in range(n_calls):
            t0 = clock()
            predict(row)
            times[i] = clock() - t0
    finally:
        gc.enable()
    return times


def predict_seconds(est, X):
    """Wall time of one ``est.predict(X)`` call."""
    gc.collect()
    t0 = time.perf_counter()
    est.predict(X)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------
# Peak memory (child process)
# --------------------------------------------------------------------------


def _proc_status_kib(field_name):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return None


def _reset_hwm():
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_of_fit(lib, dtype_name, mode):
    """Measure peak memory of one fit; returns a dict.

    Meant to run in a fresh interpreter (``python -m bench.runners memory``,
    see ``measure_memory_many``), so the baseline holds nothing but the
    imports, the data and one warm-up fit.

    - ``hwm_delta_bytes``: VmHWM after the fit minus VmRSS just before it,
      after resetting VmHWM to the current RSS. This is everything the
      process touched: NumPy arrays, C ``malloc`` scratch (which tracemalloc
      does not see), BLAS buffers and thread stacks.
    - ``tracemalloc_peak_bytes``: the tracemalloc peak during a second fit.
      NumPy reports its data buffers to tracemalloc, so this counts Python
      objects and NumPy arrays only.
    Both are divided by ``X.nbytes`` in the report.
    """
    import tracemalloc

    dtype = np.dtype(dtype_name).type
    workload = wl.BY_NAME[wl.MEMORY_WORKLOAD]
    sizes = wl.MEMORY_SIZES[mode]
    X, _, y, _ = workload.make(sizes.n_train, sizes.n_test, dtype)
    X = np.ascontiguousarray(X)
    cls = estimator_class(lib, workload.kind)
    params = estimator_params(workload, sizes.epochs)
    # import everything the fit touches before the baseline
    with _quiet_convergence():
        cls(**{**params, "max_iter": 1, "n_iter_no_change": 1}).fit(X[:64], y[:64])
        gc.collect()
        hwm_reset = _reset_hwm()
        rss_before = _proc_status_kib("VmRSS") * 1024
        hwm_before = _proc_status_kib("VmHWM") * 1024
        cls(**params).fit(X, y)
        hwm_after = _proc_status_kib("VmHWM") * 1024
        gc.collect()
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        cls(**params).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    out = {
        "lib": lib,
        "dtype": dtype_name,
        "workload": workload.name,
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "epochs": sizes.epochs,
        "X_bytes": int(X.nbytes),
        "hwm_reset_ok": hwm_reset,
        "rss_before_bytes": rss_before,
        "hwm_delta_bytes": hwm_after - (rss_before if hwm_reset else hwm_before),
        "tracemalloc_peak_bytes": int(peak - base),
    }
    return out


def measure_memory_many(jobs, mode, in_process=False, timeout=300):
    """Run ``memory_of_fit`` for each ``(lib, dtype_name)``, each in a fresh
    interpreter, one at a time; returns one dict per job (with ``error`` if
    it failed). ``in_process=True`` (smoke mode: plumbing only, no
    interpreter start-up) runs them here instead."""
    if in_process:
        out = []
        for lib, dtype_name in jobs:
            try:
                out.append(memory_of_fit(lib, dtype_name, mode))
            except Exception as exc:
                out.append({"lib": lib, "dtype": dtype_name, "workload": wl.MEMORY_WORKLOAD,
                            "error": f"{type(exc).__name__}: {exc}"})
        return out
    import os
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def start(lib, dtype_name):
        cmd = [sys.executable, "-m", "bench.runners", "memory", lib, dtype_name, mode]
        return subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(proc, lib, dtype_name):
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err = f"timed out after {timeout} s\n{err}"
        if proc.returncode != 0:
            return {"lib": lib, "dtype": dtype_name, "workload": wl.MEMORY_WORKLOAD,
                    "error": f"child exited {proc.returncode}: {err.strip()[-500:]}"}
        return json.loads(out.strip().splitlines()[-1])

    return [finish(start(lib, d), lib, d) for lib, d in jobs]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "memory":
        print(json.dumps(memory_of_fit(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        sys.exit("usage: python -m bench.runners memory LIB DTYPE MODE")
