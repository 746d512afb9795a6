"""scikit-learn's estimator checks, run on fastmlp with scikit-learn's own
settings for its MLPs.

The settings come from ``sklearn/utils/_test_common/instance_generator.py``
(scikit-learn 1.9):

* ``INIT_PARAMS``: ``MLPClassifier(max_iter=100)``, ``MLPRegressor(max_iter=100)``.
* ``PER_ESTIMATOR_CHECK_PARAMS``: ``check_sample_weight_equivalence_on_dense_data``
  runs the classifier with ``solver="lbfgs"`` and the regressor with
  ``solver="sgd", tol=1e-2, random_state=42``. scikit-learn applies these by
  estimator *type*, so they do not reach fastmlp's classes automatically; the
  test below applies them itself.
* ``PER_ESTIMATOR_XFAIL_CHECKS``: no entry for either MLP, so every check is
  expected to pass; ``expected_failed_checks`` is empty on purpose.

Like scikit-learn's ``test_estimators``, convergence, user and future warnings
are silenced: the checks fit tiny problems with a small ``max_iter``.
"""

import functools
import warnings

from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastmlp import MLPClassifier, MLPRegressor

CHECK_PARAMS = {
    MLPClassifier: {
        "check_sample_weight_equivalence_on_dense_data": dict(solver="lbfgs"),
    },
    MLPRegressor: {
        "check_sample_weight_equivalence_on_dense_data": dict(
            solver="sgd", tol=1e-2, random_state=42
        ),
    },
}


def _expected_failed_checks(estimator):
    # scikit-learn 1.9 expects no failures for MLPClassifier / MLPRegressor
    return {}


def _check_name(check):
    while isinstance(check, functools.partial):
        check = check.func
    return check.__name__


@parametrize_with_checks(
    [MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    overrides = CHECK_PARAMS[type(estimator)].get(_check_name(check))
    if overrides is not None:
        # the instance is shared by all checks: never mutate it
        estimator = clone(estimator).set_params(**overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        check(estimator)


def test_instances_are_fastmlp():
    # guard against the suite ever checking scikit-learn against itself
    for Est in (MLPClassifier, MLPRegressor):
        assert Est.__module__.split(".")[0] == "fastmlp", Est.__module__
