"""Bad input: fastmlp raises what scikit-learn raises, and a failed call
leaves an already fitted model untouched.

Each case runs the same call on scikit-learn's estimator and on fastmlp's and
asserts the same exception class (plus a ``match=`` where the message is part
of the contract). ``InvalidParameterError`` comes from scikit-learn's own
parameter validation, which fastmlp must use so that meta-estimators and user
code catching it keep working.
"""

import copy
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.utils._param_validation import InvalidParameterError

from fastmlp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)

SMALL = dict(hidden_layer_sizes=(4,), max_iter=2, random_state=0)


def _pair(kind, **params):
    params = {**SMALL, **params}
    if kind == "clf":
        return MLPClassifier(**params), SkMLPClassifier(**params)
    return MLPRegressor(**params), SkMLPRegressor(**params)


def _raises_like_sklearn(action, ours, sk, match=None):
    """Run ``action`` on both estimators; same exception class, optional match."""
    with pytest.raises(Exception) as sk_info:
        action(sk)
    expected = type(sk_info.value)
    if match is not None:
        # guard the test itself: the message we require is scikit-learn's
        sk_info.match(match)
    with pytest.raises(Exception) as our_info:
        action(ours)
    assert type(our_info.value) is expected, (
        f"fastmlp raised {type(our_info.value).__name__}: {our_info.value}; "
        f"scikit-learn raises {expected.__name__}: {sk_info.value}"
    )
    if match is not None:
        our_info.match(match)
    _assert_same_message(str(our_info.value), str(sk_info.value))
    return our_info.value


def _options(text):
    """The quoted names of a parameter error's "a str among {...}"."""
    found = re.search(r"among \{([^}]*)\}", text)
    return set(re.findall(r"'([^']*)'", found.group(1))) if found else set()


def _assert_same_message(ours, sk):
    """A drop-in's errors read the same, so code matching on them keeps
    working.  One exception: where fastmlp accepts more values of a
    parameter, its "must be a str among {...}" names them too (and set order
    varies from process to process, in scikit-learn's message as well)."""
    if ours == sk:
        return
    head = re.compile(r"^(The '\w+' parameter of \w+ must be) (.*)\. (Got .*)$", re.S)
    o, k = head.match(ours), head.match(sk)
    assert o and k, f"fastmlp says {ours!r}; scikit-learn says {sk!r}"
    assert (o.group(1), o.group(3)) == (k.group(1), k.group(3)), (ours, sk)
    assert _options(sk) <= _options(ours), (ours, sk)


@pytest.fixture
def data(multiclass, regression):
    return {"clf": multiclass, "reg": regression}


# ---------------------------------------------------------------------------
# Non-finite and mis-shaped X
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["clf", "reg"])
@pytest.mark.parametrize(
    "bad, match",
    [
        (np.nan, "Input X contains NaN"),
        (np.inf, "Input X contains infinity"),
        (-np.inf, "Input X contains infinity"),
    ],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit", "predict"])
def test_non_finite_X(data, kind, bad, match, method):
    X, y = data[kind]
    X_bad = X.copy()
    X_bad[3, 2] = bad
    ours, sk = _pair(kind, solver="sgd")
    extra = {"classes": np.unique(y)} if kind == "clf" else {}
    if method == "fit":
        action = lambda est: est.fit(X_bad, y)  # noqa: E731
    elif method == "partial_fit":
        action = lambda est: est.partial_fit(X_bad, y, **extra)  # noqa: E731
    else:
        ours.fit(X, y)
        sk.fit(X, y)
        action = lambda est: est.predict(X_bad)  # noqa: E731
    _raises_like_sklearn(action, ours, sk, match=match)


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_non_finite_y_and_sample_weight(data, kind, sample_weight):
    X, y = data[kind]
    ours, sk = _pair(kind)
    if kind == "reg":
        y_bad = y.copy()
        y_bad[0] = np.nan
        _raises_like_sklearn(
            lambda est: est.fit(X, y_bad), ours, sk, match="Input y contains NaN"
        )
    sw = sample_weight.copy()
    sw[5] = np.nan
    _raises_like_sklearn(
        lambda est: est.fit(X, y, sample_weight=sw),
        ours,
        sk,
        match="Input sample_weight contains NaN",
    )


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_wrong_ndim(data, kind):
    X, y = data[kind]
    ours, sk = _pair(kind)
    _raises_like_sklearn(lambda est: est.fit(X[:, 0], y), ours, sk, match="Expected 2D")
    _raises_like_sklearn(
        lambda est: est.fit(X[:, :, None], y), ours, sk, match="dim 3"
    )
    _raises_like_sklearn(
        lambda est: est.fit(np.float64(1.0), y), ours, sk, match="Expected 2D"
    )
    ours.fit(X, y)
    sk.fit(X, y)
    _raises_like_sklearn(lambda est: est.predict(X[0]), ours, sk, match="Expected 2D")
    _raises_like_sklearn(lambda est: est.predict(X[:, :, None]), ours, sk)


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_wrong_n_features_at_predict(data, kind):
    X, y = data[kind]
    ours, sk = _pair(kind)
    ours.fit(X, y)
    sk.fit(X, y)
    for X_bad in (X[:, :-1], np.hstack([X, X[:, :1]])):
        n = X_bad.shape[1]
        match = f"X has {n} features, but {type(sk).__name__} is expecting 5"
        _raises_like_sklearn(lambda est: est.predict(X_bad), ours, sk, match=match)
        _raises_like_sklearn(lambda est: est.score(X_bad, y), ours, sk, match=match)
    if kind == "clf":
        _raises_like_sklearn(
            lambda est: est.predict_proba(X[:, :-1]), ours, sk, match="X has 4"
        )


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_other_bad_X(data, kind):
    X, y = data[kind]
    ours, sk = _pair(kind)
    _raises_like_sklearn(
        lambda est: est.fit(X[:0], y[:0]), ours, sk, match="0 sample"
    )
    _raises_like_sklearn(
        lambda est: est.fit(X.astype(complex) + 1j, y), ours, sk, match="Complex"
    )
    _raises_like_sklearn(
        lambda est: est.fit(X, y[:-1]),
        ours,
        sk,
        match="inconsistent numbers of samples",
    )
    _raises_like_sklearn(
        lambda est: est.fit(X, y, sample_weight=np.ones(3)),
        ours,
        sk,
        match=r"sample_weight.shape == \(3,\), expected \(60,\)",
    )
    X_str = np.array([["a"] * X.shape[1]] * X.shape[0])
    _raises_like_sklearn(lambda est: est.fit(X_str, y), ours, sk)


# ---------------------------------------------------------------------------
# Not fitted
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, method",
    [
        ("clf", "predict"),
        ("clf", "predict_proba"),
        ("clf", "predict_log_proba"),
        ("clf", "score"),
        ("reg", "predict"),
        ("reg", "score"),
    ],
)
def test_not_fitted(data, kind, method):
    X, y = data[kind]
    ours, sk = _pair(kind)
    args = (X, y) if method == "score" else (X,)
    err = _raises_like_sklearn(lambda est: getattr(est, method)(*args), ours, sk)
    assert isinstance(err, NotFittedError)


# ---------------------------------------------------------------------------
# Invalid parameters
# ---------------------------------------------------------------------------

INVALID_PARAMS = [
    ("hidden_layer_sizes", 0),
    ("hidden_layer_sizes", 2.5),
    ("hidden_layer_sizes", "abc"),
    ("activation", "softmax"),
    ("activation", "ReLU"),
    ("solver", "newton"),
    ("alpha", -1.0),
    ("alpha", "0.1"),
    ("batch_size", 0),
    ("batch_size", 2.0),
    ("batch_size", "big"),
    ("learning_rate", "fast"),
    ("learning_rate_init", 0.0),
    ("learning_rate_init", -0.1),
    ("power_t", -0.5),
    ("max_iter", 0),
    ("max_iter", 10.0),
    ("shuffle", "yes"),
    ("shuffle", 1),
    ("random_state", "seed"),
    ("random_state", -1),
    ("tol", -1e-3),
    ("verbose", "loud"),
    ("verbose", -1),
    ("warm_start", 1),
    ("momentum", 1.5),
    ("momentum", -0.1),
    ("nesterovs_momentum", None),
    ("early_stopping", "no"),
    ("validation_fraction", 1.0),
    ("validation_fraction", -0.1),
    ("beta_1", 1.0),
    ("beta_2", -0.1),
    ("beta_2", 1.0),
    ("epsilon", 0.0),
    ("n_iter_no_change", 0),
    ("n_iter_no_change", 2.5),
    ("max_fun", 0),
]


@pytest.mark.parametrize("kind", ["clf", "reg"])
@pytest.mark.parametrize("param, value", INVALID_PARAMS)
def test_invalid_parameter(data, kind, param, value):
    X, y = data[kind]
    ours, sk = _pair(kind)
    ours.set_params(**{param: value})
    sk.set_params(**{param: value})
    name = type(sk).__name__
    err = _raises_like_sklearn(
        lambda est: est.fit(X, y),
        ours,
        sk,
        match=f"The '{param}' parameter of {name} must be",
    )
    assert isinstance(err, InvalidParameterError)
    assert isinstance(err, ValueError) and isinstance(err, TypeError)


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_invalid_parameter_in_partial_fit(data, kind):
    X, y = data[kind]
    ours, sk = _pair(kind, solver="sgd", momentum=2.0)
    extra = {"classes": np.unique(y)} if kind == "clf" else {}
    _raises_like_sklearn(
        lambda est: est.partial_fit(X, y, **extra),
        ours,
        sk,
        match="The 'momentum' parameter",
    )


def test_invalid_regression_loss(regression):
    X, y = regression
    # 'huber' is valid in fastmlp (beyond scikit-learn); 'hinge' is valid in neither
    ours = MLPRegressor(loss="hinge", **SMALL)
    sk = SkMLPRegressor(loss="hinge", **SMALL)
    _raises_like_sklearn(
        lambda est: est.fit(X, y), ours, sk, match="The 'loss' parameter"
    )


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_non_positive_hidden_layer_size_in_list(data, kind):
    X, y = data[kind]
    ours, sk = _pair(kind, hidden_layer_sizes=[3, 0])
    _raises_like_sklearn(
        lambda est: est.fit(X, y), ours, sk, match="hidden_layer_sizes must be > 0"
    )


# ---------------------------------------------------------------------------
# partial_fit contract
# ---------------------------------------------------------------------------


def test_partial_fit_requires_classes_on_first_call(multiclass):
    X, y = multiclass
    ours, sk = _pair("clf", solver="sgd")
    _raises_like_sklearn(
        lambda est: est.partial_fit(X, y),
        ours,
        sk,
        match="classes must be passed on the first call to partial_fit",
    )


def test_partial_fit_unseen_class(multiclass):
    X, y = multiclass
    ours, sk = _pair("clf", solver="adam")
    seen = y != 11
    for est in (ours, sk):
        est.partial_fit(X[seen], y[seen], classes=[3, 7])
    y_new = y.copy()
    y_new[0] = 99
    _raises_like_sklearn(
        lambda est: est.partial_fit(X, y_new),
        ours,
        sk,
        match="`y` has classes not in `self.classes_`",
    )


def test_partial_fit_classes_changed(multiclass):
    X, y = multiclass
    ours, sk = _pair("clf", solver="sgd")
    for est in (ours, sk):
        est.partial_fit(X, y, classes=[3, 7, 11])
    _raises_like_sklearn(
        lambda est: est.partial_fit(X, y, classes=[3, 7, 11, 12]),
        ours,
        sk,
        match="is not the same as on last call to partial_fit",
    )


@pytest.mark.parametrize("solver, batch_size, shuffle", [
    ("lbfgs", "auto", True),     # the loss over every row
    ("adam", 10, False),         # the first batch's weights are all 0
    ("sgd", 1, True),            # batch size 1: any zero weight
    ("adam", "auto", True),      # one batch: the weights sum to 0
])
@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_weights_summing_to_zero(data, kind, solver, batch_size, shuffle):
    # a batch's gradient is divided by its weights' sum: NumPy's np.average
    # raises in scikit-learn, where fastmlp's engine made NaN (lbfgs returned
    # a "fitted" model with loss_ = nan)
    X, y = data[kind]
    n = X.shape[0]
    sw = np.ones(n)
    if batch_size == 10:
        sw[:10] = 0
    elif batch_size == 1:
        sw[n // 2] = 0
    else:
        sw[: n // 2], sw[n // 2: 2 * (n // 2)], sw[2 * (n // 2):] = -1.0, 1.0, 0.0
    ours, sk = _pair(kind, solver=solver, batch_size=batch_size, shuffle=shuffle)
    _raises_like_sklearn(lambda est: est.fit(X, y, sample_weight=sw), ours, sk,
                         match="Weights sum to zero, can't be normalized")


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
@pytest.mark.parametrize("weight", [np.nan, np.inf])
def test_class_weight_must_be_finite(binary, solver, weight):
    X, y = binary
    clf = MLPClassifier(**SMALL, solver=solver, class_weight={y[0]: weight})
    with pytest.raises(ValueError, match="class_weight must give finite weights"):
        clf.fit(X, y)


def _multilabel(X):
    return (np.random.RandomState(1).rand(X.shape[0], 3) > 0.5).astype(int)


def test_sparse_multilabel_targets_fit_and_predict_sparse(multiclass):
    import scipy.sparse

    X, _ = multiclass
    Y = scipy.sparse.csr_matrix(_multilabel(X))
    ours, sk = _pair("clf")
    pred = ours.fit(X, Y).predict(X)
    assert scipy.sparse.issparse(pred)
    assert_array_equal(pred.toarray(), sk.fit(X, Y).predict(X).toarray())
    # the sparse class follows scikit-learn's configuration, as its own does
    import sklearn

    if "sparse_interface" in sklearn.get_config():
        for interface in ("sparray", "spmatrix"):
            with sklearn.config_context(sparse_interface=interface):
                assert type(ours.predict(X)) is type(sk.predict(X))


@pytest.mark.parametrize("case", ["classes_not_y_columns", "multilabel_after_labels",
                                  "multioutput_after_labels", "fewer_label_columns"])
def test_partial_fit_multilabel_checks(multiclass, case):
    X, y = multiclass
    Y = _multilabel(X)
    ours, sk = _pair("clf", solver="adam")
    if case == "classes_not_y_columns":
        # classes_ stays the classes given; y's columns must be among them
        call, match = (lambda est: est.partial_fit(X, Y, classes=["a", "b", "c"]),
                       "`y` has classes not in `self.classes_`")
    else:
        labels = np.arange(X.shape[0]) % 3   # the classes of Y's columns
        first = Y if case == "fewer_label_columns" else labels
        for est in (ours, sk):
            est.partial_fit(X, first, classes=[0, 1, 2])
        call, match = {
            "multilabel_after_labels": (lambda est: est.partial_fit(X, Y),
                                        "The object was not fitted with multilabel input"),
            "multioutput_after_labels": (lambda est: est.partial_fit(X, np.c_[labels, labels]),
                                         "Unknown label type"),
            "fewer_label_columns": (lambda est: est.partial_fit(X, Y[:, :2]),
                                    r"classes \[0 1 2\] mismatch with the labels \[0 1\]"),
        }[case]
    _raises_like_sklearn(call, ours, sk, match=match)


def test_multilabel_model_given_labels_one_hot_encodes_them(multiclass):
    # LabelBinarizer.transform of 1-D labels for a multilabel fit: one-hot
    X, _ = multiclass
    Y = _multilabel(X)
    labels = np.arange(X.shape[0]) % 3
    ours, sk = _pair("clf", solver="adam")
    for est in (ours, sk):
        est.fit(X, Y).partial_fit(X, labels)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), rtol=1e-5,
                               atol=1e-7)


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_partial_fit_rejects_early_stopping(data, kind):
    X, y = data[kind]
    ours, sk = _pair(kind, solver="sgd", early_stopping=True)
    extra = {"classes": np.unique(y)} if kind == "clf" else {}
    _raises_like_sklearn(
        lambda est: est.partial_fit(X, y, **extra),
        ours,
        sk,
        match="partial_fit does not support early_stopping=True",
    )


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_partial_fit_wrong_n_features(data, kind):
    X, y = data[kind]
    ours, sk = _pair(kind, solver="sgd")
    extra = {"classes": np.unique(y)} if kind == "clf" else {}
    for est in (ours, sk):
        est.partial_fit(X, y, **extra)
    _raises_like_sklearn(
        lambda est: est.partial_fit(X[:, :-1], y), ours, sk, match="X has 4 features"
    )


def test_partial_fit_absent_for_lbfgs_classifier(data):
    X, y = data["clf"]
    ours, sk = _pair("clf", solver="lbfgs")
    _raises_like_sklearn(lambda est: est.partial_fit(X, y), ours, sk, match="partial_fit")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_lbfgs_regressor_partial_fit_as_sklearn(regression, dtype, weighted):
    # scikit-learn's regressor keeps partial_fit for L-BFGS: a first call
    # initializes, each later one runs up to max_iter iterations from the
    # weights the last one left
    X, y = regression
    X = X.astype(dtype)
    sw = np.linspace(0.5, 2.0, len(y)) if weighted else None
    half = len(y) // 2
    ours, sk = _pair("reg", solver="lbfgs", max_iter=5)
    for est in (ours, sk):
        est.partial_fit(X, y, sample_weight=sw)
        est.partial_fit(X[:half], y[:half], sample_weight=None if sw is None else sw[:half])
    assert ours.n_iter_ == sk.n_iter_
    # float32 trains in float32 here (README: float32 in, float32 out)
    tol = 1e-4 if dtype == np.float32 else 1e-9
    for a, b in zip(ours.coefs_ + ours.intercepts_, sk.coefs_ + sk.intercepts_):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.loss_, sk.loss_, rtol=tol)


@pytest.mark.parametrize("first", ["partial_fit", "fit"])
def test_a_stochastic_solver_continues_an_lbfgs_model(regression, first):
    # README: set_params(solver=...) between calls takes effect. L-BFGS
    # keeps no loss curve: the stochastic fit starts its records (scikit-
    # learn fails with an AttributeError for loss_curve_; fastmlp's for
    # best_loss_)
    X, y = regression
    est = MLPRegressor(solver="lbfgs", hidden_layer_sizes=(5,), max_iter=5,
                       random_state=0, warm_start=True)
    getattr(est, first)(X, y)
    est.set_params(solver="adam")
    est.partial_fit(X, y)
    assert len(est.loss_curve_) == 1 and np.isfinite(est.loss_curve_[0])
    assert est.best_loss_ == est.loss_curve_[0]
    est.fit(X, y)   # a warm start, on from there
    assert len(est.loss_curve_) == 1 + est.max_iter


def test_warm_start_with_different_classes(multiclass):
    X, y = multiclass
    ours, sk = _pair("clf", warm_start=True)
    for est in (ours, sk):
        est.fit(X, y)
    keep = y != 11
    _raises_like_sklearn(
        lambda est: est.fit(X[keep], y[keep]),
        ours,
        sk,
        match="warm_start can only be used where `y` has the same classes",
    )


# ---------------------------------------------------------------------------
# Targets and sizes
# ---------------------------------------------------------------------------


def test_regressor_non_numeric_y(regression):
    X, _ = regression
    ours, sk = _pair("reg")
    y_obj = np.array(["a", "b"] * 30, dtype=object)
    _raises_like_sklearn(
        lambda est: est.fit(X, y_obj), ours, sk, match="could not convert string"
    )
    # a numpy unicode array slips past scikit-learn's conversion and fails
    # in the first arithmetic with a (numpy-internal) TypeError subclass
    y_str = np.array(["a", "b"] * 30)
    with pytest.raises(TypeError):
        SkMLPRegressor(**SMALL).fit(X, y_str)
    with pytest.raises(TypeError):
        MLPRegressor(**SMALL).fit(X, y_str)


def test_classifier_continuous_y(regression):
    X, y = regression
    ours, sk = _pair("clf")
    _raises_like_sklearn(
        lambda est: est.fit(X, y), ours, sk, match="Unknown label type"
    )


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_batch_size_larger_than_n_samples_warns(data, kind):
    X, y = data[kind]
    messages = []
    for est in _pair(kind, solver="sgd", batch_size=1000):
        with pytest.warns(UserWarning, match="larger than sample size") as rec:
            est.fit(X, y)
        messages.append(
            sorted(
                (w.category.__name__, str(w.message))
                for w in rec
                if not issubclass(w.category, ConvergenceWarning)
            )
        )
    assert messages[0] == messages[1]
    # and it trained on full batches: same result as batch_size=n_samples
    a = _pair(kind, solver="sgd", batch_size=1000, shuffle=False)[0]
    b = _pair(kind, solver="sgd", batch_size=X.shape[0], shuffle=False)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        a.fit(X, y)
    b.fit(X, y)
    for wa, wb in zip(a.coefs_, b.coefs_):
        assert_array_equal(wa, wb)


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_validation_set_too_small(data, kind):
    X, y = data[kind]
    ours, sk = _pair(kind, early_stopping=True, validation_fraction=0.05)
    _raises_like_sklearn(
        lambda est: est.fit(X[:20], y[:20]),
        ours,
        sk,
        match="The validation set is too small",
    )


def test_stratified_validation_split_too_small(binary):
    # binary targets are split with stratification, which refuses first
    X, y = binary
    ours, sk = _pair("clf", early_stopping=True, validation_fraction=0.05)
    _raises_like_sklearn(
        lambda est: est.fit(X[:20], y[:20]),
        ours,
        sk,
        match="should be greater or equal to the number of classes",
    )


# ---------------------------------------------------------------------------
# A failed call leaves a fitted model exactly as it was
# ---------------------------------------------------------------------------


def _snapshot(est):
    snap = {
        "coefs_": [c.copy() for c in est.coefs_],
        "intercepts_": [b.copy() for b in est.intercepts_],
    }
    for name in (
        "loss_curve_",
        "n_iter_",
        "t_",
        "loss_",
        "best_loss_",
        "n_features_in_",
        "n_outputs_",
        "n_layers_",
        "out_activation_",
        "classes_",
    ):
        if hasattr(est, name):
            snap[name] = copy.deepcopy(getattr(est, name))
    return snap


def _assert_unchanged(est, snap, X, pred_before):
    assert len(est.coefs_) == len(snap["coefs_"])
    for a, b in zip(est.coefs_ + est.intercepts_, snap["coefs_"] + snap["intercepts_"]):
        assert_array_equal(a, b)
    for name, value in snap.items():
        if name in ("coefs_", "intercepts_"):
            continue
        if isinstance(value, np.ndarray):
            assert_array_equal(getattr(est, name), value)
        else:
            assert getattr(est, name) == value, name
    assert_array_equal(est.predict(X), pred_before)


def _bad_calls(kind, X, y):
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    calls = {
        "fit-nan": lambda est: est.fit(X_nan, y),
        "partial_fit-nan": lambda est: est.partial_fit(X_nan, y),
        "partial_fit-n_features": lambda est: est.partial_fit(X[:, :-1], y),
        "fit-bad-param": lambda est: est.set_params(alpha=-1.0).fit(X, y),
        "partial_fit-early-stopping": lambda est: est.set_params(
            early_stopping=True
        ).partial_fit(X, y),
        "fit-sample-weight-length": lambda est: est.fit(X, y, sample_weight=[1.0]),
    }
    if kind == "clf":
        y_unseen = y.copy()
        y_unseen[:3] = 99
        calls["partial_fit-unseen-class"] = lambda est: est.partial_fit(X, y_unseen)
        calls["partial_fit-changed-classes"] = lambda est: est.partial_fit(
            X, y, classes=[1, 2]
        )
    return calls


_BAD_CALL_IDS = [
    "fit-nan",
    "partial_fit-nan",
    "partial_fit-n_features",
    "fit-bad-param",
    "partial_fit-early-stopping",
    "fit-sample-weight-length",
    "partial_fit-unseen-class",
    "partial_fit-changed-classes",
]


@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize("call", _BAD_CALL_IDS)
@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_failed_call_leaves_fitted_model_unchanged(data, kind, call, warm_start):
    X, y = data[kind]
    calls = _bad_calls(kind, X, y)
    if call not in calls:
        pytest.skip("classifier-only failure")
    params = dict(SMALL, solver="sgd", warm_start=warm_start)
    Est = MLPClassifier if kind == "clf" else MLPRegressor
    est = Est(**params).fit(X, y)
    extra = {"classes": np.unique(y)} if kind == "clf" else {}
    est.partial_fit(X, y, **extra)  # optimizer state exists too
    snap = _snapshot(est)
    pred_before = est.predict(X)
    params_before = est.get_params()

    with pytest.raises(ValueError):
        calls[call](est)
    est.set_params(**params_before)  # undo what the bad call set
    _assert_unchanged(est, snap, X, pred_before)

    # and the model is still usable: training continues as if nothing happened
    twin = Est(**params).fit(X, y)
    twin.partial_fit(X, y, **extra)
    est.partial_fit(X, y)
    twin.partial_fit(X, y)
    for a, b in zip(est.coefs_, twin.coefs_):
        assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# Divergence
# ---------------------------------------------------------------------------


@pytest.fixture
def unscaled():
    X, y = make_regression(n_samples=60, n_features=5, random_state=0)
    return X * 1e3, y * 1e3


NONFINITE_WEIGHTS = (
    "Solver produced non-finite parameter weights. The input data may contain large"
    " values and need to be preprocessed."
)


def test_lbfgs_on_an_overflowing_loss_says_why(regression):
    # scikit-learn returns loss_ = nan here too, with NumPy's overflow
    # warnings saying why; fastmlp's loops do not warn, so it says so itself
    X, y = regression
    params = dict(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=5, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = MLPRegressor(**params).fit(X * 1e160, y)
    assert not np.isfinite(est.loss_)
    assert np.isfinite(est.predict(X)).all()
    assert any(issubclass(w.category, RuntimeWarning) and "loss is not finite" in str(w.message)
               for w in caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sk = SkMLPRegressor(**params).fit(X * 1e160, y)
    assert not np.isfinite(sk.loss_)
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_diverging_fit_raises(unscaled, dtype):
    X, y = unscaled
    X = X.astype(dtype)
    params = dict(
        hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=1e10, max_iter=20,
        random_state=0,
    )
    _raises_like_sklearn(
        lambda est: est.fit(X, y),
        MLPRegressor(**params),
        SkMLPRegressor(**params),
        match=re.escape(NONFINITE_WEIGHTS),
    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_diverging_partial_fit_raises_and_never_predicts_nan(unscaled, dtype):
    X, y = unscaled
    X = X.astype(dtype)
    est = MLPRegressor(
        hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=1e10, random_state=0
    )
    with pytest.raises(ValueError, match=re.escape(NONFINITE_WEIGHTS)):
        for _ in range(10):
            est.partial_fit(X, y)
            assert not np.isnan(est.predict(X)).any()


@pytest.mark.parametrize("Est,Sk", [(MLPClassifier, SkMLPClassifier),
                                    (MLPRegressor, SkMLPRegressor)])
def test_long_double_x_predicts(Est, Sk):
    # predict on np.longdouble X raised "No matching signature found" (the
    # engine computes in float32 or float64); scikit-learn predicts
    X, y = make_regression(n_samples=40, n_features=3, random_state=0)
    y = y > 0 if Est is MLPClassifier else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = Est(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.predict(X.astype(np.longdouble)), est.predict(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_weight_is_checked_in_its_own_dtype(dtype):
    # checked in X's dtype, an infinite weight was named float32's; and
    # weights past float32's range turned to inf or to all zeros
    X, y = make_regression(n_samples=40, n_features=3, random_state=0)
    X = X.astype(dtype)
    bad = np.ones(40)
    bad[3] = np.inf
    messages = []
    for Est in (SkMLPRegressor, MLPRegressor):
        with pytest.raises(ValueError) as raised:
            Est(max_iter=2).fit(X, y, sample_weight=bad)
        messages.append(str(raised.value))
    assert messages[0] == messages[1] and "float64" in messages[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for scale in (1e300, 1e-50):
            est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
            if dtype == np.float64:
                est.fit(X, y, sample_weight=np.full(40, scale))
                assert np.isfinite(est.coefs_[0]).all()
            else:
                with pytest.raises(ValueError, match="beyond float32's range: the model "
                                                     "trains in float32"):
                    est.fit(X, y, sample_weight=np.full(40, scale))
    # a NaN or inf scalar weight (scikit-learn's check reads no scalar): its
    # non-finite-weights error, as scikit-learn's; a float32 model said
    # "sample_weight spans nan to nan, beyond float32's range"
    for scalar in (np.nan, np.inf):
        messages = []
        for Est in (SkMLPRegressor, MLPRegressor):
            with pytest.raises(ValueError) as raised:
                Est(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(
                    X, y, sample_weight=scalar)
            messages.append(str(raised.value))
        assert messages[1] == messages[0]


def test_lbfgs_non_finite_poisson_loss_names_negative_targets():
    X, y = make_regression(n_samples=40, n_features=3, random_state=0)
    with pytest.warns(RuntimeWarning, match="negative values, which loss='poisson'"):
        MLPRegressor(solver="lbfgs", loss="poisson", max_iter=5, random_state=0).fit(X, y)


def test_a_failed_first_fit_keeps_what_scikit_learn_set_on_the_estimator():
    # set_fit_request and set_output live on the estimator; a failed first
    # fit removed every attribute that was not a parameter, so a routed
    # sample_weight was then refused as not requested
    import sklearn

    from fastmlp import MLPRegressor

    X = np.random.RandomState(0).randn(50, 3)
    with sklearn.config_context(enable_metadata_routing=True):
        est = MLPRegressor(solver="sgd", max_iter=5, random_state=0)
        est.set_fit_request(sample_weight=True)
        est.note = "the user's own"
        with pytest.raises(ValueError, match="non-finite parameter weights"):
            est.fit(X, X[:, 0] * 1e200)
        assert est.get_metadata_routing().fit.requests["sample_weight"] is True
        assert est.note == "the user's own" and not hasattr(est, "coefs_")


@pytest.mark.parametrize("bad", ["nan_in_X", "sample_weight_length"])
def test_a_failed_first_partial_fit_with_classes_leaves_the_model_unfitted(bad):
    # the classes were set before _fit took its snapshot, so a first call
    # failing there kept classes_, and a later partial_fit without classes
    # went through (README: it fails, saying classes is needed)
    from fastmlp import MLPClassifier

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(30, 3)), np.arange(30) % 3
    X_bad, sw = X.copy(), None
    if bad == "nan_in_X":
        X_bad[0, 0] = np.nan
    else:
        sw = np.ones(29)
    clf = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    with pytest.raises(ValueError):
        clf.partial_fit(X_bad, y, classes=[0, 1, 2], sample_weight=sw)
    assert not hasattr(clf, "classes_") and not hasattr(clf, "coefs_")
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_poisson_prediction_that_overflows_warns_as_scikit_learn(dtype):
    # scikit-learn's np.exp warns "overflow encountered in exp" when a
    # prediction is inf (predict, and again inside score); the engine's loop
    # said nothing
    rng = np.random.RandomState(0)
    X = rng.rand(200, 4).astype(dtype)
    y = rng.poisson(np.exp(2 * X[:, 0])).astype(dtype)
    seen = []
    for cls in (SkMLPRegressor, MLPRegressor):
        est = cls(hidden_layer_sizes=(6,), loss="poisson", max_iter=30, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            quiet = est.predict(X[:3])
            loud = est.predict(X[:3] * 1e4)
        assert np.isfinite(quiet).all() and np.isposinf(loud).all()
        seen.append([(w.category, str(w.message)) for w in caught])
    assert seen[1] == seen[0] == [(RuntimeWarning, "overflow encountered in exp")]


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_early_stopping_split_of_zero_weights_gets_scikit_learns_error(Est):
    # held-out rows that all weigh 0 (the training rows do not): scikit-learn's
    # weighted score raises a ValueError; fastmlp's validation-loss pass
    # divided by their sum first, a ZeroDivisionError.  (Training rows that
    # all weigh 0 are a ZeroDivisionError in both.)
    X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    y = y > 0 if Est is MLPClassifier else y
    params = dict(hidden_layer_sizes=(5,), early_stopping=True, max_iter=2, random_state=0)
    Sk = SkMLPClassifier if Est is MLPClassifier else SkMLPRegressor

    def outcome(Model, sw):
        try:
            Model(**params).fit(X, y, sample_weight=sw)
        except (ValueError, ZeroDivisionError) as e:
            return type(e), str(e)
        return None

    held_out_zero = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(40):
            # 6 rows of weight 1: those draws whose 6 held-out rows weigh 0
            sw = np.zeros(60)
            sw[np.random.RandomState(seed).choice(60, 6, replace=False)] = 1
            expected = outcome(Sk, sw)
            assert outcome(Est, sw) == expected
            held_out_zero += expected == (
                ValueError, "Sample weights must contain at least one non-zero number.")
    assert held_out_zero


def test_class_weight_products_past_float32_are_the_range_error():
    # in float32 X, class weights of 1e-50 were all zeros ("class_weight gives
    # every sample a weight of 0") and 1e39 inf (non-finite weights): the
    # same weights as sample_weight are a range error that says so
    X, y = make_regression(n_samples=40, n_features=3, random_state=0)
    X, y = X.astype(np.float32), y > 0
    for cw, sw in (({False: 1e-50, True: 1e-50}, None), ({False: 1e39, True: 1.0}, None),
                   ({False: 1e-30, True: 1e-30}, np.full(40, 1e-30))):
        with pytest.raises(ValueError, match="class_weight spans .* beyond float32's range"):
            MLPClassifier(max_iter=2, class_weight=cw).fit(X, y, sample_weight=sw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(max_iter=2, class_weight={False: 1e-50, True: 1.0}).fit(X, y)
    assert np.isfinite(est.coefs_[0]).all()


def test_a_stochastic_fit_whose_loss_overflows_says_so():
    # loss_curve_ inf in both; scikit-learn's NumPy warned 'overflow
    # encountered in square' every epoch, fastmlp's loops said nothing
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    params = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    for Est in (SkMLPRegressor, MLPRegressor):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = Est(**params).fit(X, y * 1e200)
        assert np.isposinf(est.loss_curve_).all()
        runtime = [str(w.message) for w in caught if w.category is RuntimeWarning]
        assert runtime
    assert runtime == ["The loss is not finite: the input data may contain large values and "
                       "need to be preprocessed."]
