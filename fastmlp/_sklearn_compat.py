"""Every private scikit-learn name fastmlp uses, in one place.

scikit-learn may rename or move these in any release without notice; when it
does, this is the one file to change.  Tested against scikit-learn 1.8 and
1.9 (``pyproject.toml`` declares that range; ``.ci/run`` runs scikit-learn's
own MLP tests against both).  Public scikit-learn API is imported where it is
used, not here.
"""
from sklearn.base import _fit_context
from sklearn.neural_network import MLPClassifier as _SkMLPClassifier
from sklearn.neural_network import MLPRegressor as _SkMLPRegressor
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_feature_names_in, _check_sample_weight

try:  # the sparse_interface configuration, new in scikit-learn 1.9
    from sklearn.utils._sparse import _align_api_if_sparse
except ImportError:  # pragma: no cover - scikit-learn 1.8: scipy's matrices

    def _align_api_if_sparse(X):
        return X


try:  # the experimental callback protocol, new in scikit-learn 1.9
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # pragma: no cover - scikit-learn 1.8

    class CallbackSupportMixin:
        pass

    def with_callbacks(method):
        return method


# scikit-learn 1.9's _check_sample_weight refuses weights that are all 0
# with this message; 1.8's does not (its fits then divide by their sum)
ZERO_WEIGHTS_MESSAGE = "Sample weights must contain at least one non-zero number."


def _check_some_sample_weight(sample_weight, X, **kwargs):
    """``_check_sample_weight``, refusing all-zero weights under 1.8 too, as
    1.9 does: for fastmlp's own weights (``sample_weight_val``, the tabular
    estimators'); the drop-ins' ``sample_weight`` keeps the installed
    version's behaviour, as scikit-learn's estimators."""
    weights = _check_sample_weight(sample_weight, X, **kwargs)
    if not weights.any():
        raise ValueError(ZERO_WEIGHTS_MESSAGE)
    return weights

# scikit-learn's own parameter constraints, which fastmlp's estimators extend
SKLEARN_CLASSIFIER_CONSTRAINTS = _SkMLPClassifier._parameter_constraints
SKLEARN_REGRESSOR_CONSTRAINTS = _SkMLPRegressor._parameter_constraints

__all__ = [
    "CallbackSupportMixin",
    "_align_api_if_sparse",
    "Interval",
    "InvalidParameterError",
    "SKLEARN_CLASSIFIER_CONSTRAINTS",
    "SKLEARN_REGRESSOR_CONSTRAINTS",
    "ZERO_WEIGHTS_MESSAGE",
    "StrOptions",
    "_check_feature_names_in",
    "_check_optimize_result",
    "_check_partial_fit_first_call",
    "_check_sample_weight",
    "_check_some_sample_weight",
    "_fit_context",
    "_get_additional_lbfgs_options_dict",
    "check_matplotlib_support",
    "validate_parameter_constraints",
    "with_callbacks",
]
