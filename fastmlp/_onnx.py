"""Export a fitted fastmlp estimator to an ONNX graph.

Design: the graph is written with ``onnx.helper`` directly (no skl2onnx).
Each layer is ``MatMul`` + ``Add`` (onnxruntime fuses the pair into one GEMM),
then the hidden activation, and after the last layer the output activation.
Activations are looked up in two tables, ``_HIDDEN`` and ``_OUTPUT``: each
entry is a function ``(builder, name) -> name`` that appends the nodes of one
activation, so a new activation is one function and one table row.  The
heads (``label`` + ``probabilities`` for classifiers, ``variable`` for
regressors) follow skl2onnx's conventions so existing serving code works.

``onnx`` is imported only inside functions: it is an optional extra
(``pip install fastmlp[onnx]``) and ``import fastmlp`` must not need it.

onnxruntime (CPU provider, 1.32) runs every graph in float32.  In float64 it
has no kernel for ``Elu``, ``Softplus`` and ``Erf``/``Gelu``: float64 graphs
with elu, softplus or gelu layers are valid ONNX that onnxruntime refuses to
load.  Export with ``dtype=np.float32`` to serve such a model.
"""
import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["to_onnx"]

# Opset fastmlp targets by default: new enough for every op used here but
# Gelu, old enough for onnxruntime releases from late 2022 on.
DEFAULT_OPSET = 17
MIN_OPSET = 13
# Gelu became an ONNX op in opset 20; below that it is spelled with Erf.
_GELU_OPSET = 20
_LEAKY_RELU_SLOPE = 0.01
_ELU_ALPHA = 1.0


class _GraphBuilder:
    """Collects nodes and initializers; every value gets a fresh name."""

    def __init__(self, dtype, opset):
        self.dtype = np.dtype(dtype)
        self.opset = opset
        self.nodes = []
        self.initializers = []
        self._count = {}

    def fresh(self, stem):
        n = self._count.get(stem, 0)
        self._count[stem] = n + 1
        return f"{stem}_{n}" if n else stem

    def const(self, value, stem, dtype=None):
        """An initializer holding ``value`` (in the graph's float dtype by default)."""
        from onnx import numpy_helper

        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type, inputs, output=None, **attrs):
        """Append one node; returns the name of its (single) output."""
        from onnx import helper

        output = output or self.fresh(op_type.lower())
        self.nodes.append(
            helper.make_node(op_type, list(inputs), [output], name=self.fresh("n_" + op_type), **attrs)
        )
        return output


# ------------------------------------------------------------ activations
# Each function appends the nodes of A = f(Z) and returns the name of A.


def _identity(g, z):
    return z  # A = Z: no node


def _logistic(g, z):
    return g.op("Sigmoid", [z])  # A = 1 / (1 + exp(-Z))


def _tanh(g, z):
    return g.op("Tanh", [z])


def _relu(g, z):
    return g.op("Relu", [z])  # A = max(Z, 0)


def _leaky_relu(g, z):
    """A = Z if Z >= 0 else 0.01 Z, written max(Z, 0.01 Z) (same for slope in (0, 1)).

    Not the LeakyRelu op: its ``alpha`` attribute is a 32-bit float, so a
    float64 graph would use slope 0.009999999776; a typed constant is exact.
    """
    return g.op("Max", [z, g.op("Mul", [z, g.const(_LEAKY_RELU_SLOPE, "slope")])])


def _elu(g, z):
    return g.op("Elu", [z], alpha=_ELU_ALPHA)  # A = Z if Z > 0 else exp(Z) - 1


def _gelu(g, z):
    """A = Z * Phi(Z) = 0.5 Z (1 + erf(Z / sqrt(2))), the exact (erf) form."""
    if g.opset >= _GELU_OPSET:
        return g.op("Gelu", [z], approximate="none")
    scaled = g.op("Div", [z, g.const(np.sqrt(2.0), "sqrt2")])
    one_plus = g.op("Add", [g.op("Erf", [scaled]), g.const(1.0, "one")])
    return g.op("Mul", [g.op("Mul", [z, one_plus]), g.const(0.5, "half")])


def _silu(g, z):
    return g.op("Mul", [z, g.op("Sigmoid", [z])])  # A = Z * sigmoid(Z)


def _softplus(g, z):
    return g.op("Softplus", [z])  # A = log(1 + exp(Z)); onnxruntime's is overflow-safe


def _exp(g, z):
    return g.op("Exp", [z])


def _softmax(g, z):
    return g.op("Softmax", [z], axis=1)  # row-wise


_HIDDEN = {
    "identity": _identity,
    "logistic": _logistic,
    "tanh": _tanh,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "gelu": _gelu,
    "silu": _silu,
    "softplus": _softplus,
}
_OUTPUT = {
    # tanh and relu: an out_activation_ set after fit, as scikit-learn
    # predicts it (_fitted_network.PREDICT_ONLY_OUTPUTS)
    "tanh": _tanh,
    "relu": _relu,
    "identity": _identity,
    "exp": _exp,
    "logistic": _logistic,
    "softmax": _softmax,
}
# Activations whose default export needs a newer opset than DEFAULT_OPSET.
_MIN_DEFAULT_OPSET = {"gelu": _GELU_OPSET}


# ------------------------------------------------------------- checking


def _check_model(model):
    from fastmlp._multilayer_perceptron import MLPClassifier, MLPRegressor

    if not isinstance(model, (MLPClassifier, MLPRegressor)):
        name = f"{type(model).__module__}.{type(model).__qualname__}"
        if name.startswith("fastmlp."):
            hint = (" The tabular estimators are not exported: their preprocessing "
                    "(TabularPreprocessor) has no ONNX graph here.")
        else:
            hint = " (For scikit-learn's own estimators, use skl2onnx.)"
        raise TypeError("to_onnx exports fastmlp.MLPClassifier and fastmlp.MLPRegressor, "
                        f"got {name}.{hint}")
    check_is_fitted(model, "coefs_")
    extras = model._layout_extras()
    parts = [what for what, on in (
        ("a periodic input layer", extras.get("periodic") is not None),
        ("an input scale", extras.get("input_scale")),
        ("parametric activations", extras.get("parametric")),
        ("categorical embeddings", extras.get("embedding") is not None)) if on]
    if parts:
        # a tabular estimator's network: those layers have no ONNX graph
        # here, and exporting without them would predict otherwise
        raise ValueError(
            f"to_onnx cannot export a network with {', '.join(parts)} (a "
            "TabularMLPClassifier/Regressor's network_).")
    from fastmlp._tabular_network import TabularNetClassifier, TabularNetRegressor

    if isinstance(model, (TabularNetClassifier, TabularNetRegressor)):
        # without those layers too: its input is the preprocessed table, and
        # its output is not the estimator's (the standardized target, the
        # probabilities before the temperature)
        raise ValueError(
            "to_onnx cannot export a TabularMLPClassifier/Regressor's network_: it reads "
            "the preprocessed table (TabularPreprocessor) and gives the regressor's "
            "standardized target, or the classifier's probabilities before its "
            "temperature, not what the estimator predicts.")


def _hidden_activations(model):
    """One activation name per hidden layer."""
    n_hidden = len(model.coefs_) - 1
    activation = model.activation
    if isinstance(activation, str):
        names = [activation] * n_hidden
    elif isinstance(activation, (list, tuple)):
        names = list(activation)
        if len(names) != n_hidden:
            raise ValueError(
                f"activation lists {len(names)} names ({names!r}) but the network "
                f"has {n_hidden} hidden layers."
            )
    else:
        raise TypeError(
            "activation must be a name or a list of names (one per hidden layer), "
            f"got {type(activation).__name__}."
        )
    for name in names:
        if name not in _HIDDEN:
            raise ValueError(
                f"Cannot export hidden activation {name!r}; known: {sorted(_HIDDEN)}."
            )
    if model.out_activation_ not in _OUTPUT:
        raise ValueError(
            f"Cannot export output activation {model.out_activation_!r}; "
            f"known: {sorted(_OUTPUT)}."
        )
    return names


def _check_dtype(model, dtype):
    dtype = np.dtype(model.coefs_[0].dtype if dtype is None else dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}.")
    return dtype


def _check_opset(opset, activations):
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if opset is None:
        return max([DEFAULT_OPSET] + [_MIN_DEFAULT_OPSET.get(a, 0) for a in activations])
    if not (isinstance(opset, (int, np.integer)) and MIN_OPSET <= opset <= newest):
        raise ValueError(
            f"opset must be an integer in [{MIN_OPSET}, {newest}] (the installed onnx "
            f"knows up to {newest}), got {opset!r}."
        )
    return int(opset)


def _label_table(classes):
    """classes_ as an array ONNX can hold: strings, int64 (uint64 for
    unsigned labels past int64's range, which int64 would wrap), bool or
    float."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "OUS":
        return np.array([str(c) for c in classes], dtype=object)
    if classes.dtype.kind == "u" and classes.max() > np.iinfo(np.int64).max:
        return classes.astype(np.uint64)
    if classes.dtype.kind in "iu":
        return classes.astype(np.int64)
    if classes.dtype.kind in "bf":
        return classes
    raise TypeError(f"Cannot export class labels of dtype {classes.dtype}.")


# -------------------------------------------------------------- heads


def _classifier_head(g, p, model):
    """label [N] (or [N, n_labels]) and probabilities [N, n_classes]."""
    from onnx import TensorProto

    if model._target_type.startswith("multilabel"):
        # predict: (P > 0.5) as int; predict_proba: P itself
        g.op("Identity", [p], output="probabilities")
        above = g.op("Greater", [p, g.const(0.5, "threshold")])
        g.op("Cast", [above], output="label", to=TensorProto.INT64)
        return
    table = _label_table(model.classes_)
    if model.out_activation_ == "softmax":
        index = g.op("ArgMax", [p], axis=1, keepdims=0)  # first maximum, as NumPy
        g.op("Identity", [p], output="probabilities")
    else:
        # one logistic unit for classes_[1]: proba [1 - p, p], label p > 0.5
        one_minus = g.op("Sub", [g.const(1.0, "one"), p])
        g.op("Concat", [one_minus, p], output="probabilities", axis=1)
        above = g.op("Greater", [p, g.const(0.5, "threshold")])
        flat = g.op("Reshape", [above, g.const([-1], "flat_shape", np.int64)])
        index = g.op("Cast", [flat], to=TensorProto.INT64)
        if len(table) == 1:  # one class seen in fit: predict always returns it
            table = np.repeat(table, 2)
    g.op("Gather", [g.const(table, "classes", table.dtype), index], output="label", axis=0)


def _label_elem_type(model):
    from onnx import TensorProto, helper

    if model._target_type.startswith("multilabel"):
        return TensorProto.INT64
    return helper.np_dtype_to_tensor_dtype(_label_table(model.classes_).dtype)


# -------------------------------------------------------------- public


def to_onnx(model, *, dtype=None, opset=None, name=None):
    """Export a fitted fastmlp estimator to an ONNX model.

    Parameters
    ----------
    model : fastmlp.MLPClassifier or fastmlp.MLPRegressor
        A fitted estimator.
    dtype : {None, numpy.float32, numpy.float64}, default=None
        Element type of the input ``X``, of the weights and of the float
        outputs.  None keeps the model's parameter dtype
        (``model.coefs_[0].dtype``); ``np.float32`` casts a float64 model's
        weights down (the usual choice for serving).
    opset : int, default=None
        The ONNX opset (default domain) to target, in ``[13, newest]``.  None
        picks 17, or 20 when a hidden layer uses ``gelu`` (the ``Gelu`` op);
        below 20, gelu is written with ``Erf``.
    name : str, default=None
        Graph name; defaults to ``"fastmlp_" + type(model).__name__``.

    Returns
    -------
    onnx.ModelProto
        One input ``"X"`` of shape ``[None, n_features_in_]``.  A classifier
        has outputs ``"label"`` (shape ``[None]`` holding ``classes_`` values:
        string, int64, bool or float tensor; for multilabel targets shape
        ``[None, n_labels]``, int64 0/1) and ``"probabilities"`` (shape
        ``[None, n_classes]``, as ``predict_proba``).  A regressor has one
        output ``"variable"`` of shape ``[None, n_outputs]`` -- ``[None, 1]``
        for a single target, where ``predict`` returns shape ``(n_samples,)``.

    Raises
    ------
    TypeError
        If ``model`` is not a fastmlp estimator.
    sklearn.exceptions.NotFittedError
        If ``model`` is not fitted.
    ValueError
        For an unknown activation, a bad ``dtype`` or ``opset``, or a
        tabular estimator's ``network_`` (it reads the preprocessed table).
    """
    _check_model(model)
    activations = _hidden_activations(model)
    dtype = _check_dtype(model, dtype)
    opset = _check_opset(opset, activations)
    return _build(model, activations, dtype, opset, name)


def _build(model, activations, dtype, opset, name):
    import onnx
    from onnx import helper

    from fastmlp import __version__

    g = _GraphBuilder(dtype, opset)
    float_type = helper.np_dtype_to_tensor_dtype(dtype)
    n_layers = len(model.coefs_)

    a = "X"
    for layer, (W, b) in enumerate(zip(model.coefs_, model.intercepts_)):
        z = g.op("MatMul", [a, g.const(W, f"coef_{layer}")])
        z = g.op("Add", [z, g.const(b, f"intercept_{layer}")])  # Z = A W + b
        if layer < n_layers - 1:
            a = _HIDDEN[activations[layer]](g, z)
        else:
            a = _OUTPUT[model.out_activation_](g, z)

    n_out = int(model.coefs_[-1].shape[1])
    if hasattr(model, "classes_"):
        _classifier_head(g, a, model)
        if model._target_type.startswith("multilabel"):
            label_shape, n_proba = [None, n_out], n_out
        else:
            label_shape, n_proba = [None], max(n_out, 2)
        outputs = [
            helper.make_tensor_value_info("label", _label_elem_type(model), label_shape),
            helper.make_tensor_value_info("probabilities", float_type, [None, n_proba]),
        ]
    else:
        g.op("Identity", [a], output="variable")
        outputs = [helper.make_tensor_value_info("variable", float_type, [None, n_out])]

    n_features = int(model.coefs_[0].shape[0])
    graph = helper.make_graph(
        g.nodes,
        name or f"fastmlp_{type(model).__name__}",
        [helper.make_tensor_value_info("X", float_type, [None, n_features])],
        outputs,
        initializer=g.initializers,
    )
    opset_ids = [helper.make_opsetid("", opset)]
    onnx_model = helper.make_model(
        graph,
        opset_imports=opset_ids,
        producer_name="fastmlp",
        producer_version=__version__,
        doc_string=f"{type(model).__name__} exported by fastmlp.to_onnx",
    )
    # the oldest IR version that carries this opset: loadable by older runtimes
    onnx_model.ir_version = helper.find_min_ir_version_for(opset_ids)
    onnx.checker.check_model(onnx_model)
    return onnx_model
