"""A validation set of your own (``X_val`` / ``y_val`` /
``sample_weight_val``) and ``scoring``, at the estimator level.

The set is scored and its loss recorded exactly as the per-epoch predictions
(recorded by a callback) say, with the training loss (not scikit-learn's
default for the target) for every target and loss; the best epoch's weights
are restored; ``scoring`` also applies to the internal split; ``X_val`` routes
through a Pipeline; bad or partial validation arguments raise and leave a
fitted model unchanged.

Everything runs in float64 on small data and small networks.
"""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import accuracy_score, log_loss, r2_score

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp import _reference as ref

from _option_helpers import (
    _multiclass,
    _regression,
    _onehot,
    _flat,
    _split,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


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


def test_bad_sample_weight_val_is_named():
    # scikit-learn's checks, which named sample_weight: the parameter given
    X, y = _multiclass(n=80)
    Xt, yt, Xv, yv = _split(X, y, 20)
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with pytest.raises(ValueError, match=r"^sample_weight_val.shape == \(19,\), expected"):
        est.fit(Xt, yt, X_val=Xv, y_val=yv, sample_weight_val=np.ones(19))
    with pytest.raises(ValueError, match="^Input sample_weight_val contains NaN"):
        est.fit(Xt, yt, X_val=Xv, y_val=yv, sample_weight_val=np.full(20, np.nan))
    # scikit-learn 1.9's check refuses these; with 1.8 the held-out score
    # divided by their sum (ZeroDivisionError)
    with pytest.raises(ValueError, match="^Sample weights must contain at least one non-zero"):
        est.fit(Xt, yt, X_val=Xv, y_val=yv, sample_weight_val=np.zeros(20))
    # and past a float32 model's range, the range error sample_weight gets
    # (cast by scikit-learn's check: all 0, "must contain a non-zero number")
    with pytest.raises(ValueError, match="^sample_weight_val spans 1e-50 to 1e-50, beyond "
                                         "float32's range"):
        est.fit(Xt.astype(np.float32), yt, X_val=Xv, y_val=yv,
                sample_weight_val=np.full(20, 1e-50))


@pytest.mark.parametrize("value, message", [
    (np.nan, "^Input y_val contains NaN"),
    (np.inf, "^Input y_val contains infinity"),
    ("a", "string"),
])
def test_regressor_y_val_is_checked_as_y(value, message):
    # a NaN in y_val made every epoch's validation loss NaN, with no error
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3))
    y = X[:, 0] - X[:, 1]
    y_val = y[:20].astype(object)
    y_val[3] = value
    est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    before = _flat(est).copy()
    with pytest.raises(ValueError, match=message):
        est.fit(X, y, X_val=X[:20], y_val=y_val)
    assert_array_equal(_flat(est), before)


def test_regressor_y_val_beyond_a_float32_models_range_is_refused():
    # cast to the model's float32 it was inf: every validation loss inf
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3)).astype(np.float32)
    y = X[:, 0] - X[:, 1]
    est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with pytest.raises(ValueError, match="y_val has values beyond float32's range"):
        est.fit(X, y, X_val=X[:20], y_val=np.full(20, 1e39))
    with pytest.raises(TypeError, match="needs numeric targets, but y_val has dtype <U1"):
        est.fit(X, y, X_val=X[:20], y_val=np.array(["a"] * 20))


def test_validation_sample_weight_alone_is_rejected():
    """sample_weight_val without X_val/y_val cannot be used: like y_val alone,
    it must raise rather than be silently ignored."""
    X, y = _multiclass(n=80)
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, early_stopping=True,
                        random_state=0)
    with pytest.raises(ValueError):
        est.fit(X, y, sample_weight_val=np.ones(10))


def test_early_stopping_switched_on_for_a_warm_start_with_x_val():
    # validation_scores_ was made for this case, best_validation_score_ was
    # left None: the first epoch failed with a bare TypeError
    X, y = _multiclass(n=90)
    X_tr, y_tr, X_val, y_val = _split(X, y, 30)
    est = MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, warm_start=True,
                        random_state=0).fit(X_tr, y_tr)
    est.set_params(early_stopping=True)
    est.fit(X_tr, y_tr, X_val=X_val, y_val=y_val)
    assert len(est.validation_scores_) == 3
    assert est.best_validation_score_ == max(est.validation_scores_)


def test_early_stopping_switched_on_or_off_between_warm_starts():
    # scikit-learn fails: on, an AttributeError (validation_scores_ None);
    # off, a TypeError (best_loss_ None); fastmlp failed with a TypeError both ways
    X, y = _multiclass(n=90)
    est = MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, warm_start=True,
                        random_state=0).fit(X, y)
    est.set_params(early_stopping=True).fit(X, y)
    assert len(est.validation_scores_) == 3 and len(est.loss_curve_) == 6
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.best_loss_ is None                  # as after any fit with early stopping
    est.set_params(early_stopping=False).fit(X, y)
    assert len(est.loss_curve_) == 9
    assert est.best_loss_ == min(est.loss_curve_[-3:])
    est.set_params(early_stopping=True).fit(X, y)
    est.set_params(early_stopping=False).partial_fit(X, y)
    assert est.best_loss_ == est.loss_curve_[-1]


def test_validation_loss_curve_has_an_entry_for_every_epoch_once_recorded():
    # warm starts with and without X_val: NaN where an epoch had no held-out
    # data, so that the curve lines up with loss_curve_
    X, y = _multiclass(n=90)
    X_tr, y_tr, X_val, y_val = _split(X, y, 30)
    est = MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, warm_start=True, random_state=0)
    est.fit(X_tr, y_tr)
    assert est.validation_loss_curve_ is None
    est.fit(X_tr, y_tr, X_val=X_val, y_val=y_val)
    est.fit(X_tr, y_tr)
    est.partial_fit(X_tr, y_tr)
    curve = np.asarray(est.validation_loss_curve_)
    assert curve.shape == (len(est.loss_curve_),) == (10,)
    assert np.isnan(curve[:3]).all() and np.isfinite(curve[3:6]).all()
    assert np.isnan(curve[6:]).all()


def test_y_val_of_another_kind_of_targets_says_so():
    # a 2-D y_val for a multiclass model was reshaped into a message about
    # arrays the user never passed ("Y (200, 10)")
    X, y = _multiclass(n=90)
    X_tr, y_tr, X_val, y_val = _split(X, y, 30)
    est = MLPClassifier(hidden_layer_sizes=(6,), max_iter=2, random_state=0)
    with pytest.raises(ValueError, match=r"y_val has shape \(30, 2\), but the model was "
                                         "fitted on 1-D class labels"):
        est.fit(X_tr, y_tr, X_val=X_val, y_val=np.c_[y_val, y_val])
    Y = np.c_[y == 3, y == 7].astype(int)
    with pytest.raises(ValueError, match="fitted on a label indicator of 2 columns"):
        est.fit(X_tr, Y[:-30], X_val=X_val, y_val=Y[-30:, 0])
    X, y = _regression(n=60, n_outputs=2)
    reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=2, random_state=0)
    for bad in (y[-20:, 0], np.c_[y[-20:], y[-20:]]):
        with pytest.raises(ValueError, match="but the model has 2 output"):
            reg.fit(X[:-20], y[:-20], X_val=X[-20:], y_val=bad)
    reg.fit(X[:-20], y[:-20], X_val=X[-20:], y_val=y[-20:])
