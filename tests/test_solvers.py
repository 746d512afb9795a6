"""The solvers at the estimator level (sgd with and without Nesterov momentum,
adam, adamw and its ``weight_decay``, rmsprop and its ``rho``, adagrad).

One single-batch epoch of each solver from known weights moves them exactly
as the optimizer's formula applied to ``fastmlp._reference.loss_grad``'s
gradient (scikit-learn semantics); two epochs check the state carried between
them, and ``weight_decay`` leaves every solver but adamw alone.  The update kernels themselves are tested in test_kernels.py.

Everything runs in float64 on small data and small networks.
"""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastmlp import MLPClassifier

from _option_helpers import (
    _multiclass,
    _flat,
    _units,
    _one_step,
    _n_coef,
    _opt_problem,
    _expected_grad,
    OPT_COMMON,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


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
