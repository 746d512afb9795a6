"""The robust regression losses at the estimator level: ``loss='huber'`` (with
``huber_delta``) and ``loss='absolute_error'``.

The loss recorded in ``loss_curve_`` and one single-batch sgd epoch are
checked against a NumPy objective written from the definitions and its
central finite-difference gradient, for one and two outputs, with and without
sample weights; Huber with a large delta is squared error, and absolute
error training reduces the mean absolute error.

Everything runs in float64 on small data and small networks.
"""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastmlp import MLPRegressor
from fastmlp import _reference as ref

from _option_helpers import (
    _regression,
    _flat,
    _units,
    _one_step,
    _np_forward,
    _np_reg_loss,
    _fd_grad,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


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
