"""fastmlp._label against scikit-learn's own label functions."""
import numpy as np
import pytest
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import type_of_target, unique_labels

from fastmlp import _label

INT_TARGETS = [
    np.array([3]),
    np.array([0, 0, 0]),
    np.array([1, 0, 1, 1]),
    np.array([-5, 7, -5]),
    np.array([2, 9, 4, 2, 9]),
    np.arange(50) % 7,
    np.array([0, 1, 2], dtype=np.uint8),
    np.array([4, 4, 2**40], dtype=np.int64),
    np.array([1, 3, 2, 3], dtype=np.int32),
    np.array([7, 6], dtype=np.int16),
]


@pytest.mark.parametrize("y", INT_TARGETS, ids=lambda y: f"{y.dtype}-{y[:4]}")
def test_integer_fast_path_is_what_sklearn_finds(y):
    y_type, classes = _label.fit_labels(y)
    assert y_type == type_of_target(y, input_name="y")
    expected = unique_labels(y)
    assert classes.dtype == expected.dtype
    np.testing.assert_array_equal(classes, expected)
    # and the encoding is LabelBinarizer's
    if len(classes) > 1:
        lb = LabelBinarizer().fit(y)
        np.testing.assert_array_equal(
            _label.encode(y, y_type, classes), lb.transform(y).astype(bool)
        )


def test_random_integer_targets_agree_with_sklearn():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        y = rng.integers(-3, int(rng.integers(-2, 6)) + 1, size=n).astype(
            rng.choice([np.int8, np.int32, np.int64, np.intp])
        )
        y_type, classes = _label.fit_labels(y)
        assert y_type == type_of_target(y, input_name="y")
        np.testing.assert_array_equal(classes, unique_labels(y))


@pytest.mark.parametrize(
    "y",
    [
        np.array(["b", "a", "b"]),
        np.array([0.0, 1.0, 1.0]),
        np.array([True, False]),
        [1, 2, 2],
        np.array([[0, 1], [1, 1]]),
    ],
    ids=["str", "float", "bool", "list", "indicator"],
)
def test_other_targets_take_sklearn_path(y):
    y_type, classes = _label.fit_labels(y)
    assert y_type == type_of_target(y, input_name="y")
    np.testing.assert_array_equal(classes, unique_labels(y))


def test_multioutput_and_continuous_are_refused_as_sklearn_does():
    with pytest.raises(ValueError, match="Multioutput"):
        _label.fit_labels(np.array([[0, 1, 2], [2, 1, 0]]))
    with pytest.raises(ValueError, match="Unknown label type"):
        _label.fit_labels(np.array([0.5, 1.5]))
