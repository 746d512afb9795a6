"""fastmlp's training options beyond scikit-learn, proved at the estimator level.

Every test here checks an option against an oracle computed independently of
the compiled engine:

* ``class_weight`` is exactly ``sample_weight * class_weight[y]``;
* a user validation set (``X_val``/``y_val``) is scored and its loss recorded
  exactly as the per-epoch predictions (recorded by a callback) say;
* one single-batch epoch of each solver (sgd, adam, adamw, rmsprop, adagrad)
  from known weights moves them exactly as the optimizer's formula applied to
  ``fastmlp._reference.loss_grad``'s gradient (scikit-learn semantics);
* schedules and warm-up, clipping, L1, Huber / absolute error and the new
  activations are checked the same way (gradients of the new activations and
  losses by central finite differences of a NumPy loss written here);
* dropout is off at prediction time, repeatable and thread-count independent,
  and draws nothing from the random state when off;
* ``max_norm`` bounds every unit's incoming weight column;
* watching (``verbose``, ``max_time``, ``callbacks``) and the scikit-learn API
  (``get_params``, ``InvalidParameterError``, ``GridSearchCV``, ``clone``,
  pickle) of every new parameter.

Everything runs in float64 on small data and small networks.
"""
import pickle
import warnings
import re

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import erf, expit
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss, r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.class_weight import compute_class_weight

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp import _reference as ref
from fastmlp._schedules import epoch_learning_rate

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NEW_ACTIVATIONS = ("leaky_relu", "elu", "gelu", "silu", "softplus")
NEW_PARAMS = (
    "rho", "weight_decay", "alpha_l1", "grad_clip_norm", "grad_clip_value",
    "warmup_epochs", "lr_decay", "lr_step_size", "lr_min", "dropout",
    "input_dropout", "max_norm", "scoring", "max_time", "callbacks",
)


# --------------------------------------------------------------------- data


def _multiclass(n=60, n_features=5, seed=0, imbalanced=False):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    score = X[:, 0] + 0.5 * X[:, 1] - 0.3 * X[:, 2]
    if imbalanced:
        y = np.digitize(score, [-0.2, 1.0])  # classes of unequal sizes
    else:
        y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    return X, np.array([3, 7, 11])[y]


def _binary(n=60, n_features=5, seed=1):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    y = np.where(X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=n) > 0.4, "pos", "neg")
    return X, y


def _regression(n=50, n_features=4, seed=2, n_outputs=1):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    W = rng.normal(size=(n_features, n_outputs))
    y = np.tanh(X @ W) + 0.1 * rng.normal(size=(n, n_outputs))
    return X, (y.ravel() if n_outputs == 1 else y)


def _onehot(classes, y):
    Y = LabelBinarizer().fit(classes).transform(y).astype(np.float64)
    return Y


def _flat(est):
    return ref.pack(est.coefs_, est.intercepts_)


def _units(est):
    return [est.coefs_[0].shape[0]] + [c.shape[1] for c in est.coefs_]


def _one_step(est, X, y, sample_weight=None, seed=0, scale=0.8):
    """One single-batch epoch from known weights.

    Fits once (``max_iter=1``) to build the model, overwrites ``coefs_`` and
    ``intercepts_`` in place with known values ``p0``, then fits one more
    epoch with ``warm_start`` (the optimizer state restarts at zero with every
    ``fit``).  Returns ``(p0, p1)`` as flat vectors in ``_pack`` layout.
    """
    est.set_params(max_iter=1, warm_start=True, shuffle=False, batch_size=X.shape[0])
    est.fit(X, y, sample_weight=sample_weight)
    rng = np.random.RandomState(seed)
    for W in est.coefs_:
        W[...] = rng.uniform(-scale, scale, W.shape)
    for b in est.intercepts_:
        b[...] = rng.uniform(-0.3, 0.3, b.shape)
    p0 = _flat(est)
    est.fit(X, y, sample_weight=sample_weight)
    return p0, _flat(est)


def _n_coef(units):
    return sum(a * b for a, b in zip(units[:-1], units[1:]))


# ---------------------------------------------- NumPy oracle (new features)


def _act(name, Z):
    """Hidden activations, written here from their definitions."""
    if name == "identity":
        return Z
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "logistic":
        return expit(Z)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, 0.01 * Z)
    if name == "elu":
        return np.where(Z > 0, Z, np.expm1(np.minimum(Z, 0)))
    if name == "gelu":
        return 0.5 * Z * (1 + erf(Z / np.sqrt(2)))
    if name == "silu":
        return Z * expit(Z)
    if name == "softplus":
        return np.logaddexp(0, Z)
    raise AssertionError(name)


def _np_forward(X, coefs, intercepts, acts, out):
    """Output of the network; ``acts`` one name per hidden layer."""
    A = X
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        Z = A @ W + b
        if i < len(coefs) - 1:
            A = _act(acts[i], Z)
        elif out == "identity":
            A = Z
        elif out == "softmax":
            E = np.exp(Z - Z.max(axis=1, keepdims=True))
            A = E / E.sum(axis=1, keepdims=True)
        else:
            A = expit(Z)
    return A


def _np_reg_loss(params, X, Y, units, acts, loss="squared_error", alpha=0.0,
                 alpha_l1=0.0, delta=1.0, sw=None):
    """Regression objective: data loss (weighted average over samples of the
    mean over outputs) + 0.5 alpha sum W^2 / sw_sum + alpha_l1 sum|W| / sw_sum."""
    coefs, intercepts = ref.unpack(np.asarray(params, dtype=np.float64), units)
    P = _np_forward(X, coefs, intercepts, acts, "identity")
    Y = Y.reshape(P.shape)
    R = P - Y
    if loss == "squared_error":
        per = 0.5 * R**2
    elif loss == "huber":
        a = np.abs(R)
        per = np.where(a <= delta, 0.5 * R**2, delta * (a - 0.5 * delta))
    else:
        per = np.abs(R)
    per_sample = per.mean(axis=1)
    sw_sum = X.shape[0] if sw is None else sw.sum()
    value = np.average(per_sample, weights=sw)
    value += 0.5 * alpha * sum((W**2).sum() for W in coefs) / sw_sum
    value += alpha_l1 * sum(np.abs(W).sum() for W in coefs) / sw_sum
    return value


def _fd_grad(fun, p, h=1e-6):
    """Central finite-difference gradient of ``fun`` at ``p``."""
    g = np.empty_like(p)
    for j in range(p.size):
        e = np.zeros_like(p)
        e[j] = h
        g[j] = (fun(p + e) - fun(p - e)) / (2 * h)
    return g


# =========================================================== 1. class_weight


@pytest.mark.parametrize("kind", ["dict", "partial_dict", "balanced"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("problem", ["multiclass", "binary"])
def test_class_weight_is_sample_weight_times_class_weight(kind, weighted, problem):
    if problem == "multiclass":
        X, y = _multiclass(imbalanced=True)
        cw = {3: 0.5, 7: 2.0, 11: 3.5}
    else:
        X, y = _binary()
        cw = {"neg": 0.7, "pos": 2.5}
    classes = np.unique(y)
    assert len(np.unique(np.bincount(np.searchsorted(classes, y)))) > 1  # imbalanced
    sw = np.random.RandomState(3).uniform(0.2, 3.0, size=len(y)) if weighted else None
    if kind == "partial_dict":  # classes left out weigh 1
        cw = {classes[0]: cw[classes[0]]}
    class_weight = cw if kind != "balanced" else "balanced"
    if kind != "balanced":
        per_class = np.array([cw.get(c, 1.0) for c in classes])
    else:
        per_class = compute_class_weight("balanced", classes=classes, y=y)
    per_sample = per_class[np.searchsorted(classes, y)]
    expected_sw = per_sample if sw is None else sw * per_sample

    params = dict(hidden_layer_sizes=(6,), max_iter=6, random_state=0, batch_size=16)
    a = MLPClassifier(class_weight=class_weight, **params).fit(X, y, sample_weight=sw)
    b = MLPClassifier(**params).fit(X, y, sample_weight=expected_sw)
    for Wa, Wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_allclose(Wa, Wb, rtol=1e-12, atol=0)
    assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)
    # and the weighting matters (the oracle is not vacuous)
    c = MLPClassifier(**params).fit(X, y, sample_weight=sw)
    assert not np.allclose(a.coefs_[0], c.coefs_[0])


def test_class_weight_dict_partial_fit_equals_sample_weight():
    X, y = _multiclass(imbalanced=True)
    cw = {3: 0.5, 7: 2.0, 11: 3.5}
    classes = np.unique(y)
    sw = np.array([cw[c] for c in y])
    a = MLPClassifier(hidden_layer_sizes=(5,), random_state=0, class_weight=cw)
    b = MLPClassifier(hidden_layer_sizes=(5,), random_state=0)
    for _ in range(3):
        a.partial_fit(X, y, classes=classes)
        b.partial_fit(X, y, sample_weight=sw, classes=classes)
    assert_allclose(_flat(a), _flat(b), rtol=1e-12, atol=0)


def test_class_weight_errors():
    X = np.random.RandomState(0).normal(size=(30, 4))
    Y = (np.random.RandomState(1).uniform(size=(30, 3)) < 0.5).astype(int)
    with pytest.raises(ValueError, match="multilabel"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, class_weight="balanced").fit(X, Y)
    with pytest.raises(ValueError):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, class_weight={0: 2.0}).fit(X, Y)
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), class_weight="balanced")
    with pytest.raises(ValueError, match="partial_fit"):
        est.partial_fit(X, y, classes=np.unique(y))
    assert not hasattr(est, "coefs_")
    with pytest.raises(InvalidParameterError):
        MLPClassifier(class_weight="auto").fit(X, y)


# ==================================================== 2. your own validation set


def _record_val(X_val):
    """A callback recording predict / predict_proba on X_val at every epoch."""
    record = {"pred": [], "proba": [], "history": None}

    def cb(est, history):
        record["pred"].append(est.predict(X_val))
        if hasattr(est, "predict_proba"):
            record["proba"].append(est.predict_proba(X_val))
        record["history"] = {k: list(v) for k, v in history.items()}
        return False

    return cb, record


def _split(X, y, n_val):
    return X[:-n_val], y[:-n_val], X[-n_val:], y[-n_val:]


@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("weighted_val", [False, True])
def test_validation_set_classifier_scores_loss_and_restore(weighted_val, dropout):
    X, y = _multiclass(n=120, seed=4)
    Xt, yt, Xv, yv = _split(X, y, 40)
    swv = np.random.RandomState(5).uniform(0.2, 2.0, size=40) if weighted_val else None
    k = 12
    cb, rec = _record_val(Xv)
    est = MLPClassifier(
        hidden_layer_sizes=(8,), max_iter=k, tol=0.0, n_iter_no_change=k,
        early_stopping=True, random_state=0, learning_rate_init=0.03,
        batch_size=20, callbacks=cb, dropout=dropout,
    )
    # (with dropout, the validation loss and score are those of the model
    # without dropout, i.e. of predict / predict_proba)
    est.fit(Xt, yt, X_val=Xv, y_val=yv, sample_weight_val=swv)
    assert est.n_iter_ == k
    # no internal split: every training sample is used in every epoch
    assert est.t_ == k * Xt.shape[0]
    assert len(est.validation_scores_) == k
    assert len(est.validation_loss_curve_) == k
    Yv = _onehot(est.classes_, yv)
    for i in range(k):
        assert est.validation_scores_[i] == pytest.approx(
            accuracy_score(yv, rec["pred"][i], sample_weight=swv), abs=1e-12
        )
        assert_allclose(
            est.validation_loss_curve_[i],
            ref.loss(Yv, rec["proba"][i], "softmax", sample_weight=swv),
            rtol=1e-10,
        )
    # the history seen by callbacks carries the same numbers
    assert_allclose(rec["history"]["val_loss"], est.validation_loss_curve_, rtol=0)
    assert_allclose(rec["history"]["val_score"], est.validation_scores_, rtol=0)
    assert_allclose(rec["history"]["loss"], est.loss_curve_, rtol=0)
    # the best epoch's weights are restored
    best = int(np.argmax(est.validation_scores_))
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.score(Xv, yv, sample_weight=swv) == pytest.approx(max(est.validation_scores_))
    assert_array_equal(est.predict(Xv), rec["pred"][best])
    assert_allclose(est.predict_proba(Xv), rec["proba"][best], rtol=1e-12)
    # the scores do change over training (else "restored" would be vacuous)
    assert len(set(est.validation_scores_)) > 1


def test_validation_set_internal_split_without_X_val():
    """Without X_val the internal split is used: fewer samples per epoch."""
    X, y = _multiclass(n=120, seed=4)
    est = MLPClassifier(
        hidden_layer_sizes=(8,), max_iter=3, tol=0.0, n_iter_no_change=3,
        early_stopping=True, random_state=0, batch_size=20,
    ).fit(X, y)
    assert est.t_ == 3 * (X.shape[0] - int(np.ceil(0.1 * X.shape[0])))
    assert len(est.validation_loss_curve_) == 3


def test_scoring_applies_to_the_internal_split():
    X, y = _multiclass(n=120, seed=4)
    params = dict(hidden_layer_sizes=(8,), max_iter=5, tol=0.0, n_iter_no_change=5,
                  early_stopping=True, random_state=0, batch_size=20)
    est = MLPClassifier(scoring="loss", **params).fit(X, y)
    assert_allclose(est.validation_scores_, -np.asarray(est.validation_loss_curve_), rtol=0)
    default = MLPClassifier(**params).fit(X, y)
    # the training itself is the same; only the scores differ
    assert_allclose(default.loss_curve_, est.loss_curve_, rtol=0)
    assert not np.allclose(default.validation_scores_, est.validation_scores_)


def test_callback_stop_with_early_stopping_restores_best_epoch():
    X, y = _multiclass(n=120, seed=4)
    Xt, yt, Xv, yv = _split(X, y, 40)
    cb, rec = _record_val(Xv)

    def stop_at_6(est, history):
        cb(est, history)
        return len(history["loss"]) == 6

    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, tol=0.0,
                        n_iter_no_change=50, early_stopping=True, random_state=0,
                        learning_rate_init=0.05, batch_size=20, scoring="loss",
                        callbacks=stop_at_6)
    est.fit(Xt, yt, X_val=Xv, y_val=yv)
    assert est.n_iter_ == 6
    best = int(np.argmax(est.validation_scores_))
    assert_allclose(est.predict_proba(Xv), rec["proba"][best], rtol=1e-12)


def test_validation_set_scoring_loss_and_neg_log_loss():
    X, y = _multiclass(n=120, seed=4)
    Xt, yt, Xv, yv = _split(X, y, 40)
    k = 8
    params = dict(
        hidden_layer_sizes=(8,), max_iter=k, tol=0.0, n_iter_no_change=k,
        early_stopping=True, random_state=0, learning_rate_init=0.03, batch_size=20,
    )
    est = MLPClassifier(scoring="loss", **params).fit(Xt, yt, X_val=Xv, y_val=yv)
    assert_allclose(est.validation_scores_, -np.asarray(est.validation_loss_curve_), rtol=0)
    best = int(np.argmin(est.validation_loss_curve_))
    assert_allclose(
        ref.loss(_onehot(est.classes_, yv), est.predict_proba(Xv), "softmax"),
        est.validation_loss_curve_[best], rtol=1e-10,
    )

    cb, rec = _record_val(Xv)
    est = MLPClassifier(scoring="neg_log_loss", callbacks=cb, **params)
    est.fit(Xt, yt, X_val=Xv, y_val=yv)
    expected = [-log_loss(yv, P, labels=est.classes_) for P in rec["proba"]]
    assert_allclose(est.validation_scores_, expected, rtol=1e-10)
    # same weights as scoring='loss' up to which epoch is restored: the
    # training itself does not depend on scoring
    assert_allclose(est.loss_curve_, MLPClassifier(scoring="loss", **params).fit(
        Xt, yt, X_val=Xv, y_val=yv).loss_curve_, rtol=0)


@pytest.mark.parametrize("scoring", [None, "r2", "neg_mean_absolute_error"])
def test_validation_set_regressor(scoring):
    X, y = _regression(n=90)
    Xt, yt, Xv, yv = _split(X, y, 30)
    k = 10
    cb, rec = _record_val(Xv)
    est = MLPRegressor(
        hidden_layer_sizes=(8,), max_iter=k, tol=0.0, n_iter_no_change=k,
        early_stopping=True, random_state=0, learning_rate_init=0.02,
        batch_size=15, scoring=scoring, callbacks=cb,
    ).fit(Xt, yt, X_val=Xv, y_val=yv)
    assert est.t_ == k * Xt.shape[0]
    for i in range(k):
        if scoring == "neg_mean_absolute_error":
            expected = -np.mean(np.abs(yv - rec["pred"][i]))
        else:
            expected = r2_score(yv, rec["pred"][i])
        assert_allclose(est.validation_scores_[i], expected, rtol=1e-10)
        assert_allclose(
            est.validation_loss_curve_[i], ref.loss(yv, rec["pred"][i], "identity"),
            rtol=1e-10,
        )
    best = int(np.argmax(est.validation_scores_))
    assert_allclose(est.predict(Xv), rec["pred"][best], rtol=1e-12)


def _huber(R, d):
    a = np.abs(R)
    return np.where(a <= d, 0.5 * R**2, d * (a - 0.5 * d))


@pytest.mark.parametrize("problem", ["binary", "multilabel", "huber", "absolute_error",
                                     "poisson"])
def test_validation_loss_curve_every_target_and_loss(problem):
    """validation_loss_curve_[i] is the data loss of epoch i's predictions,
    with the training loss (not scikit-learn's default for the target)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 5))
    if problem == "binary":
        y = np.where(X[:, 0] > 0, "pos", "neg")
        est = MLPClassifier()
        oracle = lambda yv, e, P: ref.loss((yv == "pos").astype(float), P[:, 1], "logistic")  # noqa
    elif problem == "multilabel":
        y = (X[:, :3] + rng.normal(size=(90, 3)) > 0).astype(int)
        est = MLPClassifier()
        oracle = lambda yv, e, P: ref.loss(yv, P, "logistic")  # noqa: E731
    elif problem == "poisson":
        y = rng.poisson(np.exp(0.5 * X[:, 0])).astype(float)
        est = MLPRegressor(loss="poisson")
        oracle = lambda yv, e, P: ref.loss(yv, P, "exp")  # noqa: E731
    else:
        y = 3 * X[:, 0] + X[:, 1]
        est = MLPRegressor(loss=problem, huber_delta=0.5)
        if problem == "huber":
            oracle = lambda yv, e, P: np.mean(_huber(P - yv, 0.5))  # noqa: E731
        else:
            oracle = lambda yv, e, P: np.mean(np.abs(P - yv))  # noqa: E731
    rec = []
    method = "predict_proba" if isinstance(est, MLPClassifier) else "predict"
    est.set_params(hidden_layer_sizes=(4,), max_iter=4, random_state=0,
                   learning_rate_init=0.01,
                   callbacks=lambda e, h: rec.append(getattr(e, method)(X[60:])))
    est.fit(X[:60], y[:60], X_val=X[60:], y_val=y[60:])
    expected = [oracle(y[60:], est, P) for P in rec]
    assert len(expected) == 4
    assert_allclose(est.validation_loss_curve_, expected, rtol=1e-10)


def test_validation_set_through_a_pipeline():
    from sklearn import config_context
    from sklearn.pipeline import Pipeline

    X, y = _multiclass(n=90)
    Xt, yt, Xv, yv = _split(X, y, 30)
    params = dict(hidden_layer_sizes=(4,), max_iter=3, early_stopping=True,
                  n_iter_no_change=10, random_state=0)
    direct = MLPClassifier(**params).fit(Xt, yt, X_val=Xv, y_val=yv)
    pipe = Pipeline([("mlp", MLPClassifier(**params))])
    pipe.fit(Xt, yt, mlp__X_val=Xv, mlp__y_val=yv)
    assert_array_equal(pipe[-1].validation_loss_curve_, direct.validation_loss_curve_)
    with config_context(enable_metadata_routing=True):
        est = MLPClassifier(**params).set_fit_request(X_val=True, y_val=True)
        Pipeline([("mlp", est)]).fit(Xt, yt, X_val=Xv, y_val=yv)
    assert_array_equal(est.validation_loss_curve_, direct.validation_loss_curve_)
    assert est.t_ == 3 * Xt.shape[0]


def test_validation_set_without_early_stopping_records_loss_only():
    X, y = _regression(n=90)
    Xt, yt, Xv, yv = _split(X, y, 30)
    cb, rec = _record_val(Xv)
    est = MLPRegressor(
        hidden_layer_sizes=(8,), max_iter=6, random_state=0, batch_size=15,
        learning_rate_init=0.02, callbacks=cb,
    ).fit(Xt, yt, X_val=Xv, y_val=yv)
    assert est.validation_scores_ is None
    assert len(est.validation_loss_curve_) == est.n_iter_ == 6
    for i in range(6):
        assert_allclose(est.validation_loss_curve_[i],
                        ref.loss(yv, rec["pred"][i], "identity"), rtol=1e-10)
    # no restore: the final weights are the last epoch's
    assert_allclose(est.predict(Xv), rec["pred"][-1], rtol=0)


def test_validation_set_errors():
    X, y = _multiclass(n=80)
    Xt, yt, Xv, yv = _split(X, y, 20)
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, early_stopping=True,
                        random_state=0)
    with pytest.raises(ValueError):
        est.fit(Xt, yt, X_val=Xv[:, :-1], y_val=yv)
    with pytest.raises(ValueError):
        est.fit(Xt, yt, y_val=yv)
    with pytest.raises(ValueError):
        est.fit(Xt, yt, X_val=Xv)
    with pytest.raises(ValueError):
        est.fit(Xt, yt, X_val=Xv, y_val=yv[:-1])
    with pytest.raises(ValueError):
        est.fit(Xt, yt, X_val=Xv, y_val=yv, sample_weight_val=np.ones(3))
    bad = yv.copy()
    bad[0] = 99
    with pytest.raises(ValueError, match="99|classes"):
        est.fit(Xt, yt, X_val=Xv, y_val=bad)
    assert not hasattr(est, "coefs_")
    # a failed fit leaves a previously fitted model unchanged
    est.fit(Xt, yt, X_val=Xv, y_val=yv)
    before = _flat(est).copy()
    with pytest.raises(ValueError):
        est.fit(Xt, yt, X_val=Xv, y_val=bad)
    assert_array_equal(_flat(est), before)


# ============================================================== 3. optimizers


def _opt_problem(weighted=False):
    X, y = _multiclass(n=30, n_features=4, seed=6)
    sw = np.random.RandomState(7).uniform(0.3, 2.0, size=30) if weighted else None
    return X, y, sw


def _expected_grad(est, p0, X, y, sw, alpha):
    Y = _onehot(est.classes_, y)
    value, g = ref.loss_grad(p0, X, Y, sw, _units(est), est.activation, "softmax", alpha)
    return value, g


OPT_COMMON = dict(hidden_layer_sizes=(5,), activation="tanh", random_state=0,
                  learning_rate_init=0.05, alpha=1e-3)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_one_epoch_sgd(weighted, nesterov, momentum):
    X, y, sw = _opt_problem(weighted)
    est = MLPClassifier(solver="sgd", momentum=momentum, nesterovs_momentum=nesterov,
                        **OPT_COMMON)
    p0, p1 = _one_step(est, X, y, sw)
    value, g = _expected_grad(est, p0, X, y, sw, est.alpha)
    lr, mu = est.learning_rate_init, momentum
    v = -lr * g  # velocity from zero
    expected = p0 + (mu * v - lr * g if nesterov else v)
    assert_allclose(p1, expected, rtol=1e-9, atol=1e-14)
    assert_allclose(est.loss_curve_[-1], value, rtol=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_one_epoch_adam(weighted):
    X, y, sw = _opt_problem(weighted)
    est = MLPClassifier(solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-7, **OPT_COMMON)
    p0, p1 = _one_step(est, X, y, sw)
    _, g = _expected_grad(est, p0, X, y, sw, est.alpha)
    m = (1 - 0.8) * g
    v = (1 - 0.99) * g**2
    lr_t = est.learning_rate_init * np.sqrt(1 - 0.99) / (1 - 0.8)
    assert_allclose(p1, p0 - lr_t * m / (np.sqrt(v) + 1e-7), rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("weight_decay", [0.0, 0.5])
@pytest.mark.parametrize("weighted", [False, True])
def test_one_epoch_adamw(weight_decay, weighted):
    X, y, sw = _opt_problem(weighted)
    est = MLPClassifier(solver="adamw", weight_decay=weight_decay, **OPT_COMMON)
    p0, p1 = _one_step(est, X, y, sw)
    _, g = _expected_grad(est, p0, X, y, sw, est.alpha)
    lr = est.learning_rate_init
    b1, b2, eps = est.beta_1, est.beta_2, est.epsilon
    m = (1 - b1) * g
    v = (1 - b2) * g**2
    lr_t = lr * np.sqrt(1 - b2) / (1 - b1)
    n_coef = _n_coef(_units(est))
    decay = np.ones_like(p0)
    decay[:n_coef] = 1 - lr * weight_decay  # coefs only, the schedule's rate
    expected = p0 * decay - lr_t * m / (np.sqrt(v) + eps)
    assert_allclose(p1, expected, rtol=1e-9, atol=1e-14)

    # against plain adam from the same weights: intercepts are not decayed,
    # coefs differ by exactly p0 * lr * weight_decay
    adam = MLPClassifier(solver="adam", **OPT_COMMON)
    q0, q1 = _one_step(adam, X, y, sw)
    assert_array_equal(q0, p0)
    assert_allclose(p1[n_coef:], q1[n_coef:], rtol=1e-13, atol=0)
    assert_allclose(q1[:n_coef] - p1[:n_coef], p0[:n_coef] * lr * weight_decay,
                    rtol=1e-7, atol=1e-15)


@pytest.mark.parametrize("solver", ["adam", "sgd", "rmsprop", "adagrad"])
def test_weight_decay_is_ignored_by_other_solvers(solver):
    X, y = _multiclass()
    base = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=4, random_state=0)
    a = MLPClassifier(weight_decay=0.0, **base).fit(X, y)
    b = MLPClassifier(weight_decay=0.5, **base).fit(X, y)
    assert_array_equal(_flat(a), _flat(b))


def test_adamw_two_epochs_matches_formula():
    """Two single-batch epochs: state carried, t = 2 bias correction, decay
    with the schedule's rate (not the bias-corrected one) each step."""
    X, y, _ = _opt_problem()
    wd = 0.3
    est = MLPClassifier(solver="adamw", weight_decay=wd, **OPT_COMMON)
    est.set_params(max_iter=1, warm_start=True, shuffle=False, batch_size=X.shape[0])
    est.fit(X, y)
    p0 = _flat(est).copy()
    est.set_params(max_iter=2)
    est.fit(X, y)
    p2 = _flat(est)
    lr, b1, b2, eps = est.learning_rate_init, est.beta_1, est.beta_2, est.epsilon
    n_coef = _n_coef(_units(est))
    decay = np.ones_like(p0)
    decay[:n_coef] = 1 - lr * wd
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t in (1, 2):
        _, g = _expected_grad(est, p, X, y, None, est.alpha)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        p = p * decay - lr_t * m / (np.sqrt(v) + eps)
    assert_allclose(p2, p, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("weighted", [False, True])
def test_one_epoch_rmsprop(weighted):
    X, y, sw = _opt_problem(weighted)
    est = MLPClassifier(solver="rmsprop", rho=0.7, epsilon=1e-6, **OPT_COMMON)
    p0, p1 = _one_step(est, X, y, sw)
    _, g = _expected_grad(est, p0, X, y, sw, est.alpha)
    s = (1 - 0.7) * g**2
    expected = p0 - est.learning_rate_init * g / (np.sqrt(s) + 1e-6)
    assert_allclose(p1, expected, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("weighted", [False, True])
def test_one_epoch_adagrad(weighted):
    X, y, sw = _opt_problem(weighted)
    est = MLPClassifier(solver="adagrad", epsilon=1e-6, rho=0.3, **OPT_COMMON)
    p0, p1 = _one_step(est, X, y, sw)
    _, g = _expected_grad(est, p0, X, y, sw, est.alpha)
    s = g**2  # accumulates, rho plays no part
    expected = p0 - est.learning_rate_init * g / (np.sqrt(s) + 1e-6)
    assert_allclose(p1, expected, rtol=1e-9, atol=1e-14)


def test_adagrad_two_epochs_accumulates():
    X, y, _ = _opt_problem()
    est = MLPClassifier(solver="adagrad", **OPT_COMMON)
    est.set_params(max_iter=1, warm_start=True, shuffle=False, batch_size=X.shape[0])
    est.fit(X, y)
    p = _flat(est).copy()
    est.set_params(max_iter=2)
    est.fit(X, y)
    s = np.zeros_like(p)
    for _ in range(2):
        _, g = _expected_grad(est, p, X, y, None, est.alpha)
        s = s + g**2
        p = p - est.learning_rate_init * g / (np.sqrt(s) + est.epsilon)
    assert_allclose(_flat(est), p, rtol=1e-9, atol=1e-14)


# =============================================================== 4. schedules


def _record_lr():
    rec = {}

    def cb(est, history):
        rec["lr"] = list(history["learning_rate"])
        return False

    return cb, rec


@pytest.mark.parametrize("schedule", ["cosine", "exponential", "step", "constant"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "adamw"])
def test_schedule_history_matches_epoch_learning_rate(schedule, solver):
    X, y = _multiclass()
    cb, rec = _record_lr()
    kw = dict(learning_rate=schedule, learning_rate_init=0.02, warmup_epochs=3,
              lr_decay=0.6, lr_step_size=2, lr_min=1e-3, max_iter=12)
    est = MLPClassifier(hidden_layer_sizes=(4,), solver=solver, random_state=0,
                        tol=0.0, n_iter_no_change=100, callbacks=cb, **kw)
    est.fit(X, y)
    assert est.n_iter_ == 12
    expected = [
        epoch_learning_rate(schedule, e, learning_rate_init=0.02, max_iter=12,
                            warmup_epochs=3, lr_decay=0.6, lr_step_size=2, lr_min=1e-3)
        for e in range(12)
    ]
    assert_allclose(rec["lr"], expected, rtol=1e-15)
    # spot values written from the formulas
    assert_allclose(rec["lr"][:3], [0.02 / 4, 0.02 * 2 / 4, 0.02 * 3 / 4], rtol=1e-15)
    assert rec["lr"][3] == pytest.approx(0.02)
    if schedule == "exponential":
        assert rec["lr"][5] == pytest.approx(0.02 * 0.6**2)
    if schedule == "step":
        assert rec["lr"][6] == pytest.approx(0.02 * 0.6)
        assert rec["lr"][11] == pytest.approx(max(1e-3, 0.02 * 0.6**4))
    if schedule == "cosine":
        assert rec["lr"][-1] > 1e-3 and rec["lr"][-1] < rec["lr"][-2]


@pytest.mark.parametrize("warmup", [0, 2])
def test_invscaling_history_is_scikit_learns_rule_times_warmup(warmup):
    X, y = _multiclass()
    n = X.shape[0]
    cb, rec = _record_lr()
    MLPClassifier(hidden_layer_sizes=(3,), solver="sgd", learning_rate="invscaling",
                  learning_rate_init=0.01, power_t=0.5, warmup_epochs=warmup,
                  max_iter=5, random_state=0, callbacks=cb).fit(X, y)
    sk_rule = [0.01 / (e * n + 1) ** 0.5 for e in range(5)]
    factor = [(e + 1) / (warmup + 1) if e < warmup else 1.0 for e in range(5)]
    assert_allclose(rec["lr"], np.multiply(sk_rule, factor), rtol=1e-14)


def _glorot_init(units, activation, random_state):
    """scikit-learn's initialisation (MLP._init_coef), drawn in its order."""
    rng = np.random.RandomState(random_state)
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(units[:-1], units[1:]):
        factor = 2.0 if activation == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
        intercepts.append(rng.uniform(-bound, bound, fan_out))
    return ref.pack(coefs, intercepts)


@pytest.mark.parametrize("warmup", [0, 3])
def test_warmup_first_epoch_step_is_lr_over_w_plus_1(warmup):
    """sgd 'constant', momentum 0, one single-batch epoch from the initial
    weights: delta == -lr / (W + 1) * grad."""
    X, y, _ = _opt_problem()
    est = MLPClassifier(solver="sgd", momentum=0.0, warmup_epochs=warmup, max_iter=1,
                        shuffle=False, batch_size=X.shape[0], **OPT_COMMON)
    est.fit(X, y)
    p0 = _glorot_init(_units(est), "tanh", 0)
    _, g = _expected_grad(est, p0, X, y, None, est.alpha)
    lr_eff = est.learning_rate_init / (warmup + 1)
    assert_allclose(_flat(est) - p0, -lr_eff * g, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("schedule", ["constant", "exponential", "step"])
def test_schedule_second_epoch_step_uses_scheduled_rate(schedule):
    """The rate of epoch 1 (after a warm-started epoch 0) is applied as is."""
    X, y, _ = _opt_problem()
    est = MLPClassifier(solver="sgd", momentum=0.0, learning_rate=schedule,
                        warmup_epochs=0 if schedule != "constant" else 2,
                        lr_decay=0.5, lr_step_size=1, **OPT_COMMON)
    p0, p1 = _one_step(est, X, y)
    _, g = _expected_grad(est, p0, X, y, None, est.alpha)
    lr1 = epoch_learning_rate(schedule, 1, learning_rate_init=est.learning_rate_init,
                              max_iter=1, warmup_epochs=est.warmup_epochs,
                              lr_decay=0.5, lr_step_size=1)
    assert lr1 != est.learning_rate_init
    assert_allclose(p1 - p0, -lr1 * g, rtol=1e-9, atol=1e-15)


# ================================================================ 5. clipping


def test_grad_clip_norm_moves_by_lr_times_c():
    X, y, _ = _opt_problem()
    est0 = MLPClassifier(solver="sgd", momentum=0.0, **OPT_COMMON)
    p0, _ = _one_step(est0, X, y)
    _, g = _expected_grad(est0, p0, X, y, None, est0.alpha)
    gnorm = np.linalg.norm(g)
    lr = est0.learning_rate_init
    c = 0.25 * gnorm
    est = MLPClassifier(solver="sgd", momentum=0.0, grad_clip_norm=c, **OPT_COMMON)
    q0, q1 = _one_step(est, X, y)
    assert_array_equal(q0, p0)
    assert_allclose(np.linalg.norm(q1 - q0), lr * c, rtol=1e-9)
    assert_allclose(q1 - q0, -lr * g * (c / gnorm), rtol=1e-9, atol=1e-15)
    # a bound above the gradient norm changes nothing
    est = MLPClassifier(solver="sgd", momentum=0.0, grad_clip_norm=2 * gnorm, **OPT_COMMON)
    r0, r1 = _one_step(est, X, y)
    assert_allclose(r1 - r0, -lr * g, rtol=1e-9, atol=1e-15)


def test_grad_clip_value_bounds_each_parameter_move():
    X, y, _ = _opt_problem()
    est0 = MLPClassifier(solver="sgd", momentum=0.0, **OPT_COMMON)
    p0, _ = _one_step(est0, X, y)
    _, g = _expected_grad(est0, p0, X, y, None, est0.alpha)
    lr = est0.learning_rate_init
    v = float(np.quantile(np.abs(g), 0.5))
    est = MLPClassifier(solver="sgd", momentum=0.0, grad_clip_value=v, **OPT_COMMON)
    q0, q1 = _one_step(est, X, y)
    moves = np.abs(q1 - q0)
    assert moves.max() <= lr * v * (1 + 1e-9)
    assert np.sum(np.isclose(moves, lr * v, rtol=1e-9)) >= g.size // 3
    assert_allclose(q1 - q0, -lr * np.clip(g, -v, v), rtol=1e-9, atol=1e-15)


# ================================================================= 6. dropout


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


@pytest.mark.needs_threads
def test_dropout_independent_of_thread_count():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 100))
    y = (X[:, :3].sum(axis=1) > 0).astype(int) + (X[:, 3] > 1)
    params = dict(hidden_layer_sizes=(256, 128), batch_size=512, max_iter=2,
                  random_state=0, dropout=[0.3, 0.2], input_dropout=0.1)
    fits = []
    for n in (1, 2):
        with threadpoolctl.threadpool_limits(limits=n):
            fits.append(MLPClassifier(**params).fit(X, y))
    assert_array_equal(_flat(fits[0]), _flat(fits[1]))
    assert_array_equal(fits[0].loss_curve_, fits[1].loss_curve_)


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


# ================================================================ 7. max_norm


def _column_norms(est):
    return [np.linalg.norm(W, axis=0) for W in est.coefs_]


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_max_norm_bounds_every_incoming_column(solver):
    X, y = _multiclass(n=80)
    c = 0.4
    est = MLPClassifier(hidden_layer_sizes=(10, 6), solver=solver, max_norm=c,
                        learning_rate_init=0.05, max_iter=10, random_state=0).fit(X, y)
    norms = np.concatenate(_column_norms(est))
    assert norms.max() <= c * (1 + 1e-6)
    assert np.sum(np.abs(norms - c) <= 1e-6 * c) >= len(norms) // 2
    for n in _column_norms(est):
        assert np.any(np.abs(n - c) <= 1e-6 * c)  # every layer is constrained
    free = MLPClassifier(hidden_layer_sizes=(10, 6), solver=solver,
                         learning_rate_init=0.05, max_iter=10, random_state=0).fit(X, y)
    assert np.concatenate(_column_norms(free)).max() > 2 * c


def test_max_norm_one_step_rescales_columns():
    """One single-batch sgd epoch: W1 = renorm(W0 - lr g) column by column."""
    X, y, _ = _opt_problem()
    c = 0.6
    est = MLPClassifier(solver="sgd", momentum=0.0, max_norm=c, **OPT_COMMON)
    p0, p1 = _one_step(est, X, y, scale=1.5)
    _, g = _expected_grad(est, p0, X, y, None, est.alpha)
    q = p0 - est.learning_rate_init * g
    coefs, intercepts = ref.unpack(q, _units(est))
    for W in coefs:
        n = np.linalg.norm(W, axis=0)
        W *= np.where(n > c, c / n, 1.0)
    assert_allclose(p1, q, rtol=1e-9, atol=1e-15)


def test_validation_sample_weight_alone_is_rejected():
    """sample_weight_val without X_val/y_val cannot be used: like y_val alone,
    it must raise rather than be silently ignored."""
    X, y = _multiclass(n=80)
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, early_stopping=True,
                        random_state=0)
    with pytest.raises(ValueError):
        est.fit(X, y, sample_weight_val=np.ones(10))


def test_max_norm_with_lbfgs_is_honoured_or_rejected():
    """max_norm is a constraint on the fitted weights: with solver='lbfgs'
    (which has no stochastic updates) it must either hold after fit or be
    refused, as dropout is -- not silently ignored."""
    X, y = _multiclass(n=80)
    c = 0.1
    est = MLPClassifier(hidden_layer_sizes=(6,), solver="lbfgs", max_norm=c,
                        max_iter=50, random_state=0)
    try:
        est.fit(X, y)
    except ValueError:
        return
    assert np.concatenate(_column_norms(est)).max() <= c * (1 + 1e-6)


def test_max_norm_large_is_a_no_op():
    X, y = _multiclass()
    base = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    a = MLPClassifier(**base).fit(X, y)
    b = MLPClassifier(max_norm=1e6, **base).fit(X, y)
    assert_allclose(_flat(a), _flat(b), rtol=1e-12, atol=0)


# ===================================================== 8. new activations


@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
def test_new_activation_predict_matches_numpy_forward(name):
    X, y = _regression()
    reg = MLPRegressor(hidden_layer_sizes=(6,), activation=name, max_iter=20,
                       random_state=0, learning_rate_init=0.01).fit(X, y)
    expected = _np_forward(X, reg.coefs_, reg.intercepts_, [name], "identity").ravel()
    assert_allclose(reg.predict(X), expected, rtol=1e-10, atol=1e-13)
    Xc, yc = _multiclass()
    clf = MLPClassifier(hidden_layer_sizes=(6,), activation=name, max_iter=20,
                        random_state=0).fit(Xc, yc)
    expected = _np_forward(Xc, clf.coefs_, clf.intercepts_, [name], "softmax")
    assert_allclose(clf.predict_proba(Xc), expected, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("acts", [["gelu", "tanh"], ["leaky_relu", "silu"],
                                  ("elu", "softplus"), ["relu", "logistic"]])
def test_activation_list_predict_matches_numpy_forward(acts):
    X, y = _regression()
    reg = MLPRegressor(hidden_layer_sizes=(6, 5), activation=acts, max_iter=20,
                       random_state=0, learning_rate_init=0.01).fit(X, y)
    expected = _np_forward(X, reg.coefs_, reg.intercepts_, list(acts), "identity").ravel()
    assert_allclose(reg.predict(X), expected, rtol=1e-10, atol=1e-13)
    # the list is applied layer by layer (not, e.g., its first name everywhere)
    swapped = _np_forward(X, reg.coefs_, reg.intercepts_, list(acts)[::-1], "identity")
    assert not np.allclose(reg.predict(X), swapped.ravel())


@pytest.mark.parametrize("acts", [("gelu",), ("leaky_relu",), ("elu",), ("silu",),
                                  ("softplus",), ("gelu", "elu"), ("silu", "leaky_relu")])
def test_new_activation_gradient_by_finite_differences(acts):
    """One single-batch sgd epoch moves the weights by -lr * (numerical
    gradient of the NumPy objective): the backward pass of each activation."""
    X, y = _regression(n=25)
    hidden = (5, 4)[: len(acts)]
    activation = acts[0] if len(acts) == 1 else list(acts)
    est = MLPRegressor(hidden_layer_sizes=hidden, activation=activation, solver="sgd",
                       momentum=0.0, learning_rate_init=0.1, alpha=1e-2, random_state=0)
    p0, p1 = _one_step(est, X, y, scale=1.0)
    units = _units(est)
    g = _fd_grad(lambda p: _np_reg_loss(p, X, y, units, list(acts), alpha=1e-2), p0)
    assert_allclose((p1 - p0) / -0.1, g, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", ["logistic", "relu", "gelu"])
def test_activation_list_of_one_name_equals_the_name(name):
    """A list repeating one name is that name: same initialisation
    (scikit-learn's Glorot factor 2 for logistic) and same training."""
    X, y = _multiclass()
    base = dict(hidden_layer_sizes=(5, 4), max_iter=4, random_state=0)
    a = MLPClassifier(activation=name, **base).fit(X, y)
    b = MLPClassifier(activation=[name, name], **base).fit(X, y)
    assert_array_equal(_flat(a), _flat(b))


def test_activation_errors():
    X, y = _regression()
    with pytest.raises(ValueError):
        MLPRegressor(hidden_layer_sizes=(4, 3), activation=["gelu"], max_iter=2).fit(X, y)
    with pytest.raises(ValueError):
        MLPRegressor(hidden_layer_sizes=(4, 3), activation=["gelu", "swish"],
                     max_iter=2).fit(X, y)
    with pytest.raises(InvalidParameterError):
        MLPRegressor(activation="swish").fit(X, y)
    with pytest.raises(InvalidParameterError):
        MLPRegressor(activation=3).fit(X, y)


# ================================================== 9. Huber, absolute, L1


def test_huber_with_large_delta_equals_squared_error():
    X, y = _regression()
    base = dict(hidden_layer_sizes=(6,), max_iter=8, random_state=0, batch_size=10,
                learning_rate_init=0.01)
    a = MLPRegressor(loss="squared_error", **base).fit(X, y)
    b = MLPRegressor(loss="huber", huber_delta=1e6, **base).fit(X, y)
    assert_allclose(_flat(b), _flat(a), rtol=1e-12, atol=0)
    assert_allclose(b.loss_curve_, a.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("loss,delta", [("huber", 0.3), ("huber", 1.0),
                                        ("absolute_error", 1.0)])
@pytest.mark.parametrize("n_outputs", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_robust_loss_one_step_and_loss_value(loss, delta, n_outputs, weighted):
    X, y = _regression(n=30, n_outputs=n_outputs)
    y = y * 3  # residuals on both sides of delta
    sw = np.random.RandomState(1).uniform(0.3, 2.0, size=30) if weighted else None
    est = MLPRegressor(loss=loss, huber_delta=delta, hidden_layer_sizes=(5,),
                       activation="tanh", solver="sgd", momentum=0.0,
                       learning_rate_init=0.1, alpha=1e-2, random_state=0)
    p0, p1 = _one_step(est, X, y, sample_weight=sw)
    units = _units(est)

    def fun(p):
        return _np_reg_loss(p, X, y, units, ["tanh"], loss=loss, alpha=1e-2,
                            delta=delta, sw=sw)

    assert_allclose(est.loss_curve_[-1], fun(p0), rtol=1e-10)
    if loss == "huber":  # both regimes are exercised
        coefs, intercepts = ref.unpack(p0, units)
        R = np.abs(_np_forward(X, coefs, intercepts, ["tanh"], "identity")
                   - y.reshape(30, -1))
        assert (R <= delta).any() and (R > delta).any()
    g = _fd_grad(fun, p0)
    assert_allclose((p1 - p0) / -0.1, g, rtol=1e-5, atol=1e-8)


def test_absolute_error_trains_and_reduces_mae():
    X, y = _regression(n=80)
    est = MLPRegressor(loss="absolute_error", hidden_layer_sizes=(8,), max_iter=1,
                       random_state=0, learning_rate_init=0.01)
    est.fit(X, y)
    mae0 = np.mean(np.abs(est.predict(X) - y))
    est.set_params(max_iter=150).fit(X, y)
    mae = np.mean(np.abs(est.predict(X) - y))
    assert mae < 0.6 * mae0
    # its loss_curve_ is the mean absolute error (plus a tiny L2 term)
    assert est.loss_curve_[-1] == pytest.approx(mae, rel=0.1)


def test_l1_shrinks_weights_and_enters_the_loss():
    X, y = _regression(n=80)
    base = dict(hidden_layer_sizes=(10,), max_iter=60, random_state=0,
                learning_rate_init=0.01, alpha=0.0)
    a = MLPRegressor(**base).fit(X, y)
    b = MLPRegressor(alpha_l1=0.5, **base).fit(X, y)
    l1 = lambda est: sum(np.abs(W).sum() for W in est.coefs_)  # noqa: E731
    assert l1(b) < 0.8 * l1(a)

    # the first batch's loss is computed at the initial weights, identical for
    # both: the difference is exactly alpha_l1 * sum|W0| / n
    single = dict(base, max_iter=1, batch_size=X.shape[0], shuffle=False)
    a1 = MLPRegressor(**single).fit(X, y)
    b1 = MLPRegressor(alpha_l1=0.5, **single).fit(X, y)
    p0 = _glorot_init(_units(a1), "relu", 0)
    W0 = ref.unpack(p0, _units(a1))[0]
    expected = 0.5 * sum(np.abs(W).sum() for W in W0) / X.shape[0]
    assert_allclose(b1.loss_curve_[0] - a1.loss_curve_[0], expected, rtol=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
def test_l1_one_step_gradient(weighted):
    X, y, sw = _opt_problem(weighted)
    a1 = 0.05
    est = MLPClassifier(solver="sgd", momentum=0.0, alpha_l1=a1, **OPT_COMMON)
    p0, p1 = _one_step(est, X, y, sw)
    value, g = _expected_grad(est, p0, X, y, sw, est.alpha)
    n_coef = _n_coef(_units(est))
    sw_sum = X.shape[0] if sw is None else sw.sum()
    g[:n_coef] += a1 * np.sign(p0[:n_coef]) / sw_sum
    assert_allclose(p1 - p0, -est.learning_rate_init * g, rtol=1e-9, atol=1e-15)
    assert_allclose(est.loss_curve_[-1],
                    value + a1 * np.abs(p0[:n_coef]).sum() / sw_sum, rtol=1e-10)


# ================================================================= 10. watching


def test_verbose_2_prints_one_epoch_line_per_epoch(capsys):
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0, verbose=2)
    est.fit(X, y)
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if re.match(r"^Epoch \d+/5: ", ln)]
    assert [int(re.match(r"^Epoch (\d+)/", ln).group(1)) for ln in lines] == [1, 2, 3, 4, 5]
    for ln, loss in zip(lines, est.loss_curve_):
        assert "loss=%.6f" % loss in ln
    assert "Iteration" not in out


def test_verbose_2_epoch_numbers_with_warm_start(capsys):
    """A warm-started fit of max_iter=N runs N epochs: its lines must not
    claim more epochs than planned ("Epoch 4/3")."""
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0, verbose=2,
                        warm_start=True)
    est.fit(X, y)
    est.fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Epoch ")]
    assert len(lines) == 6
    for ln in lines:
        done, planned = map(int, re.match(r"^Epoch (\d+)/(\d+):", ln).groups())
        assert 1 <= done <= planned, ln


def test_verbose_2_partial_fit_does_not_claim_max_iter_epochs(capsys):
    """partial_fit runs one epoch per call: as EpochReporter documents
    (max_iter=None for partial_fit), its lines read "Epoch k", not
    "Epoch k/200" (max_iter plays no part in partial_fit)."""
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), random_state=0, verbose=2)
    est.partial_fit(X, y, classes=np.unique(y))
    est.partial_fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Epoch ")]
    assert len(lines) == 2
    for k, ln in enumerate(lines, start=1):
        assert ln.startswith("Epoch %d: " % k), ln


def test_verbose_true_prints_scikit_learn_lines(capsys):
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=4, random_state=0, verbose=True)
    est.fit(X, y)
    out = capsys.readouterr().out
    expected = ["Iteration %d, loss = %.8f" % (i + 1, l) for i, l in enumerate(est.loss_curve_)]
    got = [ln for ln in out.splitlines() if ln.startswith("Iteration")]
    assert got == expected
    assert "Epoch " not in out


def test_max_time_tiny_stops_after_first_epoch():
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=50, random_state=0, max_time=1e-9)
    est.fit(X, y)
    assert est.n_iter_ == 1
    assert len(est.loss_curve_) == 1


def test_callback_stop_at_epoch_3_and_all_callbacks_called():
    X, y = _multiclass()
    calls = {"a": 0, "b": 0}

    def stop_at_3(est, history):
        calls["a"] += 1
        assert len(history["loss"]) == est.n_iter_
        return len(history["loss"]) == 3

    def logger(est, history):
        calls["b"] += 1

    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=50, random_state=0,
                        callbacks=[stop_at_3, logger])
    est.fit(X, y)
    assert est.n_iter_ == 3
    assert calls == {"a": 3, "b": 3}
    # a single callable (not in a list) works too
    est.set_params(callbacks=stop_at_3).fit(X, y)
    assert est.n_iter_ == 3


def test_callback_that_raises_propagates_and_leaves_model_unchanged():
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    before = _flat(est).copy()
    curve = list(est.loss_curve_)
    P = est.predict_proba(X)

    def boom(est, history):
        if len(history["loss"]) == 2:
            raise RuntimeError("boom")

    for warm in (False, True):
        est.set_params(callbacks=boom, warm_start=warm, random_state=1)
        with pytest.raises(RuntimeError, match="boom"):
            est.fit(X, y)
        assert_array_equal(_flat(est), before)
        assert est.loss_curve_ == curve
        assert est.n_iter_ == 5
        assert_array_equal(est.predict_proba(X), P)
    # and a fresh model is left unfitted
    fresh = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, callbacks=boom)
    with pytest.raises(RuntimeError):
        fresh.fit(X, y)
    assert not hasattr(fresh, "coefs_")


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_that_fails_after_its_step_is_undone_exactly(solver):
    # the step has already moved the weights and the optimizer state in
    # place and appended to loss_curve_ when the callback raises
    X, y = _multiclass()
    twin, est = (
        MLPClassifier(hidden_layer_sizes=(4,), solver=solver, random_state=0)
        for _ in range(2)
    )
    for model in (twin, est):
        for _ in range(3):
            model.partial_fit(X, y, classes=np.unique(y))

    def boom(est, history):
        raise RuntimeError("boom")

    est.set_params(callbacks=boom)
    with pytest.raises(RuntimeError, match="boom"):
        est.partial_fit(X, y)
    est.set_params(callbacks=None)
    assert est.loss_curve_ == twin.loss_curve_
    assert (est.n_iter_, est.t_) == (twin.n_iter_, twin.t_)
    for model in (twin, est):
        model.partial_fit(X, y)
    assert_array_equal(_flat(est), _flat(twin))
    assert est.loss_curve_ == twin.loss_curve_


def test_a_fresh_model_that_fails_is_left_unfitted():
    X, y = _multiclass()

    def boom(est, history):
        raise RuntimeError("boom")

    fresh = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, callbacks=boom)
    with pytest.raises(RuntimeError):
        fresh.fit(X, y)
    assert not hasattr(fresh, "coefs_")


@pytest.mark.parametrize("how", ["max_time", "callback"])
def test_early_stop_by_budget_or_callback_warns_nothing(how):
    import warnings

    X, y = _multiclass()
    extra = {"max_time": 1e-9} if how == "max_time" else {
        "callbacks": lambda est, h: len(h["loss"]) == 2}
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    assert est.n_iter_ == (1 if how == "max_time" else 2)


def test_verbose_2_reports_validation(capsys):
    X, y = _multiclass(n=90)
    Xt, yt, Xv, yv = _split(X, y, 30)
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0, verbose=2,
                        early_stopping=True, n_iter_no_change=10)
    est.fit(Xt, yt, X_val=Xv, y_val=yv)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Epoch ")]
    assert len(lines) == 3
    for ln, vl, vs in zip(lines, est.validation_loss_curve_, est.validation_scores_):
        assert "val_loss=%.6f" % vl in ln
        assert "val_score=%.6f" % vs in ln


def test_callbacks_not_callable():
    X, y = _multiclass()
    with pytest.raises(TypeError):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, callbacks=[1]).fit(X, y)
    with pytest.raises(TypeError):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2,
                      callbacks=[lambda e, h: False, "x"]).fit(X, y)
    with pytest.raises(InvalidParameterError):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, callbacks=5).fit(X, y)


# ====================================================================== 11. API


def test_new_parameters_in_get_params():
    clf = MLPClassifier().get_params()
    reg = MLPRegressor().get_params()
    for name in NEW_PARAMS:
        assert name in clf and name in reg, name
    assert "class_weight" in clf and "class_weight" not in reg
    assert "huber_delta" in reg and "huber_delta" not in clf


@pytest.mark.parametrize("Est,params", [
    (MLPClassifier, {"dropout": 1.0}),
    (MLPClassifier, {"dropout": -0.1}),
    (MLPClassifier, {"input_dropout": -0.1}),
    (MLPClassifier, {"input_dropout": 1.0}),
    (MLPClassifier, {"max_norm": 0}),
    (MLPClassifier, {"weight_decay": -1}),
    (MLPClassifier, {"lr_decay": 0}),
    (MLPClassifier, {"lr_decay": 1.5}),
    (MLPClassifier, {"warmup_epochs": -1}),
    (MLPClassifier, {"warmup_epochs": 1.5}),
    (MLPClassifier, {"lr_step_size": 0}),
    (MLPClassifier, {"lr_min": -1e-3}),
    (MLPClassifier, {"grad_clip_value": 0}),
    (MLPClassifier, {"grad_clip_norm": 0}),
    (MLPClassifier, {"alpha_l1": -0.1}),
    (MLPClassifier, {"rho": 1.0}),
    (MLPClassifier, {"max_time": 0}),
    (MLPClassifier, {"class_weight": "auto"}),
    (MLPClassifier, {"learning_rate": "linear"}),
    (MLPClassifier, {"solver": "adamax"}),
    (MLPRegressor, {"huber_delta": 0}),
    (MLPRegressor, {"loss": "hinge"}),
    (MLPRegressor, {"learning_rate": "linear"}),
])
def test_invalid_values_raise_invalid_parameter_error(Est, params):
    X, y = _multiclass() if Est is MLPClassifier else _regression()
    with pytest.raises(InvalidParameterError):
        Est(hidden_layer_sizes=(3,), max_iter=2, **params).fit(X, y)


def test_grid_search_over_new_options():
    X, y = _multiclass(n=60)
    grid = GridSearchCV(
        MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0),
        {"dropout": [0.0, 0.2], "solver": ["adamw", "adagrad"],
         "activation": ["gelu", "silu"]},
        cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 8
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_estimator_.solver in ("adamw", "adagrad")


def test_clone_and_pickle_keep_new_options():
    X, y = _multiclass()
    params = dict(hidden_layer_sizes=(5, 4), solver="adamw", weight_decay=0.05,
                  activation=["gelu", "elu"], dropout=[0.1, 0.2], input_dropout=0.05,
                  max_norm=2.0, grad_clip_norm=5.0, grad_clip_value=1.0,
                  learning_rate="cosine", warmup_epochs=2, lr_min=1e-4, alpha_l1=1e-3,
                  class_weight="balanced", scoring="loss", max_time=100.0,
                  callbacks=None, max_iter=6, random_state=0)
    est = MLPClassifier(**params)
    c = clone(est)
    for k, v in params.items():
        assert c.get_params()[k] == v, k
    est.fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    assert loaded.get_params() == est.get_params()
    # the loaded model keeps training exactly as the original
    est.set_params(warm_start=True, max_iter=2)
    loaded.set_params(warm_start=True, max_iter=2)
    est.fit(X, y)
    loaded.fit(X, y)
    assert_array_equal(_flat(loaded), _flat(est))
    reg = MLPRegressor(loss="huber", huber_delta=0.5, hidden_layer_sizes=(4,), max_iter=3,
                       random_state=0)
    assert clone(reg).get_params()["huber_delta"] == 0.5


def test_lbfgs_honours_callbacks_and_max_time():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X[:400] / 16
    y = y[:400]
    seen = []

    def stop_at_three(est, history):
        seen.append(history["loss"][-1])
        return len(history["loss"]) >= 3

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MLPClassifier((16,), solver="lbfgs", max_iter=100, random_state=0,
                            callbacks=stop_at_three).fit(X, y)
    assert est.n_iter_ == 3
    assert seen == sorted(seen, reverse=True)  # L-BFGS losses decrease
    assert est.loss_ == pytest.approx(seen[-1])
    with pytest.raises(ValueError, match="lbfgs"):
        MLPClassifier((16,), solver="lbfgs", max_norm=1.0).fit(X, y)
    with pytest.raises(ValueError, match="lbfgs"):
        MLPClassifier((16,), solver="lbfgs").fit(X, y, X_val=X, y_val=y)


@pytest.mark.parametrize(
    "option", [{"dropout": 0.3}, {"input_dropout": 0.2}, {"max_norm": 0.5}]
)
def test_cached_training_layout_is_keyed_by_every_option(option):
    """Layouts are cached; a fit after one with another option must get its
    own layout, so it trains exactly as it does with an empty cache."""
    from fastmlp import _engine

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] > 0).astype(int)
    params = dict(hidden_layer_sizes=(7,), max_iter=3, batch_size=16, random_state=0)
    _engine.layout_for.cache_clear()
    MLPClassifier(**params, **option).fit(X, y)
    after_other = MLPClassifier(**params).fit(X, y)
    _engine.layout_for.cache_clear()
    fresh = MLPClassifier(**params).fit(X, y)
    for a, b in zip(after_other.coefs_ + after_other.intercepts_, fresh.coefs_ + fresh.intercepts_):
        np.testing.assert_array_equal(a, b)
