"""Gradient clipping at the estimator level: ``grad_clip_norm`` (by the global
norm) and ``grad_clip_value`` (per parameter).

One single-batch sgd epoch from known weights moves them by exactly
``-lr * clip(grad)``, with the gradient from ``fastmlp._reference.loss_grad``.
Everything runs in float64 on small data and small networks.
"""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastmlp import MLPClassifier

from _option_helpers import (
    _one_step,
    _opt_problem,
    _expected_grad,
    OPT_COMMON,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clipping_by_value_keeps_a_nan_gradient_nan(dtype):
    # MIN(g, c) then MAX(., -c) turned NaN into +c: a diverged fit's weights
    # stayed finite and fit returned it (NaN loss_curve_, inf predictions);
    # the NumPy reference, and the fit without clipping, raise
    import warnings

    from fastmlp import MLPRegressor

    X = np.array([[1e6, 0.0], [1e6, 0.0]], dtype=dtype)   # its second column all 0
    y = np.array([1.0, 2.0])
    params = dict(hidden_layer_sizes=(), loss="poisson", solver="sgd", learning_rate_init=1.0,
                  momentum=0.0, max_iter=3, batch_size=2, shuffle=False, random_state=0)
    for clip in (None, 0.1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with pytest.raises(ValueError, match="Solver produced non-finite parameter"):
                MLPRegressor(**params, grad_clip_value=clip).fit(X, y)
