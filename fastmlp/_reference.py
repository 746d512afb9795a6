"""Pure-NumPy reference implementation of the MLP math: the test oracle.

Design: every function here is a direct, readable transcription of the
math scikit-learn 1.9 uses in ``sklearn/neural_network/_base.py``,
``_multilayer_perceptron.py`` (``_forward_pass``, ``_backprop``,
``_compute_loss_grad``) and ``_stochastic_optimizers.py``. The compiled
engine is tested against this module, and this module is tested against
scikit-learn itself (``tests/test_reference.py``). Speed is not a goal;
clarity and bit-for-bit agreement with scikit-learn in float64 are.

Conventions shared with the engine:

- weights ``coefs[i]`` have shape ``(fan_in, fan_out)`` (C order), so a
  layer computes ``Z = A @ W + b``;
- the flat parameter vector is scikit-learn's ``_pack`` layout: every coef
  raveled in C order, layer by layer, then every intercept;
- derivatives of hidden activations are computed from the layer OUTPUT
  ``A`` (not the pre-activation ``Z``);
- the output activation is fused with its canonical loss so the output
  delta is ``(P - Y) * sample_weight``; the gradient is divided by
  ``sw_sum`` (``n_samples`` when unweighted);
- float32 in gives float32 out: ``Y``, ``sample_weight`` and ``X`` are cast
  to the parameter dtype inside ``loss_grad`` and ``sgd_epoch``.

Known quirk kept on purpose (it is scikit-learn's behaviour): the squared
error loss is ``0.5 * mean over outputs of the (weighted) average over
samples``, but its gradient uses ``P - Y`` without dividing by
``n_outputs``. The returned gradient is therefore ``n_outputs`` times the
true derivative of the data term of the returned loss when
``n_outputs > 1`` (the L2 term is consistent).

The engine's whole training step -- every solver, loss, activation,
clipping mode, L1, max_norm and dropout -- is ``Problem``, with exactly the
signatures of ``fastmlp._engine.Problem``. It lives in
``fastmlp/_reference_problem.py`` (built on the functions here) and is
re-exported from this module, as are its helpers (``Layout``,
``OptimizerState``, ``dropout_mask``, ``output_loss_delta``, ...).

This module imports only NumPy and SciPy (and, on first use of those names,
``fastmlp._reference_problem``, which imports only NumPy, SciPy and this
module): never scikit-learn and never the compiled ``fastmlp._*`` modules it
is used to check.
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import erf, expit, xlogy

__all__ = [
    "HIDDEN_ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "LOSS_OF_OUTPUT",
    "layer_slices",
    "pack",
    "unpack",
    "activation",
    "activation_derivative",
    "forward",
    "loss",
    "loss_grad",
    "sgd_step",
    "adam_step",
    "rmsprop_step",
    "adagrad_step",
    "clip_grad_norm",
    "sgd_epoch",
    # the engine's Problem in NumPy (fastmlp/_reference_problem.py)
    "ACTIVATION_CODES",
    "OUTPUT_CODES",
    "SOLVER_CODES",
    "STEP_FACTORS",
    "PARAMETRIC_ACTIVATIONS",
    "Layout",
    "OptimizerState",
    "Problem",
    "counter_uniform",
    "dropout_mask",
    "output_loss_delta",
    "raw_loss_grad",
]

HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
OUTPUT_ACTIVATIONS = ("identity", "exp", "logistic", "softmax")
# fastmlp's further hidden activations (scikit-learn has none of them: their
# derivatives here are checked against finite differences)
EXTRA_ACTIVATIONS = ("leaky_relu", "elu", "softplus", "gelu", "silu")
LEAKY_SLOPE = 0.01  # leaky_relu's slope for Z < 0 (Keras, PyTorch)
_INV_SQRT2 = 0.7071067811865476  # 1 / sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)
LOSS_OF_OUTPUT = {
    "identity": "squared_error",
    "exp": "poisson",
    "logistic": "binary_log_loss",
    "softmax": "log_loss",
}


# ---------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------


def _check_name(name, allowed, what):
    if name not in allowed:
        raise ValueError(f"{what} must be one of {allowed}, got {name!r}.")


def _check_layer_units(layer_units):
    units = [int(u) for u in layer_units]
    if len(units) < 2:
        raise ValueError(
            f"layer_units needs at least 2 entries (inputs, outputs), got {units}."
        )
    if any(u < 1 for u in units):
        raise ValueError(f"every entry of layer_units must be >= 1, got {units}.")
    return units


def _as_2d_targets(Y, n_samples, dtype=None):
    Y = np.asarray(Y, dtype=dtype)
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    if Y.ndim != 2 or Y.shape[0] != n_samples:
        raise ValueError(
            f"Y must have shape (n_samples={n_samples}, n_outputs), got {Y.shape}."
        )
    return Y


def _as_sample_weight(sample_weight, n_samples, dtype=None):
    if sample_weight is None:
        return None
    sample_weight = np.asarray(sample_weight, dtype=dtype)
    if sample_weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), "
            f"got {sample_weight.shape}."
        )
    return sample_weight


def _as_float_input(X, dtype):
    """X cast to ``dtype`` (dense ndarray or scipy sparse), copied only if needed."""
    if sp.issparse(X):
        if X.format not in ("csr", "csc"):
            X = X.tocsr()  # row slicing (minibatches) needs CSR or CSC
        return X if X.dtype == dtype else X.astype(dtype)
    return np.asarray(X, dtype=dtype)


# ---------------------------------------------------------------------------
# Parameter layout
# ---------------------------------------------------------------------------


def layer_slices(layer_units):
    """Where each layer's parameters live in the flat parameter vector.

    Parameters
    ----------
    layer_units : sequence of int, length n_layers
        ``[n_features, hidden_1, ..., n_outputs]``.

    Returns
    -------
    coef_slices : list of slice, length n_layers - 1
        ``params[coef_slices[i]]`` holds ``coefs[i]`` of shape
        ``(layer_units[i], layer_units[i + 1])`` raveled in C order.
    intercept_slices : list of slice, length n_layers - 1
        ``params[intercept_slices[i]]`` holds ``intercepts[i]`` of shape
        ``(layer_units[i + 1],)``. All intercepts come after all coefs.
    """
    units = _check_layer_units(layer_units)
    coef_slices = []
    start = 0
    for fan_in, fan_out in zip(units[:-1], units[1:]):
        coef_slices.append(slice(start, start + fan_in * fan_out))
        start += fan_in * fan_out
    intercept_slices = []
    for fan_out in units[1:]:
        intercept_slices.append(slice(start, start + fan_out))
        start += fan_out
    return coef_slices, intercept_slices


def _n_params(units):
    return sum(a * b + b for a, b in zip(units[:-1], units[1:]))


def pack(coefs, intercepts):
    """Concatenate coefs (C order) then intercepts into one 1-D array.

    Same layout as scikit-learn's ``_pack``; returns a new array.
    """
    if len(coefs) != len(intercepts):
        raise ValueError(
            f"got {len(coefs)} coefs but {len(intercepts)} intercepts."
        )
    parts = [np.ravel(c, order="C") for c in coefs]
    parts += [np.ravel(b, order="C") for b in intercepts]
    return np.concatenate(parts)


def unpack(params, layer_units):
    """Views of ``params`` as ``(coefs, intercepts)``.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        Flat parameter vector in ``pack`` layout.
    layer_units : sequence of int

    Returns
    -------
    coefs : list of ndarray, ``coefs[i].shape == (units[i], units[i + 1])``
    intercepts : list of ndarray, ``intercepts[i].shape == (units[i + 1],)``
        Both are views: writing into them writes into ``params``.
    """
    units = _check_layer_units(layer_units)
    if not isinstance(params, np.ndarray) or params.ndim != 1:
        raise ValueError("params must be a 1-D ndarray.")
    if params.shape[0] != _n_params(units):
        raise ValueError(
            f"params has {params.shape[0]} entries but layer_units {units} "
            f"need {_n_params(units)}."
        )
    coef_slices, intercept_slices = layer_slices(units)
    coefs = [
        params[s].reshape(fan_in, fan_out)
        for s, fan_in, fan_out in zip(coef_slices, units[:-1], units[1:])
    ]
    intercepts = [params[s] for s in intercept_slices]
    for c in coefs:
        # A 1-D slice always reshapes to a view; check rather than trust.
        if not np.shares_memory(c, params):  # pragma: no cover
            raise RuntimeError("unpack produced a copy instead of a view.")
    return coefs, intercepts


# ---------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------


def activation(name, Z):
    """Apply activation ``name`` to ``Z`` and return a new array.

    identity: ``A = Z``; logistic: ``A = expit(Z)``; tanh: ``A = tanh(Z)``;
    relu: ``A = max(Z, 0)``; exp: ``A = exp(Z)``;
    softmax (row-wise): ``A = exp(Z - max_row(Z)) / sum_row(...)``.
    """
    _check_name(name, HIDDEN_ACTIVATIONS + EXTRA_ACTIVATIONS + ("exp", "softmax"), "activation")
    Z = np.asarray(Z)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, Z * Z.dtype.type(LEAKY_SLOPE))
    if name == "elu":
        return np.where(Z > 0, Z, np.expm1(np.minimum(Z, 0)))
    if name == "softplus":
        return np.logaddexp(0, Z).astype(Z.dtype)
    if name == "gelu":
        return (Z * 0.5 * (1 + erf(Z * _INV_SQRT2))).astype(Z.dtype)
    if name == "silu":
        return Z * expit(Z)
    if name == "identity":
        return Z.copy()
    if name == "logistic":
        return expit(Z)
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "exp":
        return np.exp(Z)
    # softmax, stable: subtract the row max before exponentiating.
    if Z.ndim != 2:
        raise ValueError(f"softmax needs a 2-D array, got shape {Z.shape}.")
    A = np.exp(Z - Z.max(axis=1)[:, np.newaxis])
    A /= A.sum(axis=1)[:, np.newaxis]
    return A


# ``forward`` has a parameter named ``activation`` that shadows the function.
_activate = activation


def activation_derivative(name, A, delta, Z=None):
    """Return ``delta * f'(Z)`` for hidden activation ``name``, from ``A = f(Z)``.

    identity: ``delta``; logistic: ``delta * A * (1 - A)``;
    tanh: ``delta * (1 - A**2)``; relu: ``delta`` where ``A > 0`` else 0;
    leaky_relu: ``delta`` where ``A > 0`` else ``0.01 * delta``;
    elu: ``delta`` where ``A > 0`` else ``delta * (A + 1)``;
    softplus: ``delta * (1 - exp(-A))`` (= ``delta * expit(Z)``);
    gelu: ``delta * (Phi(Z) + Z * phi(Z))``, Phi/phi the standard normal
    CDF/density; silu: ``delta * s * (1 + Z * (1 - s))``, ``s = expit(Z)``.
    gelu and silu are not monotonic, so ``A`` does not determine ``Z``:
    they need ``Z`` (the pre-activation, shape of ``A``).
    Output activations have no entry: their derivative is fused with the
    loss (``delta = P - Y``).
    """
    _check_name(name, HIDDEN_ACTIVATIONS + EXTRA_ACTIVATIONS, "hidden activation")
    A = np.asarray(A)
    delta = np.asarray(delta)
    if A.shape != delta.shape:
        raise ValueError(
            f"A and delta must have the same shape, got {A.shape} and {delta.shape}."
        )
    if name in ("gelu", "silu"):
        if Z is None or np.shape(Z) != A.shape:
            raise ValueError(f"{name}'s derivative needs Z of shape {A.shape}.")
        Z = np.asarray(Z)
    if name == "identity":
        return delta.copy()
    if name == "logistic":
        # d expit(z)/dz = A (1 - A); same operation order as scikit-learn.
        return delta * A * (1 - A)
    if name == "tanh":
        # d tanh(z)/dz = 1 - A**2
        return delta * (1 - A**2)
    if name == "relu":
        # d max(z, 0)/dz = 1 where A > 0, else 0 (subgradient 0 at z = 0).
        return np.where(A > 0, delta, np.zeros((), dtype=delta.dtype))
    one = np.ones((), dtype=A.dtype)
    if name == "leaky_relu":
        # A = z (z > 0) or 0.01 z: the sign of A is the sign of z
        return delta * np.where(A > 0, one, A.dtype.type(LEAKY_SLOPE))
    if name == "elu":
        # A = exp(z) - 1 for z <= 0, so exp(z) = A + 1
        return delta * np.where(A > 0, one, A + 1)
    if name == "softplus":
        # A = log(1 + exp(z)): expit(z) = 1 - exp(-A), written -expm1(-A)
        # so that it keeps its digits where A is tiny (z very negative)
        return delta * -np.expm1(-A)
    if name == "gelu":
        # A = z Phi(z): Phi(z) + z phi(z)
        return delta * (
            0.5 * (1 + erf(Z * _INV_SQRT2)) + Z * _INV_SQRT_2PI * np.exp(-Z * Z / 2)
        )
    # silu: A = z s(z): s + z s (1 - s)
    s = expit(Z)
    return delta * (s * (1 + Z * (1 - s)))


# ---------------------------------------------------------------------------
# Forward pass and losses
# ---------------------------------------------------------------------------


def _matmul(A, W):
    """``A @ W`` returning a dense ndarray (A may be scipy sparse)."""
    out = A @ W
    if sp.issparse(out):  # pragma: no cover - sparse @ dense is dense
        out = out.toarray()
    return np.asarray(out)


def forward(X, coefs, intercepts, activation, out_activation):
    """Forward pass.

    Parameters
    ----------
    X : ndarray or scipy sparse matrix of shape (n_samples, n_features)
    coefs : list of ndarray, ``coefs[i]`` of shape (fan_in, fan_out)
    intercepts : list of ndarray, ``intercepts[i]`` of shape (fan_out,)
    activation : str, one of ``HIDDEN_ACTIVATIONS``
    out_activation : str, one of ``OUTPUT_ACTIVATIONS``

    Returns
    -------
    activations : list ``[X, A_1, ..., A_out]``
        ``A_{i+1} = f(A_i @ coefs[i] + intercepts[i])`` with ``f = activation``
        for hidden layers and ``out_activation`` for the last one. ``X`` is
        returned as given; every other entry is a new dense array.
    """
    _check_name(activation, HIDDEN_ACTIVATIONS + EXTRA_ACTIVATIONS, "activation")
    _check_name(out_activation, OUTPUT_ACTIVATIONS, "out_activation")
    if len(coefs) != len(intercepts) or len(coefs) == 0:
        raise ValueError(
            f"need as many coefs as intercepts (>= 1), got {len(coefs)} and "
            f"{len(intercepts)}."
        )
    if X.ndim != 2 or X.shape[1] != coefs[0].shape[0]:
        raise ValueError(
            f"X has shape {X.shape} but coefs[0] expects {coefs[0].shape[0]} "
            "features."
        )
    activations = [X]
    n_layers = len(coefs)
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        # Z = A_i @ W_i + b_i
        Z = _matmul(activations[i], W)
        Z += b
        name = out_activation if i == n_layers - 1 else activation
        activations.append(_activate(name, Z))
    return activations


def _loss(Y, P, out_activation, sample_weight):
    """Loss as scikit-learn computes it; numpy scalar in the working dtype."""
    kind = LOSS_OF_OUTPUT[out_activation]
    if kind == "squared_error":
        # 0.5 * mean over outputs of the weighted average over samples.
        return 0.5 * np.average((Y - P) ** 2, weights=sample_weight, axis=0).mean()
    if kind == "poisson":
        # Half Poisson deviance, including the y log y - y term.
        return np.average(
            xlogy(Y, Y / P) - Y + P, weights=sample_weight, axis=0
        ).sum()
    eps = np.finfo(P.dtype).eps
    P = np.clip(P, eps, 1 - eps)
    if kind == "binary_log_loss":
        return -np.average(
            xlogy(Y, P) + xlogy(1 - Y, 1 - P), weights=sample_weight, axis=0
        ).sum()
    # log_loss (softmax). A single column is read as P(class 1), as sklearn.
    if P.shape[1] == 1:
        P = np.append(1 - P, P, axis=1)
    if Y.shape[1] == 1:
        Y = np.append(1 - Y, Y, axis=1)
    return -np.average(xlogy(Y, P), weights=sample_weight, axis=0).sum()


def loss(Y, P, out_activation, sample_weight=None):
    """Data loss of predictions ``P`` for targets ``Y`` (no L2 term).

    Parameters
    ----------
    Y : ndarray of shape (n_samples, n_outputs) (1-D is read as one output)
    P : ndarray of shape (n_samples, n_outputs), output-layer activations
    out_activation : str, one of ``OUTPUT_ACTIVATIONS``; selects the loss
        ``LOSS_OF_OUTPUT[out_activation]``.
    sample_weight : ndarray of shape (n_samples,), optional

    Returns
    -------
    loss : float
        squared_error: ``0.5 * mean_k avg_i (y_ik - p_ik)**2``;
        poisson: ``sum_k avg_i (xlogy(y, y / p) - y + p)``;
        binary_log_loss: ``-sum_k avg_i (xlogy(y, p) + xlogy(1 - y, 1 - p))``;
        log_loss: ``-sum_k avg_i xlogy(y, p)``; ``avg_i`` is ``np.average``
        with ``weights=sample_weight``, probabilities are clipped to
        ``[eps, 1 - eps]`` with ``eps = finfo(P.dtype).eps``.
    """
    _check_name(out_activation, OUTPUT_ACTIVATIONS, "out_activation")
    P = np.asarray(P)
    if P.ndim == 1:
        P = P.reshape(-1, 1)
    if P.ndim != 2:
        raise ValueError(f"P must be 2-D, got shape {P.shape}.")
    Y = _as_2d_targets(Y, P.shape[0])
    if Y.shape != P.shape:
        raise ValueError(f"Y has shape {Y.shape} but P has shape {P.shape}.")
    sample_weight = _as_sample_weight(sample_weight, P.shape[0])
    return float(_loss(Y, P, out_activation, sample_weight))


def _loss_grad(params, X, Y, sample_weight, units, activation, out_activation, alpha):
    """Core of ``loss_grad``; inputs already validated and cast.

    Returns the loss as a numpy scalar (scikit-learn's arithmetic, so float32
    stays float32) and the flat gradient.
    """
    n_samples = X.shape[0]
    coefs, intercepts = unpack(params, units)
    activations = forward(X, coefs, intercepts, activation, out_activation)

    value = _loss(Y, activations[-1], out_activation, sample_weight)
    # L2 penalty: 0.5 * alpha * sum_i ||W_i||^2 / sw_sum
    sq_norm = 0
    for W in coefs:
        w = W.ravel()
        sq_norm += np.dot(w, w)
    sw_sum = n_samples if sample_weight is None else sample_weight.sum()
    value += (0.5 * alpha) * sq_norm / sw_sum

    grad = np.empty_like(params)
    coef_grads, intercept_grads = unpack(grad, units)

    # Output layer, loss fused with its canonical link:
    # d loss_i / d Z_out = P_i - Y_i (times the sample weight).
    delta = activations[-1] - Y
    if sample_weight is not None:
        delta *= sample_weight.reshape(-1, 1)

    for layer in range(len(coefs) - 1, -1, -1):
        # Z_{l+1} = A_l @ W_l + b_l:
        #   dL/dW_l = (A_l^T delta_l + alpha W_l) / sw_sum
        #   dL/db_l = sum_rows(delta_l) / sw_sum
        g = _matmul(activations[layer].T, delta)
        g += alpha * coefs[layer]
        g /= sw_sum
        coef_grads[layer][...] = g
        intercept_grads[layer][...] = np.sum(delta, axis=0) / sw_sum
        if layer > 0:
            # A_l = f(Z_l): delta_{l-1} = (delta_l @ W_l^T) * f'(Z_l), f' from A_l
            delta = activation_derivative(
                activation, activations[layer], _matmul(delta, coefs[layer].T)
            )
    return value, grad


def _check_problem(params, X, Y, sample_weight, layer_units, activation, out_activation):
    units = _check_layer_units(layer_units)
    _check_name(activation, HIDDEN_ACTIVATIONS, "activation")
    _check_name(out_activation, OUTPUT_ACTIVATIONS, "out_activation")
    params = np.asarray(params)
    if params.ndim != 1 or not np.issubdtype(params.dtype, np.floating):
        raise TypeError(
            f"params must be a 1-D floating array, got ndim={params.ndim}, "
            f"dtype={params.dtype}."
        )
    dtype = params.dtype
    X = _as_float_input(X, dtype)
    if X.ndim != 2 or X.shape[1] != units[0]:
        raise ValueError(
            f"X has shape {X.shape} but layer_units[0] = {units[0]}."
        )
    Y = _as_2d_targets(Y, X.shape[0], dtype)
    if Y.shape[1] != units[-1]:
        raise ValueError(
            f"Y has {Y.shape[1]} outputs but layer_units[-1] = {units[-1]}."
        )
    sample_weight = _as_sample_weight(sample_weight, X.shape[0], dtype)
    return params, X, Y, sample_weight, units


def loss_grad(
    params, X, Y, sample_weight, layer_units, activation, out_activation, alpha
):
    """Loss and flat gradient with scikit-learn's ``_backprop`` semantics.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        Flat parameters in ``pack`` layout; its dtype is the working dtype
        (``X``, ``Y`` and ``sample_weight`` are cast to it).
    X : ndarray or scipy sparse matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Targets; one-hot / indicator for the classification outputs.
    sample_weight : ndarray of shape (n_samples,) or None
    layer_units : sequence of int, ``[n_features, *hidden, n_outputs]``
    activation : str, hidden activation
    out_activation : str, output activation (selects the loss)
    alpha : float, L2 strength

    Returns
    -------
    loss : float
        ``loss(Y, P) + 0.5 * alpha * sum ||W||^2 / sw_sum``.
    grad : ndarray of shape (n_params,), same dtype and layout as ``params``
        Output delta ``(P - Y) * sample_weight``; coef grad
        ``(A^T delta + alpha W) / sw_sum``; intercept grad
        ``sum(delta) / sw_sum``; ``sw_sum = sum(sample_weight)`` or
        ``n_samples``.
    """
    params, X, Y, sample_weight, units = _check_problem(
        params, X, Y, sample_weight, layer_units, activation, out_activation
    )
    value, grad = _loss_grad(
        params, X, Y, sample_weight, units, activation, out_activation, alpha
    )
    return float(value), grad


# ---------------------------------------------------------------------------
# Optimizers (in place on flat arrays)
# ---------------------------------------------------------------------------


def _check_same_shape(**arrays):
    shapes = {k: np.shape(v) for k, v in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"arrays must have the same shape, got {shapes}.")


def sgd_step(params, grad, velocity, lr, momentum, nesterov):
    """SGD with (Nesterov) momentum, in place on ``params`` and ``velocity``.

    ``velocity = momentum * velocity - lr * grad``;
    ``params += momentum * velocity - lr * grad`` if nesterov else
    ``params += velocity``.
    """
    _check_same_shape(params=params, grad=grad, velocity=velocity)
    velocity[...] = momentum * velocity - lr * grad
    if nesterov:
        update = momentum * velocity - lr * grad
    else:
        update = velocity
    params += update


def adam_step(params, grad, m, v, t, lr_init, beta_1, beta_2, epsilon):
    """Adam, in place on ``params``, ``m`` and ``v``.

    ``t`` is the step count after incrementing (1 on the first step).
    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g**2``;
    ``lr_t = lr_init sqrt(1 - b2**t) / (1 - b1**t)``;
    ``params += -lr_t m / (sqrt(v) + epsilon)``.

    Returns
    -------
    lr_t : numpy.float64
        The effective learning rate (scikit-learn's ``learning_rate``). It is
        a float64 scalar, so with float32 arrays the update is evaluated in
        float64 and cast back on ``+=``, exactly as scikit-learn does.
    """
    _check_same_shape(params=params, grad=grad, m=m, v=v)
    if t < 1:
        raise ValueError(f"t is the step count after increment, must be >= 1, got {t}.")
    m[...] = beta_1 * m + (1 - beta_1) * grad
    v[...] = beta_2 * v + (1 - beta_2) * (grad**2)
    lr_t = lr_init * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    params += -lr_t * m / (np.sqrt(v) + epsilon)
    return lr_t


def rmsprop_step(params, grad, sq, lr, rho, epsilon):
    """RMSprop, in place on ``params`` and ``sq``.

    ``sq = rho sq + (1 - rho) grad**2``;
    ``params -= lr grad / (sqrt(sq) + epsilon)``.
    """
    _check_same_shape(params=params, grad=grad, sq=sq)
    sq[...] = rho * sq + (1 - rho) * grad**2
    params -= lr * grad / (np.sqrt(sq) + epsilon)


def adagrad_step(params, grad, sq, lr, epsilon):
    """Adagrad, in place on ``params`` and ``sq``.

    ``sq += grad**2``; ``params -= lr grad / (sqrt(sq) + epsilon)``.
    """
    _check_same_shape(params=params, grad=grad, sq=sq)
    sq += grad**2
    params -= lr * grad / (np.sqrt(sq) + epsilon)


def clip_grad_norm(grad, max_norm):
    """Scale ``grad`` in place so its global L2 norm is at most ``max_norm``.

    ``norm = ||grad||_2``; if ``norm > max_norm``: ``grad *= max_norm / norm``.

    Returns
    -------
    norm : float
        The norm before clipping (accumulated in float64).
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}.")
    g = np.asarray(grad, dtype=np.float64).ravel()
    norm = float(np.sqrt(np.dot(g, g)))
    if norm > max_norm:
        grad *= max_norm / norm
    return norm


# ---------------------------------------------------------------------------
# One epoch of plain minibatch SGD
# ---------------------------------------------------------------------------


def sgd_epoch(
    params,
    X,
    Y,
    sample_weight,
    layer_units,
    activation,
    out_activation,
    alpha,
    batch_size,
    lr,
):
    """One epoch of minibatch SGD (no shuffle, momentum 0), ``params`` in place.

    Batches are consecutive rows ``[0:bs], [bs:2 bs], ...`` (the last one may
    be short), ``batch_size`` clipped to ``n_samples`` as scikit-learn does.
    Each batch: ``loss_b, g = loss_grad(...)`` then ``params += -lr * g``.

    Returns
    -------
    loss : float
        ``sum_b loss_b * n_b / n_samples``, accumulated as scikit-learn's
        ``_fit_stochastic`` does (``loss_`` after one epoch).
    """
    params, X, Y, sample_weight, units = _check_problem(
        params, X, Y, sample_weight, layer_units, activation, out_activation
    )
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    n_samples = X.shape[0]
    batch_size = min(int(batch_size), n_samples)
    velocity = np.zeros_like(params)
    accumulated = 0.0
    for start in range(0, n_samples, batch_size):
        stop = min(start + batch_size, n_samples)
        sw = None if sample_weight is None else sample_weight[start:stop]
        batch_loss, grad = _loss_grad(
            params,
            X[start:stop],
            Y[start:stop],
            sw,
            units,
            activation,
            out_activation,
            alpha,
        )
        accumulated += batch_loss * (stop - start)
        sgd_step(params, grad, velocity, lr, 0.0, False)
    return float(accumulated / n_samples)


# ---------------------------------------------------------------------------
# The engine's Problem (fastmlp/_reference_problem.py), re-exported
# ---------------------------------------------------------------------------

_PROBLEM_NAMES = frozenset(__all__[__all__.index("ACTIVATION_CODES"):])


def __getattr__(name):
    """``Problem`` and its helpers, imported on first use: the module that
    defines them imports this one, so importing it here at load time would
    make the two modules' import order matter (PEP 562)."""
    if name in _PROBLEM_NAMES:
        from fastmlp import _reference_problem

        return getattr(_reference_problem, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _PROBLEM_NAMES)
