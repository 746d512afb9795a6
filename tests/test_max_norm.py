"""``max_norm`` at the estimator level: it bounds every unit's incoming weight
column (one single-batch sgd epoch renormalises each column of ``W - lr *
grad`` exactly), a large bound changes nothing, and solver='lbfgs' (which
takes no stochastic steps) refuses it, leaving a fitted model as it was.

Everything runs in float64 on small data and small networks.
"""
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

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


def test_max_norm_with_lbfgs_is_rejected():
    """max_norm constrains the weights after each stochastic step and
    solver='lbfgs' takes none: fit refuses the pair, as it refuses dropout,
    rather than silently ignore max_norm -- before touching the model."""
    X, y = _multiclass(n=80)
    c = 0.1
    est = MLPClassifier(hidden_layer_sizes=(6,), solver="lbfgs", max_norm=c,
                        max_iter=50, random_state=0)
    message = re.escape(
        "max_norm constrains the weights after each stochastic step; "
        "solver='lbfgs' takes none. Use a stochastic solver or drop max_norm."
    )
    with pytest.raises(ValueError, match=message):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")
    # a model fitted before the failing call is left as it was
    est.set_params(max_norm=None).fit(X, y)
    before = _flat(est).copy()
    n_iter, loss = est.n_iter_, est.loss_
    P = est.predict_proba(X)
    for warm in (False, True):
        est.set_params(max_norm=c, warm_start=warm)
        with pytest.raises(ValueError, match=message):
            est.fit(X, y)
        assert_array_equal(_flat(est), before)
        assert (est.n_iter_, est.loss_) == (n_iter, loss)
        assert_array_equal(est.predict_proba(X), P)


def test_max_norm_large_is_a_no_op():
    X, y = _multiclass()
    base = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    a = MLPClassifier(**base).fit(X, y)
    b = MLPClassifier(max_norm=1e6, **base).fit(X, y)
    assert_allclose(_flat(a), _flat(b), rtol=1e-12, atol=0)
