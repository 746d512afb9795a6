"""The reference's parametric hidden activations (``Layout(parametric=True)``), proved.

RealMLP's parametric activations give hidden layer l a vector alpha_l and
the output ``A_l = Z_l + alpha_l * (g(Z_l) - Z_l)`` (then dropout), g silu
or gelu.  The reference is the oracle the compiled engine's will be tested
against, so it is checked here against independent oracles, in float64:

- its gradient, every parameter (coefs, intercepts, alphas, and the input
  layer's in one case), against central finite differences of the loss,
  with random alphas, for one and two hidden layers, silu, gelu and both,
  regression and classification outputs, with and without sample weights;
- the same with dropout masks held fixed, which must enter both the
  pre-activation's and the alphas' gradients;
- alpha = 1 against the plain network, alpha = 0 against the forward
  written out by hand;
- the layout's refusals and where it puts the alphas;
- one plain SGD step of ``Problem.epoch`` against ``params - rate * grad``,
  the alphas at ``parametric_lr`` times the rate;
- and, last, the compiled engine's epochs, forward and loss_grad against
  the reference's.
"""
import numpy as np
import pytest

from fastmlp import _engine
from fastmlp import _reference as ref
from fastmlp._stochastic_optimizers import StochasticOptimizer

from _engine_helpers import central_gradient, plain_sgd

N_SAMPLES = 7
FD_STEP = 1e-6
FD_RTOL = 1e-6
FD_ATOL = 1e-9

# (units, activation, output, input layer kwargs): the gradient checks' networks.
# An identity output has one unit: for more, the squared error's gradient is
# n_outputs times its loss's (scikit-learn's convention, output_loss_delta).
NETS = [
    ((4, 5, 1), "silu", "identity", {}),
    ((4, 5, 3), "gelu", "softmax", {}),
    ((4, 5, 3, 1), ("silu", "gelu"), "identity", {}),
    ((4, 5, 4, 3), "silu", "softmax", {}),
    ((4, 5, 4, 3), "gelu", "softmax", {"periodic": (1, 2), "input_scale": True}),
]


def _net_id(net):
    units, act, out, kwargs = net
    act = act if isinstance(act, str) else "-".join(act)
    return "-".join([str(len(units) - 2), act, out] + sorted(kwargs))


def _build(units, activation, out, weighted=False, seed=0, **kwargs):
    """(layout, X, Y, sample_weight, params), parametric, with alphas in
    uniform(-0.5, 1.5) and every other parameter random."""
    rng = np.random.RandomState(seed)
    layout = ref.Layout(units, N_SAMPLES, activation, out, parametric=True, **kwargs)
    X = rng.normal(size=(N_SAMPLES, units[0]))
    if out == "softmax":
        Y = np.eye(units[-1])[rng.randint(units[-1], size=N_SAMPLES)]
    else:
        Y = rng.normal(size=(N_SAMPLES, units[-1]))
    sw = rng.uniform(0.2, 2.0, N_SAMPLES) if weighted else None
    params = rng.uniform(-1, 1, layout.n_params) * 0.7
    if layout.input_scale:
        params[layout.input_scale_off : layout.parametric_off] = rng.uniform(
            0.5, 1.5, units[0])
    params[layout.parametric_off :] = rng.uniform(-0.5, 1.5, sum(units[1:-1]))
    return layout, X, Y, sw, params


def _alphas(layout, params):
    """alpha_1, alpha_2, ...: views into params."""
    bounds = layout.parametric_off + np.cumsum([0] + list(layout.units[1:-1]))
    return [params[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _numerical_gradient(loss, params):
    """Central differences of ``loss()`` (which reads ``params``)."""
    return central_gradient(loss, params, FD_STEP)


# ---------------------------------------------------------------------------
# Gradient: central finite differences of the loss, every parameter
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("net", NETS, ids=_net_id)
def test_gradient_matches_finite_differences(net, weighted):
    units, activation, out, kwargs = net
    layout, X, Y, sw, params = _build(units, activation, out, weighted, **kwargs)
    # L2 on: it is for coefs only, so the alphas' gradient has none of it
    kw = dict(alpha=0.05, n_threads=1)
    problem = ref.Problem(layout, X, Y, sw, params)
    problem.loss_grad(**kw)
    analytic = problem.grads.copy()
    probe = ref.Problem(layout, X, Y, sw, params.copy(), with_grad=False)
    numeric = _numerical_gradient(lambda: probe.loss_grad(**kw), probe.params)
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL)
    # every alpha learns something
    assert np.abs(analytic[layout.parametric_off :]).min() > 1e-5


@pytest.mark.parametrize("net", NETS[2:4], ids=_net_id)
def test_gradient_with_fixed_dropout_masks_matches_finite_differences(net):
    units, activation, out, kwargs = net
    layout, X, Y, sw, params = _build(units, activation, out, weighted=True, **kwargs)
    rng = np.random.RandomState(1)
    # inverted-dropout masks on the input and every hidden layer; hidden
    # unit 0 of layer 1 dropped in every row
    masks = [np.where(rng.uniform(size=(N_SAMPLES, u)) < 0.7, 1 / 0.7, 0.0)
             for u in units[:-1]]
    masks[1][:, 0] = 0.0
    loss, analytic = ref.raw_loss_grad(layout, params, X, Y, sw, masks=masks)
    numeric = _numerical_gradient(
        lambda: ref.raw_loss_grad(layout, params, X, Y, sw, masks=masks,
                                  with_grad=False)[0], params)
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL)
    # the mask enters the alphas' gradient: a unit dropped everywhere gets none...
    grad_alpha_1 = _alphas(layout, analytic)[0]
    assert grad_alpha_1[0] == 0.0 and np.abs(grad_alpha_1[1:]).min() > 1e-5
    # ...and the delta under it, so its intercept gets none either
    assert layout.coef_views(analytic)[1][0][0] == 0.0
    # without the masks the gradient is another one
    assert not np.allclose(ref.raw_loss_grad(layout, params, X, Y, sw)[1], analytic)


# ---------------------------------------------------------------------------
# alpha = 1 is the plain network, alpha = 0 the identity of Z
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("net", NETS, ids=_net_id)
def test_alpha_one_is_the_plain_network(net):
    units, activation, out, kwargs = net
    layout, X, Y, sw, params = _build(units, activation, out, weighted=True, **kwargs)
    params[layout.parametric_off :] = 1.0
    plain = ref.Layout(units, N_SAMPLES, activation, out, **kwargs)
    plain_params = params[: layout.parametric_off].copy()
    assert plain.n_params == layout.parametric_off
    n = plain.n_params
    # Z + 1 * (g - Z) is g up to one rounding of Z's size: not bit equality
    tol = dict(rtol=1e-13, atol=1e-15)
    rng = np.random.RandomState(2)
    masks = [None] + [np.where(rng.uniform(size=(N_SAMPLES, u)) < 0.8, 1 / 0.8, 0.0)
                      for u in units[1:-1]]
    for m in (None, masks):
        loss_p, grad_p = ref.raw_loss_grad(layout, params, X, Y, sw, masks=m)
        loss_0, grad_0 = ref.raw_loss_grad(plain, plain_params, X, Y, sw, masks=m)
        assert loss_p == pytest.approx(loss_0, rel=tol["rtol"])
        np.testing.assert_allclose(grad_p[:n], grad_0, **tol)
    mine, theirs = (ref.Problem(layout, X, Y, sw, params),
                    ref.Problem(plain, X, Y, sw, plain_params))
    kw = dict(alpha=0.05, alpha1=0.01, n_threads=1)
    assert mine.loss_grad(**kw) == pytest.approx(theirs.loss_grad(**kw), rel=tol["rtol"])
    np.testing.assert_allclose(mine.grads[:n], theirs.grads, **tol)
    np.testing.assert_allclose(mine.forward(), theirs.forward(), **tol)


def _silu(z):
    return z / (1 + np.exp(-z))


def test_alpha_zero_is_the_identity_of_z():
    # layer 1 at alpha 0 (the identity of Z), layer 2 at random alphas
    units = (4, 5, 4, 3)
    layout, X, Y, sw, params = _build(units, "silu", "softmax")
    a1, a2 = _alphas(layout, params)
    a1[...] = 0.0
    (W0, W1, W2), (b0, b1, b2) = layout.coef_views(params)
    A1 = X @ W0 + b0
    Z2 = A1 @ W1 + b1
    A2 = Z2 + a2 * (_silu(Z2) - Z2)
    Z3 = A2 @ W2 + b2
    expected = np.exp(Z3) / np.exp(Z3).sum(axis=1, keepdims=True)
    got = ref.Problem(layout, X, Y, sw, params).forward()
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    # and the loss is the log-loss of that output
    loss = ref.raw_loss_grad(layout, params, X, Y, with_grad=False)[0]
    assert loss == pytest.approx(-np.log(expected[Y.astype(bool)]).sum(), rel=1e-13)


# ---------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("activation, bad", [
    ("relu", "relu"), ("tanh", "tanh"), (("silu", "relu"), "relu"),
    (("tanh", "gelu"), "tanh"), (("elu", "logistic"), "elu"),
])
def test_layout_refuses_other_activations(activation, bad):
    message = (f"parametric activations need 'silu' or 'gelu' hidden activations, "
               f"got '{bad}'.")
    with pytest.raises(ValueError) as info:
        ref.Layout((4, 5, 3, 2), 4, activation, "identity", parametric=True)
    assert str(info.value) == message
    # not parametric: any activation
    ref.Layout((4, 5, 3, 2), 4, activation, "identity", parametric=False)


@pytest.mark.parametrize("parametric_lr", [0, 0.0, -1.0, np.nan, np.inf])
def test_layout_refuses_bad_rate_factors(parametric_lr):
    with pytest.raises(ValueError, match="parametric_lr must be a finite float > 0"):
        ref.Layout((4, 5, 2), 4, "silu", "identity", parametric=True,
                   parametric_lr=parametric_lr)


@pytest.mark.parametrize("kwargs", [{}, {"periodic": (1, 2)}, {"input_scale": True},
                                    {"periodic": (1, 2), "input_scale": True}])
def test_layout_places_the_alphas_last(kwargs):
    units = (4, 5, 3, 2)
    plain = ref.Layout(units, 4, "gelu", "identity", **kwargs)
    layout = ref.Layout(units, 4, "gelu", "identity", parametric=True,
                        parametric_lr=np.float32(2.5), **kwargs)
    assert plain.parametric is False and plain.parametric_lr == 1.0
    assert plain.parametric_off == plain.n_params
    assert layout.parametric is True
    assert type(layout.parametric_lr) is float and layout.parametric_lr == 2.5
    assert type(layout.parametric_off) is int
    assert layout.parametric_off == plain.n_params
    assert layout.n_params == plain.n_params + 5 + 3
    # the parameters before the alphas are where they were
    for name in ("n_coef", "periodic_off", "input_scale_off"):
        assert getattr(layout, name) == getattr(plain, name), name
    if layout.input_scale:
        assert layout.parametric_off == layout.input_scale_off + units[0]
    params = np.arange(layout.n_params, dtype=float)
    for a, b in zip(sum(layout.coef_views(params), []),
                    sum(plain.coef_views(params[: plain.n_params]), [])):
        np.testing.assert_array_equal(a, b)
    # a Problem takes exactly that many
    X, Y = np.zeros((3, 4)), np.zeros((3, 2))
    ref.Problem(layout, X, Y, None, params)
    with pytest.raises(ValueError, match="the layout needs"):
        ref.Problem(layout, X, Y, None, params[: plain.n_params])


# ---------------------------------------------------------------------------
# Steps: plain SGD, the alphas at parametric_lr times the rate
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("max_norm", [0.0, 1e-3])
@pytest.mark.parametrize("kwargs", [{}, {"periodic": (1, 2), "periodic_lr": 3.0,
                                         "input_scale": True, "input_scale_lr": 0.5}])
def test_one_sgd_step_moves_the_alphas_at_their_rate(kwargs, max_norm):
    lr, parametric_lr = 0.1, 2.5
    units = (4, 5, 4, 3)
    layout, X, Y, sw, params = _build(units, ("silu", "gelu"), "softmax", weighted=True,
                                      parametric_lr=parametric_lr, max_norm=max_norm,
                                      **kwargs)
    before = params.copy()
    problem = ref.Problem(layout, X, Y, sw, params)
    loss = problem.loss_grad(alpha=0.05, n_threads=1)
    grad = problem.grads.copy()
    total = problem.epoch(plain_sgd(layout.n_params, lr), np.arange(N_SAMPLES), shuffled=False,
                          batch_size=N_SAMPLES, lr=lr, alpha=0.05, clip_norm=0.0,
                          n_threads=1)
    assert total == pytest.approx(loss * N_SAMPLES, rel=1e-15)
    off = layout.parametric_off
    np.testing.assert_array_equal(params[off:],
                                  before[off:] - (lr * parametric_lr) * grad[off:])
    if kwargs:  # the input layer's parameters at their own rates
        p, s = layout.periodic_off, layout.input_scale_off
        np.testing.assert_array_equal(params[p:s], before[p:s] - (lr * 3.0) * grad[p:s])
        np.testing.assert_array_equal(params[s:off],
                                      before[s:off] - (lr * 0.5) * grad[s:off])
    start, stop = 0, layout.periodic_off
    if max_norm:  # max_norm rescales the coefs only
        assert np.abs(params[: layout.n_coef]).max() <= max_norm * (1 + 1e-12)
        start = layout.n_coef
    np.testing.assert_array_equal(params[start:stop], before[start:stop]
                                  - lr * grad[start:stop])


# ---------------------------------------------------------------------------
# The compiled engine against the reference
# ---------------------------------------------------------------------------

# rtol of the loss sums and of the arrays (atol: rtol times the largest
# magnitude), as tests/test_reference_problem.py's TOL
TOL = {np.float64: {"loss": 1e-10, "arrays": 1e-10},
       np.float32: {"loss": 5e-6, "arrays": 3e-5}}
SEEDS = (12345, 2**64 - 3)
TUNING = {"serial": ({}, 1),
          "rows": (dict(par_min_flops=0, rows_pass=True, rows_pass_min_rows=2,
                        rows_pass_step=True), 2)}


def _close(actual, expected, rtol, what):
    expected = np.asarray(expected)
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale,
                               err_msg=what)


@pytest.mark.parametrize("kwargs", [{}, {"periodic": (1, 2), "input_scale": True}])
def test_engine_layout_agrees(kwargs):
    args = ((4, 5, 3, 2), 4, ("gelu", "silu"), "identity")
    for parametric in (False, True):
        kw = dict(kwargs, parametric=parametric, parametric_lr=2.0)
        engine, mine = _engine.Layout(*args, **kw), ref.Layout(*args, **kw)
        for name in ("parametric", "parametric_lr", "parametric_off", "n_params"):
            assert getattr(engine, name) == getattr(mine, name), name
            assert type(getattr(engine, name)) is type(getattr(mine, name)), name
    for mod in (_engine, ref):
        with pytest.raises(ValueError, match="got 'tanh'"):
            mod.Layout(*args[:2], ("silu", "tanh"), "identity", parametric=True)


@pytest.mark.parametrize("path", list(TUNING))
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_engine_matches_the_reference(dtype, solver, path):
    rng = np.random.RandomState(0)
    units, batch_size, n_samples = (5, 6, 4, 2), 5, 23
    layout = _engine.Layout(units, batch_size, ("silu", "silu"), "identity",
                            parametric=True, parametric_lr=2.0, dropout=(0.2, 0.1))
    assert layout.parametric_off + 6 + 4 == layout.n_params
    X = rng.normal(size=(n_samples, units[0])).astype(dtype)
    Y = rng.normal(size=(n_samples, units[-1]))
    sw = rng.uniform(0.2, 2.0, n_samples).astype(dtype)
    params = rng.uniform(-1, 1, layout.n_params) * 0.5
    params[layout.parametric_off :] = rng.uniform(0.5, 1.5, 6 + 4)
    params = params.astype(dtype)

    lr = {"sgd": 0.1, "adam": 0.02}[solver]
    opt = StochasticOptimizer(solver, layout.n_params, dtype, lr)
    opt.set_hyperparameters(momentum=0.9, nesterov=False, beta_1=0.9, beta_2=0.99,
                            epsilon=1e-8, rho=0.9, weight_decay=0.0, alpha1=0.0,
                            clip_value=0.0)
    # a state mid-training, not zeros
    opt.state1[:] = rng.normal(scale=1e-2, size=layout.n_params)
    if solver == "adam":
        opt.state2[:] = rng.uniform(0, 1e-4, layout.n_params)
        opt.t = 3
    opt_ref = ref.OptimizerState.copy_of(opt)
    tuning, n_threads = TUNING[path]
    rtol_loss, rtol = TOL[dtype]["loss"], TOL[dtype]["arrays"]

    p_engine, p_ref = params.copy(), params.copy()
    engine = _engine.Problem(layout, X, Y, sw, p_engine, tuning=tuning)
    mine = ref.Problem(layout, X, Y, sw, p_ref)
    orders = [(np.arange(n_samples), False), (rng.permutation(n_samples), True)]
    for epoch, ((order, shuffled), seed) in enumerate(zip(orders, SEEDS)):
        kw = dict(shuffled=shuffled, seed=seed, batch_size=batch_size, lr=lr, alpha=0.01,
                  clip_norm=0.0, n_threads=n_threads)
        loss_engine = engine.epoch(opt, order, **kw)
        loss_ref = mine.epoch(opt_ref, order, **kw)
        assert np.isfinite(loss_ref)
        assert loss_engine == pytest.approx(loss_ref, rel=rtol_loss, abs=0), epoch
        _close(p_engine, p_ref, rtol, f"params after epoch {epoch}")
        _close(opt.state1, opt_ref.state1, rtol, f"state1 after epoch {epoch}")
        _close(opt.state2, opt_ref.state2, rtol, f"state2 after epoch {epoch}")
        assert opt.t == opt_ref.t
    off = layout.parametric_off
    assert not np.allclose(p_ref[off:], params[off:])  # the alphas did train

    loss_engine = engine.loss_grad(alpha=0.01, n_threads=1)
    loss_ref = mine.loss_grad(alpha=0.01, n_threads=1)
    assert loss_engine == pytest.approx(loss_ref, rel=rtol_loss, abs=0)
    _close(engine.grads, mine.grads, rtol, "loss_grad's gradient")
    _close(engine.forward(n_threads=1), mine.forward(n_threads=1), rtol, "forward")
