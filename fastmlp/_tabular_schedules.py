"""The tabular recipe's schedules: factors of training progress t in [0, 1].

Design: pure functions of ``t``, the fraction of the fit done, each giving
a factor that multiplies a base value (the learning rate, the weight
decay, the dropout rate).  The tabular estimators evaluate them per
minibatch, as RealMLP does, at each batch's midpoint (``step_progress``),
and hand an epoch's factors to the engine, which applies them batch by
batch (``step_factors``); the midpoint keeps every step's rate above zero.

Multi-cycle learning rate, ``n`` cycles, each twice as long as the one
before (cycles equal in log time)::

    w(t) = log2(1 + (2**n - 1) * t)          in [0, n]
    f(t) = (1 - cos(2 * pi * w(t))) / 2

Each cycle warms up from 0 to 1 and anneals back to 0; cycle k spans
``t`` in ``[(2**k - 1) / (2**n - 1), (2**(k+1) - 1) / (2**n - 1)]``.

Cosine (one cycle, no warm-up) and constant::

    f(t) = (1 + cos(pi * t)) / 2             f(t) = 1

Flat then cosine (weight decay and dropout; RealMLP's "flat_cos")::

    f(t) = 1                                 for t < 1/2
    f(t) = (1 + cos(pi * (2 t - 1))) / 2     for t >= 1/2
"""
import math

import numpy as np

LR_SCHEDULES = ("multicycle", "cosine", "constant")
DECAY_SCHEDULES = ("flat_cosine", "constant")


def _check_t(t):
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must be in [0, 1], got {t!r}.")


def lr_factor(schedule, t, n_cycles=4):
    """Factor of the base learning rate at progress ``t`` (see module docstring).

    Parameters
    ----------
    schedule : {'multicycle', 'cosine', 'constant'}
    t : float in [0, 1]
    n_cycles : int >= 1
        Cycles of 'multicycle'.

    Returns
    -------
    factor : float in [0, 1]
    """
    _check_t(t)
    if schedule == "multicycle":
        if n_cycles < 1:
            raise ValueError(f"n_cycles must be >= 1, got {n_cycles!r}.")
        w = math.log2(1.0 + (2.0 ** n_cycles - 1.0) * t)
        return 0.5 * (1.0 - math.cos(2.0 * math.pi * w))
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    if schedule == "constant":
        return 1.0
    raise ValueError(f"Unknown learning-rate schedule {schedule!r}; expected one of "
                     f"{LR_SCHEDULES}.")


def decay_factor(schedule, t):
    """Factor of a base regularization strength at progress ``t``.

    Parameters
    ----------
    schedule : {'flat_cosine', 'constant'}
    t : float in [0, 1]

    Returns
    -------
    factor : float in [0, 1]
    """
    _check_t(t)
    if schedule == "flat_cosine":
        return 1.0 if t < 0.5 else 0.5 * (1.0 + math.cos(math.pi * (2.0 * t - 1.0)))
    if schedule == "constant":
        return 1.0
    raise ValueError(f"Unknown schedule {schedule!r}; expected one of {DECAY_SCHEDULES}.")


def step_progress(epoch, n_epochs, n_batches):
    """Midpoints of the ``n_batches`` batches of 0-based ``epoch`` of
    ``n_epochs`` (each with ``n_batches``), as fractions of the fit, clipped
    to 1 (training past ``n_epochs`` stays at the schedule's end)."""
    steps = epoch * n_batches + np.arange(n_batches) + 0.5
    return np.minimum(1.0, steps / (max(1, n_epochs) * n_batches))
