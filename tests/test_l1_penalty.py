"""The L1 penalty ``alpha_l1`` at the estimator level: it shrinks the weights,
enters the loss as ``alpha_l1 * sum|W| / sum(sample_weight)``, and one
single-batch sgd epoch moves the weights by exactly ``-lr`` times the
gradient of ``fastmlp._reference.loss_grad`` plus its subgradient.

Everything runs in float64 on small data and small networks.
"""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp import _reference as ref

from _option_helpers import (
    _regression,
    _units,
    _one_step,
    _n_coef,
    _opt_problem,
    _expected_grad,
    OPT_COMMON,
    _glorot_init,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


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
