"""Loading a model that an earlier fastmlp saved (pickle, joblib, skops).

fastmlp's version has not changed while its estimators gained parameters and
fitted attributes, so an older file is recognised by what its state lacks:

- a constructor parameter added since: filled with its default, which for
  every parameter added so far is what the older estimator did (off; a
  parameter whose default is not gets its own entry in the class's
  ``__setstate__``, as ``temperature_scaling`` in the tabular classifier);
  without it ``repr``, ``get_params``, ``clone`` and every fit raised a bare
  AttributeError;
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
    """``state`` with every constructor parameter of ``cls`` it lacks set to
    its default."""
    missing = {
        name: p.default
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and p.default is not inspect.Parameter.empty
        and name not in state
    }
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
