"""The reference's PBLD stage (``Layout(periodic=(n_numeric, K, d))``), proved.

RealMLP's PBLD puts a linear layer per numeric column on the periodic
stage: the last ``Q = n_numeric * d`` columns of X are overwritten by
``e[i, k, j] = b[k, j] + sum_q cos(theta[i, k, q]) * A[k, q, j]``, theta
as for the periodic stage.  The reference is the oracle the engine's stage
will be tested against, so it is checked here, in float64, against
independent oracles:

- its forward against the formula written out with loops, then the
  reference without the stage on that input (with the input scale too);
- its gradient, every parameter (coefs, intercepts, f, ph, A, b, the input
  scale s, the parametric alphas), against central finite differences of
  ``Problem.loss_grad``'s loss, for 0, 1 and 2 hidden layers, identity and
  softmax outputs, with and without sample weights, d in {1, 3};
- the pair ``(n_numeric, K)`` against the triple ``(n_numeric, K, 0)``:
  the same numbers, bit for bit;
- one plain SGD step of ``Problem.epoch`` against ``params - lr * factor *
  grad``, each part at its own rate factor;
- L2 and max_norm, which are for coefs only;
- the flat buffer's layout ``coefs | intercepts | f | ph | A | b | s |
  alphas`` and the layout's refusals.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastmlp import _reference as ref
from fastmlp._reference_problem import _Net

from _engine_helpers import central_gradient, plain_sgd

N_NUMERIC, N_PERIODIC = 2, 3
N_OUTS = [1, 3]
# one plain column between the numeric and the stage's output columns for d = 3
N_INPUTS = N_NUMERIC + N_NUMERIC * max(N_OUTS) + 1
# two hidden layers, one, none
UNITS = [(N_INPUTS, 5, 4, 2), (N_INPUTS, 5, 3), (N_INPUTS, 3)]
N_SAMPLES = 9
FD_STEP = 1e-6
FD_RTOL = 1e-5
FD_ATOL = 1e-8


def _targets(rng, out, n, n_out):
    if out == "softmax":
        return np.eye(n_out)[rng.randint(n_out, size=n)]
    return rng.normal(size=(n, n_out))


def _offsets(layout):
    """(f, ph, A, b, end) offsets of the periodic block, from the contract."""
    n_numeric, n_periodic, n_out = (tuple(layout.periodic) + (0,))[:3]
    n_cols = n_numeric * n_periodic
    f = layout.periodic_off
    ph = f + n_cols
    A = ph + n_cols
    b = A + n_cols * n_out
    return f, ph, A, b, b + n_numeric * n_out


def _build(units, periodic, out="identity", activation="tanh", weighted=False, seed=0,
           **layout_kwargs):
    """(layout, X, Y, sample_weight, params); X's output columns hold values
    the stage must ignore."""
    rng = np.random.RandomState(seed)
    layout = ref.Layout(units, N_SAMPLES, activation, out, periodic=periodic,
                        **layout_kwargs)
    n_numeric, n_periodic, n_out = periodic
    X = rng.normal(size=(N_SAMPLES, units[0]))
    X[:, units[0] - n_numeric * n_out :] = 1e3  # overwritten by the stage
    Y = _targets(rng, out, N_SAMPLES, units[-1])
    sw = rng.uniform(0.2, 2.0, N_SAMPLES) if weighted else None
    params = rng.uniform(-1, 1, layout.n_params) * 0.7
    f, ph, A, b, end = _offsets(layout)
    params[f:ph] = rng.normal(scale=1.5, size=ph - f)
    params[ph:A] = rng.uniform(-np.pi, np.pi, A - ph)
    params[A:b] = rng.normal(scale=0.8, size=b - A)
    params[b:end] = rng.uniform(-0.5, 0.5, end - b)
    if layout.input_scale:
        params[layout.input_scale_off : layout.input_scale_off + units[0]] = \
            rng.uniform(0.5, 1.5, units[0])
    if layout.parametric:
        params[layout.parametric_off :] = rng.uniform(0.2, 1.2,
                                                      layout.n_params - layout.parametric_off)
    return layout, X, Y, sw, params


def _embedded_by_loops(X, params, units, periodic, periodic_off):
    """Xe written out: ``Xe[i, c(k, j)] = b[k, j] + sum_q cos(f[k, q] X[i, k]
    + ph[k, q]) A[k, q, j]``, ``c(k, j) = units[0] - Q + k d + j``."""
    n_numeric, n_periodic, d = periodic
    P, Q = n_numeric * n_periodic, n_numeric * d
    f = params[periodic_off : periodic_off + P]
    ph = params[periodic_off + P : periodic_off + 2 * P]
    A = params[periodic_off + 2 * P : periodic_off + 2 * P + P * d]
    b = params[periodic_off + 2 * P + P * d : periodic_off + 2 * P + P * d + Q]
    Xe = X.copy()
    for i in range(X.shape[0]):
        for k in range(n_numeric):
            for j in range(d):
                total = b[k * d + j]
                for q in range(n_periodic):
                    theta = f[k * n_periodic + q] * X[i, k] + ph[k * n_periodic + q]
                    total += np.cos(theta) * A[(k * n_periodic + q) * d + j]
                Xe[i, units[0] - Q + k * d + j] = total
    return Xe


def _plain(units, out, activation, **layout_kwargs):
    """The same network without the periodic stage."""
    return ref.Layout(units, N_SAMPLES, activation, out, **layout_kwargs)


def _without_stage(layout, params):
    """params less the periodic block: a plain network's (its s follows the
    intercepts)."""
    end = _offsets(layout)[-1]
    return np.concatenate([params[: layout.periodic_off], params[end:]])


# ---------------------------------------------------------------------------
# Forward
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("input_scale", [False, True])
@pytest.mark.parametrize("out", ["softmax", "identity"])
@pytest.mark.parametrize("n_out", N_OUTS)
@pytest.mark.parametrize("units", UNITS)
def test_forward_is_the_plain_network_on_the_formula(units, n_out, out, input_scale):
    periodic = (N_NUMERIC, N_PERIODIC, n_out)
    layout, X, Y, sw, params = _build(units, periodic, out, "silu",
                                      input_scale=input_scale)
    Xe = _embedded_by_loops(X, params, units, periodic, layout.periodic_off)
    # the columns between the numeric ones and the stage's are X's own
    Q = N_NUMERIC * n_out
    np.testing.assert_array_equal(Xe[:, : units[0] - Q], X[:, : units[0] - Q])
    expected = ref.Problem(_plain(units, out, "silu", input_scale=input_scale), Xe, None,
                           None, _without_stage(layout, params)).forward()
    got = ref.Problem(layout, X, None, None, params).forward()
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    # whatever X holds in the stage's columns is ignored
    X2 = X.copy()
    X2[:, units[0] - Q :] = -7.0
    np.testing.assert_array_equal(ref.Problem(layout, X2, None, None, params).forward(),
                                  got)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_out", N_OUTS)
@pytest.mark.parametrize("units", UNITS)
def test_loss_and_coef_gradient_are_the_plain_networks_on_the_formula(units, n_out,
                                                                      weighted):
    periodic = (N_NUMERIC, N_PERIODIC, n_out)
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


VARIANTS = {
    "tanh": ("tanh", {}),
    "scale": ("tanh", {"input_scale": True}),
    "parametric-silu-scale": ("silu", {"parametric": True, "input_scale": True}),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("out", ["softmax", "identity"])
@pytest.mark.parametrize("n_out", N_OUTS)
@pytest.mark.parametrize("units", UNITS)
def test_gradient_matches_finite_differences(units, n_out, out, weighted, variant):
    if out == "identity":
        # one output: for more, the squared error's gradient is n_outputs
        # times its loss's (scikit-learn's convention, output_loss_delta)
        units = units[:-1] + (1,)
    activation, kwargs = VARIANTS[variant]
    alpha = 0.05 if weighted else 0.0
    layout, X, Y, sw, params = _build(units, (N_NUMERIC, N_PERIODIC, n_out), out,
                                      activation, weighted, **kwargs)
    problem = ref.Problem(layout, X, Y, sw, params)
    problem.loss_grad(alpha=alpha, n_threads=1)
    analytic = problem.grads.copy()
    numeric = _numerical_gradient(ref.Problem(layout, X, Y, sw, params.copy(),
                                              with_grad=False), alpha)
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL)
    # every part of the stage does learn something (f, ph, A, b)
    bounds = _offsets(layout)
    for name, start, stop in zip("f ph A b".split(), bounds[:-1], bounds[1:]):
        assert np.abs(analytic[start:stop]).max() > 1e-3, name
    if layout.input_scale:
        s = analytic[layout.input_scale_off : layout.input_scale_off + units[0]]
        assert np.abs(s).max() > 1e-3


# ---------------------------------------------------------------------------
# A pair is the triple with n_out = 0
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, {"input_scale": True}])
@pytest.mark.parametrize("units", UNITS)
def test_a_pair_is_the_triple_with_no_linear_layer(units, kwargs):
    pair = (N_NUMERIC, N_PERIODIC)
    layout3, X, Y, sw, params = _build(units, pair + (0,), "softmax", "tanh", True,
                                       **kwargs)
    layout2 = ref.Layout(units, N_SAMPLES, "tanh", "softmax", periodic=pair, **kwargs)
    assert layout2.periodic == pair and layout3.periodic == pair + (0,)
    for name in ("n_params", "periodic_off", "input_scale_off", "parametric_off"):
        assert getattr(layout2, name) == getattr(layout3, name), name
    X[:, units[0] - N_NUMERIC * N_PERIODIC :] = 1e3  # overwritten by the stage
    results = []
    for layout in (layout2, layout3):
        p = params.copy()
        problem = ref.Problem(layout, X, Y, sw, p)
        loss = problem.loss_grad(alpha=0.02, n_threads=1)
        grads = problem.grads.copy()
        out = problem.forward()
        raw = ref.raw_loss_grad(layout, p, X, Y, sw)[1]
        total = problem.epoch(plain_sgd(layout.n_params, 0.1), np.arange(N_SAMPLES),
                              shuffled=False, batch_size=4, lr=0.1, alpha=0.02,
                              clip_norm=0.0, n_threads=1)
        results.append((loss, grads, out, raw, total, p))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    # and the stage did run: its columns are cos(theta), not X's
    assert not np.array_equal(results[0][2], ref.Problem(
        _plain(units, "softmax", "tanh", **kwargs), X, None, None,
        _without_stage(layout2, params)).forward())


# ---------------------------------------------------------------------------
# Steps: SGD at each part's rate, and what is for coefs only
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("input_scale", [False, True])
@pytest.mark.parametrize("n_out", N_OUTS)
@pytest.mark.parametrize("units", UNITS[:2])
def test_one_sgd_step_moves_every_part_at_its_rate(units, n_out, input_scale):
    lr, periodic_lr, input_scale_lr, parametric_lr = 0.1, 3.0, 0.5, 2.0
    layout, X, Y, sw, params = _build(
        units, (N_NUMERIC, N_PERIODIC, n_out), "softmax", "silu", weighted=True,
        periodic_lr=periodic_lr, input_scale=input_scale, input_scale_lr=input_scale_lr,
        parametric=True, parametric_lr=parametric_lr)
    before = params.copy()
    problem = ref.Problem(layout, X, Y, sw, params)
    loss = problem.loss_grad(alpha=0.05, n_threads=1)
    grad = problem.grads.copy()
    total = problem.epoch(plain_sgd(layout.n_params, lr), np.arange(N_SAMPLES),
                          shuffled=False, batch_size=N_SAMPLES, lr=lr, alpha=0.05,
                          clip_norm=0.0, n_threads=1)
    assert total == pytest.approx(loss * N_SAMPLES, rel=1e-15)
    end = _offsets(layout)[-1]
    assert end == layout.input_scale_off
    factors = np.ones(layout.n_params)
    factors[layout.periodic_off : end] = periodic_lr
    factors[layout.input_scale_off : layout.parametric_off] = input_scale_lr
    factors[layout.parametric_off :] = parametric_lr
    np.testing.assert_array_equal(params, before - (lr * factors) * grad)
    # the whole block moved, A and b included
    assert (params[layout.periodic_off : end] != before[layout.periodic_off : end]).all()


def test_l2_and_max_norm_leave_A_and_b_alone():
    units, periodic = UNITS[1], (N_NUMERIC, N_PERIODIC, 3)
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
    assert not np.array_equal(problem.grads[: layout.n_coef], grad0[: layout.n_coef])
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
    # A and b are larger than max_norm, and stay so
    A_b = p[_offsets(layout)[2] : _offsets(layout)[4]]
    assert np.abs(A_b).max() > 0.1


# ---------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------


def test_layout_places_A_and_b_after_ph_and_s_after_b():
    units = (9, 5, 4, 3)
    n_numeric, K, d = 2, 3, 2
    P, Q = n_numeric * K, n_numeric * d
    plain = ref.Layout(units, 4, "silu", "identity")
    layout = ref.Layout(units, 4, "silu", "identity", periodic=(np.int64(2), 3, np.int32(d)),
                        input_scale=True, parametric=True)
    assert layout.periodic == (n_numeric, K, d)
    assert all(type(v) is int for v in layout.periodic)
    assert layout.n_coef == plain.n_coef
    assert layout.periodic_off == plain.n_params
    assert layout.input_scale_off == layout.periodic_off + 2 * P + P * d + Q
    assert layout.parametric_off == layout.input_scale_off + units[0]
    assert layout.n_params == layout.parametric_off + 5 + 4
    params = np.arange(layout.n_params, dtype=float)
    net = _Net(layout)
    f, ph = net.periodic_views(params)
    A, b = net.periodic_linear_views(params)
    off = layout.periodic_off
    np.testing.assert_array_equal(f, np.arange(off, off + P).reshape(n_numeric, K))
    np.testing.assert_array_equal(ph, np.arange(off + P, off + 2 * P).reshape(n_numeric, K))
    # A row-major [k, q, j], then b row-major [k, j]
    start = off + 2 * P
    np.testing.assert_array_equal(A, np.arange(start, start + P * d).reshape(n_numeric, K, d))
    np.testing.assert_array_equal(b, np.arange(start + P * d, start + P * d + Q)
                                  .reshape(n_numeric, d))
    for view in (f, ph, A, b):
        assert np.shares_memory(view, params)
    A[1, 2, 0] = -1.0  # a view: writes go to the buffer
    assert params[start + (1 * K + 2) * d + 0] == -1.0
    np.testing.assert_array_equal(net.scale_view(params),
                                  np.arange(layout.input_scale_off, layout.parametric_off))
    # the solver's parts: the whole block at periodic_lr, then s, then the alphas
    assert [part[:2] for part in net.tail_parts()] == [
        (off, layout.input_scale_off), (layout.input_scale_off, layout.parametric_off),
        (layout.parametric_off, layout.n_params)]
    # n_out = 0: empty A and b
    A0, b0 = _Net(ref.Layout(units, 4, "silu", "identity", periodic=(2, 3))
                  ).periodic_linear_views(params)
    assert A0.shape == (n_numeric, K, 0) and b0.shape == (n_numeric, 0)


def test_the_output_columns_only_need_to_fit():
    # n_numeric + Q == units[0], though n_numeric + P would not fit
    layout = ref.Layout((4, 3), 4, "tanh", "identity", periodic=(2, 3, 1))
    assert layout.n_params == 4 * 3 + 3 + 2 * 6 + 6 + 2
    with pytest.raises(ValueError, match="units\\[0\\]"):
        ref.Layout((4, 3), 4, "tanh", "identity", periodic=(2, 3, 0))
    layout, X, Y, sw, params = _build((4, 3), (2, 3, 1))
    assert np.isfinite(ref.Problem(layout, X, Y, sw, params).loss_grad(
        alpha=0.0, n_threads=1))


@pytest.mark.parametrize("periodic, kwargs, match", [
    ((2, 3, -1), {}, ">= 0"),
    ((-2, 3, 1), {}, ">= 0"),
    ((2, 3, 1.0), {}, "pair of ints"),
    ((2, 3, 1, 0), {}, "pair of ints"),
    ((2, 3, None), {}, "pair of ints"),
    ((0, 3, 2), {}, "needs periodic columns"),
    ((2, 0, 1), {}, "needs periodic columns"),
    ((0, 0, 1), {}, "needs periodic columns"),
    ((2, 3, 4), {}, "units\\[0\\]"),  # 2 + 8 > 9
    ((5, 1, 1), {}, "units\\[0\\]"),  # 5 + 5 > 9
    ((2, 3, 3), {"input_dropout": 0.2}, "periodic and input_dropout"),
])
def test_layout_refuses(periodic, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ref.Layout((9, 5, 3), 4, "tanh", "identity", periodic=periodic, **kwargs)


def test_net_refuses_a_bad_triple_from_any_layout():
    # _Net reads the engine's Layout by duck typing: it checks the triple too
    layout = ref.Layout((9, 5, 3), 4, "tanh", "identity", periodic=(2, 3, 1))
    for bad, match in [((0, 3, 1), "needs periodic columns"), ((2, 3, 4), "units\\[0\\]")]:
        layout.periodic = bad
        with pytest.raises(ValueError, match=match):
            _Net(layout)
    layout.periodic = (2, 3, 2)  # fits, but n_params was counted for d = 1
    with pytest.raises(ValueError, match="n_params"):
        _Net(layout)


def test_the_widest_triple_fits_and_zero_triples_change_nothing():
    plain = ref.Layout((9, 3), 4, "tanh", "identity")
    widest = ref.Layout((9, 3), 4, "tanh", "identity", periodic=(1, 2, 8))
    assert widest.n_params == plain.n_params + 2 * 2 + 2 * 8 + 8
    for periodic in [(0, 0, 0), (3, 0, 0), (0, 5, 0)]:
        empty = ref.Layout((9, 3), 4, "tanh", "identity", periodic=periodic)
        assert empty.n_params == plain.n_params == empty.periodic_off


def test_pbld_needs_dense_X_and_no_input_dropout():
    layout, X, Y, sw, params = _build((9, 5, 3), (2, 3, 1))
    with pytest.raises(ValueError, match="dense X"):
        ref.Problem(layout, sp.csr_matrix(X), Y, sw, params)
    with pytest.raises(ValueError, match="dense X"):
        ref.raw_loss_grad(layout, params, sp.csr_matrix(X), Y)
    with pytest.raises(ValueError, match="input dropout"):
        ref.raw_loss_grad(layout, params, X, Y, masks=[np.ones_like(X), None])
