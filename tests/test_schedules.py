"""Learning-rate schedules: each formula against hand-computed values."""
import math

import numpy as np
import pytest
from sklearn.utils._param_validation import validate_parameter_constraints

from fastmlp._schedules import (
    SCHEDULE_PARAM_CONSTRAINTS,
    SCHEDULES,
    epoch_learning_rate,
    validate_schedule_params,
)

LR0 = 0.1


def lr(schedule, epoch, **kw):
    kw.setdefault("learning_rate_init", LR0)
    kw.setdefault("max_iter", 100)
    return epoch_learning_rate(schedule, epoch, **kw)


def test_schedules_tuple():
    assert SCHEDULES == ("constant", "invscaling", "adaptive", "cosine", "exponential", "step")


# (schedule, epoch, params, expected) -- expected values worked by hand
@pytest.mark.parametrize(
    "schedule, epoch, params, expected",
    [
        # cosine, max_iter=100, no warm-up: E = 100
        ("cosine", 0, {}, 0.1),
        ("cosine", 50, {}, 0.05),  # cos(pi/2) = 0
        ("cosine", 25, {}, 0.05 * (1 + math.sqrt(0.5))),  # cos(pi/4)
        ("cosine", 100, {}, 0.0),
        # cosine with lr_min=0.02, warm-up 10 -> E = 90; epoch 55 -> e = 45, half way
        ("cosine", 55, {"warmup_epochs": 10, "lr_min": 0.02}, 0.06),
        ("cosine", 10, {"warmup_epochs": 10, "lr_min": 0.02}, 0.1),
        # exponential
        ("exponential", 0, {"lr_decay": 0.5}, 0.1),
        ("exponential", 1, {"lr_decay": 0.5}, 0.05),
        ("exponential", 3, {"lr_decay": 0.5}, 0.0125),
        ("exponential", 5, {"lr_decay": 0.5, "warmup_epochs": 2}, 0.0125),  # e = 3
        # step: decay 0.5 every 10 epochs
        ("step", 0, {"lr_decay": 0.5}, 0.1),
        ("step", 9, {"lr_decay": 0.5}, 0.1),
        ("step", 10, {"lr_decay": 0.5}, 0.05),
        ("step", 25, {"lr_decay": 0.5}, 0.025),
        ("step", 7, {"lr_decay": 0.5, "lr_step_size": 3}, 0.025),  # 7 // 3 = 2
        # warm-up W = 4: lr0 * (epoch + 1) / 5
        ("cosine", 0, {"warmup_epochs": 4}, 0.02),
        ("exponential", 2, {"warmup_epochs": 4}, 0.06),
        ("step", 3, {"warmup_epochs": 4}, 0.08),
        ("constant", 1, {"warmup_epochs": 4}, 0.04),
    ],
)
def test_formula_values(schedule, epoch, params, expected):
    assert lr(schedule, epoch, **params) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_warmup_increases_then_follows_schedule(schedule):
    W = 5
    kw = dict(warmup_epochs=W, lr_decay=0.8, lr_step_size=2, lr_min=0.001)
    warm = [lr(schedule, e, **kw) for e in range(W)]
    assert warm[0] > 0
    assert np.all(np.diff(warm) > 0)
    assert warm[-1] < LR0
    # full rate right after warm-up, then the schedule's own shape, shifted by W
    assert lr(schedule, W, **kw) == pytest.approx(LR0)
    for e in range(W, 40):
        shifted = lr(schedule, e - W, **{**kw, "warmup_epochs": 0, "max_iter": 100 - W})
        assert lr(schedule, e, **kw) == pytest.approx(shifted, rel=1e-12)


@pytest.mark.parametrize("warmup_epochs", [0, 3])
@pytest.mark.parametrize("lr_min", [0.0, 0.004])
def test_cosine_ends_at_lr_min(warmup_epochs, lr_min):
    kw = dict(max_iter=20, warmup_epochs=warmup_epochs, lr_min=lr_min)
    rates = [lr("cosine", e, **kw) for e in range(warmup_epochs, 26)]
    assert rates[0] == pytest.approx(LR0)
    # strictly decreasing over the period, lr_min at epoch == max_iter, then flat
    period = 20 - warmup_epochs
    assert np.all(np.diff(rates[: period + 1]) < 0)
    assert lr("cosine", 20, **kw) == pytest.approx(lr_min, abs=1e-15)
    assert lr("cosine", 19, **kw) > lr_min
    assert rates[period:] == pytest.approx([lr_min] * (len(rates) - period), abs=1e-15)


def test_cosine_period_at_least_one():
    # max_iter <= warmup_epochs: E = 1, so the epoch after warm-up is lr0, then lr_min
    kw = dict(max_iter=3, warmup_epochs=5, lr_min=0.01)
    assert lr("cosine", 5, **kw) == pytest.approx(LR0)
    assert lr("cosine", 6, **kw) == pytest.approx(0.01)


def test_step_is_piecewise_constant():
    kw = dict(lr_decay=0.7, lr_step_size=4, warmup_epochs=2)
    rates = np.array([lr("step", e, **kw) for e in range(2, 2 + 20)])
    blocks = rates.reshape(5, 4)
    assert np.all(blocks == blocks[:, :1])  # constant inside each block
    assert np.allclose(blocks[1:, 0] / blocks[:-1, 0], 0.7)  # decays between blocks


def test_lr_min_floors_exponential_and_step():
    assert lr("exponential", 50, lr_decay=0.5, lr_min=0.01) == pytest.approx(0.01)
    assert lr("step", 50, lr_decay=0.5, lr_step_size=1, lr_min=0.01) == pytest.approx(0.01)
    assert lr("exponential", 1, lr_decay=0.5, lr_min=0.01) == pytest.approx(0.05)


def test_lr_decay_one_is_constant():
    for e in (0, 7, 99):
        assert lr("exponential", e, lr_decay=1.0) == LR0
        assert lr("step", e, lr_decay=1.0) == LR0


@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adaptive"])
def test_sklearn_schedules_only_warmed_up(schedule):
    kw = dict(lr_decay=0.5, lr_step_size=1, lr_min=0.05)
    # no warm-up: always learning_rate_init, whatever the other parameters
    assert [lr(schedule, e, **kw) for e in (0, 1, 10, 99, 150)] == [LR0] * 5
    # warm-up: the same linear ramp as every schedule, then learning_rate_init
    warm = [lr(schedule, e, warmup_epochs=3, **kw) for e in range(6)]
    assert warm == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1])


def test_returns_python_float():
    out = lr("cosine", np.int64(3), learning_rate_init=np.float32(0.1))
    assert type(out) is float


@pytest.mark.parametrize("schedule", ["linear", "Cosine", None])
def test_unknown_schedule(schedule):
    with pytest.raises(ValueError, match="Unknown learning-rate schedule"):
        lr(schedule, 0)


@pytest.mark.parametrize("epoch", [-1, 1.5, True])
def test_bad_epoch(epoch):
    with pytest.raises(ValueError, match="epoch must be an integer >= 0"):
        lr("cosine", epoch)


GOOD = dict(warmup_epochs=0, lr_decay=0.9, lr_step_size=10, lr_min=0.0)


@pytest.mark.parametrize(
    "name, value",
    [
        ("warmup_epochs", -1),
        ("warmup_epochs", 1.5),
        ("lr_decay", 0.0),
        ("lr_decay", 1.01),
        ("lr_decay", "0.5"),
        ("lr_step_size", 0),
        ("lr_step_size", 2.0),
        ("lr_min", -1e-3),
        ("lr_min", None),
    ],
)
def test_validate_schedule_params_rejects(name, value):
    with pytest.raises(ValueError, match="'%s' parameter" % name):
        validate_schedule_params(**{**GOOD, name: value})
    # the constraints dict, as the estimator uses it, rejects the same value
    with pytest.raises(ValueError, match="'%s' parameter" % name):
        validate_parameter_constraints(SCHEDULE_PARAM_CONSTRAINTS, {name: value}, "est")


@pytest.mark.parametrize(
    "params",
    [GOOD, dict(warmup_epochs=5, lr_decay=1.0, lr_step_size=1, lr_min=0.5),
     dict(warmup_epochs=np.int64(2), lr_decay=np.float32(0.1), lr_step_size=3, lr_min=0)],
)
def test_validate_schedule_params_accepts(params):
    validate_schedule_params(**params)
    validate_parameter_constraints(SCHEDULE_PARAM_CONSTRAINTS, params, "est")


def test_constraints_keys():
    assert set(SCHEDULE_PARAM_CONSTRAINTS) == {
        "warmup_epochs", "lr_decay", "lr_step_size", "lr_min"
    }
