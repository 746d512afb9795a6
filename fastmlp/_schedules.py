"""Per-epoch learning-rate schedules for fastmlp's stochastic solvers.

Design: one pure function, ``epoch_learning_rate``, maps an epoch number to
the base learning rate of that epoch.  The estimator calls it once per epoch
(never per minibatch) and hands the result to the compiled engine, so a
schedule costs one Python call per epoch.  scikit-learn's own schedules
(``'constant'``, ``'invscaling'``, ``'adaptive'``) keep their meaning and are
applied by the estimator exactly as scikit-learn applies them; here they only
receive the warm-up factor.

Notation: ``lr0 = learning_rate_init``, ``W = warmup_epochs``, ``epoch`` is
0-based (the first epoch of a fit is epoch 0).

Linear warm-up (every schedule)::

    epoch < W :  lr = lr0 * (epoch + 1) / (W + 1)

so the rate climbs in equal steps lr0/(W+1), 2*lr0/(W+1), ..., W*lr0/(W+1)
and the first epoch after warm-up (epoch == W) runs at the full rate.  The
first epoch never runs at a rate of zero.  ``W = 0`` means no warm-up.

After warm-up, with ``e = epoch - W`` and ``E = max(1, max_iter - W)``::

    'constant', 'invscaling', 'adaptive' : lr = lr0
    'cosine'      : lr = lr_min + 0.5 * (lr0 - lr_min) * (1 + cos(pi * min(e, E) / E))
    'exponential' : lr = max(lr_min, lr0 * lr_decay ** e)
    'step'        : lr = max(lr_min, lr0 * lr_decay ** (e // lr_step_size))

Cosine starts at ``lr0`` when ``e = 0`` and reaches ``lr_min`` when
``e = E``, that is at ``epoch == max_iter``: the rate after the last epoch of
a fit of ``max_iter`` epochs (the last epoch trained, ``epoch == max_iter -
1``, runs one cosine step above ``lr_min``; this is the usual
"cosine annealing over ``max_iter`` steps" convention, and it never spends an
epoch at a rate of zero).  Past ``E`` (``warm_start`` / ``partial_fit``
beyond ``max_iter``) cosine stays at ``lr_min`` instead of rising again.
``lr_min`` is also the floor of ``'exponential'`` and ``'step'``; with the
default ``lr_min = 0`` they are exactly ``lr0 * lr_decay ** e`` and
``lr0 * lr_decay ** (e // lr_step_size)``.
"""
import math
from numbers import Integral, Real

from fastmlp._sklearn_compat import Interval, validate_parameter_constraints

SCHEDULES = ("constant", "invscaling", "adaptive", "cosine", "exponential", "step")

# scikit-learn's schedules: the estimator applies them; only warm-up acts here.
_SKLEARN_SCHEDULES = ("constant", "invscaling", "adaptive")

SCHEDULE_PARAM_CONSTRAINTS = {
    "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
    "lr_decay": [Interval(Real, 0, 1, closed="right")],
    "lr_step_size": [Interval(Integral, 1, None, closed="left")],
    "lr_min": [Interval(Real, 0, None, closed="left")],
}


def validate_schedule_params(warmup_epochs, lr_decay, lr_step_size, lr_min):
    """Check the schedule parameters' types and ranges.

    The estimators validate these through ``_parameter_constraints`` (see
    ``SCHEDULE_PARAM_CONSTRAINTS``); this function applies the same
    constraints for callers outside an estimator.

    Parameters
    ----------
    warmup_epochs : int >= 0
    lr_decay : float in (0, 1]
    lr_step_size : int >= 1
    lr_min : float >= 0

    Raises
    ------
    ValueError
        Naming the parameter, the allowed range and the value received.  (The
        exception is scikit-learn's ``InvalidParameterError``, a subclass of
        both ``ValueError`` and ``TypeError``.)
    """
    validate_parameter_constraints(
        SCHEDULE_PARAM_CONSTRAINTS,
        {
            "warmup_epochs": warmup_epochs,
            "lr_decay": lr_decay,
            "lr_step_size": lr_step_size,
            "lr_min": lr_min,
        },
        caller_name="fastmlp learning-rate schedule",
    )


def epoch_learning_rate(
    schedule,
    epoch,
    *,
    learning_rate_init,
    max_iter,
    warmup_epochs=0,
    lr_decay=0.9,
    lr_step_size=10,
    lr_min=0.0,
):
    """Base learning rate of epoch ``epoch`` (0-based) under ``schedule``.

    See the module docstring for the formulas.  Parameters are assumed
    validated (``validate_schedule_params``); only ``schedule`` and ``epoch``
    are checked here.

    Parameters
    ----------
    schedule : {'constant', 'invscaling', 'adaptive', 'cosine', 'exponential', 'step'}
        For scikit-learn's three schedules the result is ``learning_rate_init``
        times the warm-up factor; the estimator applies their own rule.
    epoch : int >= 0
        0-based epoch number.
    learning_rate_init : float
        ``lr0``, the rate reached at the end of warm-up.
    max_iter : int
        Epochs of a full fit; sets the cosine period ``E = max(1, max_iter - W)``.
    warmup_epochs, lr_decay, lr_step_size, lr_min
        As in the module docstring.

    Returns
    -------
    lr : float
    """
    if schedule not in SCHEDULES:
        raise ValueError(
            "Unknown learning-rate schedule %r; expected one of %s."
            % (schedule, ", ".join(repr(s) for s in SCHEDULES))
        )
    if isinstance(epoch, bool) or not isinstance(epoch, Integral) or epoch < 0:
        raise ValueError("epoch must be an integer >= 0, got %r." % (epoch,))
    lr0 = float(learning_rate_init)
    epoch = int(epoch)
    warmup_epochs = int(warmup_epochs)

    if epoch < warmup_epochs:
        # linear warm-up: lr0 * (epoch + 1) / (W + 1)
        return lr0 * (epoch + 1) / (warmup_epochs + 1)
    if schedule in _SKLEARN_SCHEDULES:
        return lr0

    e = epoch - warmup_epochs
    lr_min = float(lr_min)
    if schedule == "cosine":
        period = max(1, int(max_iter) - warmup_epochs)
        e = min(e, period)
        return lr_min + 0.5 * (lr0 - lr_min) * (1.0 + math.cos(math.pi * e / period))
    if schedule == "exponential":
        return max(lr_min, lr0 * float(lr_decay) ** e)
    # 'step'
    return max(lr_min, lr0 * float(lr_decay) ** (e // int(lr_step_size)))
