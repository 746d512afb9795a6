"""fastmlp._fastcheck against scikit-learn's own validation, and the BLAS
thread limit an engine session holds."""
import threading
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import validate_data
from threadpoolctl import ThreadpoolController, threadpool_info

from fastmlp import MLPClassifier, MLPRegressor, _engine, _fastcheck
from fastmlp._finite import all_finite

try:
    import pandas as pd
except ImportError:  # pragma: no cover - dask-ml, a test extra, brings it
    pd = None

RNG = np.random.default_rng(0)
X32 = RNG.normal(size=(30, 4)).astype(np.float32)
X64 = RNG.normal(size=(30, 4))


def _sklearn_check(est, X, y, reset):
    kwargs = dict(accept_sparse=["csr", "csc"], multi_output=True,
                  dtype=(np.float64, np.float32), reset=reset)
    if isinstance(est, MLPRegressor):
        kwargs["y_numeric"] = True
    return validate_data(est, X, y, **kwargs)


PLAIN = [
    (X32, np.arange(30) % 3),
    (X64, (np.arange(30) % 2).astype(bool)),
    (X64, RNG.normal(size=30)),
    (X32, RNG.normal(size=(30, 2)).astype(np.float32)),
    (np.asfortranarray(X64), np.arange(30) % 3),
    (X32[::2], np.arange(15) % 3),
    (X64[:1], np.array([7], dtype=np.uint8)),
]


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("case", range(len(PLAIN)))
def test_plain_data_takes_the_fast_path_and_matches_validate_data(Est, case):
    X, y = PLAIN[case]
    fast, slow = Est(), Est()
    for est in (fast, slow):  # a previous fit on a DataFrame left names
        est.feature_names_in_ = np.array(["a", "b", "c", "d"], dtype=object)
        est.n_features_in_ = 9
    out = _fastcheck.plain_fit_data(fast, X, y, reset=True)
    assert out is not None
    expected = _sklearn_check(slow, X, y, reset=True)
    for got, want in zip(out, expected):
        assert got is want or (
            got.dtype == want.dtype and np.shares_memory(got, want)
            and np.array_equal(got, want)
        )
    assert fast.n_features_in_ == slow.n_features_in_ == X.shape[1]
    assert not hasattr(fast, "feature_names_in_")
    assert not hasattr(slow, "feature_names_in_")
    # reset=False: same width passes, another width is left to scikit-learn
    assert _fastcheck.plain_fit_data(fast, X, y, reset=False) is not None
    assert _fastcheck.plain_fit_data(fast, X[:, :2], y, reset=False) is None


NOT_PLAIN = {
    "list": (X64.tolist(), np.arange(30) % 3),
    "int X": (np.arange(120).reshape(30, 4), np.arange(30) % 3),
    "nan": (np.where(np.eye(30, 4, dtype=bool), np.nan, X64), np.arange(30) % 3),
    "inf": (np.where(np.eye(30, 4, dtype=bool), np.inf, X64), np.arange(30) % 3),
    "nan y": (X64, np.where(np.arange(30) == 3, np.nan, 1.0)),
    "str y": (X64, np.array(["a", "b", "c"] * 10)),
    "object y": (X64, (np.arange(30) % 3).astype(object)),
    "short y": (X64, np.arange(29) % 3),
    "3-D X": (X64.reshape(30, 2, 2), np.arange(30) % 3),
    "1-D X": (X64[:, 0], np.arange(30) % 3),
    "no rows": (X64[:0], np.arange(0)),
    "no columns": (X64[:, :0], np.arange(30) % 3),
    "csr": (sp.csr_matrix(X64), np.arange(30) % 3),
    "subclass": (np.ma.masked_array(X64), np.arange(30) % 3),
    # not C-contiguous, so NumPy's sum decides, and it overflows
    "overflowing sum, F order": (
        np.asfortranarray(np.full((30, 4), np.finfo(np.float32).max, np.float32)),
        np.arange(30) % 3,
    ),
    "nan, F order": (np.asfortranarray(np.where(np.eye(30, 4, dtype=bool), np.nan, X64)),
                     np.arange(30) % 3),
    "inf, strided": (np.where(np.eye(60, 4, dtype=bool), np.inf, 1.0)[::2], np.arange(30) % 3),
}
if pd is not None:
    NOT_PLAIN["DataFrame"] = (pd.DataFrame(X64, columns=list("abcd")), np.arange(30) % 3)


@pytest.mark.parametrize("name", NOT_PLAIN)
def test_anything_else_goes_to_scikit_learn(name):
    X, y = NOT_PLAIN[name]
    est = MLPClassifier()
    assert _fastcheck.plain_fit_data(est, X, y, reset=True) is None
    assert not hasattr(est, "n_features_in_")  # untouched: sklearn decides


def test_large_finite_values_are_accepted_as_scikit_learn_accepts_them():
    # their sum overflows; scikit-learn then checks element-wise and accepts
    # them, and so does the fast path (which tests each value, quietly)
    X, y = NOT_PLAIN["overflowing sum, F order"]
    X = np.ascontiguousarray(X)
    X[::2] = -X[::2]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert _fastcheck.plain_matrix(X)
        assert not _fastcheck.plain_matrix(np.asfortranarray(X))  # NumPy's sum
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scikit-learn's own sum
        out, _ = _sklearn_check(MLPClassifier(), X, y, reset=True)
    assert out is X
    assert _fastcheck.plain_fit_data(MLPClassifier(), X, y, reset=True)[0] is X
    # the regressor's float targets go through the same check
    big = np.full(30, np.finfo(np.float32).max, np.float32)
    big[::2] = -big[::2]
    assert _fastcheck._plain_target(big, 30)
    assert _fastcheck._plain_target(np.ones(30, np.float16), 30)  # NumPy's sum decides
    assert not _fastcheck._plain_target(np.where(np.arange(30) == 7, np.nan, big), 30)
    assert not _fastcheck._plain_target(
        np.asfortranarray(np.where(np.eye(30, 2, dtype=bool), np.inf, 1.0)), 30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_finds_every_non_finite_value(dtype):
    info = np.finfo(dtype)
    extremes = np.array([info.max, -info.max, info.tiny, info.smallest_subnormal,
                         -info.smallest_subnormal, 0.0, -0.0, 1.0], dtype=dtype)
    X = np.resize(extremes, (7, 9)).astype(dtype)
    assert all_finite(X)
    X.setflags(write=False)
    assert all_finite(X)  # read-only input is fine
    assert all_finite(np.empty((0, 3), dtype))
    for bad in (np.nan, np.inf, -np.inf, -np.nan):
        for i, j in [(0, 0), (3, 4), (6, 8), (6, 0)]:
            Y = X.copy()
            Y[i, j] = bad
            assert not all_finite(Y), (bad, i, j)
    # a NaN with a payload (not NumPy's default bit pattern)
    Y = X.copy()
    Y.view(np.uint32 if dtype == np.float32 else np.uint64)[2, 2] |= (
        0x7F800001 if dtype == np.float32 else 0x7FF0000000000001
    )
    assert np.isnan(Y[2, 2]) and not all_finite(Y)


@pytest.mark.skipif(pd is None, reason="pandas is not installed")
def test_refit_on_an_array_drops_the_feature_names_of_a_dataframe_fit():
    X = pd.DataFrame(X64, columns=list("abcd"))
    y = np.arange(30) % 3
    est = MLPClassifier(max_iter=2, random_state=0).fit(X, y)
    assert list(est.feature_names_in_) == list("abcd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X64, y)
    assert not hasattr(est, "feature_names_in_")
    with pytest.warns(UserWarning, match="feature names"):
        est.fit(X, y).predict(X64)


@pytest.mark.parametrize(
    "name, valid, invalid",
    [
        ("max_iter", 200, 200.0),  # equal and same hash: the type tells them apart
        ("shuffle", True, 1),
        ("batch_size", 10, 10.0),
        ("alpha", 0.0, -1.0),
        ("activation", "relu", "Relu"),
    ],
)
def test_cached_parameter_validation_still_rejects_what_sklearn_rejects(name, valid, invalid):
    X, y = X64, np.arange(30) % 3
    est = MLPClassifier(max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.set_params(**{name: valid}).fit(X, y)
        est.set_params(**{name: valid}).fit(X, y)  # from the cache
    est.set_params(**{name: invalid})
    for _ in range(2):  # failures are never cached
        with pytest.raises(InvalidParameterError):
            est.fit(X, y)


def test_freeze_keeps_types_and_declines_other_objects():
    assert _fastcheck._freeze(1) != _fastcheck._freeze(1.0)
    assert _fastcheck._freeze(True) != _fastcheck._freeze(1)
    assert _fastcheck._freeze((1, 2)) != _fastcheck._freeze([1, 2])
    assert _fastcheck._freeze((1, [2.0])) == _fastcheck._freeze((1, [2.0]))
    assert _fastcheck._freeze(np.float32(0.5)) != _fastcheck._freeze(0.5)
    for other in ({"a": 1}, [print], np.zeros(2), object(), (1, {2})):
        assert _fastcheck._freeze(other) is None


def test_unhashable_parameters_are_validated_every_time():
    est = MLPClassifier(max_iter=1, class_weight={0: 1.0, 1: 2.0})
    calls = []
    _fastcheck.validate_params(est, lambda: calls.append(1))
    _fastcheck.validate_params(est, lambda: calls.append(1))
    assert calls == [1, 1]
    est = MLPClassifier(max_iter=3, alpha=0.123456)
    _fastcheck.validate_params(est, lambda: calls.append(2))
    _fastcheck.validate_params(est, lambda: calls.append(2))
    assert calls == [1, 1, 2]


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_engine_session_holds_blas_to_one_thread_and_restores_it():
    before = _blas_threads()
    with _engine.engine_session():
        assert all(n == 1 for n in _blas_threads())
        with _engine.engine_session():  # nested / concurrent sessions
            assert all(n == 1 for n in _blas_threads())
        assert all(n == 1 for n in _blas_threads())
    assert _blas_threads() == before
    with pytest.raises(RuntimeError):
        with _engine.engine_session():
            raise RuntimeError
    assert _blas_threads() == before


def _in_thread(fn):
    out = {}
    t = threading.Thread(target=lambda: out.update(value=fn()))
    t.start()
    t.join()
    return out["value"]


def test_engine_session_holds_blas_in_any_thread_and_restores_it():
    """A fit in a worker thread (joblib's threading backend, Dask's threaded
    workers) holds BLAS to one thread too, also once another thread has set
    a limit: threadpoolctl 3.8 lets only that thread change a pthreads
    OpenBLAS afterwards, which left the worker's fit on a threaded BLAS."""
    libs = ThreadpoolController().select(user_api="blas").lib_controllers
    saved = [lib.num_threads for lib in libs]
    for lib in libs:  # this (main) thread sets a limit first, as a user's code may
        lib.set_num_threads(2)
    try:
        def one_session():
            with _engine.engine_session():
                return _blas_threads()
        assert all(n == 1 for n in _in_thread(one_session))
        assert all(n == 2 for n in _blas_threads())

        # two threads' sessions overlapping: the first ends while the second
        # still runs (BLAS stays at one), the second restores it
        first_in, first_out = threading.Event(), threading.Event()
        seen = {}

        def first():
            with _engine.engine_session():
                first_in.set()
                assert second_in.wait(10)
            first_out.set()

        second_in = threading.Event()

        def second():
            assert first_in.wait(10)
            with _engine.engine_session():
                second_in.set()
                assert first_out.wait(10)
                seen["after_first_left"] = _blas_threads()

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert seen["after_first_left"] and all(n == 1 for n in seen["after_first_left"])
        assert all(n == 2 for n in _blas_threads())
    finally:
        for lib, n in zip(libs, saved):
            lib.set_num_threads(n)
