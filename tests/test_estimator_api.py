"""Estimator-level API tests: fastmlp as a drop-in for scikit-learn's MLPs.

These tests use only the public API and the fitted attributes scikit-learn's
MLPs have. Where a behaviour is defined by scikit-learn, the test either
compares against scikit-learn's estimator directly or checks an identity that
must hold whatever the implementation (sample-weight/repetition equivalence,
fit vs repeated partial_fit, dense vs sparse input, memory layouts, pickling,
in-place edits of ``coefs_``, concurrent fits).
"""

import copy
import inspect
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import ConvergenceWarning, UnsetMetadataPassedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastmlp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)

ESTIMATOR_PAIRS = [(MLPClassifier, SkMLPClassifier), (MLPRegressor, SkMLPRegressor)]

ALL_DATASETS = [
    "binary",
    "multiclass",
    "multilabel",
    "regression",
    "multioutput_regression",
    "poisson",
]

HIDDEN = (6, 4)


def _make(dataset, **params):
    """A small fastmlp estimator suited to ``dataset``."""
    params.setdefault("hidden_layer_sizes", HIDDEN)
    params.setdefault("random_state", 0)
    params.setdefault("max_iter", 5)
    if dataset in ("binary", "multiclass", "multilabel"):
        return MLPClassifier(**params)
    if dataset == "poisson":
        params.setdefault("loss", "poisson")
    return MLPRegressor(**params)


def _n_outputs(y):
    return 1 if y.ndim == 1 else y.shape[1]


def _weights(est):
    return [w.copy() for w in est.coefs_ + est.intercepts_]


def _assert_weights_allclose(a, b, **tol):
    assert len(a.coefs_) == len(b.coefs_)
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_allclose(wa, wb, **tol)


# ---------------------------------------------------------------------------
# Constructor / get_params
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("Est, SkEst", ESTIMATOR_PAIRS)
def test_every_sklearn_parameter_exists_with_same_default(Est, SkEst):
    ours = Est().get_params()
    theirs = SkEst().get_params()
    missing = sorted(set(theirs) - set(ours))
    assert not missing, f"parameters missing from fastmlp: {missing}"
    for name, default in theirs.items():
        assert type(ours[name]) is type(default), name
        assert ours[name] == default, (name, ours[name], default)


@pytest.mark.parametrize("Est, SkEst", ESTIMATOR_PAIRS)
def test_positional_parameters_match_sklearn(Est, SkEst):
    # MLPRegressor("poisson", (10,), "tanh") must mean the same thing.
    def positional(cls):
        return [
            p.name
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and p.name != "self"
        ]

    assert positional(Est) == positional(SkEst)


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_set_params_and_clone(Est):
    est = Est(hidden_layer_sizes=(3,), alpha=0.5)
    est.set_params(alpha=0.25, solver="sgd")
    params = est.get_params()
    assert params["alpha"] == 0.25 and params["solver"] == "sgd"
    cloned = clone(est)
    assert type(cloned) is Est
    assert cloned.get_params() == params
    assert is_classifier(est) == (Est is MLPClassifier)
    assert is_regressor(est) == (Est is MLPRegressor)


# ---------------------------------------------------------------------------
# Fitted attributes
# ---------------------------------------------------------------------------

EXPECTED_OUT_ACTIVATION = {
    "binary": "logistic",
    "multiclass": "softmax",
    "multilabel": "logistic",
    "regression": "identity",
    "multioutput_regression": "identity",
    "poisson": "exp",
}


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("dataset", ALL_DATASETS)
def test_fitted_attributes(request, dataset, solver):
    X, y = request.getfixturevalue(dataset)
    est = _make(dataset, solver=solver)
    assert est.fit(X, y) is est
    n_samples, n_features = X.shape
    n_outputs = _n_outputs(y)
    if dataset == "binary":
        n_outputs = 1
    elif dataset == "multiclass":
        n_outputs = 3

    units = [n_features, *HIDDEN, n_outputs]
    assert est.n_layers_ == len(units)
    assert est.n_outputs_ == n_outputs
    assert est.n_features_in_ == n_features
    assert not hasattr(est, "feature_names_in_")
    assert est.out_activation_ == EXPECTED_OUT_ACTIVATION[dataset]

    assert isinstance(est.coefs_, list) and isinstance(est.intercepts_, list)
    assert [c.shape for c in est.coefs_] == list(zip(units[:-1], units[1:]))
    assert [b.shape for b in est.intercepts_] == [(u,) for u in units[1:]]
    for w in est.coefs_ + est.intercepts_:
        assert w.dtype == np.float64
        assert np.isfinite(w).all()

    assert np.isfinite(est.loss_) and est.loss_ > 0
    assert isinstance(est.n_iter_, (int, np.integer))
    assert 1 <= est.n_iter_ <= 5

    if solver == "lbfgs":
        assert est.t_ == 0
    else:
        assert len(est.loss_curve_) == est.n_iter_
        assert est.loss_ == est.loss_curve_[-1]
        assert est.best_loss_ == min(est.loss_curve_)
        assert est.validation_scores_ is None
        assert est.best_validation_score_ is None
        assert est.t_ == est.n_iter_ * n_samples

    # every public fitted attribute scikit-learn has, fastmlp has too
    SkEst = SkMLPClassifier if is_classifier(est) else SkMLPRegressor
    sk_names = SkEst().get_params()
    sk = SkEst(**{k: v for k, v in est.get_params().items() if k in sk_names})
    sk.fit(X, y)

    def public_fitted(e):
        return {
            a
            for a in vars(e)
            if a.endswith("_") and not a.startswith("_") and a not in e.get_params()
        }

    missing = public_fitted(sk) - {a for a in public_fitted(sk) if hasattr(est, a)}
    assert not missing, missing
    assert hasattr(est, "loss_curve_") == hasattr(sk, "loss_curve_")


@pytest.mark.parametrize(
    "dataset, expected",
    [
        ("binary", np.array(["neg", "pos"])),
        ("multiclass", np.array([3, 7, 11])),
        ("multilabel", np.array([0, 1, 2])),
    ],
)
def test_classes_(request, dataset, expected):
    X, y = request.getfixturevalue(dataset)
    est = _make(dataset).fit(X, y)
    assert_array_equal(est.classes_, expected)
    pred = est.predict(X)
    assert pred.shape == y.shape
    assert pred.dtype == y.dtype
    assert set(np.unique(pred)) <= set(np.unique(y))


def test_feature_names_in_():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.normal(size=(30, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0).astype(int)
    est = MLPClassifier(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(X, y)
    assert_array_equal(est.feature_names_in_, ["a", "b", "c"])
    with pytest.warns(UserWarning, match="feature names"):
        est.predict(X.to_numpy())


def test_no_feature_names_for_plain_arrays(binary):
    X, y = binary
    est = MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X, y)
    assert not hasattr(est, "feature_names_in_")
    assert est.n_features_in_ == X.shape[1]


# ---------------------------------------------------------------------------
# Predictions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["binary", "multiclass"])
def test_predict_proba_single_label(request, dataset):
    X, y = request.getfixturevalue(dataset)
    est = _make(dataset, max_iter=20).fit(X, y)
    proba = est.predict_proba(X)
    n_classes = len(np.unique(y))
    assert proba.shape == (X.shape[0], n_classes)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(est.predict(X), est.classes_[np.argmax(proba, axis=1)])
    assert_allclose(est.predict_log_proba(X), np.log(proba), rtol=1e-12)


def test_predict_proba_multilabel(multilabel):
    X, Y = multilabel
    est = _make("multilabel", max_iter=20).fit(X, Y)
    proba = est.predict_proba(X)
    assert proba.shape == Y.shape
    assert ((proba > 0) & (proba < 1)).all()
    # independent sigmoids: rows do not sum to one
    assert not np.allclose(proba.sum(axis=1), 1.0)
    assert_array_equal(est.predict(X), (proba > 0.5).astype(Y.dtype))
    assert_allclose(est.predict_log_proba(X), np.log(proba), rtol=1e-12)


def test_binary_proba_columns_are_complementary(binary):
    X, y = binary
    est = _make("binary", max_iter=20).fit(X, y)
    proba = est.predict_proba(X)
    assert_allclose(proba[:, 0], 1 - proba[:, 1], rtol=0, atol=1e-15)


@pytest.mark.parametrize("dataset", ["regression", "multioutput_regression", "poisson"])
def test_regressor_predict_shape(request, dataset):
    X, y = request.getfixturevalue(dataset)
    est = _make(dataset, max_iter=20).fit(X, y)
    pred = est.predict(X)
    assert pred.shape == y.shape
    assert pred.dtype == np.float64
    if dataset == "poisson":
        assert (pred > 0).all()


def test_regressor_column_vector_target(regression):
    X, y = regression
    est = _make("regression", solver="sgd", shuffle=False)
    with pytest.warns(sklearn.exceptions.DataConversionWarning):
        est.fit(X, y.reshape(-1, 1))
    assert est.n_outputs_ == 1
    assert est.predict(X).shape == (X.shape[0],)
    ref = _make("regression", solver="sgd", shuffle=False).fit(X, y)
    _assert_weights_allclose(est, ref, rtol=1e-12)


@pytest.mark.parametrize("dataset", ALL_DATASETS)
def test_score_matches_metric(request, dataset, sample_weight):
    X, y = request.getfixturevalue(dataset)
    est = _make(dataset, max_iter=20).fit(X, y)
    pred = est.predict(X)
    metric = accuracy_score if is_classifier(est) else r2_score
    assert est.score(X, y) == pytest.approx(metric(y, pred), rel=1e-12)
    assert est.score(X, y, sample_weight=sample_weight) == pytest.approx(
        metric(y, pred, sample_weight=sample_weight), rel=1e-12
    )


def test_verbose_prints_iterations(binary, capsys):
    X, y = binary
    _make("binary", solver="sgd", max_iter=2, verbose=True).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out
    assert "Iteration 2, loss = " in out


# ---------------------------------------------------------------------------
# sample_weight
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ALL_DATASETS)
def test_integer_sample_weight_equals_repetition_lbfgs(request, dataset):
    X, y = request.getfixturevalue(dataset)
    sw = np.random.RandomState(0).randint(0, 4, size=X.shape[0])
    a = _make(dataset, solver="lbfgs", max_iter=15).fit(X, y, sample_weight=sw)
    b = _make(dataset, solver="lbfgs", max_iter=15).fit(
        np.repeat(X, sw, axis=0), np.repeat(y, sw, axis=0)
    )
    _assert_weights_allclose(a, b, rtol=1e-6, atol=1e-9)
    # and the weights really mattered
    c = _make(dataset, solver="lbfgs", max_iter=15).fit(X, y)
    assert not np.allclose(a.coefs_[0], c.coefs_[0])


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("dataset", ["multiclass", "regression"])
def test_unit_sample_weight_equals_none(request, dataset, solver):
    X, y = request.getfixturevalue(dataset)
    a = _make(dataset, solver=solver).fit(X, y, sample_weight=np.ones(X.shape[0]))
    b = _make(dataset, solver=solver).fit(X, y)
    _assert_weights_allclose(a, b, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("dataset", ["binary", "regression", "poisson"])
def test_partial_fit_sample_weight_equals_repetition(request, dataset):
    # one full-batch SGD step: weighting by k == repeating k times
    X, y = request.getfixturevalue(dataset)
    sw = np.random.RandomState(1).randint(1, 4, size=X.shape[0])
    Xr, yr = np.repeat(X, sw, axis=0), np.repeat(y, sw, axis=0)
    params = dict(solver="sgd", batch_size="auto", shuffle=False)  # full batch
    a, b = _make(dataset, **params), _make(dataset, **params)
    extra = {"classes": np.unique(y)} if dataset == "binary" else {}
    a.partial_fit(X, y, sample_weight=sw, **extra)
    b.partial_fit(Xr, yr, **extra)
    _assert_weights_allclose(a, b, rtol=1e-10, atol=1e-13)
    a.partial_fit(X, y, sample_weight=sw)
    b.partial_fit(Xr, yr)
    _assert_weights_allclose(a, b, rtol=1e-10, atol=1e-13)
    assert a.loss_ == pytest.approx(b.loss_, rel=1e-10)


# ---------------------------------------------------------------------------
# Metadata routing
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["multiclass", "regression"])
def test_sample_weight_metadata_routing(request, dataset, sample_weight):
    X, y = request.getfixturevalue(dataset)
    with sklearn.config_context(enable_metadata_routing=True):
        mlp = _make(dataset, solver="lbfgs", max_iter=10)
        mlp.set_fit_request(sample_weight=True)
        mlp.set_score_request(sample_weight=True)
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        pipe = make_pipeline(scaler, mlp)
        pipe.fit(X, y, sample_weight=sample_weight)

        Xs = StandardScaler().fit_transform(X)
        direct = _make(dataset, solver="lbfgs", max_iter=10).fit(
            Xs, y, sample_weight=sample_weight
        )
        unweighted = _make(dataset, solver="lbfgs", max_iter=10).fit(Xs, y)
        _assert_weights_allclose(pipe[-1], direct, rtol=1e-12)
        assert not np.allclose(pipe[-1].coefs_[0], unweighted.coefs_[0])

        cv = KFold(n_splits=3)
        res = cross_validate(
            pipe, X, y, cv=cv, params={"sample_weight": sample_weight}
        )
        # recompute the first fold by hand: weighted fit, weighted score
        train, test = next(cv.split(X))
        fold = clone(pipe).fit(X[train], y[train], sample_weight=sample_weight[train])
        expected = fold.score(X[test], y[test], sample_weight=sample_weight[test])
        assert res["test_score"][0] == pytest.approx(expected, rel=1e-12)

        # without a request, passing sample_weight is an error
        bare = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            _make(dataset, solver="lbfgs", max_iter=10),
        )
        with pytest.raises(UnsetMetadataPassedError):
            bare.fit(X, y, sample_weight=sample_weight)


# ---------------------------------------------------------------------------
# partial_fit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("dataset", ALL_DATASETS)
def test_repeated_partial_fit_equals_fit(request, dataset, solver):
    X, y = request.getfixturevalue(dataset)
    params = dict(solver=solver, shuffle=False, batch_size=16, max_iter=3)
    full = _make(dataset, **params).fit(X, y)
    inc = _make(dataset, **params)
    extra = {}
    if dataset in ("binary", "multiclass"):
        extra = {"classes": np.unique(y)}
    elif dataset == "multilabel":
        extra = {"classes": np.arange(y.shape[1])}
    inc.partial_fit(X, y, **extra)
    inc.partial_fit(X, y)
    inc.partial_fit(X, y)
    _assert_weights_allclose(inc, full, rtol=1e-12, atol=1e-14)
    assert_allclose(inc.loss_curve_, full.loss_curve_, rtol=1e-12)
    assert inc.t_ == full.t_ == 3 * X.shape[0]


def test_partial_fit_classes_superset(multiclass):
    X, y = multiclass
    est = _make("multiclass", solver="sgd")
    all_classes = np.array([1, 3, 7, 11])
    mask = y != 11
    est.partial_fit(X[mask], y[mask], classes=all_classes)
    assert_array_equal(est.classes_, all_classes)
    assert est.predict_proba(X).shape == (X.shape[0], 4)
    est.partial_fit(X, y)  # a later batch may bring the remaining classes
    assert_array_equal(est.classes_, all_classes)
    with pytest.raises(ValueError, match="not the same as on last call"):
        est.partial_fit(X, y, classes=np.array([3, 7, 11]))


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_partial_fit_for_the_solvers_scikit_learn_offers_it(Est):
    Sk = SkMLPClassifier if Est is MLPClassifier else SkMLPRegressor
    for solver in ("sgd", "adam", "lbfgs"):
        assert hasattr(Est(solver=solver), "partial_fit") == \
            hasattr(Sk(solver=solver), "partial_fit"), solver
    # the classifier's is for the stochastic solvers; the regressor's for all
    est = Est(solver="adam").set_params(solver="lbfgs")
    if Est is MLPClassifier:
        assert not hasattr(est, "partial_fit")
        with pytest.raises(AttributeError, match="partial_fit"):
            est.partial_fit
    else:
        assert hasattr(est, "partial_fit")


# ---------------------------------------------------------------------------
# warm_start
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["multiclass", "regression"])
def test_warm_start_continues_from_previous_weights(request, dataset):
    X, y = request.getfixturevalue(dataset)
    params = dict(solver="sgd", momentum=0.0, shuffle=False, batch_size=16)
    two = _make(dataset, max_iter=2, **params).fit(X, y)
    warm = _make(dataset, max_iter=1, warm_start=True, **params)
    warm.fit(X, y)
    warm.fit(X, y)
    _assert_weights_allclose(warm, two, rtol=1e-12, atol=1e-14)
    assert_allclose(warm.loss_curve_, two.loss_curve_, rtol=1e-12)
    assert warm.t_ == two.t_
    assert warm.n_iter_ == 1  # n_iter_ counts the epochs of the last fit only


@pytest.mark.parametrize("dataset", ["multiclass", "regression"])
def test_cold_start_refit_is_reproducible(request, dataset):
    X, y = request.getfixturevalue(dataset)
    est = _make(dataset, solver="adam")
    first = _weights(est.fit(X, y))
    est.fit(X[::-1], y[::-1])  # a different fit in between
    est.fit(X, y)
    for a, b in zip(first, _weights(est)):
        assert_array_equal(a, b)
    assert len(est.loss_curve_) == est.n_iter_


# ---------------------------------------------------------------------------
# early stopping
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["multiclass", "regression"])
def test_early_stopping_attributes_and_best_weights(request, dataset, digits_subset):
    if dataset == "multiclass":
        X, y = digits_subset
    else:
        X, y = request.getfixturevalue(dataset)
    params = dict(
        solver="sgd",
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=2,
        tol=1e-2,
        learning_rate_init=0.05,
        hidden_layer_sizes=(8,),
    )
    est = _make(dataset, max_iter=30, **params).fit(X, y)
    assert est.n_iter_ < 30
    assert len(est.validation_scores_) == est.n_iter_ == len(est.loss_curve_)
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.best_loss_ is None
    # restored weights are those of the best epoch: re-running up to it,
    # with the same split, must end on the same weights
    best_epoch = int(np.argmax(est.validation_scores_)) + 1
    again = _make(dataset, max_iter=best_epoch, **params).fit(X, y)
    _assert_weights_allclose(est, again, rtol=1e-12, atol=1e-14)
    assert_allclose(
        again.validation_scores_, est.validation_scores_[:best_epoch], rtol=1e-12
    )


def test_validation_fraction_changes_split(regression):
    X, y = regression
    params = dict(solver="adam", early_stopping=True, max_iter=3)
    a = _make("regression", validation_fraction=0.2, **params).fit(X, y)
    b = _make("regression", validation_fraction=0.5, **params).fit(X, y)
    assert a.validation_scores_ != b.validation_scores_
    assert a.t_ == 3 * 48 and b.t_ == 3 * 30  # t_ counts training samples only


# ---------------------------------------------------------------------------
# dtype
# ---------------------------------------------------------------------------


# scikit-learn's lbfgs path hands back float64 weights for float32 X (scipy's
# minimize works in float64); fastmlp keeps float32 for every solver.
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("dataset", ALL_DATASETS)
def test_float32_end_to_end(request, dataset, solver):
    X, y = request.getfixturevalue(dataset)
    X32 = X.astype(np.float32)
    est = _make(dataset, solver=solver).fit(X32, y)
    for w in est.coefs_ + est.intercepts_:
        assert w.dtype == np.float32
    if is_classifier(est):
        assert est.predict_proba(X32).dtype == np.float32
        assert est.predict_log_proba(X32).dtype == np.float32
    else:
        assert est.predict(X32).dtype == np.float32
    # float64 input on a float32 model still works
    est.predict(X)
    est64 = _make(dataset, solver=solver).fit(X, y)
    assert est64.coefs_[0].dtype == np.float64


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float16, bool])
def test_other_input_dtypes_become_float64(binary, dtype):
    X, y = binary
    Xc = (X * 3).astype(dtype)
    est = _make("binary").fit(Xc, y)
    assert est.coefs_[0].dtype == np.float64
    assert est.predict_proba(Xc).dtype == np.float64


@pytest.mark.parametrize("model_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("X_dtype", [bool, np.int8, np.uint8, np.int16, np.int32, np.int64,
                                     np.float16])
def test_predict_dtype_is_numpys_promotion_as_in_scikit_learn(regression, model_dtype,
                                                              X_dtype):
    # scikit-learn computes X @ coefs_ on X as given: a float32 model keeps
    # float32 for bool and small integers, float64 for int32/int64
    X, y = regression
    Xc = (X * 3).astype(X_dtype)
    ours = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    sk = SkMLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    for est in (ours, sk):
        est.fit(X.astype(model_dtype), y)
    assert ours.predict(Xc).dtype == sk.predict(Xc).dtype
    assert_allclose(ours.predict(Xc), sk.predict(Xc), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------
# Persistence and the coefs_ views
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("dataset", ALL_DATASETS)
def test_pickle_round_trip(request, dataset, solver):
    X, y = request.getfixturevalue(dataset)
    est = _make(dataset, solver=solver).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    assert type(restored) is type(est)
    assert_array_equal(restored.predict(X), est.predict(X))
    if is_classifier(est):
        assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    for a, b in zip(_weights(restored), _weights(est)):
        assert_array_equal(a, b)
    deep = copy.deepcopy(est)
    assert_array_equal(deep.predict(X), est.predict(X))


@pytest.mark.parametrize("dataset", ["multiclass", "regression"])
def test_training_continues_identically_after_pickle(request, dataset):
    X, y = request.getfixturevalue(dataset)
    est = _make(dataset, solver="adam")
    extra = {"classes": np.unique(y)} if dataset == "multiclass" else {}
    est.partial_fit(X, y, **extra)
    restored = pickle.loads(pickle.dumps(est))
    est.partial_fit(X, y)
    restored.partial_fit(X, y)
    for a, b in zip(_weights(restored), _weights(est)):
        assert_allclose(a, b, rtol=1e-14, atol=1e-15)
    assert restored.t_ == est.t_


@pytest.mark.parametrize("roundtrip", [False, True])
def test_in_place_edit_of_weights_changes_predict(regression, multiclass, roundtrip):
    X, y = regression
    est = _make("regression").fit(X, y)
    if roundtrip:
        est = pickle.loads(pickle.dumps(est))
    est.coefs_[-1][...] = 0.0
    est.intercepts_[-1][...] = 1.25
    assert_array_equal(est.predict(X), np.full(X.shape[0], 1.25))
    # an edit of a hidden layer reaches the output too
    est.coefs_[-1][...] = 1.0
    before = est.predict(X)
    est.coefs_[0] *= 0.5
    assert not np.allclose(est.predict(X), before)

    X, y = multiclass
    clf = _make("multiclass").fit(X, y)
    if roundtrip:
        clf = pickle.loads(pickle.dumps(clf))
    clf.coefs_[-1][...] = 0.0
    clf.intercepts_[-1][...] = [0.0, 0.0, 5.0]
    assert_array_equal(clf.predict(X), np.full(X.shape[0], 11))


def test_in_place_edit_of_weights_is_trained_from(regression):
    # after editing, partial_fit starts from the edited weights
    X, y = regression
    a = _make("regression", solver="sgd", momentum=0.0, shuffle=False)
    b = _make("regression", solver="sgd", momentum=0.0, shuffle=False)
    a.partial_fit(X, y)
    b.partial_fit(X[::-1], y[::-1])
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        wb[...] = wa
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    _assert_weights_allclose(a, b, rtol=1e-14, atol=1e-15)


# ---------------------------------------------------------------------------
# Meta-estimators
# ---------------------------------------------------------------------------


def test_grid_search_over_pipeline(multiclass):
    X, y = multiclass
    pipe = make_pipeline(
        StandardScaler(),
        MLPClassifier(solver="lbfgs", max_iter=50, random_state=0),
    )
    grid = GridSearchCV(
        pipe,
        {"mlpclassifier__hidden_layer_sizes": [(2,), (10,)],
         "mlpclassifier__alpha": [1e-4, 1.0]},
        cv=3,
    )
    grid.fit(X, y)
    assert isinstance(grid.best_estimator_[-1], MLPClassifier)
    assert set(grid.best_params_) == {
        "mlpclassifier__hidden_layer_sizes",
        "mlpclassifier__alpha",
    }
    assert len(grid.cv_results_["mean_test_score"]) == 4
    assert grid.best_score_ == max(grid.cv_results_["mean_test_score"])
    assert grid.score(X, y) > 0.7
    assert grid.predict(X).shape == y.shape


def test_regressor_in_pipeline(regression):
    X, y = regression
    pipe = make_pipeline(
        StandardScaler(),
        MLPRegressor(hidden_layer_sizes=(10,), solver="lbfgs", random_state=0),
    )
    assert pipe.fit(X, y).score(X, y) > 0.9


# ---------------------------------------------------------------------------
# Sparse input
# ---------------------------------------------------------------------------


def _sparsify(X):
    X = X.copy()
    X[np.abs(X) < 0.7] = 0.0
    return X


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
@pytest.mark.parametrize(
    "dataset", ["binary", "multiclass", "multilabel", "regression"]
)
def test_sparse_predict_equals_dense(request, dataset, container):
    X, y = request.getfixturevalue(dataset)
    X = _sparsify(X)
    est = _make(dataset, max_iter=10).fit(X, y)
    Xs = container(X)
    if is_classifier(est):
        assert_array_equal(est.predict(Xs), est.predict(X))
        assert_allclose(est.predict_proba(Xs), est.predict_proba(X), rtol=1e-12)
    else:
        assert_allclose(est.predict(Xs), est.predict(X), rtol=1e-12)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix])
@pytest.mark.parametrize("dataset", ["multiclass", "regression"])
def test_sparse_fit_equals_dense_fit(request, dataset, container, solver, shuffle):
    if solver == "lbfgs" and shuffle:
        pytest.skip("lbfgs does not shuffle")
    X, y = request.getfixturevalue(dataset)
    X = _sparsify(X)
    params = dict(solver=solver, shuffle=shuffle, batch_size=16, max_iter=4)
    dense = _make(dataset, **params).fit(X, y)
    sparse = _make(dataset, **params).fit(container(X), y)
    _assert_weights_allclose(sparse, dense, rtol=1e-9, atol=1e-12)
    assert sparse.n_iter_ == dense.n_iter_


def test_sparse_float32_kept(multiclass):
    X, y = multiclass
    Xs = sp.csr_matrix(_sparsify(X).astype(np.float32))
    est = _make("multiclass").fit(Xs, y)
    assert est.coefs_[0].dtype == np.float32
    assert est.predict_proba(Xs).dtype == np.float32


# ---------------------------------------------------------------------------
# Convergence warnings
# ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_convergence_warning_when_max_iter_reached(binary, solver):
    X, y = binary
    with pytest.warns(ConvergenceWarning):
        _make("binary", solver=solver, max_iter=2).fit(X, y)


# ---------------------------------------------------------------------------
# Memory layouts, hidden_layer_sizes forms, concurrency
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["fortran", "strided", "readonly", "list"])
@pytest.mark.parametrize("dataset", ["multiclass", "multioutput_regression"])
def test_input_layout_does_not_change_results(request, dataset, layout):
    X, y = request.getfixturevalue(dataset)
    if layout == "fortran":
        X_alt = np.asfortranarray(X)
    elif layout == "strided":
        wide = np.zeros((X.shape[0], 2 * X.shape[1]))
        wide[:, ::2] = X
        X_alt = wide[:, ::2]
        assert not X_alt.flags.c_contiguous
    elif layout == "readonly":
        X_alt = X.copy()
        X_alt.flags.writeable = False
    else:
        X_alt = X.tolist()
    params = dict(solver="sgd", shuffle=True, batch_size=16)
    ref = _make(dataset, **params).fit(X, y)
    alt = _make(dataset, **params).fit(X_alt, y)
    _assert_weights_allclose(alt, ref, rtol=1e-12, atol=1e-14)
    assert_allclose(alt.predict(X_alt), ref.predict(X), rtol=1e-12, atol=1e-14)
    alt.partial_fit(X_alt, y)
    ref.partial_fit(X, y)
    _assert_weights_allclose(alt, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "forms", [(5, (5,), [5], np.array([5])), ((4, 3), [4, 3], np.array([4, 3]))]
)
def test_hidden_layer_sizes_forms(multiclass, forms):
    X, y = multiclass
    fits = [_make("multiclass", hidden_layer_sizes=h).fit(X, y) for h in forms]
    for est in fits[1:]:
        _assert_weights_allclose(est, fits[0], rtol=0, atol=0)
    assert fits[0].n_layers_ == 2 + np.size(forms[-1])


@pytest.mark.parametrize("dataset", ["multiclass", "regression"])
def test_predict_in_chunks_equals_predict_at_once(request, dataset):
    X, y = request.getfixturevalue(dataset)
    est = _make(dataset, hidden_layer_sizes=(16, 8)).fit(X, y)
    X_big = np.random.RandomState(0).normal(size=(5003, X.shape[1]))
    method = est.predict_proba if is_classifier(est) else est.predict
    whole = method(X_big)
    pieces = np.concatenate([method(X_big[i : i + 97]) for i in range(0, 5003, 97)])
    assert_allclose(whole, pieces, rtol=1e-13, atol=1e-15)
    single = np.concatenate([method(X_big[i : i + 1]) for i in range(0, 50)])
    assert_allclose(whole[:50], single, rtol=1e-13, atol=1e-15)


def test_concurrent_fits_in_threads_match_sequential(multiclass, regression):
    # the engine releases the GIL: concurrent fits must not share state
    from concurrent.futures import ThreadPoolExecutor

    jobs = []
    for seed in range(3):
        for dataset, (X, y) in (("multiclass", multiclass), ("regression", regression)):
            for solver in ("sgd", "adam", "lbfgs"):
                jobs.append((dataset, X, y, dict(solver=solver, random_state=seed)))

    def run(job):
        dataset, X, y, params = job
        est = _make(dataset, max_iter=10, **params).fit(X, y)
        return est, est.predict(X)

    sequential = [run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(run, jobs))
    for (a, pa), (b, pb) in zip(sequential, concurrent):
        _assert_weights_allclose(a, b, rtol=1e-12, atol=1e-14)
        assert_allclose(pa, pb, rtol=1e-12, atol=1e-14)


def test_sparse_unsorted_indices_and_explicit_zeros(multiclass):
    X, y = multiclass
    X = _sparsify(X)
    Xs = sp.csr_matrix(X)
    # reverse the column order inside every row and add explicit zeros
    indptr, indices, data = [0], [], []
    for i in range(Xs.shape[0]):
        row = Xs.getrow(i)
        indices.extend(row.indices[::-1].tolist() + [0])
        data.extend(row.data[::-1].tolist() + [0.0])
        indptr.append(len(indices))
    X_odd = sp.csr_matrix((data, indices, indptr), shape=X.shape)
    X_odd.has_sorted_indices = False
    assert not X_odd.has_sorted_indices
    params = dict(solver="sgd", shuffle=True, batch_size=16)
    ref = _make("multiclass", **params).fit(X, y)
    odd = _make("multiclass", **params).fit(X_odd, y)
    _assert_weights_allclose(odd, ref, rtol=1e-9, atol=1e-12)
    assert_allclose(odd.predict_proba(X_odd), ref.predict_proba(X), rtol=1e-12)


def test_unsorted_csr_is_read_in_place():
    # the engine reads a CSR matrix's own data, in its stored order; an
    # unsorted one was copied whole first (twice its memory, for nothing)
    from fastmlp import _engine

    X = sp.csr_matrix((np.arange(1.0, 5.0), [2, 0, 1, 0], [0, 2, 4]), shape=(2, 3))
    assert not X.has_sorted_indices
    dense, data, indices, indptr = _engine.csr_parts(X)
    assert dense is None and data is X.data
    assert_array_equal(indices, [2, 0, 1, 0])
    assert not X.has_sorted_indices   # the caller's matrix as it was


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_int32_csr_indices_are_read_as_they_are(multiclass, solver):
    # SciPy's int32 indices go to the kernels as they are (a widened copy
    # took half the size of a float64 matrix), to the same bits as intp ones
    from fastmlp import _engine

    X, y = multiclass
    X32 = sp.csr_matrix(_sparsify(X))
    assert X32.indices.dtype == np.int32
    X64 = X32.copy()
    X64.indices = X64.indices.astype(np.int64)
    X64.indptr = X64.indptr.astype(np.int64)
    assert _engine.csr_parts(X32)[2] is X32.indices
    params = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=3, random_state=0)
    a = MLPClassifier(**params).fit(X32, y)
    b = MLPClassifier(**params).fit(X64, y)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_array_equal(p, q)
    assert_array_equal(a.predict_proba(X32), b.predict_proba(X64))


@pytest.mark.parametrize("dtype", [np.int32, np.intp])
def test_csr_indices_outside_the_columns_are_refused(dtype):
    # the engine's own check reads either width (its kernels trust them)
    from fastmlp import _engine, _predict

    est = MLPRegressor(hidden_layer_sizes=(3,), max_iter=1, random_state=0)
    est.fit(np.eye(4), np.arange(4.0))
    X = sp.csr_matrix(np.eye(4))
    _, data, indices, indptr = _engine.csr_parts(X)
    indices = indices.astype(dtype)
    indices[2] = 9
    out = np.empty((4, 1))
    with pytest.raises(ValueError, match=r"X.indices\[2\] = 9 is outside \[0, 4\)"):
        _predict.forward(est._params, out, None, data, indices, indptr, est._layout(), 1)
    with pytest.raises(ValueError, match="X.indices must be an int32 or intp array"):
        _predict.forward(est._params, out, None, data, indices.astype(np.int16), indptr,
                         est._layout(), 1)


def test_param_names_are_kept_per_class():
    """_get_param_names is cached; a subclass with its own __init__ gets its
    own list, and the cache never hands out its stored list."""

    class Wider(MLPClassifier):
        def __init__(self, hidden_layer_sizes=(100,), extra=3, **kwargs):
            super().__init__(hidden_layer_sizes=hidden_layer_sizes, **kwargs)
            self.extra = extra

    base = MLPClassifier._get_param_names()
    assert "extra" not in base
    assert Wider._get_param_names() == ["extra", "hidden_layer_sizes"]
    assert Wider(extra=5).get_params() == {"extra": 5, "hidden_layer_sizes": (100,)}
    base.append("mutated")
    assert "mutated" not in MLPClassifier._get_param_names()
    assert MLPClassifier._get_param_names() == sorted(MLPClassifier().get_params())
