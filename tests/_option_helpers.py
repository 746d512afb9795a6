"""Small problems, a one-step harness and a NumPy oracle shared by the
estimator-level tests of fastmlp's training options (test_class_weight.py,
test_validation_set.py, test_solvers.py, test_lr_schedules_estimator.py,
test_clipping.py, test_dropout.py, test_max_norm.py, test_activations.py,
test_robust_losses.py, test_l1_penalty.py, test_watching.py,
test_options_api.py).

The oracle is written here from the definitions, independently of the
compiled engine: ``_act`` / ``_np_forward`` for the hidden activations and the
network output, ``_np_reg_loss`` for the regression objectives (squared error,
Huber, absolute error, L2 and L1 terms) and ``_fd_grad`` for their central
finite-difference gradients.  Everything is float64 on small data.
"""
import numpy as np
from scipy.special import erf, expit
from sklearn.preprocessing import LabelBinarizer

from fastmlp import _reference as ref


# ---------------------------------------------------------------------- data


def _multiclass(n=60, n_features=5, seed=0, imbalanced=False):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    score = X[:, 0] + 0.5 * X[:, 1] - 0.3 * X[:, 2]
    if imbalanced:
        y = np.digitize(score, [-0.2, 1.0])  # classes of unequal sizes
    else:
        y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    return X, np.array([3, 7, 11])[y]


def _regression(n=50, n_features=4, seed=2, n_outputs=1):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    W = rng.normal(size=(n_features, n_outputs))
    y = np.tanh(X @ W) + 0.1 * rng.normal(size=(n, n_outputs))
    return X, (y.ravel() if n_outputs == 1 else y)


def _split(X, y, n_val):
    return X[:-n_val], y[:-n_val], X[-n_val:], y[-n_val:]


def _onehot(classes, y):
    Y = LabelBinarizer().fit(classes).transform(y).astype(np.float64)
    return Y


# ------------------------------------------------------------------- weights


def _flat(est):
    return ref.pack(est.coefs_, est.intercepts_)


def _units(est):
    return [est.coefs_[0].shape[0]] + [c.shape[1] for c in est.coefs_]


def _n_coef(units):
    return sum(a * b for a, b in zip(units[:-1], units[1:]))


def _one_step(est, X, y, sample_weight=None, seed=0, scale=0.8):
    """One single-batch epoch from known weights.

    Fits once (``max_iter=1``) to build the model, overwrites ``coefs_`` and
    ``intercepts_`` in place with known values ``p0``, then fits one more
    epoch with ``warm_start`` (the optimizer state restarts at zero with every
    ``fit``).  Returns ``(p0, p1)`` as flat vectors in ``_pack`` layout.
    """
    est.set_params(max_iter=1, warm_start=True, shuffle=False, batch_size=X.shape[0])
    est.fit(X, y, sample_weight=sample_weight)
    rng = np.random.RandomState(seed)
    for W in est.coefs_:
        W[...] = rng.uniform(-scale, scale, W.shape)
    for b in est.intercepts_:
        b[...] = rng.uniform(-0.3, 0.3, b.shape)
    p0 = _flat(est)
    est.fit(X, y, sample_weight=sample_weight)
    return p0, _flat(est)


def _glorot_init(units, activation, random_state):
    """scikit-learn's initialisation (MLP._init_coef), drawn in its order."""
    rng = np.random.RandomState(random_state)
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(units[:-1], units[1:]):
        factor = 2.0 if activation == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
        intercepts.append(rng.uniform(-bound, bound, fan_out))
    return ref.pack(coefs, intercepts)


# ------------------------- one optimizer step against the reference gradient


def _opt_problem(weighted=False):
    X, y = _multiclass(n=30, n_features=4, seed=6)
    sw = np.random.RandomState(7).uniform(0.3, 2.0, size=30) if weighted else None
    return X, y, sw


def _expected_grad(est, p0, X, y, sw, alpha):
    Y = _onehot(est.classes_, y)
    value, g = ref.loss_grad(p0, X, Y, sw, _units(est), est.activation, "softmax", alpha)
    return value, g


OPT_COMMON = dict(hidden_layer_sizes=(5,), activation="tanh", random_state=0,
                  learning_rate_init=0.05, alpha=1e-3)


# --------------------------------- NumPy oracle (new activations and losses)


def _act(name, Z):
    """Hidden activations, written here from their definitions."""
    if name == "identity":
        return Z
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "logistic":
        return expit(Z)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, 0.01 * Z)
    if name == "elu":
        return np.where(Z > 0, Z, np.expm1(np.minimum(Z, 0)))
    if name == "gelu":
        return 0.5 * Z * (1 + erf(Z / np.sqrt(2)))
    if name == "silu":
        return Z * expit(Z)
    if name == "softplus":
        return np.logaddexp(0, Z)
    raise AssertionError(name)


def _np_forward(X, coefs, intercepts, acts, out):
    """Output of the network; ``acts`` one name per hidden layer."""
    A = X
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        Z = A @ W + b
        if i < len(coefs) - 1:
            A = _act(acts[i], Z)
        elif out == "identity":
            A = Z
        elif out == "softmax":
            E = np.exp(Z - Z.max(axis=1, keepdims=True))
            A = E / E.sum(axis=1, keepdims=True)
        else:
            A = expit(Z)
    return A


def _np_reg_loss(params, X, Y, units, acts, loss="squared_error", alpha=0.0,
                 alpha_l1=0.0, delta=1.0, sw=None):
    """Regression objective: data loss (weighted average over samples of the
    mean over outputs) + 0.5 alpha sum W^2 / sw_sum + alpha_l1 sum|W| / sw_sum."""
    coefs, intercepts = ref.unpack(np.asarray(params, dtype=np.float64), units)
    P = _np_forward(X, coefs, intercepts, acts, "identity")
    Y = Y.reshape(P.shape)
    R = P - Y
    if loss == "squared_error":
        per = 0.5 * R**2
    elif loss == "huber":
        a = np.abs(R)
        per = np.where(a <= delta, 0.5 * R**2, delta * (a - 0.5 * delta))
    else:
        per = np.abs(R)
    per_sample = per.mean(axis=1)
    sw_sum = X.shape[0] if sw is None else sw.sum()
    value = np.average(per_sample, weights=sw)
    value += 0.5 * alpha * sum((W**2).sum() for W in coefs) / sw_sum
    value += alpha_l1 * sum(np.abs(W).sum() for W in coefs) / sw_sum
    return value


def _fd_grad(fun, p, h=1e-6):
    """Central finite-difference gradient of ``fun`` at ``p``."""
    g = np.empty_like(p)
    for j in range(p.size):
        e = np.zeros_like(p)
        e[j] = h
        g[j] = (fun(p + e) - fun(p - e)) / (2 * h)
    return g
