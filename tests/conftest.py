"""Shared fixtures for the fastmlp estimator-level tests.

Every dataset here is small (tens to a few hundred samples, a handful of
features) so that the whole estimator suite stays fast; the tests pick small
networks and few epochs to match.

Each fixture returns fresh arrays, so a test may modify what it receives.

``require_threads`` is for the tests that compare runs on different thread
counts: it skips them, saying why, where fewer threads can run than they
compare.
"""

import os

import numpy as np
import pytest
from threadpoolctl import threadpool_limits
from sklearn.datasets import (
    load_digits,
    make_classification,
    make_multilabel_classification,
    make_regression,
)

from fastmlp._openmp import OPENMP_ENABLED

# @pytest.mark.needs_threads: a test whose point is two or more OpenMP
# threads (a team's split of the work, agreement between thread counts, the
# online step's team).  A serial build (FASTMLP_OPENMP=0, or a compiler
# without OpenMP, as Apple's clang) runs every kernel on one thread whatever
# n_threads says, so there such a test would pass without testing what it is
# for: it skips, and says why.
NEEDS_THREADS_REASON = ("serial build (fastmlp._openmp.OPENMP_ENABLED is False): "
                        "this test needs two OpenMP threads")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs_threads: needs two OpenMP threads; skips in a serial build")
    config.addinivalue_line(
        "markers", "paced: runs with the pacer on (conftest turns it off elsewhere)")


def pytest_report_header(config):
    """Which fastmlp the tests import, and how it was built: a run against an
    installed fastmlp (.ci/build-matrix) shows that it is not the checkout's."""
    import os

    import fastmlp
    from fastmlp._config import get_config

    b = get_config()["build"]
    return [f"fastmlp: {os.path.dirname(fastmlp.__file__)}",
            f"fastmlp build: {b['compiler']}; OpenMP {'on' if b['openmp'] else 'OFF'}; "
            f"SIMD clones {'on' if b['simd_clones'] else 'off'}; barrier {b['barrier']}; "
            f"bounds checks {'on' if b['debug'] else 'off'}"]


@pytest.fixture(autouse=True)
def _pacer_off(request):
    """The pacer off for every test but the pacer's own (test_pacing.py, and
    any test marked ``paced``).  Tests here compare fits bit for bit, which
    holds for a given thread count (README); on a busy machine the pacer may
    move a fit between the team and one thread, and the fit's rounding with
    it.  Its effect on results is tested in test_pacing.py."""
    from fastmlp import _tuning

    if request.node.get_closest_marker("paced") or request.module.__name__.endswith(
            "test_pacing"):
        yield
        return
    old = _tuning.set_pace_default(False)
    try:
        yield
    finally:
        _tuning.set_pace_default(old)


def pytest_runtest_setup(item):
    if not OPENMP_ENABLED and item.get_closest_marker("needs_threads"):
        pytest.skip(NEEDS_THREADS_REASON)

N_SAMPLES = 60
N_FEATURES = 5

# Tests parametrize over the names of the dataset fixtures below and fetch the
# data with request.getfixturevalue(name).


@pytest.fixture
def binary():
    """Two classes with string labels, to exercise the label binarizer."""
    X, y = make_classification(
        n_samples=N_SAMPLES,
        n_features=N_FEATURES,
        n_informative=3,
        n_redundant=1,
        random_state=0,
    )
    return X, np.array(["neg", "pos"])[y]


@pytest.fixture
def multiclass():
    """Three classes with integer labels that are not 0..n_classes-1."""
    X, y = make_classification(
        n_samples=N_SAMPLES,
        n_features=N_FEATURES,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        random_state=1,
    )
    return X, np.array([3, 7, 11])[y]


@pytest.fixture
def multilabel():
    """Label-indicator matrix with three labels."""
    X, Y = make_multilabel_classification(
        n_samples=N_SAMPLES,
        n_features=N_FEATURES,
        n_classes=3,
        n_labels=2,
        allow_unlabeled=True,
        random_state=2,
    )
    return X / X.max(), Y


@pytest.fixture
def regression():
    """Single-output regression with a standardized target."""
    X, y = make_regression(
        n_samples=N_SAMPLES, n_features=N_FEATURES, noise=0.1, random_state=3
    )
    return X, (y - y.mean()) / y.std()


@pytest.fixture
def multioutput_regression():
    """Three-output regression with standardized targets."""
    X, Y = make_regression(
        n_samples=N_SAMPLES,
        n_features=N_FEATURES,
        n_targets=3,
        noise=0.1,
        random_state=4,
    )
    return X, (Y - Y.mean(axis=0)) / Y.std(axis=0)


@pytest.fixture
def poisson():
    """Non-negative counts drawn from a log-linear Poisson model."""
    rng = np.random.RandomState(5)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    coef = rng.uniform(-0.5, 0.5, size=N_FEATURES)
    y = rng.poisson(np.exp(X @ coef)).astype(np.float64)
    return X, y


@pytest.fixture
def sample_weight():
    """Strictly positive, far-from-uniform weights for N_SAMPLES samples."""
    rng = np.random.RandomState(6)
    return rng.uniform(0.1, 3.0, size=N_SAMPLES)


@pytest.fixture(scope="session")
def _digits_cached():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture
def digits_subset(_digits_cached):
    """The first 300 digits (all 10 classes), pixels scaled to [0, 1]."""
    X, y = _digits_cached
    return X[:300].copy(), y[:300].copy()


@pytest.fixture
def digits(_digits_cached):
    """All 1797 digits, pixels scaled to [0, 1]."""
    X, y = _digits_cached
    return X.copy(), y.copy()


def _require_threads(n, explicit=False):
    """Skip the calling test, saying why, unless a run asking for ``n``
    OpenMP threads gets ``n`` here.

    With fewer, the "n-thread" run of a test comparing thread counts is the
    one-thread run again and the comparison proves nothing.  fastmlp does not
    report how many threads a fit used, so this asks what a run would get:

    * ``explicit=False``: the test limits OpenMP with
      ``threadpool_limits(limits=n)`` and lets fastmlp choose, as every
      estimator fit does.  The count is ``_openmp.effective_n_threads()``
      under that limit: ``omp_get_max_threads()``, capped by the CPUs this
      process may run on (``os.sched_getaffinity``) unless ``OMP_NUM_THREADS``
      is set.
    * ``explicit=True``: the test passes ``n_threads=n`` to the compiled
      engine, which takes it as is (``effective_n_threads(n)``); ``n``
      threads then run even on fewer CPUs, taking turns.

    Either way a serial build runs one thread, and ``OMP_THREAD_LIMIT`` caps
    every OpenMP team.
    """
    from fastmlp import _openmp

    why = f"compares runs on {n} threads with runs on fewer, but"
    if not _openmp.OPENMP_ENABLED:
        pytest.skip(f"{why} fastmlp was built without OpenMP (serial build): "
                    "only 1 thread can run here")
    thread_limit = os.environ.get("OMP_THREAD_LIMIT", "").strip()
    if thread_limit.isdigit() and int(thread_limit) < n:
        pytest.skip(f"{why} OMP_THREAD_LIMIT={thread_limit}: only {thread_limit} "
                    "OpenMP thread(s) can run here")
    if explicit:
        k = _openmp.effective_n_threads(n)
        detail = f"effective_n_threads({n}) is {k}"
    else:
        with threadpool_limits(limits=n, user_api="openmp"):
            k = _openmp.effective_n_threads()
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cpus = os.cpu_count()
        detail = (f"effective_n_threads() under threadpool_limits(limits={n}) is {k}: "
                  f"{cpus} CPU(s) allowed by the affinity mask, "
                  f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')!r}")
    if k < n:
        pytest.skip(f"{why} only {k} OpenMP thread(s) can run here ({detail})")


@pytest.fixture
def require_threads():
    """``require_threads(n, explicit=False)``: skip unless ``n`` OpenMP
    threads can run (see ``_require_threads``).  Call it before the first
    comparison across thread counts and after the checks that hold on any
    thread count, so that those still run where it skips."""
    return _require_threads
