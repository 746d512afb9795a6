"""The parent and child sides of tests/test_fork.py.

Run as ``python -c "import _fork_work; _fork_work.main(scenario, out_path)"``
in a process of its own (a child that hangs must not take pytest with it):
the parent fits with OpenMP teams (or, in "other_openmp", runs another
library's team on the same libgomp: the shared library named by
FASTMLP_TEST_OMP_LIB, whose ``omp_work`` starts a team of two), starts
pools of one worker each (fork, spawn, forkserver: see SCENARIOS), has each
worker fit and predict (``child_work``), and pickles what both sides saw
to ``out_path``.  The pool's workers import this
module by name, so it must be on PYTHONPATH.
"""
import multiprocessing as mp
import os
import pickle
import sys
import threading
import time
import warnings

from threadpoolctl import threadpool_info, threadpool_limits

from fastmlp import MLPClassifier, TabularMLPRegressor
from fastmlp import _engine, _network, _omp_host
from fastmlp._openmp import effective_n_threads

CHILD_TIMEOUT = 30  # seconds for the child's whole work; it takes ~1 s

# Each model takes a different path through the engine, and each uses a team
# of two threads when it may (asserted in main): minibatches of 200 rows (the
# one-region step), L-BFGS (whole-dataset loss and gradient) and batch size 1
# (_online.pyx, with its spin barrier).
MODELS = {
    "minibatch": dict(hidden_layer_sizes=(128,), solver="adam", batch_size=200,
                      max_iter=3),
    "lbfgs": dict(hidden_layer_sizes=(64,), solver="lbfgs", max_iter=5),
    "online": dict(hidden_layer_sizes=(64,), solver="sgd", batch_size=1, max_iter=1,
                   learning_rate_init=0.01),
}
SMALL_PREDICT = 200  # rows: predict runs serially, BLAS outside the engine's session


def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def scipy_blas_threads():
    """Threads of the BLAS that fastmlp's GEMMs go through (scipy's)."""
    return [p["num_threads"] for p in threadpool_info()
            if p["user_api"] == "blas" and "scipy.libs" in p["filepath"]]


def os_threads():
    return len(os.listdir("/proc/self/task"))


def fit_all(X, y):
    """Fit and predict every model; returns {name: (weights, proba_all,
    proba_small)} and the RuntimeWarnings raised meanwhile."""
    out = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, params in MODELS.items():
            clf = MLPClassifier(random_state=0, **params).fit(X, y)
            out[name] = (
                [w.copy() for w in clf.coefs_ + clf.intercepts_],
                clf.predict_proba(X),                 # > 256 rows: the engine's session
                clf.predict_proba(X[:SMALL_PREDICT]),  # serial, BLAS as configured
            )
        # the tabular preprocessing's compiled quantiles run a team of their
        # own on a table this size (QUANTILE_PARALLEL_VALUES)
        reg = TabularMLPRegressor(max_iter=1, n_ensemble=1, random_state=0).fit(X, y)
        out["tabular"] = (
            [w.copy() for w in reg.network_.coefs_],
            reg.preprocessor_.transform(X),
            reg.predict(X[:SMALL_PREDICT]),
        )
    runtime = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    return out, runtime


def other_openmp_team():
    """Another library's OpenMP team, on the same libgomp (not fastmlp's):
    the shared library FASTMLP_TEST_OMP_LIB (tests/test_fork.py builds it)."""
    import ctypes

    lib = ctypes.CDLL(os.environ["FASTMLP_TEST_OMP_LIB"])
    lib.omp_work.restype = ctypes.c_int
    return lib.omp_work()


def child_work(X, y):
    """What a pool worker sees, then its fits and predictions."""
    seen = {
        "pid": os.getpid(),
        "active_sessions": _engine._active_sessions,
        "session_lock_held": _engine._session_lock.locked(),
        "blas_threads": scipy_blas_threads(),
    }
    seen["fits"], seen["runtime_warnings"] = fit_all(X, y)
    seen["n_threads_after"] = effective_n_threads()
    # the forking thread's teams went to a host thread started here
    seen["host_thread"] = _omp_host._host is not None and _omp_host._host[0].is_alive()
    return seen


def _fit_until(stop, started, X, y):
    """A larger fit that runs until `stop` is set (the fork happens meanwhile)."""
    def callback(est, history):
        started.set()
        return stop.is_set()

    MLPClassifier((256, 128), batch_size=200, max_iter=10_000, tol=0.0,
                  n_iter_no_change=10**9, random_state=1,
                  callbacks=callback).fit(X, y)


def _fork_inside_fit(X, y):
    """os.fork from a fit's callback: the child finishes that fit, with the
    team it started with in the parent, then fits again.  Returns what the
    child saw (through a pipe)."""
    parent = os.getpid()
    read_end, write_end = os.pipe()
    blas_in_session = []

    def fork_once(est, history):
        blas_in_session.append(scipy_blas_threads())
        if os.getpid() == parent and len(history["loss"]) == 1:
            os.fork()
        return False

    # minibatches of 200 rows of a 128-unit layer: the one-region step's team
    clf = MLPClassifier((128,), batch_size=200, max_iter=3, random_state=0,
                        callbacks=fork_once).fit(X, y)
    if os.getpid() == parent:
        os.close(write_end)
        with os.fdopen(read_end, "rb") as f:
            seen = pickle.load(f)  # EOF error if the child died first
        os.wait()
        seen["parent_coefs"] = clf.coefs_
        return seen
    try:  # the child, after the fit it was forked inside of
        seen = {"blas_in_forked_fit": list(blas_in_session),
                "sessions_after_fit": _engine._active_sessions,
                "blas_after_fit": scipy_blas_threads(), "coefs": clf.coefs_,
                "host_thread": _omp_host._host is not None}
        blas_in_session.clear()
        MLPClassifier((32,), max_iter=2, random_state=0,
                      callbacks=fork_once).fit(X, y)
        seen["blas_in_next_fit"] = blas_in_session
        seen["blas_after_next_fit"] = scipy_blas_threads()
        seen["sessions_after_next_fit"] = _engine._active_sessions
        with os.fdopen(write_end, "wb") as f:
            pickle.dump(seen, f)
    finally:
        os._exit(0)


def _run_child(pool, X, y, timings, name):
    """child_work in the pool's worker, or "timeout" (the pool is then
    terminated, the hung worker with it)."""
    t0 = time.perf_counter()
    try:
        pool.apply_async(os.getpid).get(CHILD_TIMEOUT)  # the worker is up
        timings[f"{name}: pool start"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        seen = pool.apply_async(child_work, (X, y)).get(CHILD_TIMEOUT)
        timings[f"{name}: child work"] = time.perf_counter() - t0
        pool.close()
    except mp.TimeoutError:
        seen = "timeout"
        pool.terminate()
    pool.join()
    return seen


# the children each scenario process starts, in order
SCENARIOS = {
    "fork": ["fork_before_any_fit", "fork"],
    "fork_during_fit": ["fork_during_fit"],
    "fresh": ["spawn", "forkserver"],
    "other_openmp": ["fork_after_other_openmp"],
}


def main(scenario, out_path):
    """Fit in this process, then start the scenario's children (SCENARIOS):
    "fork_before_any_fit" is forked before this process started a team,
    "fork" after it, "fork_during_fit" while another thread is inside fit
    and a third holds the session lock; "spawn" and "forkserver" start
    fresh interpreters; "fork_after_other_openmp" is forked after another
    library's team ran here, before any of fastmlp's.  "fork" also forks
    inside a fit (result["inside_fit"])."""
    X, y = digits()
    result = {"parent_pid": os.getpid(), "timings": {}, "children": {}}
    timings = result["timings"]
    pools = {}
    if scenario == "fork":
        pools["fork_before_any_fit"] = mp.get_context("fork").Pool(1)
    elif scenario == "other_openmp":
        before = os_threads()
        result["other_openmp_result"] = other_openmp_team()
        result["other_openmp_threads"] = os_threads() - before
        pools["fork_after_other_openmp"] = mp.get_context("fork").Pool(1)

    result["parent_blas_threads"] = scipy_blas_threads()
    result["parent_n_threads"] = effective_n_threads()
    t0 = time.perf_counter()
    before = os_threads()
    result["reference_2"], _ = fit_all(X, y)  # the parent's own fits: OpenMP teams
    result["parent_new_os_threads"] = os_threads() - before
    if scenario != "fresh":   # one thread's fits: what a child must not fall back to
        with threadpool_limits(limits=1, user_api="openmp"):
            result["reference_1"], _ = fit_all(X, y)
    timings["parent fits"] = time.perf_counter() - t0
    result["online_team_in_parent"] = _network.online_threads(
        _engine.Layout([X.shape[1], 64, 10], 1, "relu", "softmax"), 1, len(X),
        True, 0.0, 2)

    worker = None
    stop = threading.Event()
    if scenario == "fork":
        pools["fork"] = mp.get_context("fork").Pool(1)
    elif scenario == "fork_during_fit":
        started = threading.Event()
        worker = threading.Thread(target=_fit_until, args=(stop, started, X, y))
        worker.start()
        started.wait(60)  # one epoch done: its team is running
        result["sessions_at_fork"] = _engine._active_sessions
        result["blas_threads_at_fork"] = scipy_blas_threads()
        # and as if a third thread were inside engine_session's `with _session_lock`
        with _engine._session_lock:
            pools["fork_during_fit"] = mp.get_context("fork").Pool(1)
    else:
        pools["spawn"] = mp.get_context("spawn").Pool(1)
        forkserver = mp.get_context("forkserver")
        # as a server that preloads the user's modules: it imports fastmlp
        # (and never fits), and forks every worker from there
        forkserver.set_forkserver_preload(["fastmlp", "_fork_work"])
        pools["forkserver"] = forkserver.Pool(1)

    try:
        for name in SCENARIOS[scenario]:
            result["children"][name] = _run_child(pools[name], X, y, timings, name)
    finally:
        stop.set()
        if worker is not None:
            worker.join()
    if scenario == "fork":
        t0 = time.perf_counter()
        result["inside_fit"] = _fork_inside_fit(X, y)
        timings["fork inside fit"] = time.perf_counter() - t0
    with open(out_path, "wb") as f:
        pickle.dump(result, f)


if __name__ == "__main__":  # pragma: no cover - by hand: python _fork_work.py fork out.pkl
    main(sys.argv[1], sys.argv[2])
