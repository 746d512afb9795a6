"""The tabular recipe's schedules: factors of training progress t in [0, 1].

Design: pure functions of ``t``, the fraction of the fit done, each giving
a factor that multiplies a base value (the learning rate, the weight
decay).  The tabular estimators evaluate them once per epoch, at the
epoch's midpoint ``t = (epoch + 0.5) / n_epochs`` (0-based epochs): the
engine takes one learning rate per epoch, and the midpoint keeps every
epoch's rate above zero.  RealMLP applies its schedules per minibatch; with
the tabular defaults (tens of epochs, tens of steps each) the difference is
one piecewise-constant approximation of the same curve.

Multi-cycle learning rate, ``n`` cycles, each twice as long as the one
before (cycles equal in log time)::

    w(t) = log2(1 + (2**n - 1) * t)          in [0, n]
    f(t) = (1 - cos(2 * pi * w(t))) / 2

Each cycle warms up from 0 to 1 and anneals back to 0; cycle k spans
``t`` in ``[(2**k - 1) / (2**n - 1), (2**(k+1) - 1) / (2**n - 1)]``.

Cosine (one cycle, no warm-up) and constant::

    f(t) = (1 + cos(pi * t)) / 2             f(t) = 1

Flat then cosine (weight decay; RealMLP's "flat_cos")::

    f(t) = 1                                 for t < 1/2
    f(t) = (1 + cos(pi * (2 t - 1))) / 2     for t >= 1/2
"""
import math

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


def epoch_progress(epoch, n_epochs):
    """Midpoint of 0-based ``epoch`` of ``n_epochs``, clipped to 1 (training
    past ``n_epochs`` stays at the schedule's end)."""
    return min(1.0, (epoch + 0.5) / max(1, n_epochs))
