"""``max_norm`` at the estimator level: it bounds every unit's incoming weight
column (one single-batch sgd epoch renormalises each column of ``W - lr *
grad`` exactly), a large bound changes nothing, and with solver='lbfgs' (which
takes no stochastic steps) it is not silently ignored.

Everything runs in float64 on small data and small networks.
"""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastmlp import MLPClassifier
from fastmlp import _reference as ref

from _option_helpers import (
    _multiclass,
    _flat,
    _units,
    _one_step,
    _opt_problem,
    _expected_grad,
    OPT_COMMON,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _column_norms(est):
    return [np.linalg.norm(W, axis=0) for W in est.coefs_]


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_max_norm_bounds_every_incoming_column(solver):
    X, y = _multiclass(n=80)
    c = 0.4
    est = MLPClassifier(hidden_layer_sizes=(10, 6), solver=solver, max_norm=c,
                        learning_rate_init=0.05, max_iter=10, random_state=0).fit(X, y)
    norms = np.concatenate(_column_norms(est))
    assert norms.max() <= c * (1 + 1e-6)
    assert np.sum(np.abs(norms - c) <= 1e-6 * c) >= len(norms) // 2
    for n in _column_norms(est):
        assert np.any(np.abs(n - c) <= 1e-6 * c)  # every layer is constrained
    free = MLPClassifier(hidden_layer_sizes=(10, 6), solver=solver,
                         learning_rate_init=0.05, max_iter=10, random_state=0).fit(X, y)
    assert np.concatenate(_column_norms(free)).max() > 2 * c


def test_max_norm_one_step_rescales_columns():
    """One single-batch sgd epoch: W1 = renorm(W0 - lr g) column by column."""
    X, y, _ = _opt_problem()
    c = 0.6
    est = MLPClassifier(solver="sgd", momentum=0.0, max_norm=c, **OPT_COMMON)
    p0, p1 = _one_step(est, X, y, scale=1.5)
    _, g = _expected_grad(est, p0, X, y, None, est.alpha)
    q = p0 - est.learning_rate_init * g
    coefs, intercepts = ref.unpack(q, _units(est))
    for W in coefs:
        n = np.linalg.norm(W, axis=0)
        W *= np.where(n > c, c / n, 1.0)
    assert_allclose(p1, q, rtol=1e-9, atol=1e-15)


def test_max_norm_with_lbfgs_is_honoured_or_rejected():
    """max_norm is a constraint on the fitted weights: with solver='lbfgs'
    (which has no stochastic updates) it must either hold after fit or be
    refused, as dropout is -- not silently ignored."""
    X, y = _multiclass(n=80)
    c = 0.1
    est = MLPClassifier(hidden_layer_sizes=(6,), solver="lbfgs", max_norm=c,
                        max_iter=50, random_state=0)
    try:
        est.fit(X, y)
    except ValueError:
        return
    assert np.concatenate(_column_norms(est)).max() <= c * (1 + 1e-6)


def test_max_norm_large_is_a_no_op():
    X, y = _multiclass()
    base = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    a = MLPClassifier(**base).fit(X, y)
    b = MLPClassifier(max_norm=1e6, **base).fit(X, y)
    assert_allclose(_flat(a), _flat(b), rtol=1e-12, atol=0)
