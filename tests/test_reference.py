"""Tests that prove the pure-NumPy reference (``fastmlp/_reference.py``).

The reference is the oracle the compiled engine is tested against, so it is
itself checked against independent oracles:

(a) scikit-learn's own private ``_backprop`` / ``_forward_pass_fast`` /
    ``LOSS_FUNCTIONS`` / ``ACTIVATIONS`` / ``DERIVATIVES`` (parity to 1e-12);
(b) central finite differences of the returned loss in float64;
(c) scikit-learn's ``SGDOptimizer`` / ``AdamOptimizer`` (and a closed form
    for RMSprop, which scikit-learn does not have);
(d) scikit-learn's ``fit`` for one SGD epoch from the same starting weights;
(e) float32 in, float32 out (and float32 parity with scikit-learn);
(f) the engine's ``Problem`` in NumPy (``fastmlp/_reference_problem.py``):
    its dropout hash against SplitMix64 written in Python integers, its
    output losses against scikit-learn's (``LOSS_FUNCTIONS``, and
    ``HuberLoss`` / ``AbsoluteError`` from ``sklearn._loss``), its gradient
    against finite differences for every loss x activation with L1 and for
    masks given by hand, ``loss_grad`` and two epochs of sgd / Nesterov /
    Adam against scikit-learn's ``_backprop`` and ``fit``, and clipping,
    max_norm, AdamW's first step and the masks an epoch draws against
    closed forms.
"""

import ast
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.neural_network._base import ACTIVATIONS, DERIVATIVES, LOSS_FUNCTIONS
from sklearn.neural_network._multilayer_perceptron import _pack
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

REFERENCE_PATH = Path(__file__).resolve().parents[1] / "fastmlp" / "_reference.py"


def _load_reference():
    """``fastmlp._reference`` from this source tree.

    ``fastmlp/__init__.py`` may import compiled modules that are not built;
    the reference itself needs none of them, so fall back to loading the file
    directly. A ``fastmlp`` installed elsewhere is ignored for the same
    reason: these tests are about this file.
    """
    try:
        from fastmlp import _reference as module
    except ImportError:
        module = None
    if module is not None and Path(module.__file__).resolve() == REFERENCE_PATH:
        return module
    spec = importlib.util.spec_from_file_location(
        "_fastmlp_reference_under_test", REFERENCE_PATH
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _load_reference()

HIDDEN = ref.HIDDEN_ACTIVATIONS
# Output cases: the output activation plus the shape of the problem.
# "logistic" is multilabel (3 outputs), "logistic_binary" one output.
OUT_CASES = ("identity", "exp", "logistic", "logistic_binary", "softmax")


def _out_activation(case):
    return "logistic" if case == "logistic_binary" else case


# ---------------------------------------------------------------------------
# Data and scikit-learn helpers
# ---------------------------------------------------------------------------


def _make_X(rng, n_samples, n_features, dtype=np.float64):
    X = rng.normal(size=(n_samples, n_features))
    X[rng.random(X.shape) < 0.4] = 0.0  # genuinely sparse for the CSR runs
    return X.astype(dtype)


def _make_y(case, rng, n_samples):
    """Raw ``y`` as a user would pass it to scikit-learn's ``fit``."""
    if case == "identity":
        return rng.normal(size=(n_samples, 2))
    if case == "exp":
        return rng.poisson(lam=2.0, size=(n_samples, 2)).astype(np.float64)
    if case == "logistic":
        y = (rng.random((n_samples, 3)) < 0.5).astype(int)
        y[0], y[1] = 0, 1  # every label column sees both values
        return y
    if case == "logistic_binary":
        return np.arange(n_samples) % 2
    if case == "softmax":
        return np.arange(n_samples) % 3
    raise AssertionError(case)


def _estimator(case, activation, **params):
    params.setdefault("random_state", 0)
    if case == "identity":
        return MLPRegressor(activation=activation, **params)
    if case == "exp":
        return MLPRegressor(activation=activation, loss="poisson", **params)
    return MLPClassifier(activation=activation, **params)


def _targets(est, y, dtype=np.float64):
    """``(y_sklearn, Y)``: what ``_backprop`` receives and its 2-D float form."""
    if isinstance(est, MLPClassifier):
        y_sk = est._label_binarizer.transform(y).astype(bool)
    else:
        y_sk = np.asarray(y, dtype=dtype).reshape(len(y), -1)
    return y_sk, y_sk.astype(dtype)


def _fit_quietly(est, X, y, sample_weight=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, sample_weight=sample_weight)


def _sklearn_backprop(est, X, y_sk, sample_weight):
    n = est.n_layers_ - 1
    activations = [X] + [None] * n
    loss, coef_grads, intercept_grads = est._backprop(
        X, y_sk, sample_weight, activations, [None] * n, [None] * n, [None] * n
    )
    return loss, _pack(coef_grads, intercept_grads)


def _units(est, X):
    return [X.shape[1], *est.hidden_layer_sizes, est.n_outputs_]


# ---------------------------------------------------------------------------
# The module itself
# ---------------------------------------------------------------------------


def _imported_modules(path):
    """Every module ``path`` imports (``from fastmlp import x`` counts as
    ``fastmlp.x``)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import (would reach fastmlp._*)"
            if node.module == "fastmlp":
                modules.update(f"fastmlp.{alias.name}" for alias in node.names)
            else:
                modules.add(node.module)
    return modules


@pytest.mark.parametrize("name", ["_reference.py", "_reference_problem.py"])
def test_reference_imports_only_numpy_and_scipy(name):
    # ... and the other reference module: never the compiled fastmlp._*
    # modules it checks, nor scikit-learn
    modules = _imported_modules(REFERENCE_PATH.parent / name)
    roots = {m.split(".")[0] for m in modules}
    assert roots <= {"numpy", "scipy", "fastmlp"}, roots
    ours = {m for m in modules if m.startswith("fastmlp")}
    assert ours <= {"fastmlp._reference", "fastmlp._reference_problem"}, ours


def test_public_constants():
    assert ref.HIDDEN_ACTIVATIONS == ("identity", "logistic", "tanh", "relu")
    assert ref.OUTPUT_ACTIVATIONS == ("identity", "exp", "logistic", "softmax")
    assert ref.LOSS_OF_OUTPUT == {
        "identity": "squared_error",
        "exp": "poisson",
        "logistic": "binary_log_loss",
        "softmax": "log_loss",
    }
    assert set(ref.LOSS_OF_OUTPUT.values()) == set(LOSS_FUNCTIONS)


# ---------------------------------------------------------------------------
# Parameter layout
# ---------------------------------------------------------------------------


def test_layout_matches_sklearn_pack_and_indptr():
    rng = np.random.default_rng(0)
    X = _make_X(rng, 30, 4)
    y = _make_y("softmax", rng, 30)
    est = _fit_quietly(
        MLPClassifier(hidden_layer_sizes=(5, 3), solver="lbfgs", max_iter=2), X, y
    )
    units = _units(est, X)
    coef_slices, intercept_slices = ref.layer_slices(units)
    # _coef_indptr / _intercept_indptr are sklearn's own record of _pack's layout.
    assert [(s.start, s.stop) for s in coef_slices] == [
        (start, end) for start, end, _ in est._coef_indptr
    ]
    assert [(s.start, s.stop) for s in intercept_slices] == [
        tuple(t) for t in est._intercept_indptr
    ]
    params = ref.pack(est.coefs_, est.intercepts_)
    np.testing.assert_array_equal(params, _pack(est.coefs_, est.intercepts_))

    coefs, intercepts = ref.unpack(params, units)
    for mine, theirs in zip(coefs + intercepts, est.coefs_ + est.intercepts_):
        assert mine.shape == theirs.shape
        np.testing.assert_array_equal(mine, theirs)
    # Views: writing through them writes into the flat vector.
    coefs[1][2, 1] = 123.0
    intercepts[0][4] = -7.0
    assert params[coef_slices[1]][2 * units[2] + 1] == 123.0
    assert params[intercept_slices[0]][4] == -7.0


@settings(max_examples=25, deadline=None)
@given(units=st.lists(st.integers(1, 6), min_size=2, max_size=5))
def test_pack_unpack_round_trip(units):
    rng = np.random.default_rng(len(units))
    coefs = [rng.normal(size=(a, b)) for a, b in zip(units[:-1], units[1:])]
    intercepts = [rng.normal(size=b) for b in units[1:]]
    params = ref.pack(coefs, intercepts)
    np.testing.assert_array_equal(params, _pack(coefs, intercepts))
    coef_slices, intercept_slices = ref.layer_slices(units)
    assert intercept_slices[-1].stop == params.size
    assert coef_slices[0].start == 0
    back_c, back_i = ref.unpack(params, units)
    for a, b in zip(back_c + back_i, coefs + intercepts):
        np.testing.assert_array_equal(a, b)
        assert np.shares_memory(a, params)


def test_unpack_rejects_wrong_size():
    with pytest.raises(ValueError, match="need 26"):
        ref.unpack(np.zeros(25), [3, 4, 2])


# ---------------------------------------------------------------------------
# Activations and losses against scikit-learn's building blocks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_sklearn(name):
    rng = np.random.default_rng(1)
    Z = rng.normal(scale=3.0, size=(7, 4))
    expected = Z.copy()
    ACTIVATIONS[name](expected)
    out = ref.activation(name, Z)
    np.testing.assert_array_equal(out, expected)
    assert not np.shares_memory(out, Z)


def test_softmax_is_stable():
    Z = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4 + 1.0]])
    P = ref.activation("softmax", Z)
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(P[0], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("name", HIDDEN)
def test_activation_derivative_matches_sklearn(name):
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(6, 5))
    Z[0, :2] = 0.0  # relu at exactly 0 has derivative 0 (as sklearn)
    A = ref.activation(name, Z)
    delta = rng.normal(size=Z.shape)
    expected = delta.copy()
    DERIVATIVES[name](A, expected)
    out = ref.activation_derivative(name, A, delta)
    np.testing.assert_array_equal(out, expected)
    assert not np.shares_memory(out, delta)


@pytest.mark.parametrize("name", ref.EXTRA_ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_extra_activation_derivative_matches_finite_differences(name, dtype):
    # scikit-learn has none of these: central differences of ``activation``
    # in float64, at points clear of the kinks at 0 (leaky_relu, elu)
    rng = np.random.default_rng(3)
    Z = rng.uniform(-4, 4, size=(8, 5))
    Z[np.abs(Z) < 1e-2] = 0.5
    Z[0, :3] = [-30.0, -8.0, 12.0]  # the tails: softplus's derivative is tiny there
    eps = 1e-6
    fd = (ref.activation(name, Z + eps) - ref.activation(name, Z - eps)) / (2 * eps)
    Z = Z.astype(dtype)
    A = ref.activation(name, Z)
    delta = rng.normal(size=Z.shape).astype(dtype)
    out = ref.activation_derivative(name, A, delta, Z=Z)
    assert out.dtype == dtype
    if dtype == np.float64:
        np.testing.assert_allclose(out, delta * fd, rtol=1e-8, atol=1e-10)
        if name == "softplus":
            # far in the left tail the derivative (expit(z) = -expm1(-A))
            # keeps its relative digits; elu's (A + 1) cannot: A rounds near -1
            assert out[0, 0] / delta[0, 0] == pytest.approx(1 / (1 + np.exp(30.0)),
                                                            rel=1e-12, abs=0)
    else:
        np.testing.assert_allclose(out, delta * fd, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_derivatives_that_need_Z_ask_for_it(name):
    A = np.ones((2, 3))
    with pytest.raises(ValueError, match="needs Z"):
        ref.activation_derivative(name, A, A)


@pytest.mark.parametrize("case", OUT_CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_matches_sklearn(case, weighted):
    rng = np.random.default_rng(3)
    n = 12
    out = _out_activation(case)
    y = _make_y(case, rng, n)
    if case in ("softmax",):
        Y = np.eye(3)[y]
    else:
        Y = np.asarray(y, dtype=np.float64).reshape(n, -1)
    Z = rng.normal(scale=2.0, size=Y.shape)
    P = ref.activation(out, Z)
    if out in ("logistic", "softmax"):
        # Probabilities that hit the clipping: exactly 0 and 1.
        P[0] = 0.0
        P[0, 0] = 1.0
    sw = rng.uniform(0.0, 2.0, size=n) if weighted else None
    name = ref.LOSS_OF_OUTPUT[out]
    expected = LOSS_FUNCTIONS[name](Y, P, sw)
    got = ref.loss(Y, P, out, sample_weight=sw)
    assert isinstance(got, float)
    assert np.isfinite(got)
    assert got == pytest.approx(expected, rel=1e-14)


def test_log_loss_single_column_reads_as_positive_class():
    # sklearn's log_loss turns one column p into [1 - p, p] (same for y).
    rng = np.random.default_rng(4)
    Y = (rng.random((9, 1)) < 0.5).astype(float)
    P = rng.uniform(0.05, 0.95, size=(9, 1))
    expected = LOSS_FUNCTIONS["log_loss"](Y, P)
    assert ref.loss(Y, P, "softmax") == pytest.approx(expected, rel=1e-14)
    assert ref.loss(Y, P, "softmax") == pytest.approx(ref.loss(Y, P, "logistic"), rel=1e-14)


# ---------------------------------------------------------------------------
# (a) loss_grad and forward against scikit-learn's _backprop
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", OUT_CASES)
@pytest.mark.parametrize("activation", HIDDEN)
def test_loss_grad_matches_sklearn_backprop(activation, case, weighted, sparse):
    rng = np.random.default_rng(10)
    n_samples, n_features = 40, 6
    X = _make_X(rng, n_samples, n_features)
    y = _make_y(case, rng, n_samples)
    sw = rng.uniform(0.0, 3.0, size=n_samples) if weighted else None
    if sparse:
        X = sp.csr_matrix(X)
    est = _estimator(
        case,
        activation,
        hidden_layer_sizes=(5, 4),
        solver="adam",
        learning_rate_init=0.05,
        max_iter=3,
        alpha=0.01,
    )
    _fit_quietly(est, X, y, sample_weight=sw)
    assert est.out_activation_ == _out_activation(case)

    y_sk, Y = _targets(est, y)
    expected_loss, expected_grad = _sklearn_backprop(est, X, y_sk, sw)

    units = _units(est, X)
    params = ref.pack(est.coefs_, est.intercepts_)
    params_before = params.copy()
    loss, grad = ref.loss_grad(
        params, X, Y, sw, units, activation, est.out_activation_, est.alpha
    )
    np.testing.assert_array_equal(params, params_before)  # inputs untouched
    assert isinstance(loss, float)
    assert loss == pytest.approx(float(expected_loss), rel=1e-12, abs=0)
    assert grad.shape == params.shape and grad.dtype == params.dtype
    assert np.any(grad != 0)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-15)

    # The forward pass is the one predict uses.
    coefs, intercepts = ref.unpack(params, units)
    acts = ref.forward(X, coefs, intercepts, activation, est.out_activation_)
    assert acts[0] is X
    assert [a.shape[1] for a in acts[1:]] == units[1:]
    np.testing.assert_allclose(acts[-1], est._forward_pass_fast(X), rtol=1e-13)


def test_loss_grad_sample_weight_of_ones_equals_unweighted():
    rng = np.random.default_rng(11)
    X = _make_X(rng, 20, 3)
    Y = rng.normal(size=(20, 2))
    units = [3, 4, 2]
    params = rng.normal(size=sum(a * b + b for a, b in zip(units[:-1], units[1:])))
    a = ref.loss_grad(params, X, Y, None, units, "tanh", "identity", 0.1)
    b = ref.loss_grad(params, X, Y, np.ones(20), units, "tanh", "identity", 0.1)
    assert a[0] == pytest.approx(b[0], rel=1e-15)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-15)


def test_loss_grad_validates_shapes():
    params = np.zeros(3 * 2 + 2)
    with pytest.raises(ValueError, match="layer_units\\[0\\]"):
        ref.loss_grad(params, np.zeros((4, 5)), np.zeros((4, 2)), None,
                      [3, 2], "relu", "identity", 0.0)
    with pytest.raises(ValueError, match="outputs"):
        ref.loss_grad(params, np.zeros((4, 3)), np.zeros((4, 1)), None,
                      [3, 2], "relu", "identity", 0.0)
    with pytest.raises(ValueError, match="activation"):
        ref.loss_grad(params, np.zeros((4, 3)), np.zeros((4, 2)), None,
                      [3, 2], "softmax", "identity", 0.0)


# ---------------------------------------------------------------------------
# (b) finite-difference gradient check (float64)
# ---------------------------------------------------------------------------

FD_EPS = 1e-6
FD_RTOL = 1e-6


def _fd_problem(activation, out, n_outputs, seed):
    """A small problem whose loss is smooth in a neighbourhood of params.

    For relu, every hidden pre-activation is kept at least 1e-3 away from 0
    (the kink) so an FD step of 1e-6 never crosses it; for the log losses,
    probabilities stay away from the clipping bounds.
    """
    units = [3, 4, 3, n_outputs]
    n_samples = 8
    for trial in range(200):
        rng = np.random.default_rng(seed * 1000 + trial)
        X = rng.normal(size=(n_samples, units[0]))
        coefs = [rng.normal(scale=0.8, size=(a, b)) for a, b in zip(units[:-1], units[1:])]
        intercepts = [rng.normal(scale=0.5, size=b) for b in units[1:]]
        if out == "identity":
            Y = rng.normal(size=(n_samples, n_outputs))
        elif out == "exp":
            Y = rng.poisson(1.5, size=(n_samples, n_outputs)).astype(float)
        elif out == "logistic":
            Y = (rng.random((n_samples, n_outputs)) < 0.5).astype(float)
        else:
            Y = np.eye(n_outputs)[rng.integers(0, n_outputs, n_samples)]
        sw = rng.uniform(0.2, 2.0, size=n_samples)
        sw[0] = 0.0  # a zero weight must simply drop the sample
        # Check the premises.
        A = X
        ok = True
        for W, b in zip(coefs[:-1], intercepts[:-1]):
            Z = A @ W + b
            if activation == "relu":
                ok &= np.min(np.abs(Z)) > 1e-3
            A = ref.activation(activation, Z)
        P = ref.activation(out, A @ coefs[-1] + intercepts[-1])
        if out in ("logistic", "softmax"):
            ok &= bool(np.all((P > 1e-6) & (P < 1 - 1e-6)))
        if ok:
            return ref.pack(coefs, intercepts), X, Y, sw, units
    raise AssertionError("could not draw a problem away from the kink / clipping")


def _fd_gradient(f, params, eps=FD_EPS):
    grad = np.empty_like(params)
    for k in range(params.size):
        p_plus, p_minus = params.copy(), params.copy()
        p_plus[k] += eps
        p_minus[k] -= eps
        grad[k] = (f(p_plus) - f(p_minus)) / (2 * eps)
    return grad


@pytest.mark.parametrize("out", ref.OUTPUT_ACTIVATIONS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_gradient_finite_differences(activation, out):
    # scikit-learn's squared-error LOSS is 0.5 * mean over outputs, but its
    # GRADIENT uses P - Y without the 1 / n_outputs factor; the reference
    # keeps that convention, so the FD check for squared error uses a single
    # output (where the two agree). See test_squared_error_n_outputs_factor.
    n_outputs = {"identity": 1, "exp": 2, "logistic": 2, "softmax": 3}[out]
    params, X, Y, sw, units = _fd_problem(activation, out, n_outputs, seed=len(out))
    alpha = 0.3

    def f(p):
        return ref.loss_grad(p, X, Y, sw, units, activation, out, alpha)[0]

    _, grad = ref.loss_grad(params, X, Y, sw, units, activation, out, alpha)
    fd = _fd_gradient(f, params)
    scale = np.max(np.abs(grad))
    assert scale > 1e-3
    np.testing.assert_allclose(grad, fd, rtol=FD_RTOL, atol=FD_RTOL * scale)
    assert np.linalg.norm(grad - fd) <= FD_RTOL * np.linalg.norm(grad)


def test_squared_error_n_outputs_factor():
    """Documents scikit-learn's convention (kept by the reference): with
    n_outputs > 1 the squared-error data gradient is n_outputs times the
    derivative of the returned loss; the L2 part is consistent."""
    n_outputs, alpha = 3, 0.3
    params, X, Y, sw, units = _fd_problem("tanh", "identity", n_outputs, seed=7)
    coefs, _ = ref.unpack(params, units)
    l2_grad = np.zeros_like(params)
    for s, W in zip(ref.layer_slices(units)[0], coefs):
        l2_grad[s] = alpha * W.ravel() / sw.sum()

    def f(p):
        return ref.loss_grad(p, X, Y, sw, units, "tanh", "identity", alpha)[0]

    _, grad = ref.loss_grad(params, X, Y, sw, units, "tanh", "identity", alpha)
    fd = _fd_gradient(f, params)
    data_grad, data_fd = grad - l2_grad, fd - l2_grad
    np.testing.assert_allclose(
        data_grad, n_outputs * data_fd, rtol=1e-6, atol=1e-6 * np.abs(data_grad).max()
    )
    assert not np.allclose(grad, fd, rtol=1e-3)


# ---------------------------------------------------------------------------
# (c) optimizer steps against scikit-learn's optimizers
# ---------------------------------------------------------------------------

SHAPES = [(4, 3), (3, 2), (3,), (2,)]  # two coefs then two intercepts


def _param_list(rng, dtype=np.float64):
    return [rng.normal(size=s).astype(dtype) for s in SHAPES]


def _flat(arrays):
    return np.concatenate([a.ravel() for a in arrays])


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_step_matches_sklearn(momentum, nesterov):
    rng = np.random.default_rng(20)
    sk_params = _param_list(rng)
    params = _flat(sk_params)
    velocity = np.zeros_like(params)
    lr = 0.05
    opt = SGDOptimizer(sk_params, lr, "constant", momentum, nesterov)
    start = params.copy()
    for _ in range(5):
        grads = _param_list(rng)
        opt.update_params(sk_params, grads)
        ref.sgd_step(params, _flat(grads), velocity, lr, momentum, nesterov)
    assert not np.allclose(params, start)
    np.testing.assert_allclose(params, _flat(sk_params), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(velocity, _flat(opt.velocities), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_step_matches_sklearn(dtype):
    rng = np.random.default_rng(21)
    sk_params = _param_list(rng, dtype)
    params = _flat(sk_params)
    m, v = np.zeros_like(params), np.zeros_like(params)
    lr, b1, b2, eps = 0.01, 0.8, 0.95, 1e-7
    opt = AdamOptimizer(sk_params, lr, b1, b2, eps)
    start = params.copy()
    for t in range(1, 7):
        grads = _param_list(rng, dtype)
        opt.update_params(sk_params, grads)
        lr_t = ref.adam_step(params, _flat(grads), m, v, t, lr, b1, b2, eps)
        assert lr_t == pytest.approx(opt.learning_rate, rel=1e-15)
    assert opt.t == 6
    assert params.dtype == m.dtype == v.dtype == dtype
    assert not np.allclose(params, start)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(params, _flat(sk_params), rtol=rtol)
    np.testing.assert_allclose(m, _flat(opt.ms), rtol=rtol)
    np.testing.assert_allclose(v, _flat(opt.vs), rtol=rtol)


def test_rmsprop_step_closed_form():
    # Constant gradient g from sq = 0: after k steps sq_k = (1 - rho**k) g**2,
    # so the total move is -lr * g * sum_k 1 / (sqrt(1 - rho**k) |g| + eps).
    rng = np.random.default_rng(22)
    g = rng.normal(size=7)
    params = rng.normal(size=7)
    start = params.copy()
    sq = np.zeros(7)
    lr, rho, eps, n_steps = 0.01, 0.9, 1e-8, 5
    for _ in range(n_steps):
        ref.rmsprop_step(params, g, sq, lr, rho, eps)
    k = np.arange(1, n_steps + 1)[:, None]
    expected_sq = (1 - rho**n_steps) * g**2
    expected = start - lr * g * np.sum(1 / (np.sqrt(1 - rho**k) * np.abs(g) + eps), axis=0)
    np.testing.assert_allclose(sq, expected_sq, rtol=1e-13)
    np.testing.assert_allclose(params, expected, rtol=1e-12)


def test_adagrad_step_closed_form():
    # Constant gradient g from sq = 0: after k steps sq_k = k g**2, so the
    # total move is -lr * g * sum_k 1 / (sqrt(k) |g| + eps).
    rng = np.random.default_rng(24)
    g = rng.normal(size=7)
    params = rng.normal(size=7)
    start = params.copy()
    sq = np.zeros(7)
    lr, eps, n_steps = 0.05, 1e-8, 6
    for _ in range(n_steps):
        ref.adagrad_step(params, g, sq, lr, eps)
    k = np.arange(1, n_steps + 1)[:, None]
    np.testing.assert_allclose(sq, n_steps * g**2, rtol=1e-14)
    expected = start - lr * g * np.sum(1 / (np.sqrt(k) * np.abs(g) + eps), axis=0)
    np.testing.assert_allclose(params, expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_norm(dtype):
    rng = np.random.default_rng(23)
    grad = rng.normal(size=50).astype(dtype)
    before = grad.copy()
    norm = ref.clip_grad_norm(grad, 100.0)  # below the limit: untouched
    assert norm == pytest.approx(np.linalg.norm(before.astype(np.float64)), rel=1e-12)
    np.testing.assert_array_equal(grad, before)

    norm = ref.clip_grad_norm(grad, 1.5)
    assert norm == pytest.approx(np.linalg.norm(before.astype(np.float64)), rel=1e-12)
    assert grad.dtype == dtype
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert np.linalg.norm(grad.astype(np.float64)) == pytest.approx(1.5, rel=rtol)
    np.testing.assert_allclose(grad, before * (1.5 / norm), rtol=rtol)  # same direction
    with pytest.raises(ValueError):
        ref.clip_grad_norm(grad, 0.0)


# ---------------------------------------------------------------------------
# (d) one SGD epoch against scikit-learn's fit
# ---------------------------------------------------------------------------


def _sklearn_one_epoch(case, activation, X, y, sw, start_coefs, start_intercepts,
                       batch_size, lr, alpha):
    est = _estimator(
        case, activation, hidden_layer_sizes=(5, 3), solver="sgd", momentum=0.0,
        shuffle=False, batch_size=batch_size, learning_rate_init=lr, alpha=alpha,
        max_iter=1, warm_start=True, n_iter_no_change=1000,
    )
    _fit_quietly(est, X, y, sample_weight=sw)  # initialise; weights replaced below
    est.coefs_ = [c.copy() for c in start_coefs]
    est.intercepts_ = [b.copy() for b in start_intercepts]
    _fit_quietly(est, X, y, sample_weight=sw)  # warm start: exactly one epoch
    assert est.n_iter_ == 1
    return est


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", OUT_CASES)
@pytest.mark.parametrize("activation", HIDDEN)
def test_sgd_epoch_matches_sklearn_fit(activation, case, weighted, sparse):
    rng = np.random.default_rng(30)
    n_samples, n_features = 31, 4
    X = _make_X(rng, n_samples, n_features)
    y = _make_y(case, rng, n_samples)
    sw = rng.uniform(0.0, 2.0, size=n_samples) if weighted else None
    if sparse:
        X = sp.csr_matrix(X)
    n_out = {"identity": 2, "exp": 2, "logistic": 3, "logistic_binary": 1,
             "softmax": 3}[case]
    units = [n_features, 5, 3, n_out]
    start = rng.uniform(-0.6, 0.6, size=sum(a * b + b for a, b in zip(units[:-1], units[1:])))
    start_coefs, start_intercepts = ref.unpack(start, units)
    batch_size, lr, alpha = 7, 0.02, 0.01  # 31 = 4 * 7 + 3: last batch is short

    est = _sklearn_one_epoch(case, activation, X, y, sw, start_coefs,
                             start_intercepts, batch_size, lr, alpha)
    _, Y = _targets(est, y)
    params = start.copy()
    loss = ref.sgd_epoch(params, X, Y, sw, units, activation, est.out_activation_,
                         alpha, batch_size, lr)
    assert not np.allclose(params, start)
    assert loss == pytest.approx(est.loss_, rel=1e-12, abs=0)
    np.testing.assert_allclose(
        params, _pack(est.coefs_, est.intercepts_), rtol=1e-12, atol=1e-14
    )


def test_sgd_epoch_batch_larger_than_n_samples_is_full_batch():
    rng = np.random.default_rng(31)
    X, Y = _make_X(rng, 9, 3), rng.normal(size=(9, 1))
    units = [3, 4, 1]
    start = rng.normal(size=3 * 4 + 4 * 1 + 4 + 1)
    p1, p2 = start.copy(), start.copy()
    l1 = ref.sgd_epoch(p1, X, Y, None, units, "relu", "identity", 0.0, 100, 0.1)
    l2, g = ref.loss_grad(start, X, Y, None, units, "relu", "identity", 0.0)
    p2 -= 0.1 * g
    assert l1 == pytest.approx(l2, rel=1e-15)
    np.testing.assert_allclose(p1, p2, rtol=1e-15)


# ---------------------------------------------------------------------------
# (e) float32 stays float32
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ref.HIDDEN_ACTIVATIONS + ("exp", "softmax"))
def test_activation_keeps_float32(name):
    Z = np.random.default_rng(40).normal(size=(5, 3)).astype(np.float32)
    A = ref.activation(name, Z)
    assert A.dtype == np.float32
    if name in HIDDEN:
        assert ref.activation_derivative(name, A, Z).dtype == np.float32


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("case", OUT_CASES)
def test_float32_loss_grad_forward_and_epoch(case, sparse):
    rng = np.random.default_rng(41)
    n_samples, n_features = 30, 5
    X64 = _make_X(rng, n_samples, n_features)
    X32 = X64.astype(np.float32)
    y = _make_y(case, rng, n_samples)
    if case in ("identity", "exp"):
        y = y.astype(np.float32)  # float64 y would make sklearn upcast
    sw32 = rng.uniform(0.5, 2.0, size=n_samples).astype(np.float32)
    if sparse:
        X32, X64 = sp.csr_matrix(X32), sp.csr_matrix(X64)
    est = _estimator(case, "tanh", hidden_layer_sizes=(6,), solver="adam",
                     learning_rate_init=0.05, max_iter=3, alpha=0.01)
    _fit_quietly(est, X32, y, sample_weight=sw32)
    assert est.coefs_[0].dtype == np.float32
    units = _units(est, X32)
    out = est.out_activation_
    y_sk, Y32 = _targets(est, y, np.float32)
    params32 = ref.pack(est.coefs_, est.intercepts_)
    assert params32.dtype == np.float32

    coefs, intercepts = ref.unpack(params32, units)
    acts = ref.forward(X32, coefs, intercepts, "tanh", out)
    assert all(a.dtype == np.float32 for a in acts)

    loss32, grad32 = ref.loss_grad(params32, X32, Y32, sw32, units, "tanh", out, 0.01)
    assert grad32.dtype == np.float32
    # float32 parity with sklearn's own float32 path: same operations in the
    # same order, so equal to within a couple of ulp (bit-equal in practice).
    # (sklearn's classifier LOSS is float64 even here: its y is bool and
    # xlogy(bool or int, float32) upcasts; the reference stays float32.)
    sk_loss, sk_grad = _sklearn_backprop(est, X32, y_sk, sw32)
    assert sk_grad.dtype == np.float32
    assert loss32 == pytest.approx(float(sk_loss), rel=1e-6)
    np.testing.assert_array_max_ulp(grad32, sk_grad, maxulp=2)
    # ... close to the float64 computation, but not merely float64 rounded
    # to float32: the arithmetic itself must run in float32.
    loss64, grad64 = ref.loss_grad(params32.astype(np.float64), X64, Y32.astype(np.float64),
                                   sw32.astype(np.float64), units, "tanh", out, 0.01)
    assert grad64.dtype == np.float64
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-4, atol=1e-6)
    assert np.any(grad32 != grad64.astype(np.float32))

    # Y / sample_weight given as float64 are cast to the parameter dtype.
    _, grad_cast = ref.loss_grad(params32, X32, Y32.astype(np.float64),
                                 sw32.astype(np.float64), units, "tanh", out, 0.01)
    assert grad_cast.dtype == np.float32

    p32 = params32.copy()
    epoch_loss = ref.sgd_epoch(p32, X32, Y32, sw32, units, "tanh", out, 0.01, 8, 0.1)
    assert p32.dtype == np.float32 and np.isfinite(epoch_loss)
    p64 = params32.astype(np.float64)
    ref.sgd_epoch(p64, X64, Y32.astype(np.float64), sw32.astype(np.float64), units,
                  "tanh", out, 0.01, 8, 0.1)
    np.testing.assert_allclose(p32, p64, rtol=1e-4, atol=1e-5)


def test_float32_optimizer_steps_stay_float32():
    rng = np.random.default_rng(42)
    g = rng.normal(size=10).astype(np.float32)
    for step, n_state, args in [
        (ref.sgd_step, 1, (0.1, 0.9, True)),
        (ref.rmsprop_step, 1, (0.01, 0.9, 1e-8)),
        (ref.adagrad_step, 1, (0.01, 1e-8)),
    ]:
        p = rng.normal(size=10).astype(np.float32)
        state = [np.zeros(10, np.float32) for _ in range(n_state)]
        step(p, g, *state, *args)
        assert p.dtype == np.float32 and all(s.dtype == np.float32 for s in state)
    p = rng.normal(size=10).astype(np.float32)
    m, v = np.zeros(10, np.float32), np.zeros(10, np.float32)
    ref.adam_step(p, g, m, v, 1, 0.001, 0.9, 0.999, 1e-8)
    assert p.dtype == m.dtype == v.dtype == np.float32


# ---------------------------------------------------------------------------
# (f) the engine's Problem in NumPy (fastmlp/_reference_problem.py)
# ---------------------------------------------------------------------------

MASK64 = 2**64 - 1


def _splitmix_uniform(seed, layer, row, col, width):
    """The dropout hash in Python integers (no uint64 wrap-around to trust)."""
    z = (seed + (layer + 1) * 0x9E3779B97F4A7C15 + (row * width + col) * 0xD1B54A32D192ED03)
    z &= MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    z ^= z >> 31
    return (z >> 11) / 2**53


def test_counter_hash_is_splitmix64():
    # seed 0, layer 0, counter 0: z = the golden gamma, whose finalizer is
    # SplitMix64's first output from state 0, 0xE220A8397B1DCDAF (Vigna's
    # reference generator; Java's SplittableRandom)
    assert ref.counter_uniform(0, 0, 0, 1, 1)[0, 0] == (0xE220A8397B1DCDAF >> 11) / 2**53
    for seed in (0, 12345, 2**63 + 7, MASK64):
        for layer, start, n_rows, width in [(0, 0, 3, 5), (2, 1000, 4, 7), (1, 2**40, 2, 3)]:
            u = ref.counter_uniform(seed, layer, start, n_rows, width)
            expected = [[_splitmix_uniform(seed, layer, start + i, j, width)
                         for j in range(width)] for i in range(n_rows)]
            np.testing.assert_array_equal(u, expected)
    with pytest.raises(ValueError):
        ref.counter_uniform(-1, 0, 0, 1, 1)
    with pytest.raises(ValueError):
        ref.counter_uniform(2**64, 0, 0, 1, 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dropout_mask_is_inverted_bernoulli_by_position(dtype):
    keep = 0.7
    mask = ref.dropout_mask(99, 1, 0, 400, 50, keep, dtype)
    assert mask.dtype == dtype and mask.shape == (400, 50)
    assert set(np.unique(mask)) == {dtype(0), dtype(1 / keep)}
    kept = (mask > 0).mean()
    assert abs(kept - keep) < 5 * np.sqrt(keep * (1 - keep) / mask.size)
    assert abs(mask.astype(np.float64).mean() - 1) < 0.02  # inverted: E[mask] = 1
    # a function of the position in the epoch, not of how rows are batched
    np.testing.assert_array_equal(ref.dropout_mask(99, 1, 123, 17, 50, keep, dtype),
                                  mask[123:140])
    # other layers, other seeds: other masks
    assert not np.array_equal(ref.dropout_mask(99, 2, 0, 400, 50, keep, dtype), mask)
    assert not np.array_equal(ref.dropout_mask(98, 1, 0, 400, 50, keep, dtype), mask)
    np.testing.assert_array_equal(ref.dropout_mask(99, 1, 0, 3, 4, 1.0, dtype), 1)


@pytest.mark.parametrize("kind", ["identity", "exp", "logistic", "softmax"])
@pytest.mark.parametrize("weighted", [False, True])
def test_output_loss_delta_matches_sklearn(kind, weighted):
    rng = np.random.default_rng(50)
    n, n_out = 13, 3
    Z = rng.normal(scale=2.0, size=(n, n_out))
    if kind == "softmax":
        Y = np.eye(n_out)[rng.integers(0, n_out, n)]
    elif kind == "logistic":
        Y = (rng.random((n, n_out)) < 0.5).astype(float)
        Z[0, 0] = 60.0  # a probability past the clipping
    elif kind == "exp":
        Y = rng.poisson(2.0, size=(n, n_out)).astype(float)
    else:
        Y = rng.normal(size=(n, n_out))
    sw = rng.uniform(0.0, 2.0, n) if weighted else None
    P, row_loss, delta = ref.output_loss_delta(kind, Z, Y, sw)
    np.testing.assert_array_equal(P, ref.activation(kind, Z))
    w = np.ones(n) if sw is None else sw
    expected = LOSS_FUNCTIONS[ref.LOSS_OF_OUTPUT[kind]](Y, P, sw) * w.sum()
    assert row_loss.sum() == pytest.approx(expected, rel=1e-13)
    np.testing.assert_allclose(delta, (P - Y) * w[:, None], rtol=1e-15)


@pytest.mark.parametrize("kind", ["huber", "absolute_error"])
@pytest.mark.parametrize("weighted", [False, True])
def test_robust_output_loss_delta_matches_sklearn(kind, weighted):
    # scikit-learn's HuberLoss(delta) / AbsoluteError (sklearn._loss), one
    # output column at a time; fastmlp averages over outputs, loss and delta
    from sklearn._loss.loss import AbsoluteError, HuberLoss

    rng = np.random.default_rng(51)
    n, n_out, huber_delta = 17, 3, 0.6
    Z, Y = rng.normal(size=(n, n_out)), rng.normal(size=(n, n_out))
    sw = rng.uniform(0.0, 2.0, n) if weighted else None
    w = np.ones(n) if sw is None else sw
    sk = HuberLoss(delta=huber_delta) if kind == "huber" else AbsoluteError()
    P, row_loss, delta = ref.output_loss_delta(kind, Z, Y, sw, huber_delta)
    np.testing.assert_array_equal(P, Z)
    cols = [(np.ascontiguousarray(Y[:, k]), np.ascontiguousarray(Z[:, k]))
            for k in range(n_out)]
    sk_loss = np.column_stack([sk.loss(y, z) for y, z in cols])
    sk_grad = np.column_stack([sk.gradient(y, z) for y, z in cols])
    np.testing.assert_allclose(row_loss, w * sk_loss.mean(axis=1), rtol=1e-14)
    np.testing.assert_allclose(delta, sk_grad * w[:, None] / n_out, rtol=1e-14)


LOSS_CASES = ["identity", "exp", "logistic", "binary", "softmax", "huber", "absolute_error"]
ENGINE_ACTIVATIONS = HIDDEN + ref.EXTRA_ACTIVATIONS
HUBER_DELTA = 0.6


def _layout_for(loss, units, activations, **kwargs):
    out = {"binary": "logistic", "huber": "identity", "absolute_error": "identity"}
    return ref.Layout(units, 64, activations, out.get(loss, loss),
                      loss=loss if loss in ("huber", "absolute_error") else None,
                      huber_delta=HUBER_DELTA, **kwargs)


def _smooth_problem(loss, activations, seed):
    """Params, X, Y, sw and layout where Problem.loss_grad is smooth within
    a finite-difference step: coefs clear of 0 (L1's kink), hidden
    pre-activations clear of 0 (relu, leaky_relu, elu), residuals clear of
    0 and of +-huber_delta, probabilities clear of the log-loss clipping."""
    n_out = {"identity": 1, "binary": 1, "softmax": 3}.get(loss, 2)
    units = (3, 4, 3, n_out)
    layout = _layout_for(loss, units, activations)
    for trial in range(500):
        rng = np.random.default_rng(seed * 1000 + trial)
        n = 8
        X = rng.normal(size=(n, 3))
        params = rng.normal(scale=0.7, size=layout.n_params)
        params[np.abs(params) < 1e-2] = 0.3
        if loss == "softmax":
            Y = np.eye(n_out)[rng.integers(0, n_out, n)]
        elif loss in ("logistic", "binary"):
            Y = (rng.random((n, n_out)) < 0.5).astype(float)
        elif loss == "exp":
            Y = rng.poisson(1.5, size=(n, n_out)).astype(float)
        else:
            Y = rng.normal(size=(n, n_out))
        sw = rng.uniform(0.2, 2.0, n)
        sw[0] = 0.0  # a zero weight drops the sample
        coefs, intercepts = ref.unpack(params, units)
        A, ok = X, True
        for W, b, name in zip(coefs[:-1], intercepts[:-1], activations):
            Z = A @ W + b
            ok &= np.min(np.abs(Z)) > 1e-3
            A = ref.activation(name, Z)
        Z = A @ coefs[-1] + intercepts[-1]
        P, _, _ = ref.output_loss_delta(_out_kind(loss), Z, Y)
        if loss in ("logistic", "binary", "softmax"):
            ok &= bool(np.all((P > 1e-6) & (P < 1 - 1e-6)))
        if loss in ("huber", "absolute_error"):
            r = np.abs(P - Y)
            ok &= np.min(r) > 1e-3 and np.min(np.abs(r - HUBER_DELTA)) > 1e-3
        if ok:
            return layout, X, Y, sw, params
    raise AssertionError("could not draw a problem clear of the kinks")


def _out_kind(loss):
    return {"binary": "logistic"}.get(loss, loss)


@pytest.mark.parametrize("activation", ENGINE_ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSS_CASES)
def test_problem_gradient_finite_differences(loss, activation):
    # Problem.loss_grad (L2 and L1, weighted, two hidden layers with
    # different activations) against central differences of its own loss.
    # Squared error has one output: scikit-learn's gradient is n_outputs
    # times the derivative of its loss (test_squared_error_n_outputs_factor);
    # Huber and absolute error divide their deltas by n_outputs, so two.
    second = ENGINE_ACTIVATIONS[(ENGINE_ACTIVATIONS.index(activation) + 4) % 9]
    layout, X, Y, sw, params = _smooth_problem(loss, (activation, second),
                                               seed=LOSS_CASES.index(loss))
    kw = dict(alpha=0.3, alpha1=0.05, n_threads=1)

    def f(p):
        return ref.Problem(layout, X, Y, sw, p, with_grad=False).loss_grad(**kw)

    problem = ref.Problem(layout, X, Y, sw, params.copy())
    value = problem.loss_grad(**kw)
    assert value == f(params)
    fd = _fd_gradient(f, params)
    scale = np.max(np.abs(problem.grads))
    np.testing.assert_allclose(problem.grads, fd, rtol=FD_RTOL, atol=FD_RTOL * scale)


@pytest.mark.parametrize("activations", [("relu", "gelu"), ("tanh", "silu"),
                                         ("softplus", "elu")])
@pytest.mark.parametrize("loss", ["softmax", "huber"])
def test_raw_gradient_with_masks_by_hand(loss, activations):
    # Dropout with fixed masks -- any values, not only 0 and 1/keep -- makes
    # the loss a smooth function of the parameters: raw_loss_grad's
    # gradient against central differences of its loss sum.
    layout, X, Y, sw, params = _smooth_problem(loss, activations, seed=7)
    rng = np.random.default_rng(8)
    shapes = [(X.shape[0], u) for u in layout.units[:-1]]
    masks = [np.where(rng.random(shape) < 0.3, 0.0, rng.uniform(0.5, 2.0, shape))
             for shape in shapes]

    def f(p):
        return ref.raw_loss_grad(layout, p, X, Y, sw, masks=masks, with_grad=False)[0]

    loss_sum, grad = ref.raw_loss_grad(layout, params, X, Y, sw, masks=masks)
    assert loss_sum == f(params)
    fd = _fd_gradient(f, params)
    np.testing.assert_allclose(grad, fd, rtol=FD_RTOL, atol=FD_RTOL * np.abs(grad).max())
    # a dropped input column and hidden unit get no gradient through them
    unmasked = ref.raw_loss_grad(layout, params, X, Y, sw)[1]
    assert not np.allclose(grad, unmasked)
    ones = [np.ones_like(m) for m in masks]
    assert ref.raw_loss_grad(layout, params, X, Y, sw, masks=ones)[0] == pytest.approx(
        ref.raw_loss_grad(layout, params, X, Y, sw)[0], rel=1e-15)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("case", OUT_CASES)
@pytest.mark.parametrize("activation", HIDDEN)
def test_problem_loss_grad_matches_sklearn_backprop(activation, case, sparse):
    rng = np.random.default_rng(60)
    X = _make_X(rng, 35, 5)
    y = _make_y(case, rng, 35)
    sw = rng.uniform(0.0, 3.0, size=35)
    if sparse:
        X = sp.csr_matrix(X)
    est = _fit_quietly(_estimator(case, activation, hidden_layer_sizes=(5, 4), solver="adam",
                                  learning_rate_init=0.05, max_iter=3, alpha=0.01),
                       X, y, sample_weight=sw)
    y_sk, Y = _targets(est, y)
    expected_loss, expected_grad = _sklearn_backprop(est, X, y_sk, sw)
    units = _units(est, X)
    layout = ref.Layout(units, 35, activation, est.out_activation_)
    problem = ref.Problem(layout, X, y_sk, sw, ref.pack(est.coefs_, est.intercepts_))
    loss = problem.loss_grad(alpha=est.alpha, n_threads=1)
    assert loss == pytest.approx(float(expected_loss), rel=1e-12, abs=0)
    np.testing.assert_allclose(problem.grads, expected_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("solver", ["sgd", "nesterov", "adam"])
@pytest.mark.parametrize("case", OUT_CASES)
@pytest.mark.parametrize("activation", HIDDEN)
def test_problem_epochs_match_sklearn_fit(activation, case, solver):
    # two epochs of scikit-learn's fit (warm start from the same weights,
    # fresh optimizer, shuffle off, sample weights, L2) against
    # Problem.epoch with a fresh OptimizerState
    rng = np.random.default_rng(70)
    n, batch_size, lr, alpha = 31, 7, 0.02, 0.01
    X = _make_X(rng, n, 4)
    if activation in ("relu", "tanh"):
        X = sp.csr_matrix(X)
    y = _make_y(case, rng, n)
    sw = rng.uniform(0.1, 2.0, size=n)
    est = _estimator(case, activation, hidden_layer_sizes=(5, 3),
                     solver="adam" if solver == "adam" else "sgd", momentum=0.9,
                     nesterovs_momentum=solver == "nesterov", beta_1=0.8, beta_2=0.99,
                     shuffle=False, batch_size=batch_size, learning_rate_init=lr,
                     alpha=alpha, max_iter=2, warm_start=True, n_iter_no_change=1000)
    _fit_quietly(est, X, y, sample_weight=sw)
    units = _units(est, X)
    start = rng.uniform(-0.6, 0.6, size=sum(a * b + b for a, b in zip(units[:-1], units[1:])))
    est.coefs_, est.intercepts_ = [[a.copy() for a in part] for part in ref.unpack(start, units)]
    _fit_quietly(est, X, y, sample_weight=sw)
    assert est.n_iter_ == 2

    y_sk, _ = _targets(est, y)
    layout = ref.Layout(units, batch_size, activation, est.out_activation_)
    params = start.copy()
    problem = ref.Problem(layout, X, y_sk, sw, params)
    opt = ref.OptimizerState("adam" if solver == "adam" else "sgd", layout.n_params,
                             np.float64, lr)
    opt.set_hyperparameters(momentum=0.9, nesterov=solver == "nesterov", beta_1=0.8,
                            beta_2=0.99, epsilon=1e-8, rho=0.9, weight_decay=0.0,
                            alpha1=0.0, clip_value=0.0)
    # warm start: loss_curve_ goes on from the first fit's two epochs
    for epoch, expected in enumerate(est.loss_curve_[-2:]):
        loss_sum = problem.epoch(opt, np.arange(n), shuffled=False, batch_size=batch_size,
                                 lr=lr, alpha=alpha, clip_norm=0.0, n_threads=1)
        assert loss_sum / n == pytest.approx(expected, rel=1e-12, abs=0), epoch
    assert opt.t == (10 if solver == "adam" else 0)  # 5 batches per epoch
    np.testing.assert_allclose(params, _pack(est.coefs_, est.intercepts_),
                               rtol=1e-12, atol=1e-14)


def _one_batch(clip_norm=0.0, clip_value=0.0, lr=1.0, **layout_kwargs):
    """Problem, loss_grad's (loss, gradient) and one full-batch sgd step
    (momentum 0) from the same params: step = -lr * clipped gradient."""
    rng = np.random.default_rng(80)
    layout = ref.Layout((4, 6, 3), 20, "tanh", "softmax", **layout_kwargs)
    X = rng.normal(size=(20, 4))
    Y = np.eye(3)[rng.integers(0, 3, 20)]
    sw = rng.uniform(0.5, 2.0, 20)
    params = rng.normal(size=layout.n_params)
    problem = ref.Problem(layout, X, Y, sw, params.copy())
    loss = problem.loss_grad(alpha=0.1, alpha1=0.05, n_threads=1)
    opt = ref.OptimizerState("sgd", layout.n_params, np.float64, lr)
    opt.set_hyperparameters(momentum=0.0, nesterov=False, beta_1=0.9, beta_2=0.999,
                            epsilon=1e-8, rho=0.9, weight_decay=0.0, alpha1=0.05,
                            clip_value=clip_value)
    epoch_loss = problem.epoch(opt, np.arange(20), shuffled=False, batch_size=20, lr=lr,
                               alpha=0.1, clip_norm=clip_norm, n_threads=1)
    assert epoch_loss / 20 == pytest.approx(loss, rel=1e-14)  # the penalties before the step
    return params, problem.params - params, problem.grads.copy()


def test_clipping_closed_forms():
    # the step is read back as (p - lr g) - p: exact to about an ulp of p
    tol = dict(rtol=1e-12, atol=1e-14)
    _, step, grad = _one_batch()
    np.testing.assert_allclose(step, -grad, **tol)
    norm = np.linalg.norm(grad)
    # by norm: the same direction, norm c (below the norm: untouched)
    _, step, _ = _one_batch(clip_norm=norm / 3)
    np.testing.assert_allclose(step, -grad / 3, **tol)
    _, step, _ = _one_batch(clip_norm=2 * norm)
    np.testing.assert_allclose(step, -grad, **tol)
    # by value: each entry to [-v, v]
    v = np.quantile(np.abs(grad), 0.6)
    _, step, _ = _one_batch(clip_value=v)
    np.testing.assert_allclose(step, -np.clip(grad, -v, v), **tol)
    # both: by norm first, then by value
    _, step, _ = _one_batch(clip_norm=norm / 3, clip_value=v / 4)
    np.testing.assert_allclose(step, -np.clip(grad / 3, -v / 4, v / 4), **tol)
    assert np.abs(step).max() == pytest.approx(v / 4, rel=1e-12)


@pytest.mark.parametrize("lr", [0.0, 0.5])
def test_max_norm_closed_form(lr):
    # after the step (lr = 0: no step), each unit's incoming column W[:, j]
    # with norm above c is scaled down to norm c; the others are untouched
    c = 1.5
    params, step, grad = _one_batch(lr=lr, max_norm=c)
    after = params + step
    stepped = params - lr * grad
    units = (4, 6, 3)
    n_clipped = 0
    for W0, W1 in zip(ref.unpack(stepped, units)[0], ref.unpack(after, units)[0]):
        norms = np.linalg.norm(W0, axis=0)
        n_clipped += int((norms > c).sum())
        np.testing.assert_allclose(W1, W0 * np.minimum(1, c / norms), rtol=1e-12,
                                   atol=1e-14)
        assert np.all(np.linalg.norm(W1, axis=0) <= c * (1 + 1e-12))
    assert 0 < n_clipped < 9
    for b1, b0 in zip(ref.unpack(after, units)[1], ref.unpack(stepped, units)[1]):
        np.testing.assert_allclose(b1, b0, rtol=1e-12, atol=1e-14)  # no max_norm


@pytest.mark.parametrize("solver", ["adam", "adamw"])
def test_adamw_first_step_closed_form(solver):
    # From zero moments, Adam's first step is -lr g / (|g| + eps / sqrt(1 - b2))
    # per entry (m = (1 - b1) g, v = (1 - b2) g**2, bias-corrected); AdamW
    # first decays the coefs alone by 1 - lr * weight_decay (PyTorch's
    # decoupled decay, at the undecayed rate), intercepts never.
    rng = np.random.default_rng(85)
    layout = ref.Layout((4, 5, 2), 16, "tanh", "identity")
    X, Y = rng.normal(size=(16, 4)), rng.normal(size=(16, 2))
    params = rng.normal(size=layout.n_params)
    lr, wd, b1, b2, eps = 0.01, 0.3, 0.8, 0.95, 1e-3
    problem = ref.Problem(layout, X, Y, None, params.copy())
    problem.loss_grad(alpha=0.1, n_threads=1)
    g = problem.grads.copy()
    opt = ref.OptimizerState(solver, layout.n_params, np.float64, lr)
    opt.set_hyperparameters(momentum=0.9, nesterov=True, beta_1=b1, beta_2=b2,
                            epsilon=eps, rho=0.9, weight_decay=wd, alpha1=0.0,
                            clip_value=0.0)
    problem.epoch(opt, np.arange(16), shuffled=False, batch_size=16, lr=lr, alpha=0.1,
                  clip_norm=0.0, n_threads=1)
    decay = np.ones_like(params)
    if solver == "adamw":
        decay[: layout.n_coef] = 1 - lr * wd
    expected = params * decay - lr * g / (np.abs(g) + eps / np.sqrt(1 - b2))
    np.testing.assert_allclose(problem.params, expected, rtol=1e-12, atol=1e-15)
    assert opt.t == 1
    np.testing.assert_allclose(opt.state1, (1 - b1) * g, rtol=1e-14)
    np.testing.assert_allclose(opt.state2, (1 - b2) * g**2, rtol=1e-14)


def test_epoch_draws_the_documented_masks():
    # Problem.epoch's contract: the batch at epoch positions start:start+m
    # drops layer l (0: the input) with dropout_mask(seed, l, start, m,
    # units[l], keep[l]).  Two sgd batches (momentum 0) step by -lr times the
    # finished gradient of raw_loss_grad with exactly those masks.
    rng = np.random.default_rng(90)
    layout = ref.Layout((5, 7, 6, 3), 8, ("relu", "gelu"), "softmax",
                        dropout=(0.4, 0.25), input_dropout=0.3)
    n, lr, seed = 13, 0.2, 2**64 - 5
    X = rng.normal(size=(n, 5))
    Y = np.eye(3)[rng.integers(0, 3, n)]
    sw = rng.uniform(0.5, 2.0, n)
    order = rng.permutation(n)
    params = rng.normal(scale=0.5, size=layout.n_params)
    expected = params.copy()
    loss_total = 0.0
    for start in (0, 8):
        rows = order[start : start + 8]
        m = rows.shape[0]
        masks = [ref.dropout_mask(seed, layer, start, m, layout.units[layer],
                                  layout.keep[layer]) for layer in range(3)]
        loss_sum, raw = ref.raw_loss_grad(layout, expected, X[rows], Y[rows], sw[rows],
                                          masks=masks)
        W = expected[: layout.n_coef]
        loss_total += (loss_sum + 0.05 * W @ W) / sw[rows].sum() * m
        raw[: layout.n_coef] += 0.1 * W
        expected -= lr * raw / sw[rows].sum()
    problem = ref.Problem(layout, X, Y, sw, params)
    opt = ref.OptimizerState("sgd", layout.n_params, np.float64, lr)
    opt.set_hyperparameters(momentum=0.0, nesterov=False, beta_1=0.9, beta_2=0.999,
                            epsilon=1e-8, rho=0.9, weight_decay=0.0, alpha1=0.0,
                            clip_value=0.0)
    total = problem.epoch(opt, order, shuffled=True, batch_size=8, lr=lr, alpha=0.1,
                          clip_norm=0.0, n_threads=1, seed=seed)
    assert total == pytest.approx(loss_total, rel=1e-13)
    np.testing.assert_allclose(params, expected, rtol=1e-13, atol=1e-15)
