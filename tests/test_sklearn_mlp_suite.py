"""scikit-learn's own MLP test module, run against fastmlp.

The module ships inside scikit-learn's wheel
(``sklearn/neural_network/tests/test_mlp.py``).  Its source is read from the
installed scikit-learn, its one import of the estimators is swapped for
fastmlp's, and it is executed here, so pytest collects every one of its tests
as a test of this module.  This is the promise of a drop-in: change one import
and nothing but the speed changes.

Only tests that read or write scikit-learn's private attributes are skipped,
each named below with the attribute it needs.  Every other test must pass.
"""
import importlib.util
import re

import pytest

_SKLEARN_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"
_FASTMLP_IMPORT = "from fastmlp import MLPClassifier, MLPRegressor\n"

# test name -> the scikit-learn private it reads or writes
PRIVATE_ATTRIBUTE_TESTS = {
    "test_fit": "drives one SGD step by hand through _coef_grads, _intercept_grads, "
    "_coef_velocity and _intercept_velocity",
    "test_gradient": "calls _loss_grad_lbfgs with scikit-learn's packed layout",
}
# privates that fastmlp keeps with scikit-learn's meaning: tests reading
# them run (test_n_iter_no_change, test_n_iter_no_change_inf read
# _no_improvement_count; test_learning_rate_warmstart and
# test_adaptive_learning_rate read _optimizer.learning_rate)
SHARED_PRIVATES = {"_no_improvement_count", "_optimizer"}


def _swapped_source():
    spec = importlib.util.find_spec("sklearn.neural_network.tests.test_mlp")
    with open(spec.origin, encoding="utf-8") as f:
        source = f.read()
    if source.count(_SKLEARN_IMPORT) != 1:
        raise RuntimeError(
            f"{spec.origin} no longer imports the estimators as "
            f"{_SKLEARN_IMPORT.strip()!r}: update the swap in {__file__}"
        )
    return spec.origin, source.replace(_SKLEARN_IMPORT, _FASTMLP_IMPORT)


def _tests_touching_privates(source):
    """Tests whose body reads or writes ``<name>._<attr>``, other than the
    privates fastmlp shares with scikit-learn."""
    used = set()
    for match in re.finditer(r"^def (test_\w+)\(.*?(?=^def |\Z)", source, re.S | re.M):
        attrs = set(re.findall(r"\b\w+\.(_(?!_)\w+)", match.group(0)))
        if attrs - SHARED_PRIVATES:
            used.add(match.group(1))
    return used


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture of the same name, with its default seed (42)."""
    return 42


_origin, _source = _swapped_source()
exec(compile(_source, _origin, "exec"), globals())

# the skip list names exactly the tests that touch privates: a new private in
# a future scikit-learn fails here instead of failing obscurely below
_unlisted = _tests_touching_privates(_source) - set(PRIVATE_ATTRIBUTE_TESTS)
_stale = set(PRIVATE_ATTRIBUTE_TESTS) - _tests_touching_privates(_source)

for _name, _reason in PRIVATE_ATTRIBUTE_TESTS.items():
    if _name in globals():
        globals()[_name] = pytest.mark.skip(reason=f"scikit-learn private: {_reason}")(
            globals()[_name]
        )


def test_swap_took_effect():
    import fastmlp

    assert MLPClassifier is fastmlp.MLPClassifier  # noqa: F821 (from the exec)
    assert MLPRegressor is fastmlp.MLPRegressor  # noqa: F821


def test_skip_list_matches_the_private_attribute_tests():
    assert not _unlisted, f"tests touching privates, not listed: {sorted(_unlisted)}"
    assert not _stale, f"listed, but no longer touching privates: {sorted(_stale)}"
