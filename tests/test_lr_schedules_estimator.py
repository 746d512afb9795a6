"""Learning-rate schedules and warm-up as the estimators apply them.

The per-epoch rate recorded in the callbacks' history is
``fastmlp._schedules.epoch_learning_rate`` (whose formulas test_schedules.py
checks by hand); 'invscaling' is scikit-learn's rule times the warm-up factor;
and one single-batch sgd epoch moves the weights by exactly ``-rate * grad``,
with the gradient from ``fastmlp._reference.loss_grad``.

Everything runs in float64 on small data and small networks.
"""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastmlp import MLPClassifier
from fastmlp._schedules import epoch_learning_rate

from _option_helpers import (
    _multiclass,
    _flat,
    _units,
    _one_step,
    _opt_problem,
    _expected_grad,
    OPT_COMMON,
    _glorot_init,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _record_lr():
    rec = {}

    def cb(est, history):
        rec["lr"] = list(history["learning_rate"])
        return False

    return cb, rec


@pytest.mark.parametrize("schedule", ["cosine", "exponential", "step", "constant"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "adamw"])
def test_schedule_history_matches_epoch_learning_rate(schedule, solver):
    X, y = _multiclass()
    cb, rec = _record_lr()
    kw = dict(learning_rate=schedule, learning_rate_init=0.02, warmup_epochs=3,
              lr_decay=0.6, lr_step_size=2, lr_min=1e-3, max_iter=12)
    est = MLPClassifier(hidden_layer_sizes=(4,), solver=solver, random_state=0,
                        tol=0.0, n_iter_no_change=100, callbacks=cb, **kw)
    est.fit(X, y)
    assert est.n_iter_ == 12
    expected = [
        epoch_learning_rate(schedule, e, learning_rate_init=0.02, max_iter=12,
                            warmup_epochs=3, lr_decay=0.6, lr_step_size=2, lr_min=1e-3)
        for e in range(12)
    ]
    assert_allclose(rec["lr"], expected, rtol=1e-15)
    # spot values written from the formulas
    assert_allclose(rec["lr"][:3], [0.02 / 4, 0.02 * 2 / 4, 0.02 * 3 / 4], rtol=1e-15)
    assert rec["lr"][3] == pytest.approx(0.02)
    if schedule == "exponential":
        assert rec["lr"][5] == pytest.approx(0.02 * 0.6**2)
    if schedule == "step":
        assert rec["lr"][6] == pytest.approx(0.02 * 0.6)
        assert rec["lr"][11] == pytest.approx(max(1e-3, 0.02 * 0.6**4))
    if schedule == "cosine":
        assert rec["lr"][-1] > 1e-3 and rec["lr"][-1] < rec["lr"][-2]


@pytest.mark.parametrize("warmup", [0, 2])
def test_invscaling_history_is_scikit_learns_rule_times_warmup(warmup):
    X, y = _multiclass()
    n = X.shape[0]
    cb, rec = _record_lr()
    MLPClassifier(hidden_layer_sizes=(3,), solver="sgd", learning_rate="invscaling",
                  learning_rate_init=0.01, power_t=0.5, warmup_epochs=warmup,
                  max_iter=5, random_state=0, callbacks=cb).fit(X, y)
    sk_rule = [0.01 / (e * n + 1) ** 0.5 for e in range(5)]
    factor = [(e + 1) / (warmup + 1) if e < warmup else 1.0 for e in range(5)]
    assert_allclose(rec["lr"], np.multiply(sk_rule, factor), rtol=1e-14)


@pytest.mark.parametrize("warmup", [0, 3])
def test_warmup_first_epoch_step_is_lr_over_w_plus_1(warmup):
    """sgd 'constant', momentum 0, one single-batch epoch from the initial
    weights: delta == -lr / (W + 1) * grad."""
    X, y, _ = _opt_problem()
    est = MLPClassifier(solver="sgd", momentum=0.0, warmup_epochs=warmup, max_iter=1,
                        shuffle=False, batch_size=X.shape[0], **OPT_COMMON)
    est.fit(X, y)
    p0 = _glorot_init(_units(est), "tanh", 0)
    _, g = _expected_grad(est, p0, X, y, None, est.alpha)
    lr_eff = est.learning_rate_init / (warmup + 1)
    assert_allclose(_flat(est) - p0, -lr_eff * g, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("schedule", ["constant", "exponential", "step"])
def test_schedule_second_epoch_step_uses_scheduled_rate(schedule):
    """The rate of epoch 1 (after a warm-started epoch 0) is applied as is."""
    X, y, _ = _opt_problem()
    est = MLPClassifier(solver="sgd", momentum=0.0, learning_rate=schedule,
                        warmup_epochs=0 if schedule != "constant" else 2,
                        lr_decay=0.5, lr_step_size=1, **OPT_COMMON)
    p0, p1 = _one_step(est, X, y)
    _, g = _expected_grad(est, p0, X, y, None, est.alpha)
    lr1 = epoch_learning_rate(schedule, 1, learning_rate_init=est.learning_rate_init,
                              max_iter=1, warmup_epochs=est.warmup_epochs,
                              lr_decay=0.5, lr_step_size=1)
    assert lr1 != est.learning_rate_init
    assert_allclose(p1 - p0, -lr1 * g, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adaptive", "exponential"])
def test_learning_rate_init_set_between_partial_fits_takes_effect(schedule):
    # it took effect under fastmlp's schedules only: scikit-learn's kept the
    # rate of the first call, against README's "set_params between
    # partial_fit calls takes effect"
    X, y = _multiclass(n=60)
    est = MLPClassifier(hidden_layer_sizes=(5,), solver="sgd", momentum=0.0,
                        learning_rate=schedule, learning_rate_init=0.001, random_state=0)
    est.partial_fit(X, y, classes=np.unique(y))
    before = [c.copy() for c in est.coefs_]
    est.set_params(learning_rate_init=0.5)
    est.partial_fit(X, y)
    small = MLPClassifier(hidden_layer_sizes=(5,), solver="sgd", momentum=0.0,
                          learning_rate=schedule, learning_rate_init=0.001, random_state=0)
    small.partial_fit(X, y, classes=np.unique(y))
    small.partial_fit(X, y)
    step = np.abs(est.coefs_[0] - before[0]).max()
    small_step = np.abs(small.coefs_[0] - before[0]).max()
    assert step > 100 * small_step
    expected = 0.5 / (est.t_ + 1) ** est.power_t if schedule == "invscaling" else 0.5
    if schedule != "exponential":
        assert est._optimizer.learning_rate == pytest.approx(expected)
