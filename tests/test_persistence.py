"""Persistence: skops, pickle, joblib and deep copies of fitted fastmlp models.

A fitted model keeps its weights in one flat buffer ``_params`` that
``coefs_``/``intercepts_`` are views of; ``__getstate__`` drops the buffer and
``__setstate__`` rebuilds it from ``coefs_``/``intercepts_``.  The tests here
check, for every way a model is copied or stored:

* the copy predicts exactly what the original predicts (every target type,
  every solver, float32 and float64, fitted on dense and on CSR input);
* skops needs to trust nothing but fastmlp's own two estimator classes (no
  scikit-learn private object, no Cython object is in the state);
* a copy taken in the middle of ``partial_fit`` training resumes exactly:
  continuing on the copy gives bit-identical weights and optimizer state to
  continuing on the original;
* editing ``coefs_`` in place on a loaded model takes effect.
"""
import copy
import functools
import io
import operator
import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import (
    make_classification,
    make_multilabel_classification,
    make_regression,
)
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier, MLPRegressor

skops_io = pytest.importorskip("skops.io")
from skops.io.exceptions import UntrustedTypesFoundException  # noqa: E402

N_SAMPLES = 64
N_FEATURES = 6
SOLVERS = ["sgd", "adam", "rmsprop", "lbfgs"]
STOCHASTIC = ["sgd", "adam", "rmsprop"]
TRUSTED = {
    MLPClassifier: ["fastmlp._multilayer_perceptron.MLPClassifier"],
    MLPRegressor: ["fastmlp._multilayer_perceptron.MLPRegressor"],
}


# ---------------------------------------------------------------- data

@functools.lru_cache(maxsize=None)
def _dataset(target):
    """(X, y, Estimator, extra params) for one target type; float64 dense X.

    Cached: callers must not modify what they receive.
    """
    if target.startswith(("binary", "multiclass")):
        n_classes = 2 if target.startswith("binary") else 3
        X, y = make_classification(
            n_samples=N_SAMPLES, n_features=N_FEATURES, n_informative=4,
            n_redundant=0, n_classes=n_classes, random_state=0,
        )
        if target.endswith("_str"):
            labels = np.array(["ant", "bee", "cat"][:n_classes])
        else:
            labels = np.array([-1, 7, 11][:n_classes])
        return X, labels[y], MLPClassifier, {}
    if target == "multilabel":
        X, Y = make_multilabel_classification(
            n_samples=N_SAMPLES, n_features=N_FEATURES, n_classes=3, random_state=1
        )
        return X / X.max(), Y, MLPClassifier, {}
    rng = np.random.RandomState(2)
    if target == "poisson":
        X = rng.normal(size=(N_SAMPLES, N_FEATURES))
        y = rng.poisson(np.exp(X @ rng.uniform(-0.4, 0.4, N_FEATURES))).astype(float)
        return X, y, MLPRegressor, {"loss": "poisson"}
    n_targets = 3 if target == "multioutput" else 1
    X, y = make_regression(
        n_samples=N_SAMPLES, n_features=N_FEATURES, n_targets=n_targets,
        noise=0.1, random_state=3,
    )
    return X, (y - y.mean(axis=0)) / y.std(axis=0), MLPRegressor, {}


TARGETS = [
    "binary_str", "binary_int", "multiclass_int", "multiclass_str", "multilabel",
    "regression", "multioutput", "poisson",
]


def _as(X, dtype, fmt):
    X = X.astype(dtype)
    return sp.csr_matrix(X) if fmt == "csr" else X


@functools.lru_cache(maxsize=None)
def _fitted(target, solver, dtype, fmt):
    """A small fitted model and the X it was fitted on (do not modify them)."""
    X, y, Est, extra = _dataset(target)
    X = _as(X, dtype, fmt)
    est = Est(
        hidden_layer_sizes=(7,), solver=solver, max_iter=8, random_state=0,
        learning_rate_init=0.01, **extra,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return est, X


# ----------------------------------------------------------- persisters

def _via_skops(est, tmp_path):
    path = tmp_path / "model.skops"
    skops_io.dump(est, path)
    untrusted = skops_io.get_untrusted_types(file=path)
    assert untrusted == TRUSTED[type(est)]
    return skops_io.load(path, trusted=untrusted)


def _via_pickle(est, tmp_path):
    return pickle.loads(pickle.dumps(est, protocol=pickle.HIGHEST_PROTOCOL))


def _via_joblib(est, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    return joblib.load(path)


def _via_joblib_compressed(est, tmp_path):
    buffer = io.BytesIO()
    joblib.dump(est, buffer, compress=3)
    buffer.seek(0)
    return joblib.load(buffer)


def _via_joblib_mmap(est, tmp_path):
    """Serving pattern: the arrays of the state come back as read-only memmaps."""
    path = tmp_path / "model_mmap.joblib"
    joblib.dump(est, path)
    return joblib.load(path, mmap_mode="r")


def _via_deepcopy(est, tmp_path):
    return copy.deepcopy(est)


PERSISTERS = {
    "skops": _via_skops,
    "pickle": _via_pickle,
    "joblib": _via_joblib,
    "joblib_compressed": _via_joblib_compressed,
    "joblib_mmap": _via_joblib_mmap,
    "deepcopy": _via_deepcopy,
}
# copies that must resume partial_fit exactly
RESUMERS = ["skops", "pickle", "joblib", "joblib_mmap", "deepcopy"]


def _weights(est):
    return [a.copy() for a in est.coefs_ + est.intercepts_]


def _assert_same_weights(a, b):
    assert len(a.coefs_) == len(b.coefs_)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert p.dtype == q.dtype and p.shape == q.shape
        np.testing.assert_array_equal(p, q)


def _assert_same_predictions(a, b, X):
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    if isinstance(a, MLPClassifier):
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


# -------------------------------------------------------- round trips

@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("target", TARGETS)
def test_round_trips_give_identical_predictions(target, solver, dtype, fmt, tmp_path):
    est, X = _fitted(target, solver, dtype, fmt)
    expected_pred = est.predict(X)
    for name, persist in PERSISTERS.items():
        loaded = persist(est, tmp_path)
        assert type(loaded) is type(est), name
        assert loaded.get_params() == est.get_params(), name
        _assert_same_weights(loaded, est)
        assert loaded.coefs_[0].dtype == dtype, name
        _assert_same_predictions(loaded, est, X)
        if fmt == "csr":  # the other format predicts the same too
            _assert_same_predictions(loaded, est, X.toarray())
        for attr in ("n_iter_", "n_layers_", "n_outputs_", "out_activation_",
                     "n_features_in_", "loss_", "t_"):
            assert getattr(loaded, attr) == getattr(est, attr), (name, attr)
        if solver != "lbfgs":
            assert loaded.loss_curve_ == est.loss_curve_, name
        if isinstance(est, MLPClassifier):
            assert loaded.classes_.dtype == est.classes_.dtype, name
            np.testing.assert_array_equal(loaded.classes_, est.classes_)
        assert loaded.score(X, _dataset(target)[1]) == est.score(X, _dataset(target)[1])
        # loading never changes the original
        np.testing.assert_array_equal(est.predict(X), expected_pred)


def _special_models():
    """Models whose state holds more than the plain fit leaves behind."""
    X, y, _, _ = _dataset("multiclass_str")
    Xr, yr, _, _ = _dataset("regression")
    quiet = dict(hidden_layer_sizes=(5,), max_iter=6, random_state=0)
    models = {}
    for solver in STOCHASTIC:  # optimizer state (_optimizer: state1/2, learning_rate, t)
        models[f"partial_fit_{solver}_clf"] = (
            MLPClassifier(solver=solver, **quiet).partial_fit(X, y, classes=np.unique(y)), X)
        models[f"partial_fit_{solver}_reg"] = (
            MLPRegressor(solver=solver, **quiet).partial_fit(Xr, yr), Xr)
    models["early_stopping_clf"] = (MLPClassifier(early_stopping=True, **quiet).fit(X, y), X)
    models["early_stopping_sgd_adaptive_reg"] = (
        MLPRegressor(early_stopping=True, solver="sgd", learning_rate="adaptive",
                     **quiet).fit(Xr, yr), Xr)
    models["random_state_instance"] = (
        MLPClassifier(**dict(quiet, random_state=np.random.RandomState(0))).fit(X, y), X)
    models["sample_weight"] = (
        MLPClassifier(**quiet).fit(X, y, sample_weight=np.linspace(0.5, 2, len(y))), X)
    models["bool_labels"] = (MLPClassifier(**quiet).fit(X, y == y[0]), X)
    models["grad_clip_rmsprop"] = (
        MLPRegressor(solver="rmsprop", grad_clip_norm=1.0, rho=0.8, **quiet).fit(Xr, yr), Xr)
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    models["pandas_feature_names"] = (
        MLPClassifier(**quiet).fit(df, pd.Series(y, dtype=object)), df)
    return models


@pytest.fixture(scope="module")
def special_models():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _special_models()


SPECIAL = [
    *(f"partial_fit_{s}_{k}" for s in STOCHASTIC for k in ("clf", "reg")),
    "early_stopping_clf", "early_stopping_sgd_adaptive_reg", "random_state_instance",
    "sample_weight", "bool_labels", "grad_clip_rmsprop", "pandas_feature_names",
]


@pytest.mark.parametrize("name", SPECIAL)
def test_skops_trusts_only_fastmlp_estimators(special_models, name, tmp_path):
    est, X = special_models[name]
    path = tmp_path / "model.skops"
    skops_io.dump(est, path)
    untrusted = skops_io.get_untrusted_types(file=path)
    # exactly fastmlp's own class: nothing from sklearn's private modules, no
    # Cython object, no LabelBinarizer, no optimizer object
    assert untrusted == TRUSTED[type(est)]
    assert skops_io.get_untrusted_types(data=skops_io.dumps(est)) == untrusted
    with pytest.raises(UntrustedTypesFoundException):
        skops_io.load(path)
    loaded = skops_io.load(path, trusted=untrusted)
    _assert_same_weights(loaded, est)
    _assert_same_predictions(loaded, est, X)
    if hasattr(est, "_optimizer"):
        assert type(loaded._optimizer) is type(est._optimizer)
        for attr in ("_optimizer.state1", "_optimizer.state2"):
            np.testing.assert_array_equal(_get(loaded, attr), _get(est, attr))
            assert _get(loaded, attr).dtype == _get(est, attr).dtype
    for attr in ("_optimizer.learning_rate", "_optimizer.t", "validation_scores_",
                 "best_validation_score_", "best_loss_", "_no_improvement_count"):
        if _has(est, attr):
            assert _get(loaded, attr) == _get(est, attr), attr
    if hasattr(est, "feature_names_in_"):
        np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)


# ------------------------------------------- resuming partial_fit training

SOLVER_CONFIGS = {
    "sgd_nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
    "sgd_momentum_invscaling": dict(solver="sgd", momentum=0.8, nesterovs_momentum=False,
                                    learning_rate="invscaling", power_t=0.3),
    "adam": dict(solver="adam"),
    "rmsprop": dict(solver="rmsprop", rho=0.85),
}
if "dropout" in MLPClassifier().get_params():  # masks are drawn from the random state
    SOLVER_CONFIGS["adam_dropout"] = dict(solver="adam", dropout=0.3, input_dropout=0.1)
OPT_STATE = ("_optimizer.state1", "_optimizer.state2", "_optimizer.learning_rate",
             "_optimizer.t", "t_", "n_iter_", "loss_curve_", "best_loss_",
             "_no_improvement_count")


def _get(est, dotted):
    return operator.attrgetter(dotted)(est)


def _has(est, dotted):
    try:
        _get(est, dotted)
    except AttributeError:
        return False
    return True


def _assert_same_optimizer_state(a, b):
    for attr in OPT_STATE:
        p, q = _get(a, attr), _get(b, attr)
        if isinstance(p, np.ndarray):
            assert p.dtype == q.dtype, attr
            np.testing.assert_array_equal(p, q, err_msg=attr)
        else:
            assert p == q, attr


def _stream(target, dtype):
    """The data of a training stream cut into 5 batches, and partial_fit extras."""
    X, y, Est, extra = _dataset(target)
    X = X.astype(dtype)
    batches = [(X[i], y[i]) for i in np.array_split(np.arange(len(y)), 5)]
    first = {"classes": np.unique(y)} if Est is MLPClassifier else {}
    return Est, extra, batches, first


@pytest.mark.parametrize("random_state", ["int", "instance"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("target", ["multiclass_str", "regression"])
@pytest.mark.parametrize("config", list(SOLVER_CONFIGS))
@pytest.mark.parametrize("copier", RESUMERS)
def test_copy_in_the_middle_of_partial_fit_resumes_exactly(
    copier, config, target, dtype, random_state, tmp_path
):
    Est, extra, batches, first = _stream(target, dtype)
    seed = 0 if random_state == "int" else np.random.RandomState(0)
    est = Est(hidden_layer_sizes=(9,), batch_size=5, learning_rate_init=0.01,
              random_state=seed, **SOLVER_CONFIGS[config], **extra)
    for i, (Xb, yb) in enumerate(batches[:2]):
        est.partial_fit(Xb, yb, **(first if i == 0 else {}))
    assert est._optimizer.state1.any()  # the optimizer has state worth carrying over

    resumed = PERSISTERS[copier](est, tmp_path)
    _assert_same_weights(resumed, est)
    _assert_same_optimizer_state(resumed, est)

    # the copy trains on its own buffers: the original does not move
    before = _weights(est)
    for Xb, yb in batches[2:]:
        resumed.partial_fit(Xb, yb)
    for p, q in zip(before, est.coefs_ + est.intercepts_):
        np.testing.assert_array_equal(p, q)

    for Xb, yb in batches[2:]:
        est.partial_fit(Xb, yb)
    _assert_same_weights(resumed, est)
    _assert_same_optimizer_state(resumed, est)
    assert resumed.coefs_[0].dtype == dtype


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_partial_fit_resumes_after_joblib_mmap_load(solver, tmp_path):
    """The optimizer state comes back as read-only memmaps; training must not
    write into them (a model > 1 MB sent to a loky worker arrives the same way)."""
    Est, extra, batches, first = _stream("multiclass_int", np.float64)
    est = Est(hidden_layer_sizes=(9,), solver=solver, random_state=0)
    est.partial_fit(*batches[0], **first)
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    resumed = joblib.load(path, mmap_mode="r")
    assert not resumed._optimizer.state1.flags.writeable
    for Xb, yb in batches[1:]:
        resumed.partial_fit(Xb, yb)
        est.partial_fit(Xb, yb)
    _assert_same_weights(resumed, est)
    _assert_same_optimizer_state(resumed, est)
    # the file is untouched: loading it again gives the state at dump time
    again = joblib.load(path, mmap_mode="r")
    assert again.n_iter_ == 1 and again.t_ == len(batches[0][1])


# ----------------------------------------------- editing a loaded model

@pytest.mark.parametrize("copier", list(PERSISTERS))
@pytest.mark.parametrize("target", ["multiclass_int", "binary_str", "regression", "poisson"])
def test_editing_coefs_in_place_after_loading_takes_effect(copier, target, tmp_path):
    X, y, Est, extra = _dataset(target)
    est = Est(hidden_layer_sizes=(7,), solver="adam", max_iter=5, random_state=0,
              **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    original = copy.deepcopy(est)
    loaded = PERSISTERS[copier](est, tmp_path)

    # zero output layer: the prediction is the output activation of 0
    loaded.coefs_[-1][...] = 0
    loaded.intercepts_[-1][...] = 0
    if Est is MLPClassifier:
        n_classes = len(est.classes_)
        np.testing.assert_allclose(loaded.predict_proba(X), 1 / n_classes)
    elif extra.get("loss") == "poisson":
        np.testing.assert_allclose(loaded.predict(X), 1.0)
    else:
        np.testing.assert_allclose(loaded.predict(X), 0.0)
    # the original is untouched
    _assert_same_predictions(est, original, X)

    # an in-place edit of a hidden layer acts on prediction and on training,
    # exactly as the same edit on the never-stored model does
    for model in (loaded, est):
        model.coefs_[-1][...] = original.coefs_[-1]
        model.intercepts_[-1][...] = original.intercepts_[-1]
        model.coefs_[0][0, :] *= -2.0
        model.intercepts_[0][:] += 0.25
    _assert_same_predictions(loaded, est, X)
    assert not np.array_equal(loaded.predict(X) if Est is MLPRegressor
                              else loaded.predict_proba(X),
                              original.predict(X) if Est is MLPRegressor
                              else original.predict_proba(X))
    loaded.partial_fit(X, y)
    est.partial_fit(X, y)
    _assert_same_weights(loaded, est)


@pytest.mark.parametrize("make", [
    lambda: MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0),
    lambda: MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, early_stopping=True),
    lambda: MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, solver="lbfgs",
                          random_state=np.random.RandomState(3)),
], ids=["int-seed", "unseeded", "RandomState"])
def test_a_fitted_model_pickles_to_the_same_bytes_every_time(make):
    # an unseeded RandomState, set to the fit's state before pickling,
    # carried a fresh SeedSequence into every pickle: Dask could not hash
    # the model (map_partitions(model.predict) raised TokenizationError) and
    # joblib.Memory never found it again.  scikit-learn's pickles are stable
    from dask.base import tokenize

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(120, 4)), rng.normal(size=120)
    model = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y if isinstance(model, MLPRegressor) else y > 0)
    assert pickle.dumps(model) == pickle.dumps(model)
    assert joblib.hash(model) == joblib.hash(model)
    assert tokenize(model) == tokenize(model)


def test_a_model_saved_with_an_intercept_reshaped_in_place_loads():
    # the in-place shape went unseen (only the coefs' were checked): predict
    # and pickle.dumps ran, and pickle.loads refused the bytes for good.
    # Now predict says what is wrong, and the pickle loads as it was saved
    # (as scikit-learn's, whose predict fails too)
    import pickle

    from fastmlp import MLPClassifier as Clf

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 3)), np.arange(40) % 2
    est = Clf(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    before = est.predict_proba(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # NumPy 2.5
        try:
            est.intercepts_[0].shape = (2, 4)   # in place, as a user may
        except AttributeError:
            pytest.skip("this NumPy no longer reshapes an array in place")
    with pytest.raises(ValueError, match=r"intercepts_\[0\] must have shape \(8,\)"):
        est.predict(X)
    loaded = pickle.loads(pickle.dumps(est))
    assert loaded.intercepts_[0].shape == (2, 4)
    loaded.intercepts_[0] = loaded.intercepts_[0].ravel()   # mended: the same model
    np.testing.assert_array_equal(loaded.predict_proba(X), before)


# ------------------------------------------- a model an earlier fastmlp saved

def _rebuilt(cls, state):
    """An instance loaded from ``state``, as unpickling makes it."""
    new = cls.__new__(cls)
    new.__setstate__(state)
    return new


def _as_saved(est, drop=(), add=None):
    """est as an earlier fastmlp saved it: its state without ``drop``, with
    ``add``, through pickle."""
    state = {k: v for k, v in est.__getstate__().items() if k not in drop}
    state.update(add or {})
    return _rebuilt(type(est), pickle.loads(pickle.dumps(state)))


def test_a_drop_in_saved_before_a_parameter_existed_gets_its_default():
    # saved before `progress` (and later parameters) existed, it predicted
    # and then failed in repr, get_params, clone and every fit
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    old = _as_saved(est, drop=("progress", "max_time", "callbacks"))
    assert old.get_params() == est.get_params()
    assert repr(old) == repr(est)
    np.testing.assert_array_equal(old.predict_proba(X), est.predict_proba(X))
    old.partial_fit(X, y)
    clone(old).fit(X, y)


def test_a_drop_in_saved_with_the_old_optimizer_state_says_it_restarts():
    # its optimizer state (before 2026-12-05) is not read: partial_fit
    # restarted the optimizer without a word
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    n = est._params.shape[0]
    legacy = {"_opt_state1": np.zeros(n), "_opt_state2": np.zeros(n), "_opt_lr": 0.001,
              "_adam_t": 30}
    with pytest.warns(UserWarning, match="partial_fit starts a new optimizer"):
        old = _as_saved(est, drop=("_optimizer",), add=legacy)
    assert not any(hasattr(old, key) for key in legacy)
    np.testing.assert_array_equal(old.predict_proba(X), est.predict_proba(X))
    old.partial_fit(X, y)
    assert old._optimizer.t > 0


def test_a_tabular_model_saved_before_a_parameter_existed_predicts_as_it_did():
    from fastmlp import TabularMLPRegressor

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    est = TabularMLPRegressor(hidden_layer_sizes=(8,), max_iter=2, min_steps=0,
                              random_state=0).fit(X, X[:, 0])
    pre = est.preprocessor_
    old_pre = _as_saved(pre, drop=("n_bins",))
    old = _as_saved(est, drop=("n_bins", "class_weight"), add={"preprocessor_": old_pre})
    assert old.get_params() == est.get_params()
    np.testing.assert_array_equal(old.predict(X), est.predict(X))
    # saved before the floor on steps: it trained with none, not the default's
    old = _as_saved(est.set_params(min_steps=0), drop=("min_steps", "max_steps"))
    assert old.get_params()["min_steps"] == 0 and old.get_params()["max_steps"] is None


def test_a_users_subclass_saved_before_a_parameter_existed_gets_its_parents_default():
    # its __init__ leaves the parent's parameters to the parent's: a
    # parameter added since (progress) is filled from the parent's defaults
    X, y = load_iris(return_X_y=True)
    old = _as_saved(_Narrow(width=4).fit(X, y), drop=("progress", "max_time"))
    assert old.progress is False and old.max_time is None
    old.partial_fit(X, y)
    old.fit(X, y)


class _Narrow(MLPClassifier):
    def __init__(self, width=3):
        super().__init__(hidden_layer_sizes=(width,), max_iter=3, random_state=0)
        self.width = width


def test_a_tabular_model_this_version_cannot_read_is_refused_at_load():
    # fitted before the periodic features, quantiles and embeddings, its
    # predict raised a bare AttributeError
    from fastmlp import TabularMLPClassifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    est = TabularMLPClassifier(hidden_layer_sizes=(8,), max_iter=2, min_steps=0,
                               random_state=0).fit(X, X[:, 0] > 0)
    with pytest.raises(ValueError, match="saved by an earlier fastmlp whose fitted state "
                                         "this version cannot read .*fit it again"):
        _as_saved(est.preprocessor_, drop=("periodic_frequencies_", "quantiles_"))
    with pytest.raises(ValueError, match="has no networks_"):
        _as_saved(est, drop=("networks_",))
