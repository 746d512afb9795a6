"""Loading a model that an earlier fastmlp saved (pickle, joblib, skops).

fastmlp's version has not changed while its estimators gained parameters and
fitted attributes, so an older file is recognised by what its state lacks:

- a constructor parameter added since: filled with what the older
  estimator did, its default for most (off), else the class's
  ``_SAVED_BEFORE`` entry (the tabular estimators' ``min_steps``, 0, and the
  classifier's ``temperature_scaling``, False); the parameters of every
  class it derives from too (a user's subclass whose ``__init__`` leaves
  them to its parent's); without them ``repr``, ``get_params``, ``clone``
  and every fit raised a bare AttributeError;
- the drop-ins' optimizer state before it moved into ``_optimizer``
  (``OLD_OPTIMIZER_KEYS``): not read; ``partial_fit`` restarts the optimizer,
  which loading says (it did so silently);
- a fitted state this version cannot predict from: ``refuse_unreadable``
  raises at load, naming the estimator, where predict raised AttributeError.
"""
import inspect
import warnings

# the drop-ins' optimizer state until 2026-12-05 (momentum or Adam's moments,
# the adaptive learning rate, Adam's step count)
OLD_OPTIMIZER_KEYS = ("_opt_state1", "_opt_state2", "_opt_lr", "_adam_t")


def with_defaults(cls, state):
    """``state`` with every constructor parameter it lacks (of ``cls`` and
    the classes it derives from, the nearest first) set to what a model
    saved before it did: ``cls._SAVED_BEFORE``'s value, else its default."""
    missing = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for name, p in inspect.signature(init).parameters.items():
            if (p.default is not inspect.Parameter.empty and name not in state
                    and name not in missing):
                missing[name] = p.default
    missing.update((name, value) for name, value in getattr(cls, "_SAVED_BEFORE", {}).items()
                   if name in missing)
    return {**state, **missing} if missing else state


def without_old_optimizer(cls, state):
    """``state`` without the optimizer state of before 2026-12-05, with a
    warning that ``partial_fit`` starts a new optimizer."""
    if not any(key in state for key in OLD_OPTIMIZER_KEYS):
        return state
    warnings.warn(
        f"This {cls.__name__} was saved by an earlier fastmlp, whose optimizer state "
        "(momentum or Adam's moments, step count and adaptive learning rate) this "
        "version does not read: predict is unchanged, and partial_fit starts a new "
        "optimizer from the saved weights.",
        UserWarning,
    )
    return {key: value for key, value in state.items() if key not in OLD_OPTIMIZER_KEYS}


def refuse_unreadable(cls, state, fitted_marker, needed):
    """ValueError when ``state`` is fitted (holds ``fitted_marker``) but
    lacks any of the fitted attributes ``needed``."""
    if fitted_marker in state:
        lacking = [name for name in needed if name not in state]
        if lacking:
            raise ValueError(
                f"This {cls.__name__} was saved by an earlier fastmlp whose fitted state "
                f"this version cannot read (it has no {', '.join(lacking)}); fit it again."
            )
