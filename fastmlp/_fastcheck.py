"""Fast paths around scikit-learn's validation, for plainly valid calls.

Design: scikit-learn's parameter and data validation cost ~100 us each per
``fit`` (more when the caches are cold), as much as several epochs of a
small network.  Each function here answers only when the call is plainly
valid -- parameter values already accepted once, or a float ndarray and a
numeric ndarray target -- and does exactly what scikit-learn would have
done then.  Everything else goes to scikit-learn's own check, so every error
and warning a user sees is still scikit-learn's.
"""
import weakref

import numpy as np

from fastmlp._finite import all_finite

# class -> keys of parameter values that passed validation (weak: classes
# made on the fly go); cleared when it grows past _MAX_KEYS
_VALIDATED = weakref.WeakKeyDictionary()
_MAX_KEYS = 256

_SCALARS = (type(None), bool, int, float, str)


def _freeze(value):
    """A hashable key for ``value`` that keeps the type at every level (so
    ``1``, ``1.0`` and ``True`` differ), or None when ``value`` is not made
    of plain scalars, tuples and lists."""
    kind = type(value)
    if kind in _SCALARS or isinstance(value, (np.bool_, np.number)):
        return kind, value
    if kind is tuple or kind is list:
        items = tuple(_freeze(v) for v in value)
        return None if None in items else (kind, items)
    return None


def validate_params(estimator, validate):
    """Run ``validate()`` (scikit-learn's ``_validate_params``) unless these
    exact parameter values already passed it for this class.

    Validation is a pure function of the values and the class's
    ``_parameter_constraints``, and only successes are remembered, so a
    repeated call raises or passes as before.  Values that are not plain
    scalars, tuples or lists (dicts, callables, arrays) are validated each
    time.
    """
    params = estimator.get_params(deep=False)
    key = tuple((name, _freeze(value)) for name, value in params.items())
    if any(frozen is None for _, frozen in key):
        validate()
        return
    seen = _VALIDATED.get(type(estimator))
    if seen is not None and key in seen:
        return
    validate()
    if seen is None or len(seen) >= _MAX_KEYS:
        seen = _VALIDATED[type(estimator)] = set()
    seen.add(key)


def plain_matrix(X, n_features=None):
    """Is X a 2-D float32/float64 ndarray with at least one row and column
    (of width ``n_features`` if given) and only finite values?  What
    ``check_array`` accepts unchanged (it returns X itself)."""
    if not (
        type(X) is np.ndarray
        and X.ndim == 2
        and (X.dtype == np.float64 or X.dtype == np.float32)
        and X.shape[0] >= 1
        and X.shape[1] >= 1
        and (n_features is None or X.shape[1] == n_features)
    ):
        return False
    return finite_values(X)


def finite_values(A):
    """Are all values of the float ndarray A finite?  Compiled for float32 or
    float64 in C order (_finite.pyx); otherwise scikit-learn's first pass: a
    finite sum means finite values (a sum that overflows sends the caller to
    the element-wise check)."""
    if A.flags.c_contiguous and (A.dtype == np.float64 or A.dtype == np.float32):
        return all_finite(A if A.ndim == 2 else A.reshape(-1, 1))
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(A.sum()))


def _plain_target(y, n_samples):
    """Is y a 1-D or 2-D (non-empty) numeric ndarray, finite, of n_samples?"""
    if not (
        type(y) is np.ndarray
        and y.dtype.kind in "biuf"
        and y.shape[:1] == (n_samples,)
        and (y.ndim == 1 or (y.ndim == 2 and y.shape[1] >= 1))
    ):
        return False
    return y.dtype.kind != "f" or finite_values(y)


def plain_fit_data(estimator, X, y, reset):
    """``validate_data(estimator, X, y, accept_sparse=..., multi_output=True,
    dtype=(np.float64, np.float32), reset=reset)`` for plainly valid X and y:
    returns ``(X, y)`` unchanged and sets ``n_features_in_`` (and drops
    ``feature_names_in_``) as scikit-learn would, or returns None when the
    call needs scikit-learn's validation (sparse, lists, DataFrames, other
    dtypes, NaN/inf, a width that does not match, feature names seen before).
    ``y_numeric=True`` changes nothing here: y is already numeric.
    """
    if not (plain_matrix(X) and _plain_target(y, X.shape[0])):
        return None
    if reset:
        estimator.__dict__.pop("feature_names_in_", None)
        estimator.n_features_in_ = X.shape[1]
        return X, y
    if hasattr(estimator, "feature_names_in_") or getattr(
        estimator, "n_features_in_", X.shape[1]
    ) != X.shape[1]:
        return None
    return X, y
