"""Scaling out: joblib backends, a real Dask cluster, dask-ml, and thread counts.

* ``GridSearchCV`` / ``RandomizedSearchCV`` / ``HalvingRandomSearchCV`` run on
  a two-worker ``dask.distributed.LocalCluster`` through joblib's ``"dask"``
  backend and find exactly what the same search finds locally.
* dask-ml's ``Incremental`` trains through ``partial_fit`` block by block; the
  result is bit-identical to calling ``partial_fit`` on each block ourselves,
  also when the model travels between worker processes (pickled, optimizer
  state included) between blocks.
* The ``threading`` backend gives the same models as serial fits (the GIL is
  released in the engine; the timing of that lives in ``bench/scaling.py``,
  not here: tests make no timing assertions).
* No oversubscription: inside a loky worker and a Dask worker fastmlp uses the
  threads the worker was given.  What the backends actually do, measured with
  ``threadpoolctl.threadpool_info()`` inside the workers on this machine:

  - loky (joblib's default process backend) starts each worker with
    ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ... set
    to ``max(cpu_count() // n_jobs, 1)`` (override with
    ``parallel_config(inner_max_num_threads=...)``), so every OpenMP and BLAS
    pool in the worker, fastmlp's included, has that many threads: with
    ``n_jobs=2`` on 2 cores each worker sees 1.
  - a Dask worker process is spawned by its nanny with ``OMP_NUM_THREADS=1``,
    ``OPENBLAS_NUM_THREADS=1``, ``MKL_NUM_THREADS=1``
    (``distributed.nanny.pre-spawn-environ``), whatever ``threads_per_worker``
    is, so fastmlp trains single-threaded in each worker.
  - the ``threading`` backend limits nothing: every thread sees all cores.
    (threadpoolctl's OpenMP limit does not reach other threads either: with
    libgomp ``omp_set_num_threads`` sets the calling thread's value only.)

The cluster is started once for the module and always closed; every wait on
it has a timeout, and a watchdog ends the run with a traceback instead of
hanging.  The whole file takes well under a minute on 2 cores.
"""
import faulthandler
import os
import threading

import joblib
import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (
    GridSearchCV,
    HalvingRandomSearchCV,
    KFold,
    RandomizedSearchCV,
)
from threadpoolctl import threadpool_info, threadpool_limits

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._openmp import effective_n_threads

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")
import dask  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

WATCHDOG_SECONDS = 240  # the file takes ~30 s; this only stops a hang
CLUSTER_TIMEOUT = 60


@pytest.fixture(scope="module", autouse=True)
def _watchdog():
    """Dump every thread's traceback and exit rather than hang forever."""
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def dask_client():
    """A real two-process cluster on localhost, closed whatever happens."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        timeout=CLUSTER_TIMEOUT,
    )
    try:
        client = distributed.Client(cluster, timeout=CLUSTER_TIMEOUT)
        try:
            client.wait_for_workers(2, timeout=CLUSTER_TIMEOUT)
            yield client
        finally:
            client.close(timeout=CLUSTER_TIMEOUT)
    finally:
        cluster.close(timeout=CLUSTER_TIMEOUT)


def _classification(n=90, n_features=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    y = np.array(["no", "yes", "maybe"])[(X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)]
    return X, y


def _regression(n=90, n_features=6, seed=1):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    y = X @ rng.normal(size=n_features) + 0.5 * np.sin(3 * X[:, 0])
    return X, y


def _assert_same_weights(a, b):
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(p, q)


def _assert_same_search(local, remote):
    for key in ("mean_test_score", "std_test_score", "rank_test_score",
                "split0_test_score", "split1_test_score", "split2_test_score"):
        np.testing.assert_array_equal(local.cv_results_[key], remote.cv_results_[key],
                                      err_msg=key)
    assert local.cv_results_["params"] == remote.cv_results_["params"]
    assert local.best_params_ == remote.best_params_
    assert local.best_index_ == remote.best_index_
    _assert_same_weights(local.best_estimator_, remote.best_estimator_)


def _worker_addresses(client):
    return sorted(client.scheduler_info()["workers"])


# ------------------------------------------------------- searches on dask

def _search(kind, n_jobs=None):
    if kind == "grid":
        return GridSearchCV(
            MLPClassifier(hidden_layer_sizes=(5,), max_iter=15, learning_rate_init=0.02,
                          random_state=0),
            {"alpha": [1e-4, 1e-1], "solver": ["adam", "rmsprop"]},
            cv=KFold(3, shuffle=True, random_state=0),
            n_jobs=n_jobs,
        )
    return RandomizedSearchCV(
        MLPRegressor(hidden_layer_sizes=(6,), max_iter=15, learning_rate_init=0.02,
                     random_state=0),
        {"alpha": loguniform(1e-5, 1e-1), "activation": ["relu", "tanh"],
         "solver": ["adam", "sgd", "lbfgs"]},
        n_iter=4,
        cv=3,
        random_state=0,
        n_jobs=n_jobs,
    )


@pytest.mark.parametrize("kind", ["grid", "random"])
def test_search_on_dask_cluster_equals_local_search(dask_client, kind):
    X, y = _classification() if kind == "grid" else _regression()
    # default backend, in this process; with one OpenMP and one BLAS thread
    # like the Dask workers, so that the comparison is bitwise whatever the
    # engine's threshold for going parallel (thread counts change only the
    # rounding)
    with threadpool_limits(limits=1):
        local = _search(kind).fit(X, y)

    with distributed.get_task_stream(dask_client) as stream:
        with joblib.parallel_backend("dask"):
            remote = _search(kind, n_jobs=-1).fit(X, y)
    _assert_same_search(local, remote)
    # the fits really ran on the cluster's worker processes
    workers = {task["worker"] for task in stream.data}
    assert stream.data and workers <= set(_worker_addresses(dask_client))


# ------------------------------------------------------------ halving

N_RESOURCES_MAX = 18
_seen_local = []  # (max_iter, n_iter_) of every fit scored in this process


def _iterations_scorer(est, X, y):
    """Accuracy, after checking the model trained exactly max_iter epochs.

    Runs where the fit ran (a Dask worker for the remote search); with
    ``error_score="raise"`` a violated budget fails the search."""
    if est.n_iter_ != est.max_iter:
        raise AssertionError(f"n_iter_={est.n_iter_} but max_iter={est.max_iter}")
    _seen_local.append((est.max_iter, est.n_iter_))
    return est.score(X, y)


def _halving():
    return HalvingRandomSearchCV(
        MLPClassifier(hidden_layer_sizes=(5,), learning_rate_init=0.02, random_state=0,
                      tol=0.0, n_iter_no_change=N_RESOURCES_MAX),
        {"alpha": loguniform(1e-5, 1.0), "hidden_layer_sizes": [(4,), (8,)]},
        n_candidates=9,
        resource="max_iter",
        min_resources=2,
        max_resources=N_RESOURCES_MAX,
        factor=3,
        cv=3,
        random_state=0,
        scoring=_iterations_scorer,
        error_score="raise",
    )


@pytest.mark.parametrize("where", ["local", "dask"])
def test_halving_search_over_max_iter_respects_the_budget(dask_client, where):
    X, y = _classification()
    _seen_local.clear()
    if where == "local":
        search = _halving().fit(X, y)
        # every fit, scored here, ran exactly one of the budgets the search chose
        assert {m for m, _ in _seen_local} == set(search.n_resources_)
        assert all(m == n for m, n in _seen_local)
    else:
        with threadpool_limits(limits=1):  # as the workers
            local = _halving().fit(X, y)
        with joblib.parallel_backend("dask"):
            search = _halving().fit(X, y)
        _assert_same_search(local, search)
        np.testing.assert_array_equal(local.cv_results_["n_resources"],
                                      search.cv_results_["n_resources"])
    assert search.n_resources_ == [2, 6, 18]
    assert search.n_candidates_ == [9, 3, 1]
    results = search.cv_results_
    np.testing.assert_array_equal(
        [p["max_iter"] for p in results["params"]], results["n_resources"]
    )
    assert set(results["n_resources"]) == set(search.n_resources_)
    assert search.best_params_["max_iter"] == N_RESOURCES_MAX
    assert search.best_estimator_.n_iter_ == N_RESOURCES_MAX


# ------------------------------------------------------ dask-ml Incremental

N_CHUNKS = 10


def _incremental_case(kind, dtype=np.float64):
    if kind == "classifier":
        X, y = _classification(n=200)
        est = MLPClassifier(hidden_layer_sizes=(7,), solver="adam", batch_size=8,
                            learning_rate_init=0.01, random_state=0)
        kwargs = {"classes": np.unique(y)}
    else:
        X, y = _regression(n=200)
        est = MLPRegressor(hidden_layer_sizes=(7,), solver="sgd", momentum=0.9,
                           nesterovs_momentum=True, batch_size=8,
                           learning_rate_init=0.005, random_state=0)
        kwargs = {}
    return X.astype(dtype), y, est, kwargs


@pytest.mark.parametrize("scheduler", ["sync", "distributed"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_incremental_equals_partial_fit_block_by_block(dask_client, kind, scheduler):
    X, y, est, kwargs = _incremental_case(kind)
    rows = len(y) // N_CHUNKS
    Xd = da.from_array(X, chunks=(rows, X.shape[1]))
    yd = da.from_array(y, chunks=(rows,))
    assert Xd.numblocks == (N_CHUNKS, 1)

    inc = dask_ml_wrappers.Incremental(est, shuffle_blocks=False)
    # two passes: fit, then partial_fit continues from inc.estimator_, which
    # came back from the workers (pickled) with its optimizer state
    if scheduler == "distributed":
        with distributed.get_task_stream(dask_client) as stream:
            inc.fit(Xd, yd, **kwargs)
            inc.partial_fit(Xd, yd, **kwargs)
        fit_tasks = [t for t in stream.data if "fit-" in str(t["key"])]
        assert len(fit_tasks) >= 2 * N_CHUNKS  # one partial_fit task per block
    else:
        with dask.config.set(scheduler="sync"):
            inc.fit(Xd, yd, **kwargs)
            inc.partial_fit(Xd, yd, **kwargs)

    by_hand = est.__class__(**est.get_params())
    # the Dask workers train with one OpenMP and one BLAS thread
    # (OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1); so does the reference, so that
    # the comparison can be bitwise
    with threadpool_limits(limits=1):
        for _ in range(2):
            for i in range(N_CHUNKS):
                block = slice(i * rows, (i + 1) * rows)
                by_hand.partial_fit(X[block], y[block], **kwargs)

    model = inc.estimator_
    assert model is not est  # Incremental trains a clone
    _assert_same_weights(model, by_hand)
    for attr in ("state1", "state2"):
        np.testing.assert_array_equal(getattr(model._optimizer, attr),
                                      getattr(by_hand._optimizer, attr))
    assert model._optimizer.learning_rate == by_hand._optimizer.learning_rate
    assert model._optimizer.t == by_hand._optimizer.t
    for attr in ("t_", "loss_curve_"):
        assert getattr(model, attr) == getattr(by_hand, attr), attr
    assert len(model.loss_curve_) == 2 * N_CHUNKS
    # Incremental copies the learned attributes and predicts block-wise
    _assert_same_weights(inc, by_hand)
    np.testing.assert_array_equal(inc.predict(Xd).compute(), by_hand.predict(X))


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_partial_fit_for_the_solvers_scikit_learn_offers_it(Est):
    for solver in ("sgd", "adam", "rmsprop"):
        assert hasattr(Est(solver=solver), "partial_fit"), solver
    X, y = _classification() if Est is MLPClassifier else _regression()
    Xd = da.from_array(X, chunks=(30, X.shape[1]))
    yd = da.from_array(y, chunks=(30,))
    est = Est(solver="lbfgs", hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    if Est is MLPClassifier:
        assert not hasattr(est, "partial_fit")
        with pytest.raises(ValueError, match="partial_fit"):
            with dask.config.set(scheduler="sync"):
                dask_ml_wrappers.Incremental(est).fit(Xd, yd)
        return
    # scikit-learn's regressor has partial_fit with L-BFGS too: each block
    # continues L-BFGS from the weights the last one left
    with dask.config.set(scheduler="sync"):
        inc = dask_ml_wrappers.Incremental(est, shuffle_blocks=False).fit(Xd, yd)
    by_hand = clone(est)
    with threadpool_limits(limits=1):
        for i in range(3):
            by_hand.partial_fit(X[30 * i:30 * (i + 1)], y[30 * i:30 * (i + 1)])
    _assert_same_weights(inc.estimator_, by_hand)


# ---------------------------------------------------------- threading

def _blas_threads():
    return sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})


def _fit_one(est, X, y):
    return est.fit(X, y)


def test_threading_backend_gives_the_same_models_as_serial_fits():
    X, y = _classification(n=400, n_features=20)
    Xr, yr = _regression(n=400, n_features=20)
    jobs = [
        (MLPClassifier(hidden_layer_sizes=(32,), max_iter=10, random_state=s), X, y)
        for s in range(2)
    ] + [
        (MLPRegressor(hidden_layer_sizes=(32,), solver=solver, max_iter=10,
                      random_state=0), Xr, yr)
        for solver in ("rmsprop", "lbfgs")
    ]
    serial = [_fit_one(est.__class__(**est.get_params()), X_, y_) for est, X_, y_ in jobs]
    # the outer limit puts BLAS back as it was afterwards: concurrent fits can
    # leave it at 1 thread (see the xfail below)
    with threadpool_limits(limits=max(_blas_threads()), user_api="blas"):
        with joblib.parallel_backend("threading", n_jobs=2):
            threaded = joblib.Parallel()(joblib.delayed(_fit_one)(est, X_, y_)
                                         for est, X_, y_ in jobs)
    for a, b in zip(serial, threaded):
        _assert_same_weights(a, b)

    # a whole search on the threading backend equals the serial search
    local = _search("grid").fit(*_classification())
    with threadpool_limits(limits=max(_blas_threads()), user_api="blas"):
        with joblib.parallel_backend("threading", n_jobs=2):
            threaded_search = _search("grid", n_jobs=2).fit(*_classification())
    _assert_same_search(local, threaded_search)


def test_concurrent_fits_restore_the_blas_thread_count():
    from fastmlp import _engine

    if joblib.cpu_count() < 2:
        pytest.skip("needs 2+ cores")
    with threadpool_limits(limits=2, user_api="blas"):  # restores on exit
        before = _blas_threads()
        assert before == [2]
        # the interleaving that two threaded fits produce: A enters, B enters,
        # A leaves, B leaves (deterministic here, no threads needed)
        a = _engine.engine_session()
        b = _engine.engine_session()
        a.__enter__()
        b.__enter__()
        assert _blas_threads() == [1]
        assert _engine.thread_share(2) == 1  # two fits share the two cores
        a.__exit__(None, None, None)
        assert _blas_threads() == [1]  # B still runs: BLAS stays at 1
        b.__exit__(None, None, None)
        after = _blas_threads()
    assert after == before


def test_concurrent_fits_in_threads_leave_blas_as_it_was():
    if joblib.cpu_count() < 2:
        pytest.skip("needs 2+ cores")
    X, y = _classification()
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        threads = [
            threading.Thread(
                target=lambda k=k: MLPClassifier((64,), max_iter=3 + 3 * k, random_state=k).fit(X, y)
            )
            for k in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert _blas_threads() == before


def test_blas_is_single_threaded_even_when_openmp_is_limited():

    seen = []

    def record(est, history):
        seen.append(_blas_threads())

    X, y = _classification()
    with threadpool_limits(limits=1, user_api="openmp"):
        MLPClassifier((16,), max_iter=2, callbacks=record).fit(X, y)
    assert seen and all(s == [1] for s in seen)


# -------------------------------------------------- thread counts in workers

def _probe():
    """What fastmlp and every thread pool see in the calling process/thread."""
    pools = {}
    for p in threadpool_info():
        pools.setdefault(p["user_api"], set()).add(p["num_threads"])
    return {
        "pid": os.getpid(),
        "effective_n_threads": effective_n_threads(),
        "pools": {k: sorted(v) for k, v in pools.items()},
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
    }


def _threads_scorer(est, X, y):
    """Score a fit by the OpenMP threads it had available."""
    return float(effective_n_threads())


# loky and Dask's nanny give each worker its share of the cores through
# OMP_NUM_THREADS and the BLAS variables, unless the parent's environment
# sets them: both then pass the parent's value on (joblib reads it first)
_PARENT_SETS_THREADS = pytest.mark.skipif(
    any(os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                    "MKL_NUM_THREADS")),
    reason="the environment sets OMP_NUM_THREADS (or a BLAS count), which the workers "
           "inherit instead of their share")


@_PARENT_SETS_THREADS
def test_loky_workers_get_their_share_of_the_cores():
    n_jobs = 2
    expected = max(joblib.cpu_count() // n_jobs, 1)
    probes = joblib.Parallel(n_jobs=n_jobs, backend="loky")(
        joblib.delayed(_probe)() for _ in range(4)
    )
    assert all(p["pid"] != os.getpid() for p in probes)
    for p in probes:
        assert p["effective_n_threads"] == expected, p
        assert p["pools"]["openmp"] == [expected], p  # fastmlp's libgomp included
        assert p["pools"]["blas"] == [expected], p
        assert p["OMP_NUM_THREADS"] == str(expected), p

    # and a search's fits, scored by the threads they trained with
    X, y = _classification()
    search = GridSearchCV(
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0),
        {"alpha": [1e-4, 1e-2]}, cv=2, n_jobs=n_jobs,
        scoring={"accuracy": "accuracy", "n_threads": _threads_scorer}, refit="accuracy",
    ).fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_n_threads"], expected)

    # inner_max_num_threads overrides the share
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
        probes = joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(_probe)() for _ in range(2))
    assert {p["effective_n_threads"] for p in probes} == {1}


def _continue(est, X, y):
    return est.partial_fit(X, y)


@_PARENT_SETS_THREADS
def test_large_model_resumes_partial_fit_in_a_loky_worker():
    """joblib memmaps arrays > 1 MB that it sends to loky workers: the model's
    optimizer state arrives read-only, and partial_fit must still work."""
    X, y = _classification(n=200, n_features=50)
    est = MLPClassifier(hidden_layer_sizes=(3000,), solver="adam", random_state=0)
    est.partial_fit(X, y, classes=np.unique(y))
    assert est._optimizer.state1.nbytes > 1e6  # above joblib's max_nbytes: memmapped
    remote, = joblib.Parallel(n_jobs=2, backend="loky")(
        [joblib.delayed(_continue)(est, X, y)]
    )
    # with the worker's thread counts (OpenMP and BLAS): bitwise comparable
    with threadpool_limits(limits=max(joblib.cpu_count() // 2, 1)):
        est.partial_fit(X, y)
    _assert_same_weights(remote, est)


@_PARENT_SETS_THREADS
def test_dask_workers_train_with_the_threads_they_were_given(dask_client):
    info = dask_client.scheduler_info()["workers"]
    for address in _worker_addresses(dask_client):
        nthreads = info[address]["nthreads"]
        probe = dask_client.submit(_probe, workers=[address], pure=False).result(
            timeout=CLUSTER_TIMEOUT
        )
        assert probe["pid"] != os.getpid()
        assert nthreads == 1
        assert probe["effective_n_threads"] == nthreads, probe
        assert probe["pools"]["openmp"] == [1] and probe["pools"]["blas"] == [1], probe
        assert probe["OMP_NUM_THREADS"] == "1", probe

    X, y = _classification()
    with joblib.parallel_backend("dask"):
        search = GridSearchCV(
            MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0),
            {"alpha": [1e-4, 1e-2]}, cv=2, n_jobs=-1,
            scoring={"accuracy": "accuracy", "n_threads": _threads_scorer},
            refit="accuracy",
        ).fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_n_threads"], 1.0)



def test_a_fit_takes_blas_back_to_one_thread_when_another_thread_restores_it():
    # threadpoolctl's limit is process-wide: a threadpool_limits block ending
    # in another thread (README's one per fitting thread, KMeans beside a fit)
    # restores BLAS's threads under a running fit, whose epochs then ran
    # threaded GEMMs inside the engine's threads (3.3 ms epochs took 340-430
    # ms).  Here the callback plays that thread, after each epoch.
    from fastmlp import _engine

    if joblib.cpu_count() < 2:
        pytest.skip("needs 2+ cores")
    X, y = _classification()
    seen = []

    def other_thread_restores(est, history):
        seen.append(_blas_threads())
        for lib in _engine._blas_lib_controllers():
            _engine._set_blas_threads(lib, 2)

    with threadpool_limits(limits=2, user_api="blas"):
        MLPClassifier((16,), max_iter=4, random_state=0,
                      callbacks=other_thread_restores).fit(X, y)
        assert _blas_threads() == [2]
    assert seen == [[1]] * 4


def test_blas_is_left_as_another_threads_block_left_it():
    # another thread's threadpool_limits(1) open when a fit starts and closed
    # during it (restoring 2): the fit saved 1 at its start and, restoring
    # it at its end, left BLAS at one thread for good
    from fastmlp import _engine

    if joblib.cpu_count() < 2:
        pytest.skip("needs 2+ cores")
    X, y = _classification()

    def block_ends(est, history):
        if len(history["loss"]) == 1:
            for lib in _engine._blas_lib_controllers():
                _engine._set_blas_threads(lib, 2)

    with threadpool_limits(limits=2, user_api="blas"):
        for lib in _engine._blas_lib_controllers():
            _engine._set_blas_threads(lib, 1)          # the other thread's block
        MLPClassifier((16,), max_iter=3, random_state=0, callbacks=block_ends).fit(X, y)
        assert _blas_threads() == [2]


def test_a_block_opened_and_closed_during_a_fit_does_not_outlive_it():
    # a threadpool_limits(4) block opened and closed during a fit found the
    # fit's 1 and restored it; taking its 4 for the count to restore left
    # BLAS at 4 after the fit
    from fastmlp import _engine

    if joblib.cpu_count() < 2:
        pytest.skip("needs 2+ cores")
    X, y = _classification()
    block = {}

    def another_threads_block(est, history):
        if len(history["loss"]) == 1:
            block["limits"] = threadpool_limits(limits=4, user_api="blas")
        elif len(history["loss"]) == 3:
            block["limits"].restore_original_limits()

    with threadpool_limits(limits=2, user_api="blas"):
        MLPClassifier((16,), max_iter=4, random_state=0,
                      callbacks=another_threads_block).fit(X, y)
        assert _blas_threads() == [2]
