"""Oracle tests: fastmlp against scikit-learn's own MLPClassifier/MLPRegressor.

Four levels, from strict to loose:

1. Same starting weights, one epoch of plain minibatch SGD (no optimizer
   state, no shuffling): weights after the epoch agree to rtol 1e-9 for every
   hidden activation x target type x with/without sample_weight, through
   ``fit`` (warm start) and through ``partial_fit``. The starting weights are
   written in place into ``coefs_``/``intercepts_`` of both models.
2. Same ``random_state``: fastmlp consumes the RandomState exactly like
   scikit-learn (weight init, per-epoch shuffle, early-stopping split), so
   initial weights are identical and a few epochs of every optimizer agree to
   rtol 1e-6; lbfgs agrees to rtol 1e-5 with the same ``n_iter_``.
3. Bookkeeping: ``loss_curve_``, ``n_iter_``, ``t_``, ``validation_scores_``,
   ``best_loss_``, stopping epochs.
4. Held-out accuracy / R^2 within 0.02 with default parameters.
"""

import copy
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from threadpoolctl import threadpool_limits

from fastmlp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
TARGETS = [
    "binary",
    "multiclass",
    "multilabel",
    "regression",
    "multioutput_regression",
    "poisson",
]
CLASSIFICATION = {"binary", "multiclass", "multilabel"}

STRICT = dict(rtol=1e-9, atol=1e-12)


def _pair(target, **params):
    """(fastmlp estimator, scikit-learn estimator) with identical params."""
    params.setdefault("hidden_layer_sizes", (7, 5))
    params.setdefault("random_state", 0)
    if target in CLASSIFICATION:
        return MLPClassifier(**params), SkMLPClassifier(**params)
    if target == "poisson":
        params.setdefault("loss", "poisson")
    return MLPRegressor(**params), SkMLPRegressor(**params)


def _classes_kw(target, y):
    if target == "multilabel":
        return {"classes": np.arange(y.shape[1])}
    if target in CLASSIFICATION:
        return {"classes": np.unique(y)}
    return {}


def _fit(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kw)


def _starting_weights(est, seed):
    rng = np.random.RandomState(seed)
    W = [rng.uniform(-0.4, 0.4, size=c.shape) for c in est.coefs_]
    b = [rng.uniform(-0.2, 0.2, size=i.shape) for i in est.intercepts_]
    return W, b


def _set_weights_in_place(est, W, b):
    for coef, w in zip(est.coefs_, W):
        coef[...] = w
    for intercept, c in zip(est.intercepts_, b):
        intercept[...] = c


def _assert_same_weights(ours, sk, **tol):
    assert len(ours.coefs_) == len(sk.coefs_)
    for i, (a, b) in enumerate(zip(ours.coefs_, sk.coefs_)):
        assert a.shape == b.shape
        assert_allclose(a, b, err_msg=f"coefs_[{i}]", **tol)
    for i, (a, b) in enumerate(zip(ours.intercepts_, sk.intercepts_)):
        assert a.shape == b.shape
        assert_allclose(a, b, err_msg=f"intercepts_[{i}]", **tol)


PLAIN_SGD = dict(
    solver="sgd",
    momentum=0.0,
    learning_rate="constant",
    learning_rate_init=0.05,
    shuffle=False,
    batch_size=16,
    alpha=1e-3,
)


# ---------------------------------------------------------------------------
# 1. Same starting weights, one epoch
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_one_epoch_from_same_weights_fit(
    request, activation, target, weighted, sample_weight
):
    X, y = request.getfixturevalue(target)
    sw = sample_weight if weighted else None
    ours, sk = _pair(
        target, activation=activation, max_iter=1, warm_start=True, **PLAIN_SGD
    )
    _fit(ours, X, y, sample_weight=sw)
    _fit(sk, X, y, sample_weight=sw)
    W0, b0 = _starting_weights(sk, seed=42)
    _set_weights_in_place(ours, W0, b0)
    _set_weights_in_place(sk, W0, b0)

    _fit(ours, X, y, sample_weight=sw)
    _fit(sk, X, y, sample_weight=sw)

    _assert_same_weights(ours, sk, **STRICT)
    # the epoch actually moved the weights
    assert not np.allclose(sk.coefs_[0], W0[0])
    assert_allclose(ours.loss_, sk.loss_, **STRICT)
    assert_allclose(ours.loss_curve_[-1], sk.loss_curve_[-1], **STRICT)
    assert ours.n_iter_ == sk.n_iter_ == 1
    assert ours.t_ == sk.t_ == 2 * X.shape[0]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_one_epoch_from_same_weights_partial_fit(
    request, activation, target, weighted, sample_weight
):
    X, y = request.getfixturevalue(target)
    sw = sample_weight if weighted else None
    ours, sk = _pair(target, activation=activation, **PLAIN_SGD)
    kw = _classes_kw(target, y)
    ours.partial_fit(X, y, sample_weight=sw, **kw)
    sk.partial_fit(X, y, sample_weight=sw, **kw)
    W0, b0 = _starting_weights(sk, seed=7)
    _set_weights_in_place(ours, W0, b0)
    _set_weights_in_place(sk, W0, b0)

    ours.partial_fit(X, y, sample_weight=sw)
    sk.partial_fit(X, y, sample_weight=sw)

    _assert_same_weights(ours, sk, **STRICT)
    assert not np.allclose(sk.coefs_[0], W0[0])
    assert_allclose(ours.loss_, sk.loss_, **STRICT)
    assert ours.t_ == sk.t_ == 2 * X.shape[0]
    assert len(ours.loss_curve_) == len(sk.loss_curve_) == 2


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("activation", ["logistic", "relu"])
def test_one_epoch_from_same_weights_float32(request, activation, target):
    X, y = request.getfixturevalue(target)
    X = X.astype(np.float32)
    ours, sk = _pair(
        target, activation=activation, max_iter=1, warm_start=True, **PLAIN_SGD
    )
    _fit(ours, X, y)
    _fit(sk, X, y)
    W0, b0 = _starting_weights(sk, seed=3)
    _set_weights_in_place(ours, W0, b0)
    _set_weights_in_place(sk, W0, b0)
    _fit(ours, X, y)
    _fit(sk, X, y)
    assert ours.coefs_[0].dtype == sk.coefs_[0].dtype == np.float32
    _assert_same_weights(ours, sk, rtol=2e-4, atol=1e-5)


@settings(max_examples=30, deadline=None, database=None)
@given(
    n_samples=st.integers(1, 40),
    n_features=st.integers(1, 9),
    hidden=st.lists(st.integers(1, 9), min_size=1, max_size=3),
    batch_size=st.integers(1, 45),
    activation=st.sampled_from(ACTIVATIONS),
    target=st.sampled_from(["multiclass", "multilabel", "multioutput_regression"]),
    n_outputs=st.integers(2, 4),
    alpha=st.sampled_from([0.0, 1e-3, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_one_epoch_parity_random_shapes(
    n_samples, n_features, hidden, batch_size, activation, target, n_outputs, alpha,
    seed,
):
    # shapes where the last minibatch is short, a layer has a single unit,
    # or the batch is a single sample
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    if target == "multiclass":
        y = np.arange(n_samples) % n_outputs  # every class present if possible
        if len(np.unique(y)) < 2:
            y = np.zeros(n_samples)
            y[-1] = 1 if n_samples > 1 else 0
        if len(np.unique(y)) < 2:
            return
    elif target == "multilabel":
        y = rng.randint(0, 2, size=(n_samples, n_outputs))
    else:
        y = rng.normal(size=(n_samples, n_outputs))
    sw = rng.uniform(0.1, 2.0, size=n_samples)
    params = dict(PLAIN_SGD, alpha=alpha, batch_size=min(batch_size, n_samples))
    ours, sk = _pair(
        target,
        activation=activation,
        hidden_layer_sizes=tuple(hidden),
        max_iter=1,
        warm_start=True,
        **params,
    )
    _fit(ours, X, y, sample_weight=sw)
    _fit(sk, X, y, sample_weight=sw)
    W0, b0 = _starting_weights(sk, seed=seed + 1)
    _set_weights_in_place(ours, W0, b0)
    _set_weights_in_place(sk, W0, b0)
    _fit(ours, X, y, sample_weight=sw)
    _fit(sk, X, y, sample_weight=sw)
    _assert_same_weights(ours, sk, **STRICT)
    assert_allclose(ours.loss_, sk.loss_, **STRICT)


# ---------------------------------------------------------------------------
# 2. Same random_state: identical RandomState consumption
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [(3,), (6, 4)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("target", ["multiclass", "multilabel", "regression"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_initial_weights_identical(request, activation, target, dtype, hidden):
    # A learning rate of 1e-300 leaves the weights bit-for-bit at their
    # initial values, so this reads the initialization through the public API.
    X, y = request.getfixturevalue(target)
    X = X.astype(dtype)
    ours, sk = _pair(
        target,
        activation=activation,
        hidden_layer_sizes=hidden,
        solver="sgd",
        momentum=0.0,
        learning_rate_init=1e-300,
        max_iter=1,
        random_state=123,
    )
    _fit(ours, X, y)
    _fit(sk, X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, sk.coefs_ + sk.intercepts_):
        assert a.dtype == b.dtype == dtype
        assert_array_equal(a, b)


def test_random_state_instance_is_consumed_like_sklearn(multiclass):
    # a RandomState instance is advanced by fit exactly as scikit-learn does
    X, y = multiclass
    rs_ours, rs_sk = np.random.RandomState(9), np.random.RandomState(9)
    params = dict(hidden_layer_sizes=(4,), solver="adam", max_iter=3)
    ours = MLPClassifier(random_state=rs_ours, **params)
    sk = SkMLPClassifier(random_state=rs_sk, **params)
    for _ in range(2):  # the second fit starts from the advanced state
        _fit(ours, X, y)
        _fit(sk, X, y)
        _assert_same_weights(ours, sk, rtol=1e-9, atol=1e-12)
    assert rs_ours.randint(2**31) == rs_sk.randint(2**31)


def test_int_seed_reuses_only_the_estimators_own_generator(multiclass):
    # each call starts from RandomState(seed) (the estimator reseeds the one it
    # made): never by reseeding the user's RandomState or a shallow copy's
    X, y = multiclass
    params = dict(hidden_layer_sizes=(4,), max_iter=2, batch_size=8)
    user_rs = np.random.RandomState(5)
    est = _fit(MLPClassifier(random_state=user_rs, **params), X, y)
    state = user_rs.get_state()[1].copy()
    _fit(est.set_params(random_state=5), X, y)
    assert_array_equal(user_rs.get_state()[1], state)
    assert est._random_state is not user_rs

    twin = copy.copy(est)
    own = est._random_state
    before = own.get_state()[1].copy()
    _fit(twin, X, y)
    assert twin._random_state is not own
    assert_array_equal(own.get_state()[1], before)
    for model in (est, twin):  # and both train as a fresh estimator does
        _fit(model, X, y)
        fresh = _fit(MLPClassifier(random_state=5, **params), X, y)
        _assert_same_weights(model, fresh, rtol=0, atol=0)


def test_a_new_estimator_reseeds_the_generator_of_one_that_is_gone(multiclass):
    import gc

    X, y = multiclass
    params = dict(hidden_layer_sizes=(4,), max_iter=2, batch_size=8)
    gone = _fit(MLPClassifier(random_state=1, **params), X, y)
    generator = gone._random_state
    generator.random_sample(7)  # moved on, as a user's draw would
    del gone
    gc.collect()
    est = _fit(MLPClassifier(random_state=3, **params), X, y)
    assert est._random_state is generator
    sk = _fit(SkMLPClassifier(random_state=3, **params), X, y)
    _assert_same_weights(est, sk, rtol=1e-9, atol=1e-12)
    assert_array_equal(generator.get_state()[1], sk._random_state.get_state()[1])


OPTIMIZERS = {
    "sgd-momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
    "sgd-nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
    "sgd-invscaling": dict(
        solver="sgd", learning_rate="invscaling", learning_rate_init=0.1, power_t=0.3
    ),
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "adam-betas": dict(
        solver="adam", learning_rate_init=0.01, beta_1=0.5, beta_2=0.9, epsilon=1e-4
    ),
}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_shuffled_epochs_same_random_state(
    request, optimizer, target, weighted, sample_weight
):
    X, y = request.getfixturevalue(target)
    sw = sample_weight if weighted else None
    params = dict(
        OPTIMIZERS[optimizer],
        activation="tanh",
        shuffle=True,
        batch_size=16,
        max_iter=5,
        random_state=0,
    )
    ours, sk = _pair(target, **params)
    _fit(ours, X, y, sample_weight=sw)
    _fit(sk, X, y, sample_weight=sw)
    _assert_same_weights(ours, sk, rtol=1e-6, atol=1e-9)
    assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-6)
    assert ours.n_iter_ == sk.n_iter_ == 5
    assert ours.t_ == sk.t_


@pytest.mark.parametrize("optimizer", ["sgd-nesterov", "adam"])
@pytest.mark.parametrize("target", ["binary", "multiclass", "regression"])
def test_partial_fit_sequence_same_random_state(request, optimizer, target):
    # optimizer state (velocities, Adam moments, t) persists across calls
    X, y = request.getfixturevalue(target)
    params = dict(OPTIMIZERS[optimizer], shuffle=True, batch_size=16)
    ours, sk = _pair(target, **params)
    kw = _classes_kw(target, y)
    for _ in range(4):
        ours.partial_fit(X, y, **kw)
        sk.partial_fit(X, y, **kw)
        kw = {}
    _assert_same_weights(ours, sk, rtol=1e-6, atol=1e-9)
    assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-6)
    assert ours.n_iter_ == sk.n_iter_
    assert ours.t_ == sk.t_


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("target", TARGETS)
def test_lbfgs_same_random_state(request, target, weighted, sample_weight):
    X, y = request.getfixturevalue(target)
    sw = sample_weight if weighted else None
    ours, sk = _pair(target, solver="lbfgs", max_iter=20, activation="tanh")
    _fit(ours, X, y, sample_weight=sw)
    _fit(sk, X, y, sample_weight=sw)
    assert ours.n_iter_ == sk.n_iter_
    _assert_same_weights(ours, sk, rtol=1e-5, atol=1e-8)
    assert_allclose(ours.loss_, sk.loss_, rtol=1e-6)


def test_lbfgs_max_fun_same_n_iter(multiclass):
    X, y = multiclass
    ours, sk = _pair("multiclass", solver="lbfgs", max_iter=200, max_fun=7)
    _fit(ours, X, y)
    _fit(sk, X, y)
    assert ours.n_iter_ == sk.n_iter_
    _assert_same_weights(ours, sk, rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------------------
# 3. loss_curve_, n_iter_, t_, validation_scores_
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("activation", ["logistic", "relu"])
def test_loss_curve_stateless_from_same_weights(request, activation, target):
    X, y = request.getfixturevalue(target)
    ours, sk = _pair(
        target, activation=activation, max_iter=1, warm_start=True, **PLAIN_SGD
    )
    _fit(ours, X, y)
    _fit(sk, X, y)
    W0, b0 = _starting_weights(sk, seed=11)
    _set_weights_in_place(ours, W0, b0)
    _set_weights_in_place(sk, W0, b0)
    ours.set_params(max_iter=6)
    sk.set_params(max_iter=6)
    _fit(ours, X, y)
    _fit(sk, X, y)
    assert len(ours.loss_curve_) == len(sk.loss_curve_) == 7
    assert_allclose(ours.loss_curve_[1:], sk.loss_curve_[1:], **STRICT)
    assert ours.n_iter_ == sk.n_iter_ == 6
    assert ours.t_ == sk.t_ == 7 * X.shape[0]
    assert_allclose(ours.best_loss_, sk.best_loss_, **STRICT)
    _assert_same_weights(ours, sk, **STRICT)


@pytest.mark.parametrize("target", TARGETS)
def test_loss_curve_stateless_shuffled_same_random_state(request, target):
    X, y = request.getfixturevalue(target)
    params = dict(PLAIN_SGD, shuffle=True, max_iter=5, random_state=3)
    ours, sk = _pair(target, **params)
    _fit(ours, X, y)
    _fit(sk, X, y)
    assert_allclose(ours.loss_curve_, sk.loss_curve_, **STRICT)
    _assert_same_weights(ours, sk, **STRICT)
    assert ours.n_iter_ == sk.n_iter_ and ours.t_ == sk.t_


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel", "regression"])
def test_early_stopping_same_split_and_scores(
    request, target, weighted, sample_weight, digits_subset
):
    if target == "multiclass":
        X, y = digits_subset
        sw = np.resize(sample_weight, X.shape[0]) if weighted else None
    else:
        X, y = request.getfixturevalue(target)
        sw = sample_weight if weighted else None
    params = dict(
        PLAIN_SGD,
        shuffle=True,
        early_stopping=True,
        validation_fraction=0.3,
        n_iter_no_change=2,
        tol=1e-2,
        max_iter=40,
        hidden_layer_sizes=(8,),
    )
    ours, sk = _pair(target, **params)
    _fit(ours, X, y, sample_weight=sw)
    _fit(sk, X, y, sample_weight=sw)
    assert sk.n_iter_ < 40  # the scenario does stop early
    assert ours.n_iter_ == sk.n_iter_
    assert ours.t_ == sk.t_
    assert_allclose(ours.validation_scores_, sk.validation_scores_, **STRICT)
    assert_allclose(ours.best_validation_score_, sk.best_validation_score_, **STRICT)
    assert_allclose(ours.loss_curve_, sk.loss_curve_, **STRICT)
    assert ours.best_loss_ is None and sk.best_loss_ is None
    _assert_same_weights(ours, sk, **STRICT)


@pytest.mark.parametrize(
    "stopping",
    [
        dict(learning_rate="constant", tol=0.05, n_iter_no_change=2),
        dict(learning_rate="adaptive", tol=0.05, n_iter_no_change=1),
        dict(learning_rate="constant", tol=0.0, n_iter_no_change=np.inf),
    ],
    ids=["tol", "adaptive", "no-stopping"],
)
@pytest.mark.parametrize("target", ["multiclass", "regression"])
def test_stopping_epoch_matches(request, target, stopping):
    X, y = request.getfixturevalue(target)
    params = dict(PLAIN_SGD, **stopping)
    params.update(shuffle=True, max_iter=60, learning_rate_init=0.01)
    ours, sk = _pair(target, **params)
    _fit(ours, X, y)
    _fit(sk, X, y)
    assert ours.n_iter_ == sk.n_iter_
    assert ours.t_ == sk.t_
    assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-9)
    assert_allclose(ours.best_loss_, sk.best_loss_, rtol=1e-9)
    if stopping["n_iter_no_change"] is np.inf:
        assert sk.n_iter_ == 60
    else:
        assert sk.n_iter_ < 60  # the scenario does exercise stopping


# ---------------------------------------------------------------------------
# 4. Held-out quality with default parameters
# ---------------------------------------------------------------------------


def test_digits_accuracy_within_noise(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    # one BLAS thread: on a loaded 2-core machine threaded OpenBLAS makes
    # scikit-learn's 200 epochs 10x slower; the result does not change
    with threadpool_limits(limits=1, user_api="blas"):
        ours = _fit(MLPClassifier(random_state=0), X_train, y_train)
        sk = _fit(SkMLPClassifier(random_state=0), X_train, y_train)
    acc_ours, acc_sk = ours.score(X_test, y_test), sk.score(X_test, y_test)
    assert acc_sk > 0.9
    assert abs(acc_ours - acc_sk) < 0.02


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_regression_r2_within_noise(solver):
    X, y = make_regression(
        n_samples=400, n_features=8, n_informative=5, noise=5.0, random_state=0
    )
    y = y / y.std()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    params = dict(solver=solver, hidden_layer_sizes=(32,), random_state=0)
    ours = _fit(MLPRegressor(**params), X_train, y_train)
    sk = _fit(SkMLPRegressor(**params), X_train, y_train)
    r2_ours, r2_sk = ours.score(X_test, y_test), sk.score(X_test, y_test)
    assert r2_sk > 0.8
    assert abs(r2_ours - r2_sk) < 0.02


# ---------------------------------------------------------------------------
# Forward pass, warm starts, verbose output
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_pass_with_copied_weights(request, activation, target, dtype):
    # Load fastmlp's weights into a fitted scikit-learn model and compare the
    # predictions on many rows (more than any internal chunk or batch size).
    X, y = request.getfixturevalue(target)
    X = X.astype(dtype)
    ours, sk = _pair(target, activation=activation, solver="adam", max_iter=3)
    _fit(ours, X, y)
    _fit(sk, X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, sk.coefs_ + sk.intercepts_):
        b[...] = a
    rng = np.random.RandomState(0)
    X_big = (rng.normal(size=(3001, X.shape[1])) * 2).astype(dtype)
    if dtype == np.float64:
        tol = dict(rtol=1e-12, atol=1e-14)
    else:
        tol = dict(rtol=1e-5, atol=1e-6)
    if target in CLASSIFICATION:
        assert_allclose(ours.predict_proba(X_big), sk.predict_proba(X_big), **tol)
        agree = np.mean(ours.predict(X_big) == sk.predict(X_big))
        assert agree > 0.999  # ties at the 0.5 / argmax boundary aside
    else:
        pred = ours.predict(X_big)
        assert pred.dtype == sk.predict(X_big).dtype
        assert_allclose(pred, sk.predict(X_big), **tol)
    assert ours.score(X, y) == pytest.approx(sk.score(X, y), rel=1e-5)


@pytest.mark.parametrize(
    "solver_params",
    [
        dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
        dict(solver="adam", learning_rate_init=0.01),
        dict(solver="lbfgs"),
    ],
    ids=["sgd-nesterov", "adam", "lbfgs"],
)
@pytest.mark.parametrize("target", ["multiclass", "regression"])
def test_warm_start_refits_same_random_state(request, target, solver_params):
    # each warm-started fit builds a fresh optimizer (velocities / moments
    # reset) but keeps the weights, t_ and loss_curve_
    X, y = request.getfixturevalue(target)
    ours, sk = _pair(
        target, warm_start=True, max_iter=3, shuffle=True, batch_size=16,
        **solver_params,
    )
    for _ in range(3):
        _fit(ours, X, y)
        _fit(sk, X, y)
    _assert_same_weights(ours, sk, rtol=1e-6, atol=1e-9)
    assert ours.n_iter_ == sk.n_iter_
    assert ours.t_ == sk.t_
    if solver_params["solver"] != "lbfgs":
        assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-6)
        assert len(sk.loss_curve_) == 9


def test_partial_fit_after_fit_same_random_state(multiclass):
    X, y = multiclass
    ours, sk = _pair("multiclass", solver="sgd", momentum=0.5, max_iter=2)
    for est in (ours, sk):
        _fit(est, X, y)
        est.partial_fit(X, y)
        est.partial_fit(X[:30], y[:30])
    _assert_same_weights(ours, sk, rtol=1e-6, atol=1e-9)
    assert ours.t_ == sk.t_
    assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-6)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_verbose_output_matches(multiclass, capsys, early_stopping):
    X, y = multiclass
    params = dict(PLAIN_SGD, max_iter=4, verbose=True, early_stopping=early_stopping)
    ours, sk = _pair("multiclass", **params)
    _fit(sk, X, y)
    sk_out = capsys.readouterr().out
    _fit(ours, X, y)
    our_out = capsys.readouterr().out
    assert "Iteration 4, loss = " in sk_out
    assert our_out == sk_out


@pytest.mark.parametrize("solver,early_stopping",
                         [("adam", False), ("sgd", False), ("adam", True), ("lbfgs", False)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_attributes_have_scikit_learns_types(solver, early_stopping, dtype):
    # loss_, loss_curve_'s items and best_loss_ are np.float64 in
    # scikit-learn (print(loss_curve_), loss_.round(3)); the validation
    # scores are Python floats in both

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4)).astype(dtype)
    y = (X[:, 0] > 0).astype(int)
    kinds = []
    for Est in (SkMLPClassifier, MLPClassifier):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = Est(hidden_layer_sizes=(5,), max_iter=3, solver=solver,
                      early_stopping=early_stopping, random_state=0).fit(X, y)
        kinds.append([type(est.loss_)]
                     + [type(v) for v in (getattr(est, "loss_curve_", None) or [])[:1]]
                     + [type(getattr(est, "best_loss_", None))]
                     + [type(v) for v in (getattr(est, "validation_scores_", None) or [])[:1]])
    assert kinds[1] == kinds[0]


@pytest.mark.parametrize("solver,early_stopping",
                         [("adam", False), ("sgd", True), ("lbfgs", False)])
@pytest.mark.parametrize("x_dtype,y_dtype,weighted", [
    (np.float32, np.float32, None), (np.float32, np.float32, np.float64),
    (np.float32, np.float32, np.float32), (np.float32, ">f4", None),
    (np.float32, ">f4", ">f4"), (np.float32, np.float16, np.int64),
    (np.float32, np.float64, None), (np.float64, np.float32, np.float32),
    (np.float64, np.float64, None)])
def test_regressor_loss_attributes_have_scikit_learns_types(solver, early_stopping, x_dtype,
                                                            y_dtype, weighted):
    # a regressor's losses are float32 in scikit-learn for float32 X, y and
    # weights (NumPy's type of its loss; a big-endian '>f4' is float32 too,
    # and weights it checks into float64 make it float64): fastmlp's were
    # float64 throughout, then for float32 weights and '>f4' targets
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4)).astype(x_dtype)
    y = (2 * X[:, 0] + 1).astype(y_dtype)
    fit_params = ({} if weighted is None
                  else {"sample_weight": np.linspace(0.5, 1.5, 120).round().astype(weighted)})
    kinds = []
    for Est in (SkMLPRegressor, MLPRegressor):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = Est(hidden_layer_sizes=(5,), max_iter=3, solver=solver,
                      early_stopping=early_stopping, random_state=0).fit(X, y, **fit_params)
            if solver != "lbfgs" and not early_stopping:
                est.partial_fit(X, y, **fit_params)
        kinds.append([type(est.loss_)]
                     + [type(v) for v in (getattr(est, "loss_curve_", None) or [])]
                     + [type(getattr(est, "best_loss_", None))]
                     + [type(v) for v in (getattr(est, "validation_scores_", None) or [])[:1]])
    assert kinds[1] == kinds[0]



@pytest.mark.parametrize("first, then", [(np.float32, np.float64), (np.float64, np.float32),
                                         (np.float32, ">f4")])
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_a_continued_regressor_loss_has_scikit_learns_type(first, then, how):
    # the type follows X as given and the model's dtype, as scikit-learn's
    # loss of its float64 activations: a float32 model continued with
    # float64 X gave float32 (its X cast to the model's dtype first)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = X[:, 0].astype(np.float32)
    kinds = []
    for Est in (SkMLPRegressor, MLPRegressor):
        est = Est(hidden_layer_sizes=(3,), max_iter=2, random_state=0,
                  warm_start=how == "warm_start")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            train = est.partial_fit if how == "partial_fit" else est.fit
            train(X.astype(first), y)
            train(X.astype(then), y)
        kinds.append((type(est.loss_), type(est.loss_curve_[-1]), type(est.best_loss_)))
    assert kinds[1] == kinds[0]


@pytest.mark.parametrize("out_activation", ["identity", "logistic", "tanh", "relu"])
def test_out_activation_set_after_fit_predicts_as_scikit_learn(out_activation):
    # a Q&A trick to bound a regressor's output: out_activation_ set after
    # fit to any of scikit-learn's activations; 'relu' and 'tanh' raised
    # KeyError here (no loss of the engine trains them)
    X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    sk = SkMLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    ours = MLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
        ours.fit(X, y)
    ours.coefs_ = [c.copy() for c in sk.coefs_]
    ours.intercepts_ = [b.copy() for b in sk.intercepts_]
    assert_allclose(ours.predict(X), sk.predict(X), rtol=1e-12, atol=1e-12)
    sk.out_activation_ = ours.out_activation_ = out_activation
    want = sk.predict(X)
    assert_allclose(ours.predict(X), want, rtol=1e-12, atol=1e-12)
    if out_activation == "relu":
        assert (want == 0).any() and (want > 0).any()   # the bound bites


def test_out_activation_set_after_fit_is_not_trained_on():
    # scikit-learn trains on with relu's output and its loss's gradient;
    # fastmlp says so instead (a KeyError before), keeps the model as it
    # was, and a fit anew resets it, as scikit-learn's does
    X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    reg.out_activation_ = "relu"
    before = reg.predict(X)
    with pytest.raises(ValueError, match="out_activation_='relu' .*set it back"):
        reg.partial_fit(X, y)
    assert_array_equal(reg.predict(X), before)
    assert reg.out_activation_ == "relu"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    assert reg.out_activation_ == "identity"
