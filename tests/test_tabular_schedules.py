"""The tabular schedules' exact formulas, from their definitions."""
import math

import numpy as np
import pytest

from fastmlp._tabular_schedules import decay_factor, lr_factor, step_progress


@pytest.mark.parametrize("n", [1, 2, 4, 5])
def test_multicycle_zero_at_cycle_ends_one_at_log_midpoints(n):
    # cycle k ends at t = (2^k - 1) / (2^n - 1); its peak is at w = k + 1/2
    for k in range(n + 1):
        assert lr_factor("multicycle", (2 ** k - 1) / (2 ** n - 1), n) == pytest.approx(0, abs=1e-12)
    for k in range(n):
        t_peak = (2 ** (k + 0.5) - 1) / (2 ** n - 1)
        assert lr_factor("multicycle", t_peak, n) == pytest.approx(1, abs=1e-12)


def test_multicycle_cycles_double_in_length():
    n = 4
    ends = [(2 ** k - 1) / (2 ** n - 1) for k in range(n + 1)]
    lengths = np.diff(ends)
    np.testing.assert_allclose(lengths[1:] / lengths[:-1], 2.0)
    assert sum(lengths) == pytest.approx(1.0)


def test_cosine_constant_and_flat_cosine():
    for t in np.linspace(0, 1, 11):
        assert lr_factor("cosine", t) == pytest.approx((1 + math.cos(math.pi * t)) / 2)
        assert lr_factor("constant", t) == 1.0
        expected = 1.0 if t < 0.5 else (1 + math.cos(math.pi * (2 * t - 1))) / 2
        assert decay_factor("flat_cosine", t) == pytest.approx(expected)
        assert decay_factor("constant", t) == 1.0
    assert decay_factor("flat_cosine", 0.75) == pytest.approx(0.5)
    assert decay_factor("flat_cosine", 1.0) == pytest.approx(0.0, abs=1e-15)


def test_step_progress_is_each_batch_midpoint_and_stays_at_the_end():
    np.testing.assert_allclose(step_progress(2, 4, 5), (10 + np.arange(5) + 0.5) / 20)
    assert step_progress(0, 4, 1).tolist() == [0.125]
    assert step_progress(9, 4, 5).tolist() == [1.0] * 5
    assert step_progress(0, 4, 5).min() > 0


@pytest.mark.parametrize("call", [
    lambda: lr_factor("nope", 0.5), lambda: decay_factor("nope", 0.5),
    lambda: lr_factor("cosine", 1.5), lambda: lr_factor("multicycle", 0.5, 0)])
def test_bad_arguments(call):
    with pytest.raises(ValueError):
        call()
