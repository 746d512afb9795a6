"""``class_weight`` at the estimator level: exactly ``sample_weight *
class_weight[y]`` (a dict, a partial dict whose missing classes weigh 1, or
'balanced' as scikit-learn's ``compute_class_weight``), through ``fit`` and
``partial_fit``; and the errors (multilabel targets, 'balanced' with
``partial_fit``, an unknown string).

The oracle is a second fit given those sample weights.  Everything runs in
float64 on small data and small networks.
"""
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.class_weight import compute_class_weight

from fastmlp import MLPClassifier

from _option_helpers import (
    _multiclass,
    _flat,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _binary(n=60, n_features=5, seed=1):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    y = np.where(X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=n) > 0.4, "pos", "neg")
    return X, y


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


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_class_weights_of_zero_for_every_row_get_scikit_learns_error(solver):
    # the engine divided by the weights' sum: ZeroDivisionError from C
    X, y = _multiclass()
    cw = {c: 0.0 for c in np.unique(y)}
    with pytest.raises(ValueError, match="Sample weights must contain at least one non-zero"):
        MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, solver=solver,
                      class_weight=cw).fit(X, y)
