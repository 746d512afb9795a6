"""fastmlp.to_onnx: the exported graph, run in onnxruntime, against the model.

Oracles: the estimator's own ``predict`` / ``predict_proba`` for the four
activations the engine trains, and a NumPy forward pass written here for the
activations the engine does not have yet (a fitted model whose
``activation`` is overridden on a copy).  Labels must match exactly; float
outputs within 1e-5 in float32 and 1e-10 in float64.
"""
import copy
import subprocess
import sys
import warnings
from functools import lru_cache

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import erf, expit

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402

from fastmlp import MLPClassifier, MLPRegressor, to_onnx  # noqa: E402

import _checkout

SK_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
EXTRA_ACTIVATIONS = ("leaky_relu", "elu", "gelu", "silu", "softplus")
TASKS = (
    "binary",  # string classes
    "multiclass_str",
    "multiclass_int",  # int classes that are not 0..n-1
    "multilabel",
    "regression",
    "multioutput_regression",
    "poisson",
)
DTYPES = (np.float32, np.float64)
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}
# onnxruntime 1.32's CPU provider has no float64 kernel for these ops
# (Elu, Softplus, Erf/Gelu); the float64 graphs are valid ONNX all the same.
ORT_NO_FLOAT64 = {"elu", "softplus", "gelu"}
HIDDEN = (6, 4)


# ---------------------------------------------------------------- data


@lru_cache(maxsize=None)
def _data(task):
    rng = np.random.RandomState(sum(map(ord, task)))
    X = rng.normal(size=(80, 5))
    score = X @ rng.normal(size=(5, 3))
    if task == "binary":
        y = np.array(["neg", "pos"])[(score[:, 0] > 0).astype(int)]
    elif task == "multiclass_str":
        y = np.array(["ant", "bee", "cat"])[score.argmax(axis=1)]
    elif task == "multiclass_int":
        y = np.array([3, 7, 11])[score.argmax(axis=1)]
    elif task == "multilabel":
        y = (score > 0).astype(int)
    elif task == "regression":
        y = score[:, 0]
    elif task == "multioutput_regression":
        y = score
    else:  # poisson
        y = rng.poisson(np.exp(0.3 * score[:, 0])).astype(np.float64)
    return X, y


@lru_cache(maxsize=None)
def _fitted(task, activation, dtype):
    """A small fitted model (cached: tests must not modify it; copy first)."""
    X, y = _data(task)
    if task in ("regression", "multioutput_regression", "poisson"):
        loss = "poisson" if task == "poisson" else "squared_error"
        model = MLPRegressor(loss=loss, hidden_layer_sizes=HIDDEN, activation=activation)
    else:
        model = MLPClassifier(hidden_layer_sizes=HIDDEN, activation=activation)
    model.set_params(max_iter=40, learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X.astype(dtype), y)
    assert model.coefs_[0].dtype == dtype
    return model


def _run(onnx_model, X):
    session = ort.InferenceSession(
        onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {"X": X})


def _is_classifier(task):
    return task not in ("regression", "multioutput_regression", "poisson")


# ------------------------------------------------------- NumPy oracle


def _np_activation(name, Z):
    if name == "identity":
        return Z
    if name == "logistic":
        return expit(Z)
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "leaky_relu":
        return np.where(Z >= 0, Z, 0.01 * Z)
    if name == "elu":
        return np.where(Z > 0, Z, np.expm1(np.minimum(Z, 0)))
    if name == "gelu":
        return 0.5 * Z * (1 + erf(Z / np.sqrt(2)))
    if name == "silu":
        return Z * expit(Z)
    if name == "softplus":
        return np.logaddexp(0, Z)
    if name == "exp":
        return np.exp(Z)
    if name == "softmax":
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)
    raise ValueError(name)


def _np_predict(model, X, activations):
    """(labels or None, probabilities or regression output), in float64."""
    A = np.asarray(X, dtype=np.float64)
    n_layers = len(model.coefs_)
    for layer, (W, b) in enumerate(zip(model.coefs_, model.intercepts_)):
        Z = A @ W.astype(np.float64) + b.astype(np.float64)
        name = activations[layer] if layer < n_layers - 1 else model.out_activation_
        A = _np_activation(name, Z)
    if not hasattr(model, "classes_"):
        return None, A
    if model._target_type.startswith("multilabel"):
        return (A > 0.5).astype(np.int64), A
    if model.out_activation_ == "softmax":
        return model.classes_[A.argmax(axis=1)], A
    p = A[:, 0]
    return model.classes_[(p > 0.5).astype(int)], np.column_stack([1 - p, p])


def _assert_outputs(onnx_model, model, X, labels, values, tol):
    outputs = _run(onnx_model, X)
    if labels is None:
        (variable,) = outputs
        assert variable.dtype == X.dtype
        np.testing.assert_allclose(variable, values.reshape(len(X), -1), **tol)
        return
    label, proba = outputs
    assert proba.dtype == X.dtype
    np.testing.assert_array_equal(label, labels)
    assert label.shape == labels.shape
    np.testing.assert_allclose(proba, values, **tol)


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("activation", SK_ACTIVATIONS)
def test_matches_predict(activation, task, dtype):
    model = _fitted(task, activation, dtype)
    X = _data(task)[0].astype(dtype)
    onnx_model = to_onnx(model)
    if _is_classifier(task):
        labels, values = model.predict(X), model.predict_proba(X)
    else:
        labels, values = None, model.predict(X)
    _assert_outputs(onnx_model, model, X, labels, values, TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("activation", EXTRA_ACTIVATIONS + (("tanh", "gelu"), ["silu", "relu"]))
def test_extra_activations_match_numpy(activation, task, dtype):
    names = [activation] * len(HIDDEN) if isinstance(activation, str) else list(activation)
    model = copy.deepcopy(_fitted(task, "relu", dtype))
    model.activation = activation
    onnx_model = to_onnx(model)  # passes onnx.checker in every dtype
    X = _data(task)[0].astype(dtype)
    if dtype == np.float64 and ORT_NO_FLOAT64.intersection(names):
        try:
            _run(onnx_model, X)
        except ort.capi.onnxruntime_pybind11_state.NotImplemented:
            pytest.skip(f"onnxruntime has no float64 kernel for {names}")
    labels, values = _np_predict(model, X, names)
    _assert_outputs(onnx_model, model, X, labels, values, TOL[dtype])


@pytest.mark.parametrize("activation", SK_ACTIVATIONS)
def test_numpy_oracle_matches_predict(activation):
    """The oracle of the test above agrees with the engine where both exist."""
    model = _fitted("multiclass_int", activation, np.float64)
    X = _data("multiclass_int")[0]
    labels, proba = _np_predict(model, X, [activation] * len(HIDDEN))
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("opset", [17, 20, 21])
def test_gelu_op_or_erf_by_opset(opset):
    model = copy.deepcopy(_fitted("multiclass_int", "relu", np.float32))
    model.activation = "gelu"
    onnx_model = to_onnx(model, opset=opset)
    ops = {node.op_type for node in onnx_model.graph.node}
    assert ("Gelu" in ops) == (opset >= 20) and ("Erf" in ops) == (opset < 20)
    X = _data("multiclass_int")[0].astype(np.float32)
    labels, proba = _np_predict(model, X, ["gelu"] * len(HIDDEN))
    _assert_outputs(onnx_model, model, X, labels, proba, TOL[np.float32])


def test_default_opset():
    model = copy.deepcopy(_fitted("regression", "relu", np.float32))
    assert to_onnx(model).opset_import[0].version == 17
    model.activation = ["gelu", "relu"]
    assert to_onnx(model).opset_import[0].version == 20


@pytest.mark.parametrize("task", TASKS)
def test_check_model_and_signature(task):
    model = _fitted(task, "tanh", np.float32)
    onnx_model = to_onnx(model, name="my_graph")
    onnx.checker.check_model(onnx_model, full_check=True)
    graph = onnx_model.graph
    assert graph.name == "my_graph"

    def shape(value_info):
        dims = value_info.type.tensor_type.shape.dim
        return [d.dim_value if d.HasField("dim_value") else None for d in dims]

    (x,) = graph.input
    assert x.name == "X" and shape(x) == [None, 5]
    assert x.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    names = [o.name for o in graph.output]
    if not _is_classifier(task):
        assert names == ["variable"]
        assert shape(graph.output[0]) == [None, model.n_outputs_]
        return
    assert names == ["label", "probabilities"]
    label, proba = graph.output
    expected = {
        "binary": onnx.TensorProto.STRING,
        "multiclass_str": onnx.TensorProto.STRING,
        "multiclass_int": onnx.TensorProto.INT64,
        "multilabel": onnx.TensorProto.INT64,
    }[task]
    assert label.type.tensor_type.elem_type == expected
    n_cols = 3 if task != "binary" else 2
    assert shape(proba) == [None, n_cols]
    assert shape(label) == ([None, 3] if task == "multilabel" else [None])


def test_float64_model_exported_as_float32():
    model = _fitted("multiclass_str", "logistic", np.float64)
    onnx_model = to_onnx(model, dtype=np.float32)
    assert onnx_model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    X = _data("multiclass_str")[0]
    label, proba = _run(onnx_model, X.astype(np.float32))
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(label, model.predict(X))


@pytest.mark.parametrize("task", ["binary", "multiclass_int", "poisson"])
def test_sparse_trained_model(task):
    X, y = _data(task)
    X = np.where(np.abs(X) > 0.8, X, 0.0)
    X_csr = sp.csr_matrix(X)
    if _is_classifier(task):
        model = MLPClassifier(HIDDEN, max_iter=30, random_state=0)
    else:
        model = MLPRegressor(loss="poisson", hidden_layer_sizes=HIDDEN, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_csr, y)
    outputs = _run(to_onnx(model), X)
    if _is_classifier(task):
        np.testing.assert_array_equal(outputs[0], model.predict(X_csr))
        np.testing.assert_allclose(outputs[1], model.predict_proba(X_csr), rtol=1e-10, atol=1e-10)
    else:
        np.testing.assert_allclose(outputs[0].ravel(), model.predict(X_csr), rtol=1e-10)


@pytest.mark.parametrize(
    "y",
    [np.array([0.0, 1.0]), np.array([False, True]), np.array(["only"]), np.array([5]),
     np.array([2**63, 2**64 - 1], dtype=np.uint64)],
    ids=["float", "bool", "one_str", "one_int", "uint64_past_int64"],   # the last wrapped
)
def test_other_label_types(y):
    """Float and bool classes keep their type; a single class is always predicted."""
    X = _data("binary")[0]
    y = y[np.arange(len(X)) % len(y)]
    model = MLPClassifier((3,), max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    label, proba = _run(to_onnx(model), X)
    expected = model.predict(X)
    assert label.dtype == (object if y.dtype.kind == "U" else expected.dtype)
    np.testing.assert_array_equal(label, expected)
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-10, atol=1e-10)


def test_editing_coefs_in_place_is_exported():
    model = copy.deepcopy(_fitted("regression", "relu", np.float64))
    model.intercepts_[-1][:] += 1.0
    X = _data("regression")[0]
    (variable,) = _run(to_onnx(model), X)
    np.testing.assert_allclose(variable.ravel(), model.predict(X), rtol=1e-10, atol=1e-10)


def test_unfitted_raises_not_fitted():
    with pytest.raises(NotFittedError):
        to_onnx(MLPClassifier())
    with pytest.raises(NotFittedError):
        to_onnx(MLPRegressor())


@pytest.mark.parametrize("obj", [SkMLPClassifier(), object(), "model"])
def test_not_a_fastmlp_estimator_raises_type_error(obj):
    with pytest.raises(TypeError, match="fastmlp"):
        to_onnx(obj)


def test_bad_arguments_raise_value_error():
    model = copy.deepcopy(_fitted("regression", "relu", np.float32))
    with pytest.raises(ValueError, match="dtype"):
        to_onnx(model, dtype=np.int32)
    with pytest.raises(ValueError, match="opset"):
        to_onnx(model, opset=12)
    with pytest.raises(ValueError, match="opset"):
        to_onnx(model, opset=onnx.defs.onnx_opset_version() + 1)
    model.activation = ["relu"]  # two hidden layers
    with pytest.raises(ValueError, match="2 hidden layers"):
        to_onnx(model)
    model.activation = "swish"
    with pytest.raises(ValueError, match="swish"):
        to_onnx(model)


def test_import_fastmlp_does_not_need_onnx():
    code = (
        "import sys; sys.modules['onnx'] = None\n"
        "import fastmlp\n"
        "assert fastmlp.to_onnx is not None\n"
        "try:\n"
        "    fastmlp.to_onnx(fastmlp.MLPRegressor(max_iter=2).fit([[0.0], [1.0]], [0.0, 1.0]))\n"
        "except ImportError:\n"
        "    print('needs onnx')\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True,
        cwd=_checkout.cwd()
    )
    assert result.stdout.strip() == "needs onnx"


@pytest.mark.parametrize("out_activation", ["relu", "tanh"])
def test_out_activation_set_after_fit_exports_as_predicted(out_activation):
    # predict applies scikit-learn's output activations set after fit; the
    # export refused them ("Cannot export output activation")
    model = copy.deepcopy(_fitted("regression", "relu", np.float64))
    model.out_activation_ = out_activation
    X = _data("regression")[0]
    (got,) = _run(to_onnx(model), X)
    want = model.predict(X)
    assert (want == 0).any() if out_activation == "relu" else (np.abs(want) < 1).all()
    np.testing.assert_allclose(got.ravel(), want, rtol=1e-4, atol=1e-5)


def test_the_tabular_estimators_refusals_say_why():
    # the refusal sent a TabularMLPClassifier to skl2onnx, and a network_
    # with embeddings alone was said to have a periodic layer, an input
    # scale or parametric activations
    import pandas as pd

    from fastmlp import TabularMLPClassifier

    X = pd.DataFrame({"x": np.linspace(0, 1, 120), "c": [f"k{i % 12}" for i in range(120)]})
    est = TabularMLPClassifier(hidden_layer_sizes=(4,), max_iter=2, min_steps=0, n_ensemble=1,
                               n_periodic=0, random_state=0).fit(X, np.arange(120) % 2)
    with pytest.raises(TypeError, match="The tabular estimators are not exported") as raised:
        to_onnx(est)
    assert "skl2onnx" not in str(raised.value)
    with pytest.raises(ValueError, match="a network with categorical embeddings \\(a "):
        to_onnx(est.network_)
    # none of those layers: exported, it read the preprocessed table and gave
    # the standardized target or the untempered probabilities, silently
    from fastmlp import TabularMLPRegressor

    for cls, y in ((TabularMLPClassifier, np.arange(120) % 2), (TabularMLPRegressor,
                                                               np.linspace(100, 300, 120))):
        plain = cls(hidden_layer_sizes=(4,), max_iter=2, min_steps=0, n_ensemble=1,
                    n_periodic=0, max_one_hot=None, random_state=0).fit(X, y)
        assert not plain.network_._layout_extras().get("embedding")
        with pytest.raises(ValueError, match="it reads the preprocessed table"):
            to_onnx(plain.network_)
    with pytest.raises(TypeError, match="use skl2onnx"):
        from sklearn.linear_model import LogisticRegression
        to_onnx(LogisticRegression())
