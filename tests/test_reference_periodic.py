"""The reference's periodic input stage (``Layout(periodic=...)``), proved.

The stage is the oracle the compiled engine's will be tested against, so it
is checked here against independent oracles, in float64:

- its forward against the formula written out with loops (``Xe[i, c(k, q)]
  = cos(f[k, q] X[i, k] + ph[k, q])``), then the reference without the
  stage on Xe;
- its gradient, every parameter (coefs, intercepts, frequencies, phases),
  against central finite differences of ``Problem.loss_grad``'s loss, with
  and without L2 and sample weights, for classification and regression
  outputs, tanh and silu, with and without a hidden layer;
- one plain SGD step of ``Problem.epoch`` against ``params - lr * grad``;
- L2 and max_norm, which are for coefs only, against closed forms;
- the layout's refusals.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastmlp import _reference as ref

from _engine_helpers import central_gradient, plain_sgd

# (units, (n_numeric, n_periodic)): two hidden layers, one, none
NETS = [((6, 5, 4, 2), (2, 1)), ((7, 5, 3), (2, 2)), ((5, 3), (1, 2))]
OUTPUTS = ["softmax", "logistic", "identity"]
ACTIVATIONS = ["tanh", "silu"]
N_SAMPLES = 9
FD_STEP = 1e-6
FD_RTOL = 1e-5
FD_ATOL = 1e-8


def _targets(rng, out, n, n_out):
    if out == "softmax":
        return np.eye(n_out)[rng.randint(n_out, size=n)]
    if out == "logistic":
        return (rng.uniform(size=(n, n_out)) < 0.5).astype(float)
    return rng.normal(size=(n, n_out))


def _build(units, periodic, out="identity", activation="tanh", weighted=False, seed=0):
    """(layout, X, Y, sample_weight, params); X's periodic columns hold
    values the stage must ignore."""
    rng = np.random.RandomState(seed)
    layout = ref.Layout(units, N_SAMPLES, activation, out, periodic=periodic)
    X = rng.normal(size=(N_SAMPLES, units[0]))
    n_cols = periodic[0] * periodic[1]
    X[:, units[0] - n_cols :] = 1e3  # overwritten by the stage
    Y = _targets(rng, out, N_SAMPLES, units[-1])
    sw = rng.uniform(0.2, 2.0, N_SAMPLES) if weighted else None
    params = rng.uniform(-1, 1, layout.n_params) * 0.7
    start = layout.periodic_off
    params[start : start + n_cols] = rng.normal(scale=1.5, size=n_cols)  # f
    params[start + n_cols :] = rng.uniform(-np.pi, np.pi, n_cols)  # ph
    return layout, X, Y, sw, params


def _embedded_by_loops(X, params, units, periodic, periodic_off):
    """Xe written out: ``Xe[i, c(k, q)] = cos(f[k, q] X[i, k] + ph[k, q])``."""
    n_numeric, n_periodic = periodic
    n_cols = n_numeric * n_periodic
    f = params[periodic_off : periodic_off + n_cols]
    ph = params[periodic_off + n_cols : periodic_off + 2 * n_cols]
    Xe = X.copy()
    for i in range(X.shape[0]):
        for k in range(n_numeric):
            for q in range(n_periodic):
                j = k * n_periodic + q
                Xe[i, units[0] - n_cols + j] = np.cos(f[j] * X[i, k] + ph[j])
    return Xe


def _plain(units, out, activation):
    """The same network without the periodic stage."""
    return ref.Layout(units, N_SAMPLES, activation, out)


# ---------------------------------------------------------------------------
# Forward
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("out", OUTPUTS)
@pytest.mark.parametrize("units, periodic", NETS)
def test_forward_is_the_plain_network_on_the_formula(units, periodic, out):
    layout, X, Y, sw, params = _build(units, periodic, out, "silu")
    Xe = _embedded_by_loops(X, params, units, periodic, layout.periodic_off)
    plain_params = params[: layout.periodic_off].copy()
    expected = ref.Problem(_plain(units, out, "silu"), Xe, None, None,
                           plain_params).forward()
    got = ref.Problem(layout, X, None, None, params).forward()
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    # whatever X holds in the periodic columns is ignored
    X2 = X.copy()
    X2[:, units[0] - periodic[0] * periodic[1] :] = -7.0
    np.testing.assert_array_equal(ref.Problem(layout, X2, None, None, params).forward(),
                                  got)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("units, periodic", NETS)
def test_loss_and_coef_gradient_are_the_plain_networks_on_the_formula(units, periodic,
                                                                      weighted):
    # the loss, and the coefs' and intercepts' gradient (W_0's from Xe)
    layout, X, Y, sw, params = _build(units, periodic, "softmax", "tanh", weighted)
    Xe = _embedded_by_loops(X, params, units, periodic, layout.periodic_off)
    plain = ref.Problem(_plain(units, "softmax", "tanh"), Xe, Y, sw,
                        params[: layout.periodic_off].copy())
    mine = ref.Problem(layout, X, Y, sw, params)
    kw = dict(alpha=0.03, alpha1=0.0, n_threads=1)
    assert mine.loss_grad(**kw) == pytest.approx(plain.loss_grad(**kw), rel=1e-13)
    np.testing.assert_allclose(mine.grads[: layout.periodic_off], plain.grads,
                               rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------
# Gradient: central finite differences of the loss, every parameter
# ---------------------------------------------------------------------------


def _numerical_gradient(problem, alpha):
    return central_gradient(lambda: problem.loss_grad(alpha=alpha, n_threads=1),
                            problem.params, FD_STEP)


@pytest.mark.parametrize("alpha", [0.0, 0.05])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("out", OUTPUTS)
@pytest.mark.parametrize("units, periodic", NETS)
def test_gradient_matches_finite_differences(units, periodic, out, activation,
                                             weighted, alpha):
    if out == "identity":
        # one output: for more, the squared error's gradient is n_outputs
        # times its loss's (scikit-learn's convention, output_loss_delta)
        units = units[:-1] + (1,)
    layout, X, Y, sw, params = _build(units, periodic, out, activation, weighted)
    problem = ref.Problem(layout, X, Y, sw, params)
    problem.loss_grad(alpha=alpha, n_threads=1)
    analytic = problem.grads.copy()
    numeric = _numerical_gradient(ref.Problem(layout, X, Y, sw, params.copy(),
                                              with_grad=False), alpha)
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL)
    # the stage's parameters do learn something
    tail = analytic[layout.periodic_off :]
    assert tail.shape == (2 * periodic[0] * periodic[1],)
    assert np.abs(tail).max() > 1e-3


# ---------------------------------------------------------------------------
# Steps: SGD, and what is for coefs only
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, 0.05])
@pytest.mark.parametrize("units, periodic", NETS)
def test_one_sgd_step_moves_every_parameter_by_minus_lr_grad(units, periodic, alpha):
    lr = 0.1
    layout, X, Y, sw, params = _build(units, periodic, "logistic", "silu", weighted=True)
    before = params.copy()
    problem = ref.Problem(layout, X, Y, sw, params)
    loss = problem.loss_grad(alpha=alpha, n_threads=1)
    grad = problem.grads.copy()
    total = problem.epoch(plain_sgd(layout.n_params, lr), np.arange(N_SAMPLES), shuffled=False,
                          batch_size=N_SAMPLES, lr=lr, alpha=alpha, clip_norm=0.0,
                          n_threads=1)
    assert total == pytest.approx(loss * N_SAMPLES, rel=1e-15)
    start = layout.periodic_off
    np.testing.assert_array_equal(params[start:], before[start:] - lr * grad[start:])
    np.testing.assert_array_equal(params, before - lr * grad)


def test_l2_and_max_norm_leave_the_periodic_parameters_alone():
    units, periodic = (7, 5, 3), (2, 2)
    layout, X, Y, sw, params = _build(units, periodic, "softmax", "tanh", weighted=True)
    start = layout.periodic_off
    problem = ref.Problem(layout, X, Y, sw, params)
    # L2 is over the coefs only: in the loss, and in the gradient
    loss0 = problem.loss_grad(alpha=0.0, n_threads=1)
    grad0 = problem.grads.copy()
    loss1 = problem.loss_grad(alpha=0.5, n_threads=1)
    coefs = params[: layout.n_coef]
    assert loss1 - loss0 == pytest.approx(0.25 * coefs @ coefs / sw.sum(), rel=1e-12)
    np.testing.assert_array_equal(problem.grads[start:], grad0[start:])
    # max_norm rescales the coefs only: the stage's parameters take the plain step
    lr = 0.1
    capped = ref.Layout(units, N_SAMPLES, "tanh", "softmax", periodic=periodic,
                        max_norm=1e-3)
    p = params.copy()
    ref.Problem(capped, X, Y, sw, p).epoch(
        plain_sgd(layout.n_params, lr), np.arange(N_SAMPLES), shuffled=False,
        batch_size=N_SAMPLES, lr=lr, alpha=0.0, clip_norm=0.0, n_threads=1)
    np.testing.assert_array_equal(p[start:], params[start:] - lr * grad0[start:])
    assert np.abs(p[: layout.n_coef]).max() <= 1e-3 * (1 + 1e-12)


# ---------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------


def test_layout_places_frequencies_and_phases_after_the_intercepts():
    units = (7, 5, 3)
    plain = ref.Layout(units, 4, "tanh", "identity")
    layout = ref.Layout(units, 4, "tanh", "identity", periodic=(np.int64(2), 2))
    assert layout.periodic == (2, 2)
    assert all(type(v) is int for v in layout.periodic)
    assert plain.periodic == (0, 0) and plain.periodic_off == plain.n_params
    assert layout.periodic_off == plain.n_params
    assert layout.n_params == plain.n_params + 2 * 4
    assert layout.n_coef == plain.n_coef
    params = np.arange(layout.n_params, dtype=float)
    views = sum(layout.coef_views(params), [])
    for a, b in zip(views, sum(plain.coef_views(params[: plain.n_params]), [])):
        np.testing.assert_array_equal(a, b)
        assert np.shares_memory(a, params)
    # P = 0 needs no columns and changes nothing
    for periodic in [(0, 0), (3, 0), (0, 5)]:
        empty = ref.Layout(units, 4, "tanh", "identity", periodic=periodic)
        assert empty.n_params == plain.n_params == empty.periodic_off


@pytest.mark.parametrize("periodic, kwargs, match", [
    ((-1, 2), {}, ">= 0"),
    ((2, -1), {}, ">= 0"),
    ((2, 3), {}, "units\\[0\\]"),  # 2 + 6 > 7
    ((3, 2), {}, "units\\[0\\]"),  # 3 + 6 > 7
    ((2, 2), {"input_dropout": 0.2}, "periodic and input_dropout"),
    ((2,), {}, "pair of ints"),
    ((2.0, 1), {}, "pair of ints"),
    (3, {}, "pair of ints"),
])
def test_layout_refuses(periodic, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ref.Layout((7, 5, 3), 4, "tanh", "identity", periodic=periodic, **kwargs)


def test_the_widest_stage_fits():
    # n_numeric + P == units[0]: no column in between
    layout = ref.Layout((8, 3), 4, "tanh", "identity", periodic=(2, 3))
    assert layout.n_params == 8 * 3 + 3 + 12


def test_periodic_needs_dense_X():
    layout, X, Y, sw, params = _build((7, 5, 3), (2, 2))
    with pytest.raises(ValueError, match="dense X"):
        ref.Problem(layout, sp.csr_matrix(X), Y, sw, params)
    with pytest.raises(ValueError, match="dense X"):
        ref.raw_loss_grad(layout, params, sp.csr_matrix(X), Y)
    with pytest.raises(ValueError, match="input dropout"):
        ref.raw_loss_grad(layout, params, X, Y, masks=[np.ones_like(X), None])

