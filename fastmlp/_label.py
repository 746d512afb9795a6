"""Target encoding for the classifier, in plain arrays.

scikit-learn's MLP keeps a LabelBinarizer; fastmlp keeps only ``classes_``
and the target type (strings and NumPy arrays), so a fitted model holds no
scikit-learn private object (safe for skops).  The encoding is the same:
binary -> one 0/1 column for classes_[1]; multiclass -> one-hot over
classes_; multilabel-indicator -> the indicator itself (or, for 1-D labels
given to a multilabel model, one-hot over classes_, as label_binarize does),
decoded as a CSR matrix when the model was fitted on a sparse indicator.
"""
import numpy as np
import scipy.sparse
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import type_of_target, unique_labels

from fastmlp._sklearn_compat import _align_api_if_sparse


def fit_labels(y):
    """(target_type, classes) for y, as LabelBinarizer.fit finds them."""
    if type(y) is np.ndarray and y.ndim == 1 and y.dtype.kind in "iu" and y.size:
        # The common case, fast: for a non-empty 1-D integer array,
        # type_of_target is "binary" or "multiclass" by the count of distinct
        # values and unique_labels is np.unique; the two sklearn calls cost
        # ~230 us per fit, np.unique ~20 (tests/test_label.py checks both
        # paths agree).
        classes = np.unique(y)
        return ("multiclass" if classes.shape[0] > 2 else "binary"), classes
    y_type = type_of_target(y, input_name="y")
    if "multioutput" in y_type:
        raise ValueError(
            "Multioutput target data is not supported with label binarization"
        )
    if (y.shape[0] if hasattr(y, "shape") else len(y)) == 0:  # a sparse y has no len
        raise ValueError("y has 0 samples: %r" % y)
    return y_type, unique_labels(y)


def class_weights(class_weight, classes, y):
    """compute_class_weight's weight of each of ``classes`` (``y``: the
    labels), or ValueError naming the classes whose weight is not finite."""
    weights = compute_class_weight(class_weight, classes=np.asarray(classes), y=y)
    if not np.isfinite(weights).all():
        bad = ", ".join(f"{c} -> {w}" for c, w in zip(classes, weights) if not np.isfinite(w))
        raise ValueError(f"class_weight must give finite weights; got {bad}.")
    return weights


def encode(y, y_type, classes):
    """0/1 targets of shape (n_samples, n_outputs), dtype bool."""
    if y_type.startswith("multilabel"):
        y = np.asarray(y.toarray() if hasattr(y, "toarray") else y)
        if y.ndim == 1:
            return y.reshape(-1, 1) == np.asarray(classes).reshape(1, -1)
        return y != 0
    y = np.asarray(y)
    if y_type == "binary" or len(classes) <= 2:
        if len(classes) < 2:
            return np.zeros((y.shape[0], 1), dtype=bool)
        return (y == classes[1]).reshape(-1, 1)
    return y.reshape(-1, 1) == np.asarray(classes).reshape(1, -1)


def decode(y_pred, y_type, classes, sparse=False):
    """Labels from network outputs, as LabelBinarizer.inverse_transform
    (`sparse`: the model was fitted on a sparse indicator)."""
    if y_type == "multiclass":
        return np.asarray(classes).take(y_pred.argmax(axis=1), axis=0)
    y = np.array(y_pred > 0.5, dtype=int)
    if y_type.startswith("multilabel"):
        # in the sparse class scikit-learn's configuration asks for
        return _align_api_if_sparse(scipy.sparse.csr_matrix(y)) if sparse else y
    if len(classes) == 1:
        return np.repeat(classes[0], len(y))
    return np.asarray(classes)[y.ravel()]
