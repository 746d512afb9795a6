"""Runtime behaviour: Ctrl-C, threads, shared memory, determinism, divergence."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import joblib
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from fastmlp import MLPClassifier, MLPRegressor

import _checkout


def _data(n=600, n_features=20, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int) + (X[:, 2] > 0)
    return X, y


@pytest.mark.parametrize("hidden, batch_size", [("(256, 256)", "'auto'"), ("(100,)", "1")],
                         ids=["minibatches", "online"])
def test_ctrl_c_stops_fit_quickly_and_leaves_a_usable_model(tmp_path, hidden, batch_size):
    # batch size 1 runs the online step on two threads, which stops together
    script = textwrap.dedent(
        """
        import signal, sys, time, warnings
        import numpy as np
        from fastmlp import MLPClassifier
        # a runner started in the background of a non-interactive shell
        # hands its children SIGINT ignored, and Python then installs no
        # KeyboardInterrupt handler: install it, the point is fastmlp's handling
        signal.signal(signal.SIGINT, signal.default_int_handler)
        rng = np.random.RandomState(0)
        X = rng.normal(size=(20000, 50)); y = (X[:, 0] > 0).astype(int)
        clf = MLPClassifier(HIDDEN, max_iter=100000, tol=0, n_iter_no_change=10**9,
                            batch_size=BATCH, random_state=0)
        print("ready", flush=True)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            clf.fit(X, y)
        print("stopped", clf.n_iter_, flush=True)
        print("warned", any("interrupted" in str(x.message) for x in w), flush=True)
        print("accuracy", clf.score(X, y), flush=True)
        """
    ).replace("HIDDEN", hidden).replace("BATCH", batch_size)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=_checkout.cwd(),
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(2.0)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert "stopped" in lines, err
    # the interrupt is seen within about a second (generous bound for busy machines)
    assert time.perf_counter() - sent < 15
    assert lines["warned"] == "True"
    assert float(lines["accuracy"]) > 0.5


def test_concurrent_predict_equals_serial_predict():
    X, y = _data()
    clf = MLPClassifier((64,), max_iter=30, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    results = [None] * 8

    def work(i):
        results[i] = clf.predict_proba(X)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_fits_in_threads_release_the_gil_and_match_serial_fits():
    X, y = _data()
    serial = [MLPClassifier((32,), max_iter=20, random_state=s).fit(X, y).coefs_[0] for s in range(3)]
    with joblib.parallel_backend("threading", n_jobs=3):
        par = joblib.Parallel()(
            joblib.delayed(lambda s: MLPClassifier((32,), max_iter=20, random_state=s).fit(X, y).coefs_[0])(s)
            for s in range(3)
        )
    for a, b in zip(serial, par):
        np.testing.assert_allclose(a, b, rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_read_only_memmap_input(tmp_path, dtype):
    X, y = _data()
    X = X.astype(dtype)
    path = tmp_path / "X.npy"
    np.save(path, X)
    Xm = np.load(path, mmap_mode="r")
    assert not Xm.flags.writeable
    a = MLPClassifier((16,), max_iter=5, random_state=0).fit(Xm, y)
    b = MLPClassifier((16,), max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    np.testing.assert_array_equal(a.predict_proba(Xm), b.predict_proba(X))
    assert a.coefs_[0].dtype == dtype


def test_same_random_state_same_weights_for_each_thread_count(require_threads):
    X, y = _data(n=2000, n_features=100)
    weights = {}
    for n_threads in (1, 2):
        for rep in range(2):
            with threadpool_limits(limits=n_threads):
                clf = MLPClassifier((256, 128), max_iter=3, random_state=0, batch_size=500).fit(X, y)
            weights[n_threads, rep] = clf.coefs_ + clf.intercepts_
    for n_threads in (1, 2):
        for a, b in zip(weights[n_threads, 0], weights[n_threads, 1]):
            np.testing.assert_array_equal(a, b)
    require_threads(2)
    for a, b in zip(weights[1, 0], weights[2, 0]):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


def test_omp_num_threads_is_respected():
    code = "from fastmlp._openmp import effective_n_threads; print(effective_n_threads())"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=_checkout.cwd(),
                         capture_output=True, text=True)
    assert out.stdout.strip() == "1", out.stderr
    with threadpool_limits(limits=1, user_api="openmp"):
        from fastmlp._openmp import effective_n_threads
        assert effective_n_threads() == 1


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_diverging_run_raises_and_keeps_the_fitted_model(Est):
    X, y = _data()
    est = Est(hidden_layer_sizes=(16,), solver="sgd", max_iter=5, random_state=0).fit(X, y)
    before = [c.copy() for c in est.coefs_]
    pred = est.predict(X)
    est.set_params(learning_rate_init=1e12, warm_start=True, momentum=0.0)
    with pytest.raises(ValueError, match="non-finite"):
        est.fit(X * 1e6, y)
    for a, b in zip(est.coefs_, before):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(est.predict(X), pred)


def test_editing_coefs_in_place_and_replacing_them_both_take_effect():
    X, y = _data()
    clf = MLPClassifier((16,), max_iter=5, random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    clf.coefs_[-1][...] = 0
    clf.intercepts_[-1][...] = 0
    np.testing.assert_allclose(clf.predict_proba(X), 1 / 3)
    clf.coefs_[-1] = np.random.RandomState(0).normal(size=clf.coefs_[-1].shape)
    assert not np.allclose(clf.predict_proba(X), 1 / 3)
    clf.partial_fit(X, y)  # trains from the replaced weights, which stay the truth
    assert clf.coefs_[-1].base is clf._params
    assert not np.allclose(clf.predict_proba(X), before)


def test_partial_fit_state_survives_pickling():
    import pickle
    X, y = _data()
    a = MLPClassifier((16,), random_state=0)
    a.partial_fit(X, y, classes=[0, 1, 2])
    b = pickle.loads(pickle.dumps(a))
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(p, q)
