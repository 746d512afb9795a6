"""``dropout`` (hidden layers) and ``input_dropout`` at the estimator level.

Dropout is off at prediction time, repeatable and thread-count independent,
and draws nothing from the random state when off; it is inverted dropout
(kept units scaled by 1 / keep, counted exactly from one sgd step), with fresh
masks every epoch; and what it cannot do raises (input dropout on sparse X,
dropout with solver='lbfgs', a wrong list of rates).

Everything runs in float64 on small data and small networks.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp import _reference as ref

from _option_helpers import (
    _multiclass,
    _flat,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _dropout_data(seed=0):
    return _multiclass(n=80, n_features=6, seed=seed)


def test_dropout_prediction_is_deterministic_and_has_no_dropout():
    X, y = _dropout_data()
    est = MLPClassifier(hidden_layer_sizes=(16, 8), dropout=[0.3, 0.2], input_dropout=0.1,
                        max_iter=15, random_state=0, learning_rate_init=0.01).fit(X, y)
    P1, P2 = est.predict_proba(X), est.predict_proba(X)
    assert_array_equal(P1, P2)
    assert_array_equal(est.predict(X), est.predict(X))
    expected = ref.forward(X, est.coefs_, est.intercepts_, "relu", "softmax")[-1]
    assert_allclose(P1, expected, rtol=1e-10, atol=1e-14)
    # training with dropout differs from training without
    plain = MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=15, random_state=0,
                          learning_rate_init=0.01).fit(X, y)
    assert not np.allclose(plain.coefs_[0], est.coefs_[0])
    # repeatable
    again = clone(est).fit(X, y)
    assert_array_equal(_flat(again), _flat(est))
    assert_array_equal(again.loss_curve_, est.loss_curve_)


def test_dropout_each_option_alone_changes_training():
    X, y = _dropout_data()
    base = dict(hidden_layer_sizes=(16, 8), max_iter=3, random_state=0)
    plain = _flat(MLPClassifier(**base).fit(X, y))
    for extra in ({"dropout": 0.3}, {"dropout": [0.0, 0.3]}, {"input_dropout": 0.2}):
        other = _flat(MLPClassifier(**extra, **base).fit(X, y))
        assert not np.allclose(plain, other), extra


def _set_weights(est, values):
    for arr, v in zip(est.coefs_ + est.intercepts_, values):
        arr[...] = v


def _binomial_ok(counts, n, keep, n_sigma=5):
    sd = np.sqrt(keep * (1 - keep) / n)
    return np.all(np.abs(np.asarray(counts) / n - keep) <= n_sigma * sd)


def test_hidden_dropout_is_inverted_dropout():
    """Hidden layer outputs all 1, output weights 0, y = 1: the output delta
    is -1 for every sample whatever the mask, so one single-batch sgd step
    gives W_out[j] = lr * sum_i m_ij / n with m_ij in {0, 1/keep}.  Hence
    W_out[j] * n * keep / lr is the integer count of samples that kept unit j,
    binomially distributed around keep * n, and different across units."""
    n, H, lr, rate = 2000, 6, 0.1, 0.3
    keep = 1 - rate
    X = np.random.RandomState(0).normal(size=(n, 3))
    y = np.ones(n)
    est = MLPRegressor(hidden_layer_sizes=(H,), activation="relu", solver="sgd",
                       momentum=0.0, alpha=0.0, learning_rate_init=lr, dropout=rate,
                       random_state=0, max_iter=1, warm_start=True, shuffle=False,
                       batch_size=n)
    est.fit(X, y)
    _set_weights(est, [0.0, 0.0, 1.0, 0.0])  # W0 = 0, W_out = 0, b0 = 1, b_out = 0
    est.fit(X, y)
    assert est.loss_curve_[-1] == pytest.approx(0.5, rel=1e-12)
    counts = est.coefs_[1][:, 0] * n * keep / lr
    assert_allclose(counts, np.round(counts), atol=1e-6)
    assert _binomial_ok(counts, n, keep), counts / n
    assert len(np.unique(np.round(counts))) > 1
    # hidden layer untouched (its delta is 0), output bias moved by lr * 1
    assert_array_equal(est.coefs_[0], 0.0)
    assert_array_equal(est.intercepts_[0], 1.0)
    assert est.intercepts_[1][0] == pytest.approx(lr, rel=1e-12)


def test_input_dropout_is_inverted_dropout():
    """X = 1, W0 = 0, identity hidden, W_out = 1, y = 1: every hidden delta is
    -1, so W0[f, j] = lr * sum_i xdrop_if / n = lr * k_f / (keep * n), the
    same for every unit j, with k_f the integer count of kept inputs."""
    n, d, H, lr, rate = 2000, 4, 3, 0.1, 0.25
    keep = 1 - rate
    X = np.ones((n, d))
    y = np.ones(n)
    est = MLPRegressor(hidden_layer_sizes=(H,), activation="identity", solver="sgd",
                       momentum=0.0, alpha=0.0, learning_rate_init=lr,
                       input_dropout=rate, random_state=0, max_iter=1,
                       warm_start=True, shuffle=False, batch_size=n)
    est.fit(X, y)
    _set_weights(est, [0.0, 1.0, 0.0, 0.0])
    est.fit(X, y)
    W0 = est.coefs_[0]
    assert_allclose(W0, W0[:, :1] * np.ones((1, H)), rtol=1e-12)
    counts = W0[:, 0] * n * keep / lr
    assert_allclose(counts, np.round(counts), atol=1e-6)
    assert _binomial_ok(counts, n, keep), counts / n
    assert len(np.unique(np.round(counts))) > 1
    assert_allclose(est.intercepts_[0], lr, rtol=1e-12)


def _kept_counts_per_epoch(est, X, y, n_epochs, how):
    """Output-layer steps of ``n_epochs`` single-batch epochs, each from the
    same weights (W0 = 0, b0 = 1, W_out = 0): the kept counts of each epoch's
    hidden dropout masks (see test_hidden_dropout_is_inverted_dropout)."""
    reset = [0.0, 0.0, 1.0, 0.0]
    steps = []
    if how == "fit":  # epochs of one fit; a callback resets the weights
        def cb(e, history):
            steps.append(e.coefs_[1][:, 0].copy())
            _set_weights(e, reset)

        est.set_params(max_iter=1, warm_start=True)
        est.fit(X, y)
        _set_weights(est, reset)
        est.set_params(max_iter=n_epochs, callbacks=cb, tol=0.0, n_iter_no_change=99)
        est.fit(X, y)
    else:  # one partial_fit call per epoch
        est.partial_fit(X, y)
        for _ in range(n_epochs):
            _set_weights(est, reset)
            est.partial_fit(X, y)
            steps.append(est.coefs_[1][:, 0].copy())
    return steps


@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_dropout_masks_change_between_epochs(how):
    """The same single batch from the same weights, epoch after epoch: the
    dropout masks must be fresh draws (different kept counts), both for the
    epochs of one fit and for successive partial_fit calls."""
    n, rate = 2000, 0.5
    X = np.random.RandomState(0).normal(size=(n, 3))
    y = np.ones(n)
    est = MLPRegressor(hidden_layer_sizes=(4,), activation="relu", solver="sgd",
                       momentum=0.0, alpha=0.0, learning_rate_init=0.1, dropout=rate,
                       random_state=0, shuffle=False, batch_size=n)
    steps = _kept_counts_per_epoch(est, X, y, 3, how)
    assert len(steps) == 3
    assert not np.allclose(steps[0], steps[1])
    assert not np.allclose(steps[1], steps[2])


def test_dropout_zero_draws_nothing_from_the_random_state():
    """dropout=0 (float or list) is bit-identical to the default and follows
    scikit-learn's random stream (shuffles, early-stopping split)."""
    X, y = _dropout_data()
    base = dict(hidden_layer_sizes=(7, 5), max_iter=6, random_state=3, batch_size=16,
                early_stopping=True, n_iter_no_change=50, activation="tanh")
    a = MLPClassifier(**base).fit(X, y)
    for extra in ({"dropout": 0.0}, {"dropout": [0.0, 0.0]}, {"input_dropout": 0.0}):
        b = MLPClassifier(**extra, **base).fit(X, y)
        assert_array_equal(_flat(a), _flat(b))
    sk = SkMLPClassifier(**base).fit(X, y)
    for W, V in zip(a.coefs_ + a.intercepts_, sk.coefs_ + sk.intercepts_):
        assert_allclose(W, V, rtol=1e-8, atol=1e-12)
    # the same fit with dropout does consume the random state (so differs)
    c = MLPClassifier(dropout=0.2, **base).fit(X, y)
    assert not np.allclose(_flat(a), _flat(c))


def test_dropout_independent_of_thread_count(require_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 100))
    y = (X[:, :3].sum(axis=1) > 0).astype(int) + (X[:, 3] > 1)
    params = dict(hidden_layer_sizes=(256, 128), batch_size=512, max_iter=2,
                  random_state=0, dropout=[0.3, 0.2], input_dropout=0.1)
    fits = {}
    for n in (1, 2, 2):
        with threadpoolctl.threadpool_limits(limits=n):
            fits.setdefault(n, []).append(MLPClassifier(**params).fit(X, y))
    # one thread count: the same bits, run after run
    assert_array_equal(_flat(fits[2][0]), _flat(fits[2][1]))
    assert_array_equal(fits[2][0].loss_curve_, fits[2][1].loss_curve_)
    require_threads(2)
    # another thread count: the same masks, so the weights agree to rounding.
    # (Bits agree too where OpenBLAS's kernel sums a row the same way whatever
    # the number of rows in the product -- SkylakeX does, Haswell does not.)
    # One mask entry drawn differently moves the weights by far more.
    assert_allclose(_flat(fits[1][0]), _flat(fits[2][0]), rtol=1e-10, atol=1e-13)
    assert_allclose(fits[1][0].loss_curve_, fits[2][0].loss_curve_, rtol=1e-12)


def test_dropout_errors():
    X, y = _dropout_data()
    with pytest.raises(ValueError, match="dense"):
        MLPClassifier(hidden_layer_sizes=(4,), input_dropout=0.2, max_iter=2).fit(
            sp.csr_matrix(X), y)
    with pytest.raises(ValueError):
        MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", dropout=0.2).fit(X, y)
    with pytest.raises(ValueError):
        MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", input_dropout=0.2).fit(X, y)
    with pytest.raises(ValueError):
        MLPClassifier(hidden_layer_sizes=(4, 3), dropout=[0.1], max_iter=2).fit(X, y)
    with pytest.raises(ValueError):
        MLPClassifier(hidden_layer_sizes=(4, 3), dropout=[0.1, 1.0], max_iter=2).fit(X, y)
    with pytest.raises(ValueError):
        MLPClassifier(hidden_layer_sizes=(4, 3), dropout=[0.1, -0.1], max_iter=2).fit(X, y)
    # dropout with lbfgs set to zero is fine, and sparse X without input dropout
    MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", dropout=0.0, max_iter=5).fit(X, y)
    MLPClassifier(hidden_layer_sizes=(4,), dropout=0.3, max_iter=2).fit(sp.csr_matrix(X), y)


def test_input_dropout_takes_the_sparse_tag_back():
    # input_dropout refuses sparse X, so the estimator must not say it takes it
    from sklearn.utils import get_tags
    from sklearn.utils.estimator_checks import check_estimator_sparse_tag

    assert get_tags(MLPClassifier()).input_tags.sparse
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, input_dropout=0.1)
    assert not get_tags(est).input_tags.sparse
    check_estimator_sparse_tag(type(est).__name__, est)
