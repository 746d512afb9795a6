"""The engine's input layer (_input_layer.pyx, _vtrig.h): periodic columns,
alone or mixed per numeric column by a linear layer (PBLD), and a diagonal
scale, against their oracles: NumPy's sin and cos, the same
network run on the embedded input by hand, finite differences of the
engine's own loss, and the NumPy reference's epochs."""
import numpy as np
import pytest

from fastmlp import _engine, _input_layer as _periodic
from _engine_helpers import (adam_epochs_engine_and_reference, adam_epochs_per_thread_count,
                             central_gradient, check_sgd_epoch_steps_by_the_gradient,
                             dense_tanh_forward, full_batch_step)

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_sincos_matches_numpy(dtype):
    rng = np.random.RandomState(0)
    x = np.concatenate([
        np.linspace(-10, 10, 20001), rng.uniform(-1e3, 1e3, 20000),
        rng.uniform(-1e5, 1e5, 2000) if dtype == np.float32 else rng.uniform(-1e6, 1e6, 2000),
        [0.0, -0.0, np.pi / 4, np.pi / 2, np.pi, 1e-30, -1e-30],
    ]).astype(dtype)
    s, c = _periodic.sincos(x)
    assert s.dtype == c.dtype == dtype
    x64 = x.astype(np.float64)
    eps = np.finfo(dtype).eps
    # absolute error (the values are in [-1, 1]): a few ulp of 1, a little
    # more far out, where the reduction's |n| grows
    far = np.abs(x64) > 2e3
    for got, want in ((s, np.sin(x64)), (c, np.cos(x64))):
        err = np.abs(got.astype(np.float64) - want)
        assert err[~far].max() < 4 * eps, err[~far].max() / eps
        assert err[far].max() < 64 * eps, err[far].max() / eps
    np.testing.assert_array_equal(_periodic.sincos(np.array([np.inf, -np.inf, np.nan],
                                                            dtype=dtype))[0].tolist(),
                                  [np.nan] * 3)



@pytest.mark.parametrize("dtype", DTYPES)
def test_sincos_past_the_reduction_range_is_libms(dtype):
    # past |x| 2/pi ~ 2**22 (float) or 2**51 (double) the rounding trick lost
    # the quadrant and the values left [-1, 1] (cos(1e10f) was 2e20, cos(1e12f)
    # inf): those values are libm's, within an ulp of NumPy's
    big = [2e5, 1e7, 1e9, 1e10, 1e12, 1e20, 3e38] + ([1e18, 1e35, 1e300]
                                                     if dtype == np.float64 else [])
    x = np.array(big + [-v for v in big], dtype=dtype)
    s, c = _periodic.sincos(x)
    eps = np.finfo(dtype).eps
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(s, np.sin(x64), rtol=0, atol=2 * eps)
    np.testing.assert_allclose(c, np.cos(x64), rtol=0, atol=2 * eps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [0, 2])
def test_the_layer_past_the_reduction_range_is_libms(dtype, d):
    # the layer's own loops (forward, with the sines the backward reads) on
    # values as robust scaling without its clip passes an outlier: the
    # engine gave NaN or |cos| up to 1e23 there, and the fit diverged
    z = np.array([0.5, 2e5, 1e7, 1e10, -1e12, 1e20, 3e38], dtype=dtype)
    layout = _engine.Layout((1 + (d or 1), 1), z.shape[0], "identity", "identity",
                            periodic=(1, 1, d) if d else (1, 1))
    params = np.zeros(layout.n_params, dtype=dtype)
    params[layout.periodic_off] = 1.0            # f = 1, phase 0: theta = z exactly
    if d:
        params[layout.periodic_off + 2] = 1.0    # A[0, 0] = 1: column 1 is cos(z)
    params[1] = 1.0                              # the output reads column 1
    X = np.zeros((z.shape[0], layout.units[0]), dtype=dtype)
    X[:, 0] = z
    got = _engine.Problem(layout, X, None, None, params).forward(n_threads=1)[:, 0]
    np.testing.assert_allclose(got, np.cos(z.astype(np.float64)), rtol=0,
                               atol=2 * np.finfo(dtype).eps)


def _problem(dtype, periodic=(2, 3), hidden=(5,), n=40, out="identity", seed=0,
             weighted=False, batch_size=None, scale=False):
    rng = np.random.RandomState(seed)
    n_num, K, d = (tuple(periodic) + (0,))[:3]
    n_other = 2
    p = n_num + n_other + n_num * (d or K)
    units = (p, *hidden, 3 if out == "softmax" else 1)
    layout = _engine.Layout(units, batch_size or n, "tanh", out, periodic=periodic,
                            input_scale=scale)
    X = np.zeros((n, p), dtype=dtype)
    X[:, :n_num + n_other] = rng.normal(size=(n, n_num + n_other))
    X[:, n_num + n_other:] = 123.0   # overwritten by the layer: must not matter
    if out == "softmax":
        Y = np.eye(3, dtype=dtype)[rng.randint(3, size=n)]
    else:
        Y = rng.normal(size=(n, 1)).astype(dtype)
    sw = rng.uniform(0.5, 2, n).astype(dtype) if weighted else None
    params = rng.normal(scale=0.5, size=layout.n_params).astype(dtype)
    return layout, X, Y, sw, params


def _embed(layout, X, params):
    n_num, K, d = layout.periodic
    P = n_num * K
    per = params[layout.periodic_off:].astype(np.float64)
    f, ph = per[:P].reshape(n_num, K), per[P:2 * P].reshape(n_num, K)
    A = per[2 * P:2 * P + P * d].reshape(n_num, K, d)
    b = per[2 * P + P * d:2 * P + P * d + n_num * d].reshape(n_num, d)
    Xe = X.astype(np.float64).copy()
    tail = X.shape[1] - n_num * (d or K)
    for k in range(n_num):
        for q in range(K):
            c = np.cos(f[k, q] * X[:, k] + ph[k, q])
            if d == 0:
                Xe[:, tail + k * K + q] = c
        for j in range(d):
            Xe[:, tail + k * d + j] = b[k, j] + sum(
                np.cos(f[k, q] * X[:, k] + ph[k, q]) * A[k, q, j] for q in range(K))
    if layout.input_scale:
        off = layout.input_scale_off
        Xe *= params[off:off + X.shape[1]]
    return Xe


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 700])
@pytest.mark.parametrize("periodic, scale", [((2, 3), False), ((2, 3), True), ((0, 0), True),
                                             ((2, 3, 2), False), ((2, 20, 3), True),
                                             ((40, 7), False)])   # 280 cosines a row
def test_forward_is_the_network_on_the_embedded_input(dtype, n, periodic, scale):
    layout, X, _, _, params = _problem(dtype, n=n, out="softmax", periodic=periodic,
                                       scale=scale)
    prob = _engine.Problem(layout, X, None, None, params)
    got = prob.forward(n_threads=2)
    want = dense_tanh_forward(layout, _embed(layout, X, params), params)
    np.testing.assert_allclose(got, want, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-6 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("out", ["identity", "softmax"])
@pytest.mark.parametrize("hidden", [(5,), (4, 3), ()])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("periodic, scale", [((2, 3), False), ((2, 3), True), ((0, 0), True),
                                             ((2, 3, 1), False), ((2, 3, 2), True),
                                             ((1, 18, 2), False)])
def test_loss_grad_matches_finite_differences(out, hidden, weighted, periodic, scale):
    layout, X, Y, sw, params = _problem(np.float64, hidden=hidden, out=out,
                                        weighted=weighted, batch_size=16,
                                        periodic=periodic, scale=scale)
    prob = _engine.Problem(layout, X, Y, sw, params)
    alpha = 0.01
    prob.loss_grad(alpha=alpha, n_threads=1)
    grad = prob.grads.copy()
    fd = central_gradient(lambda: prob.loss_grad(alpha=alpha, n_threads=1), params)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)
    n_num, K, d = layout.periodic
    P = n_num * K
    assert np.abs(grad[layout.periodic_off:]).min() > 0   # every f, ph, A, b and s is trained
    assert layout.periodic_size == 2 * P + (P + n_num) * d
    assert layout.n_params == (layout.periodic_off + layout.periodic_size
                               + (X.shape[1] if scale else 0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("periodic", [(2, 3), (2, 3, 2)])
def test_sgd_epoch_steps_f_and_ph_by_their_gradient(dtype, periodic):
    # one batch of all rows, plain SGD: params move by -lr * gradient, the
    # gradient that loss_grad (checked by finite differences) gives
    layout, X, Y, _, params = _problem(dtype, n=30, periodic=periodic)
    check_sgd_epoch_steps_by_the_gradient(layout, X, Y, params)


@pytest.mark.parametrize("periodic", [(3, 4), (3, 4, 3)])
def test_epochs_do_not_depend_on_the_thread_count(periodic):
    one, two = adam_epochs_per_thread_count(
        lambda: _problem(np.float64, periodic=periodic, hidden=(16,), n=300, batch_size=64),
        300, 64)
    # the f and ph sums run over the rows in order whatever the split; the
    # layers' GEMMs split by thread round differently, so: equal to rounding
    np.testing.assert_allclose(one, two, rtol=1e-10, atol=1e-12)


def test_layout_checks_the_periodic_pair():
    units = (10, 4, 1)
    for bad in ((2,), (2, 3, 1, 1), (2, 1.5), "ab", 3):
        with pytest.raises(ValueError, match="pair"):
            _engine.Layout(units, 8, "relu", "identity", periodic=bad)
    with pytest.raises(ValueError, match=">= 0"):
        _engine.Layout(units, 8, "relu", "identity", periodic=(-1, 2))
    with pytest.raises(ValueError, match=">= 0"):
        _engine.Layout(units, 8, "relu", "identity", periodic=(2, 2, -1))
    with pytest.raises(ValueError, match="more than the input"):
        _engine.Layout(units, 8, "relu", "identity", periodic=(3, 3))  # 3 + 9 > 10
    with pytest.raises(ValueError, match="more than the input"):
        _engine.Layout(units, 8, "relu", "identity", periodic=(3, 20, 3))  # 3 + 9 > 10
    with pytest.raises(ValueError, match="there are none"):
        _engine.Layout(units, 8, "relu", "identity", periodic=(0, 4, 2))
    # the linear layer's output is narrower than its cosines: 2 + 2 * 3 <= 10
    lay = _engine.Layout(units, 8, "relu", "identity", periodic=(2, 16, 3))
    assert lay.periodic == (2, 16, 3) and lay.periodic_size == 2 * 32 + 32 * 3 + 2 * 3
    assert _engine.Layout(units, 8, "relu", "identity", periodic=(2, 3)).periodic == (2, 3, 0)
    with pytest.raises(ValueError, match="input_dropout"):
        _engine.Layout(units, 8, "relu", "identity", periodic=(2, 3), input_dropout=0.1)
    plain = _engine.Layout(units, 8, "relu", "identity")
    for none in (None, (0, 5), (3, 0)):
        lay = _engine.Layout(units, 8, "relu", "identity", periodic=none)
        assert lay.n_params == plain.n_params and lay.work_size == plain.work_size


def test_sparse_x_is_refused():
    import scipy.sparse as sp

    layout, X, Y, _, params = _problem(np.float64)
    prob = _engine.Problem(layout, sp.csr_matrix(X), Y, None, params)
    with pytest.raises(ValueError, match="dense X"):
        prob.loss_grad(alpha=0.0, n_threads=1)
    with pytest.raises(ValueError, match="dense X"):
        _engine.Problem(layout, sp.csr_matrix(X), None, None, params).forward()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("scale", [False, True])
# (40, 7): 280 cosines a row, more than the forward computes in one loop
# (FASTMLP_PERIODIC_ROW_CHUNK, 256), the split inside a column's frequencies
@pytest.mark.parametrize("periodic", [(2, 4), (2, 4, 3), (40, 7)])
def test_epochs_match_the_numpy_reference(dtype, weighted, scale, periodic):
    # Adam over shuffled minibatches with hidden dropout and clipping by
    # norm (0.1: below these batches' gradient norms, 0.2-0.5, so it clips):
    # the engine against _reference_problem, step for step
    rng = np.random.RandomState(5)
    n = 90
    n_num = periodic[0]
    p = n_num + 3 + n_num * (periodic[2] if len(periodic) == 3 else periodic[1])
    X = rng.normal(size=(n, p)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.randint(3, size=n)]
    sw = rng.uniform(0.5, 2, n).astype(dtype) if weighted else None
    (_, p_engine, l_engine, _), (_, p_ref, l_ref, _) = adam_epochs_engine_and_reference(
        (p, 7, 5, 3), X, Y, sw, clip_norm=0.1, periodic=periodic, input_scale=scale,
        periodic_lr=3.0, input_scale_lr=6.0)
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(p_engine, p_ref, **tol)
    np.testing.assert_allclose(l_engine, l_ref, **tol)


@pytest.mark.parametrize("solver", ["sgd", "adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("periodic", [(2, 3), (2, 3, 2)])
def test_periodic_lr_scales_the_step_of_f_and_ph_only(solver, periodic):
    # the engine and the reference agree with a factor; and against the
    # same epochs at factor 1, only f and ph (A and b) moved differently
    from fastmlp import _reference_problem as refp

    rng = np.random.RandomState(2)
    n, p = 64, 2 + 1 + 2 * (periodic[2] if len(periodic) == 3 else periodic[1])
    X = rng.normal(size=(n, p))
    Y = rng.normal(size=(n, 1))
    out = {}
    for mod in (_engine, refp):
        for factor in (1.0, 7.0):
            layout = mod.Layout((p, 6, 1), n, "tanh", "identity", periodic=periodic,
                                periodic_lr=factor)
            out[mod.__name__, factor] = (full_batch_step(mod, layout, X, Y, solver, alpha=0.0),
                                         layout.periodic_off)
    (d1, off), (d7, _) = out["fastmlp._engine", 1.0], out["fastmlp._engine", 7.0]
    np.testing.assert_allclose(d7[:off], d1[:off], rtol=1e-12)  # one batch: same grads
    np.testing.assert_allclose(d7[off:], 7 * d1[off:], rtol=1e-9)
    for factor in (1.0, 7.0):
        np.testing.assert_allclose(out["fastmlp._engine", factor][0],
                                   out["fastmlp._reference_problem", factor][0],
                                   rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="periodic_lr"):
        _engine.Layout((p, 6, 1), 16, "tanh", "identity", periodic=periodic, periodic_lr=0)
