"""The engine's categorical embeddings (_input_layer.pyx): one learned table
per categorical column, read at the code X holds, against their oracles:
the same network run on the looked-up input by hand, finite differences of
the engine's own loss, the one-hot network it equals, and the entry checks
of the codes.  The NumPy reference's epochs: tests/test_reference_embedding.py."""
import numpy as np
import pytest
import scipy.sparse as sp

from fastmlp import _engine
from _engine_helpers import (adam_epochs_per_thread_count, central_gradient,
                             check_sgd_epoch_steps_by_the_gradient, dense_tanh_forward,
                             engine_optimizer)

DTYPES = [np.float32, np.float64]


def _problem(dtype, cards=(3, 5), d=2, periodic=None, hidden=(5,), n=40, out="identity",
             seed=0, weighted=False, batch_size=None, scale=False, embedding_lr=1.0):
    """A layout with 2 plain columns, the embeddings' block, then the
    periodic layer's output; X with valid codes and junk placeholders."""
    rng = np.random.RandomState(seed)
    n_num, K, pd_ = (tuple(periodic or (0, 0)) + (0,))[:3]
    n_plain = max(n_num, 2)
    Q = n_num * (pd_ or K)
    p = n_plain + len(cards) * d + Q
    units = (p, *hidden, 3 if out == "softmax" else 1)
    layout = _engine.Layout(units, batch_size or n, "tanh", out, periodic=periodic,
                            input_scale=scale, embedding=(cards, d),
                            embedding_lr=embedding_lr)
    X = np.full((n, p), 77.0, dtype=dtype)   # placeholders: must not matter
    X[:, :n_plain] = rng.normal(size=(n, n_plain))
    for c, card in enumerate(cards):
        X[:, layout.embedding_col + c * d] = rng.randint(card, size=n)
    if out == "softmax":
        Y = np.eye(3, dtype=dtype)[rng.randint(3, size=n)]
    else:
        Y = rng.normal(size=(n, 1)).astype(dtype)
    sw = rng.uniform(0.5, 2, n).astype(dtype) if weighted else None
    params = rng.normal(scale=0.5, size=layout.n_params).astype(dtype)
    return layout, X, Y, sw, params


def _tables(layout, params):
    cards, d = layout.embedding
    E = params[layout.embedding_off:layout.embedding_off + layout.embedding_size]
    rows = np.cumsum((0,) + cards)
    return [E[a * d:b * d].reshape(b - a, d) for a, b in zip(rows[:-1], rows[1:])]


def _looked_up(layout, X, params):
    """Xe by hand: each code replaced by its table row (no periodic layer)."""
    cards, d = layout.embedding
    Xe = X.astype(np.float64).copy()
    for c, E in enumerate(_tables(layout, params.astype(np.float64))):
        col = layout.embedding_col + c * d
        Xe[:, col:col + d] = E[X[:, col].astype(int)]
    if layout.input_scale:
        Xe *= params[layout.input_scale_off:layout.input_scale_off + X.shape[1]]
    return Xe


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 700])
@pytest.mark.parametrize("cards, d, scale", [((3, 5), 2, False), ((1,), 1, False),
                                             ((4, 9, 2), 3, True)])
def test_forward_is_the_network_on_the_looked_up_input(dtype, n, cards, d, scale):
    layout, X, _, _, params = _problem(dtype, cards=cards, d=d, n=n, out="softmax",
                                       scale=scale)
    got = _engine.Problem(layout, X, None, None, params).forward(n_threads=2)
    want = dense_tanh_forward(layout, _looked_up(layout, X, params), params)
    np.testing.assert_allclose(got, want, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-6 if dtype == np.float32 else 1e-13)


def test_an_embedding_is_a_one_hot_network():
    # the table's rows times nothing else: the first layer's weights on a
    # one-hot column per category, W1_onehot = E @ W1_block
    cards, d, n = (4,), 2, 50
    layout, X, _, _, params = _problem(np.float64, cards=cards, d=d, n=n, hidden=(6,))
    (E,) = _tables(layout, params)
    coefs, ints = layout.coef_views(params)
    col = layout.embedding_col
    onehot = np.eye(cards[0])[X[:, col].astype(int)]
    Xo = np.hstack([X[:, :col], onehot])
    W0 = np.vstack([coefs[0][:col], E @ coefs[0][col:col + d]])
    plain = _engine.Layout((Xo.shape[1], 6, 1), n, "tanh", "identity")
    po = np.concatenate([W0.ravel(), coefs[1].ravel(), ints[0], ints[1]])
    want = _engine.Problem(plain, Xo, None, None, po).forward(n_threads=1)
    got = _engine.Problem(layout, X, None, None, params).forward(n_threads=1)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("out", ["identity", "softmax"])
@pytest.mark.parametrize("hidden", [(5,), (4, 3), ()])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cards, d, periodic, scale", [
    ((3, 5), 2, None, False), ((2,), 1, None, True), ((1, 4), 3, (2, 3), False),
    ((3,), 2, (2, 3, 2), True)])
def test_loss_grad_matches_finite_differences(out, hidden, weighted, cards, d, periodic,
                                              scale):
    layout, X, Y, sw, params = _problem(np.float64, cards=cards, d=d, periodic=periodic,
                                        hidden=hidden, out=out, weighted=weighted,
                                        batch_size=16, scale=scale)
    prob = _engine.Problem(layout, X, Y, sw, params)
    alpha = 0.01
    prob.loss_grad(alpha=alpha, n_threads=1)
    grad = prob.grads.copy()
    fd = central_gradient(lambda: prob.loss_grad(alpha=alpha, n_threads=1), params)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)
    # every table row some code reads is trained, the others get exactly 0
    cards_, d_ = layout.embedding
    gE = _tables(layout, grad)
    for c, G in enumerate(gE):
        seen = np.unique(X[:, layout.embedding_col + c * d_].astype(int))
        assert np.abs(G[seen]).min() > 0
        assert not np.delete(G, seen, axis=0).any()
    assert layout.embedding_size == sum(cards) * d
    assert layout.embedding_off == layout.periodic_off + layout.periodic_size


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_epoch_steps_the_tables_by_their_gradient(dtype):
    # one batch of all rows, plain SGD: params move by -lr * gradient
    layout, X, Y, _, params = _problem(dtype, n=30)
    check_sgd_epoch_steps_by_the_gradient(layout, X, Y, params)


def test_embedding_lr_scales_the_step_of_the_tables_only():
    deltas = {}
    for factor in (1.0, 7.0):
        layout, X, Y, _, params = _problem(np.float64, n=64, embedding_lr=factor)
        start = params.copy()
        prob = _engine.Problem(layout, X, Y, None, params)
        opt = engine_optimizer("adam", layout.n_params, np.float64, 0.01, beta_2=0.95,
                               weight_decay=0.1)
        prob.epoch(opt, np.arange(64), shuffled=False, batch_size=64, lr=0.01, alpha=1e-3,
                   clip_norm=0.0, n_threads=1)
        deltas[factor] = params - start
    a, b = layout.embedding_off, layout.embedding_off + layout.embedding_size
    np.testing.assert_allclose(deltas[7.0][:a], deltas[1.0][:a], rtol=1e-12)
    # Adam's first step is lr * sign-like: exactly 7 times, and decay-free
    moved = deltas[1.0][a:b] != 0
    assert moved.any()
    np.testing.assert_allclose(deltas[7.0][a:b], 7 * deltas[1.0][a:b], rtol=1e-9)
    np.testing.assert_array_equal(deltas[1.0][b:], deltas[7.0][b:])


@pytest.mark.parametrize("periodic", [None, (2, 4, 3)])
def test_epochs_do_not_depend_on_the_thread_count(periodic):
    one, two = adam_epochs_per_thread_count(
        lambda: _problem(np.float64, cards=(3, 7, 2), d=3, periodic=periodic, hidden=(16,),
                         n=300, batch_size=64), 300, 64)
    # each table's sums run over the rows in order whatever the split
    np.testing.assert_allclose(one, two, rtol=1e-10, atol=1e-12)


def test_layout_checks_the_embedding():
    units = (10, 4, 1)
    for bad in ((3,), ([], 2), ([3], 0), ([0, 2], 2), ([2.5], 2), ([3], 1.5), "ab", 3,
                ([3], 2, 1)):
        with pytest.raises(ValueError, match="pair"):
            _engine.Layout(units, 8, "relu", "identity", embedding=bad)
    with pytest.raises(ValueError, match="more than the input"):
        _engine.Layout(units, 8, "relu", "identity", embedding=([3] * 6, 2))  # 12 > 10
    with pytest.raises(ValueError, match="more than the input"):
        # 2 numeric + 6 cosines + 2 x 2 > 10
        _engine.Layout(units, 8, "relu", "identity", embedding=([3, 3], 2), periodic=(2, 3))
    with pytest.raises(ValueError, match="input_dropout"):
        _engine.Layout(units, 8, "relu", "identity", embedding=([3], 2), input_dropout=0.1)
    with pytest.raises(ValueError, match="embedding_lr"):
        _engine.Layout(units, 8, "relu", "identity", embedding=([3], 2), embedding_lr=0)
    lay = _engine.Layout(units, 8, "relu", "identity", embedding=([3, 5], 2),
                         periodic=(2, 2), input_scale=True)
    assert lay.embedding == ((3, 5), 2) and lay.embedding_size == 16
    assert lay.embedding_col == 10 - 4 - 4
    assert lay.embedding_off == lay.periodic_off + lay.periodic_size
    assert lay.input_scale_off == lay.embedding_off + 16
    plain = _engine.Layout(units, 8, "relu", "identity")
    none = _engine.Layout(units, 8, "relu", "identity", embedding=None)
    assert none.embedding == ((), 0)
    assert none.n_params == plain.n_params and none.work_size == plain.work_size


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [-1, 3, 2.5, np.nan, np.inf, -np.inf, 1e30, -0.5])
def test_bad_codes_are_refused_before_any_step(dtype, bad):
    layout, X, Y, _, params = _problem(dtype, cards=(3, 5), n=20)
    X[11, layout.embedding_col] = bad
    before = params.copy()
    prob = _engine.Problem(layout, X, Y, None, params)
    opt = engine_optimizer("adam", layout.n_params, dtype, 0.01)
    msg = r"X\[11, %d\] = .* not a code of embedding table 0: an integer in \[0, 3\)" % (
        layout.embedding_col)
    with pytest.raises(ValueError, match=msg):
        prob.epoch(opt, np.arange(20), shuffled=True, batch_size=8, lr=0.01, alpha=0.0,
                   clip_norm=0.0, n_threads=2)
    with pytest.raises(ValueError, match=msg):
        prob.loss_grad(alpha=0.0, n_threads=1)
    with pytest.raises(ValueError, match=msg):
        _engine.Problem(layout, X, None, None, params).forward(n_threads=1)
    np.testing.assert_array_equal(params, before)
    assert not opt.state1.any()
    # the second table's bound is its own
    X[11, layout.embedding_col] = 2
    X[3, layout.embedding_col + 2] = 5
    with pytest.raises(ValueError, match=r"X\[3, .* table 1: an integer in \[0, 5\)"):
        _engine.Problem(layout, X, None, None, params).forward(n_threads=1)
    X[3, layout.embedding_col + 2] = 4
    _engine.Problem(layout, X, None, None, params).forward(n_threads=1)


def test_sparse_x_is_refused():
    layout, X, Y, _, params = _problem(np.float64)
    prob = _engine.Problem(layout, sp.csr_matrix(X), Y, None, params)
    with pytest.raises(ValueError, match="dense X"):
        prob.loss_grad(alpha=0.0, n_threads=1)
    with pytest.raises(ValueError, match="dense X"):
        _engine.Problem(layout, sp.csr_matrix(X), None, None, params).forward()
