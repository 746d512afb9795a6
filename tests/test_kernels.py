"""Activation, loss and optimizer kernels against the pure-NumPy reference."""
import numpy as np
import pytest

from fastmlp import _activations, _losses, _optimizers
from fastmlp import _reference as ref
from fastmlp._engine import HIDDEN_ACTIVATIONS, OUTPUT_KINDS

from _engine_helpers import make_targets, tol

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(HIDDEN_ACTIVATIONS))
def test_bias_act_forward(dtype, name):
    rng = np.random.RandomState(0)
    Z = rng.normal(scale=3, size=(13, 7)).astype(dtype)
    b = rng.normal(size=7).astype(dtype)
    expected = ref.activation(name, Z + b)
    _activations.bias_act_forward(Z, b, HIDDEN_ACTIVATIONS[name])
    assert Z.dtype == dtype
    np.testing.assert_allclose(Z, expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_extremes_do_not_make_nan(dtype):
    Z = np.array([[-1e4, -80.0, 0.0, 80.0, 1e4]], dtype=dtype)
    _activations.bias_act_forward(Z, np.zeros(5, dtype=dtype), HIDDEN_ACTIVATIONS["logistic"])
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z[0, [0, 2, 4]], [0.0, 0.5, 1.0])


@pytest.mark.parametrize("name", list(HIDDEN_ACTIVATIONS))
def test_activation_derivative_matches_finite_differences(name):
    # the derivative kernel (from A, or from Z for gelu/silu) against central
    # differences of the forward kernel itself, away from kinks at 0
    rng = np.random.RandomState(7)
    Z = rng.uniform(-4, 4, size=(9, 8))
    Z[np.abs(Z) < 1e-3] = 0.5
    code = HIDDEN_ACTIVATIONS[name]
    zero = np.zeros(8)

    def f(z):
        out = z.copy()
        _activations.bias_act_forward(out, zero, code)
        return out

    h = 1e-6
    fd = (f(Z + h) - f(Z - h)) / (2 * h)
    A = f(Z)
    D = np.ones_like(Z)
    _activations.act_backward(A, Z, D, code)
    np.testing.assert_allclose(D, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ref.HIDDEN_ACTIVATIONS)
def test_act_backward(dtype, name):
    rng = np.random.RandomState(1)
    A = ref.activation(name, rng.normal(size=(11, 6))).astype(dtype)
    A[0, :2] = 0  # relu's zero outputs
    D = rng.normal(size=(11, 6)).astype(dtype)
    expected = ref.activation_derivative(name, A, D.copy())
    _activations.act_backward(A, None, D, HIDDEN_ACTIVATIONS[name])
    np.testing.assert_allclose(D, expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out", list(OUTPUT_KINDS))
@pytest.mark.parametrize("weighted", [False, True])
def test_bias_out_loss_delta(dtype, out, weighted):
    rng = np.random.RandomState(2)
    n, k = 17, 4
    Z = rng.normal(size=(n, k)).astype(dtype)
    b = rng.normal(size=k).astype(dtype)
    Y = make_targets(rng, out, n, k, dtype, poisson_rate=1.5)
    sw = rng.uniform(0.2, 3, size=n).astype(dtype) if weighted else None
    P = ref.activation(out, (Z + b).astype(dtype))
    expected_loss = ref.loss(Y, P, out, sample_weight=sw) * (n if sw is None else sw.sum())
    expected_delta = (P - Y) * (1 if sw is None else sw[:, None])
    total = _losses.bias_out_loss_delta(Z, b, Y, sw, OUTPUT_KINDS[out])
    np.testing.assert_allclose(total, expected_loss, rtol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(Z, expected_delta, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_stable_for_large_logits(dtype):
    Z = np.array([[1000.0, 0.0, -1000.0], [3.0, 3.0, 3.0]], dtype=dtype)
    _losses.bias_out_forward(Z, np.zeros(3, dtype=dtype), OUTPUT_KINDS["softmax"])
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(Z[1], 1 / 3, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_loss_clips_certain_mistakes(dtype):
    # a confidently wrong prediction costs -log(eps), not inf
    Z = np.array([[-1000.0]], dtype=dtype)
    Y = np.array([[1.0]], dtype=dtype)
    total = _losses.bias_out_loss_delta(Z, np.zeros(1, dtype=dtype), Y, None, OUTPUT_KINDS["logistic"])
    assert total == pytest.approx(-np.log(np.finfo(dtype).eps), rel=1e-5)


def _split_grad(params, grad, n_coef, alpha, scale):
    g = grad.astype(np.float64) * scale
    g[:n_coef] += alpha * params[:n_coef].astype(np.float64) * scale
    return g.astype(params.dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, n_threads", [(50, 1), (70_000, 1),
                                          pytest.param(70_000, 2, marks=pytest.mark.needs_threads)])
@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop"])
def test_optimizer_step_matches_formula(dtype, n, n_threads, solver):
    rng = np.random.RandomState(3)
    n_coef, alpha, scale = n // 2, 0.01, 1 / 7
    p = rng.normal(size=n).astype(dtype)
    p_ref = p.copy()
    s1, s2 = np.zeros(n, dtype), np.zeros(n, dtype)
    r1, r2 = np.zeros(n, dtype), np.zeros(n, dtype)
    for t in range(1, 4):
        raw = rng.normal(size=n).astype(dtype)
        g = _split_grad(p_ref, raw, n_coef, alpha, scale)
        if solver == "sgd":
            ref.sgd_step(p_ref, g, r1, 0.1, 0.9, True)
            lr = 0.1
        elif solver == "adam":
            lr = ref.adam_step(p_ref, g, r1, r2, t, 0.01, 0.9, 0.999, 1e-8)
        else:
            ref.rmsprop_step(p_ref, g, r1, 0.01, 0.9, 1e-8)
            lr = 0.01
        sq, _ = _optimizers.update(solver, p, raw, s1, s2, n_coef, alpha, scale, float(lr),
                                   momentum=0.9, nesterov=True, rho=0.9, n_threads=n_threads)
        np.testing.assert_allclose(p, p_ref, **tol(dtype))
        np.testing.assert_allclose(sq, np.sum(p[:n_coef].astype(np.float64) ** 2),
                                   rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_grad_sqnorm(dtype):
    rng = np.random.RandomState(4)
    p = rng.normal(size=30).astype(dtype)
    raw = rng.normal(size=30).astype(dtype)
    g = _split_grad(p, raw, 20, 0.3, 0.25)
    np.testing.assert_allclose(_optimizers.grad_sqnorm(p, raw, 20, 0.3, 0.25),
                               np.sum(g.astype(np.float64) ** 2), rtol=1e-5)


def test_optimizer_repeat_is_that_many_steps():
    rng = np.random.RandomState(5)
    n = 300
    raw = rng.normal(size=n).astype(np.float32)
    once = [rng.normal(size=n).astype(np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32)]
    many = [a.copy() for a in once]
    for _ in range(3):
        expected = _optimizers.update("adam", *once[:1], raw, *once[1:], 200, 1e-4, 0.5, 1e-3)
    got = _optimizers.update("adam", *many[:1], raw, *many[1:], 200, 1e-4, 0.5, 1e-3, repeat=3)
    assert got == expected
    for a, b in zip(once, many):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="repeat"):
        _optimizers.update("adam", *many[:1], raw, *many[1:], 200, 1e-4, 0.5, 1e-3, repeat=0)


def test_optimizer_rejects_bad_lengths():
    with pytest.raises(ValueError):
        _optimizers.update("sgd", np.zeros(3), np.zeros(2), np.zeros(3), np.zeros(0), 3, 0.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="adam needs state2"):
        _optimizers.update("adam", np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(0), 3, 0.0, 1.0, 0.1)


# The engine's vectorized exp (_vexp.h) against exp in long double, rounded
# to the dtype: at most one ulp off in the normal range (NumPy's own float32
# exp is up to ~2.3 ulp off), at most one smallest subnormal below it, and
# overflow, underflow and NaN as np.exp gives them.
@pytest.mark.parametrize("dtype, lo, hi", [(np.float32, -110, 95), (np.float64, -760, 720)])
def test_vexp_is_within_one_ulp(dtype, lo, hi):
    rng = np.random.RandomState(0)
    x = np.concatenate([np.linspace(lo, hi, 400_001), rng.normal(scale=5, size=50_000),
                        rng.uniform(-1e-3, 1e-3, size=10_000)]).astype(dtype)
    y = x.copy()
    _losses.vexp(y)
    exact = np.exp(x.astype(np.longdouble))
    with np.errstate(over="ignore", under="ignore"):
        rounded = exact.astype(dtype)
    info = np.finfo(dtype)
    normal = np.isfinite(rounded) & (rounded >= info.tiny)
    ulps = np.abs(y[normal] - exact[normal]) / np.spacing(rounded[normal])
    assert ulps.max() <= 1.0
    sub = (rounded < info.tiny)
    assert np.abs(y[sub] - rounded[sub]).max() <= info.smallest_subnormal
    assert np.all(np.isinf(y[np.isinf(rounded)]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_vexp_special_values(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1e30, 1e30], dtype=dtype)
    y = x.copy()
    _losses.vexp(y)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(y, np.exp(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(HIDDEN_ACTIVATIONS))
def test_act_backward_masked_is_mask_times_the_unmasked_derivative(dtype, name):
    # inverted dropout: A = act(Z) * mask, mask in {0, 1/keep}; the masked
    # derivative is D * mask * act'(Z), and exactly 0 where the unit was
    # dropped, even where D is not finite
    rng = np.random.RandomState(3)
    keep = 0.8
    Z = rng.normal(scale=3, size=(12, 9)).astype(dtype)
    code = HIDDEN_ACTIVATIONS[name]
    A = Z.copy()
    _activations.bias_act_forward(A, np.zeros(9, dtype=dtype), code)
    mask = np.where(rng.rand(12, 9) < keep, 1 / keep, 0).astype(dtype)
    D = rng.normal(size=(12, 9)).astype(dtype)
    D[mask == 0] = np.where(rng.rand(int((mask == 0).sum())) < 0.5, np.inf, np.nan)
    expected = np.where(mask == 0, 0, D).copy()
    _activations.act_backward(A, Z, expected, code)
    expected = np.where(mask == 0, 0, expected * mask)
    got = D.copy()
    _activations.act_backward_masked((A * mask).astype(dtype), Z, mask, keep, got, code)
    assert np.all(got[mask == 0] == 0)
    np.testing.assert_allclose(got, expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_silu_extremes(dtype):
    # the vectorized loops (_vact.h): exp(-z) overflows to inf far left
    # (silu -> -0, silu' -> 0), is 0 far right (silu -> z, silu' -> 1), NaN
    # stays NaN; against float64 NumPy elsewhere
    z = np.array([-1e4, -150.0, -90.0, -20.0, -1e-30, 0.0, 1e-30, 3.0, 90.0, 1e4, np.nan])
    Z = z[None, :].astype(dtype)
    A = Z.copy()
    code = HIDDEN_ACTIVATIONS["silu"]
    _activations.bias_act_forward(A, np.zeros(z.shape[0], dtype=dtype), code)
    with np.errstate(over="ignore"):
        s = 1 / (1 + np.exp(-z))
    # (float32: exp(90) is inf, so silu(-90) = -7e-38 comes out -0)
    np.testing.assert_allclose(A[0, :-1], (z * s)[:-1], rtol=4 * np.finfo(dtype).eps,
                               atol=8 * np.finfo(dtype).tiny)
    assert np.isnan(A[0, -1])
    D = np.ones_like(Z)
    _activations.act_backward(A, Z, D, code)
    np.testing.assert_allclose(D[0, :-1], (s * (1 + z * (1 - s)))[:-1],
                               rtol=8 * np.finfo(dtype).eps, atol=8 * np.finfo(dtype).tiny)
    assert np.isnan(D[0, -1])
