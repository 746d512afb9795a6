"""The hidden activations beyond scikit-learn's (leaky_relu, elu, gelu, silu,
softplus) and a list of activations, one per hidden layer, at the estimator
level.

``predict`` / ``predict_proba`` equal a NumPy forward pass written from the
definitions; the backward pass of each activation is checked by one
single-batch sgd epoch against central finite differences of a NumPy loss.
The activation kernels themselves are tested in test_kernels.py.

Everything runs in float64 on small data and small networks.
"""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError

from fastmlp import MLPClassifier, MLPRegressor

from _option_helpers import (
    _multiclass,
    _regression,
    _flat,
    _units,
    _one_step,
    _np_forward,
    _np_reg_loss,
    _fd_grad,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


NEW_ACTIVATIONS = ("leaky_relu", "elu", "gelu", "silu", "softplus")


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
