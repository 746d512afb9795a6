"""Categorical embeddings (``Layout(embedding=(cards, d))``): the reference,
proved, and the engine against it.

Categorical column c has a table ``E_c`` of shape (cards[c], d) and owns X's
columns ``c0 + c d + j`` (j < d), ``c0 = units[0] - Q - e d`` (Q the periodic
stage's output columns): X holds c's code in column ``c0 + c d``, the
block's other columns are placeholders, and the lookup writes ``Xe[i, c0 + c
d + j] = E_c[code[i, c], j]``.  The tables sit in the flat buffer between
the periodic stage's parameters and the input scale: ``coefs | intercepts |
f | ph | A | b | E | s | alphas``.

The reference (``fastmlp._reference_problem``) is checked in float64
against oracles that do not share its code:

- its raw gradient, every parameter (coefs, intercepts, f, ph, A, b, E, s,
  alphas), against central finite differences of its own raw loss, with
  the embeddings alone and beside the periodic stage (pair and triple),
  with the input scale, parametric activations and fixed dropout masks,
  for 0, 1 and 2 hidden layers, identity and softmax outputs, with and
  without sample weights, cards 1, 2 and 5 and d 1 and 3;
- its forward against a tiny network computed by hand (lookup, then
  dense), and against the network without embeddings on the looked-up X;
- one plain SGD step against ``params - lr * factor * grad``, and L2 and
  max_norm, which are for coefs only;
- the flat buffer's layout and the layout's refusals.

Then the compiled engine (``fastmlp._engine``) against the reference: the
raw loss and gradient of one batch and the forward, Adam epochs with
dropout, sample weights, clipping and the input scale in both dtypes, one
step of each of sgd, adam, adamw and rmsprop at ``embedding_lr`` 1 and 7;
and both refuse the same bad codes, sparse X and malformed ``embedding``.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastmlp import _engine
from fastmlp import _reference as ref
from fastmlp._reference_problem import _Net
from fastmlp._stochastic_optimizers import StochasticOptimizer

from _engine_helpers import (adam_epochs_engine_and_reference, central_gradient,
                             full_batch_step, plain_sgd)

# (cards, d): one table of 5 rows and d = 1; three tables of 2, 1 and 5 rows
# and d = 3
EMBEDDINGS = [((5,), 1), ((2, 1, 5), 3)]
# the periodic stage beside them: none, cosines only (pair), PBLD (triple)
STAGES = {"alone": None, "pair": (2, 2), "triple": (2, 3, 2)}
HIDDEN = [(5, 4), (5,), ()]
N_PLAIN = 1  # X's columns between the numeric ones and the embedding block
N_SAMPLES = 9
FD_STEP = 1e-6
FD_RTOL = 1e-5
FD_ATOL = 1e-8
DTYPES = [np.float64, np.float32]
# engine against reference, per dtype: rtol of losses and of arrays (which
# also get an atol of rtol times their largest magnitude), test_reference_problem.py's.
# Measured worst here (relative to the largest magnitude), loss_grad and
# forward: float64 1.1e-15, float32 8.5e-7; after 3 Adam epochs: float64
# 2.7e-16, float32 2.6e-7.
TOL = {np.float64: {"loss": 1e-11, "arrays": 1e-11},
       np.float32: {"loss": 5e-6, "arrays": 3e-5}}


def _stage_columns(periodic):
    """(n_numeric, Q): the periodic stage's numeric and output columns."""
    if periodic is None:
        return 0, 0
    n_numeric, n_periodic, n_out = (tuple(periodic) + (0,))[:3]
    return n_numeric, n_numeric * (n_out or n_periodic)


def _n_inputs(embedding, periodic):
    cards, d = embedding
    n_numeric, Q = _stage_columns(periodic)
    return n_numeric + N_PLAIN + len(cards) * d + Q


def _col0(embedding, periodic):
    """c0, the first column of the embedding block (from the contract)."""
    cards, d = embedding
    return _n_inputs(embedding, periodic) - _stage_columns(periodic)[1] - len(cards) * d


def _codes(rng, cards, n, spare_last_row=False):
    """(n, e) codes; with ``spare_last_row`` no code picks a table's last
    row (of tables of 3 rows or more), whose gradient must then be 0."""
    return np.stack([rng.randint(card - 1 if spare_last_row and card >= 3 else card,
                                 size=n) for card in cards], axis=1)


def _make_X(rng, embedding, periodic, codes, dtype=np.float64):
    """X with the codes in the block's first column per categorical column,
    placeholders elsewhere in the block and in the periodic output columns."""
    cards, d = embedding
    n = codes.shape[0]
    p, c0 = _n_inputs(embedding, periodic), _col0(embedding, periodic)
    X = rng.normal(size=(n, p))
    X[:, c0:] = 1e3  # placeholders: ignored, or overwritten by the stage
    X[:, c0 : c0 + len(cards) * d : d] = codes
    return X.astype(dtype)


def _targets(rng, out, n, n_out, dtype=np.float64):
    if out == "softmax":
        return np.eye(n_out, dtype=dtype)[rng.randint(n_out, size=n)]
    return rng.normal(size=(n, n_out)).astype(dtype)


def _build(hidden, out, embedding, periodic=None, activation="tanh", weighted=False,
           seed=0, n=N_SAMPLES, spare_last_row=False, module=ref, dtype=np.float64,
           **layout_kwargs):
    """(layout, X, Y, sample_weight, params, codes) of ``module``'s Layout."""
    rng = np.random.RandomState(seed)
    units = (_n_inputs(embedding, periodic), *hidden, 3 if out == "softmax" else 1)
    layout = module.Layout(units, n, activation, out, periodic=periodic,
                           embedding=embedding, **layout_kwargs)
    codes = _codes(rng, embedding[0], n, spare_last_row)
    X = _make_X(rng, embedding, periodic, codes, dtype)
    Y = _targets(rng, out, n, units[-1], dtype)
    sw = rng.uniform(0.2, 2.0, n).astype(dtype) if weighted else None
    params = rng.uniform(-1, 1, layout.n_params) * 0.7
    if periodic is not None:
        n_numeric, n_periodic = periodic[:2]
        P = n_numeric * n_periodic
        f = layout.periodic_off
        params[f : f + P] = rng.normal(scale=1.5, size=P)
        params[f + P : f + 2 * P] = rng.uniform(-np.pi, np.pi, P)
    params[layout.embedding_off : layout.embedding_off + layout.embedding_size] = \
        rng.normal(scale=0.8, size=layout.embedding_size)
    if layout.input_scale:
        params[layout.input_scale_off : layout.input_scale_off + units[0]] = \
            rng.uniform(0.5, 1.5, units[0])
    if layout.parametric:
        params[layout.parametric_off :] = rng.uniform(
            0.2, 1.2, layout.n_params - layout.parametric_off)
    return layout, X, Y, sw, params.astype(dtype), codes


def _tables(params, layout):
    """E_c of shape (cards[c], d), copies, read by the contract's offsets."""
    cards, d = layout.embedding
    bounds = layout.embedding_off + d * np.cumsum([0, *cards])
    return [params[a:b].reshape(card, d).copy()
            for a, b, card in zip(bounds[:-1], bounds[1:], cards)]


def _looked_up(X, params, layout, col0):
    """X with the block written by loops: ``Xe[i, c0 + c d + j] =
    E_c[code, j]``, the code read from X[i, c0 + c d]."""
    cards, d = layout.embedding
    E = _tables(params, layout)
    Xe = X.astype(np.float64).copy()
    for i in range(X.shape[0]):
        for c in range(len(cards)):
            code = int(X[i, col0 + c * d])
            for j in range(d):
                Xe[i, col0 + c * d + j] = E[c][code, j]
    return Xe


def _without_tables(layout, params):
    """params less the tables: the same network's without embeddings."""
    start, stop = layout.embedding_off, layout.embedding_off + layout.embedding_size
    return np.concatenate([params[:start], params[stop:]])


def _close(actual, expected, rtol, what=""):
    expected = np.asarray(expected, dtype=np.float64)
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=rtol,
                               atol=rtol * scale, err_msg=what)


# ---------------------------------------------------------------------------
# The reference's forward: by hand, and the plain network on the lookup
# ---------------------------------------------------------------------------


def test_a_tiny_network_by_hand():
    # one plain column, then two tables (3 and 2 rows, d = 2); no hidden layer
    layout = ref.Layout((5, 1), 4, "tanh", "identity", embedding=([3, 2], 2))
    assert layout.embedding == ((3, 2), 2)
    E0 = np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]])
    E1 = np.array([[1.0, 3.0], [-2.0, 0.5]])
    W = np.array([0.3, -0.2, 0.7, 1.1, -0.4])
    b = 0.1
    params = np.concatenate([W, [b], E0.ravel(), E1.ravel()])
    assert params.shape == (layout.n_params,)
    x = np.array([0.4, -1.2, 2.0, 0.9])
    code0 = np.array([2, 0, 2, 1])
    code1 = np.array([1, 1, 0, 1])
    X = np.c_[x, code0, np.full(4, 77.0), code1, np.full(4, -5.0)]
    y = np.array([1.0, -0.5, 0.3, 2.0])
    sw = np.array([1.0, 2.0, 0.5, 1.5])
    # forward: the lookup, then Z = Xe @ W + b
    Z = np.array([W[0] * x[i] + W[1] * E0[code0[i], 0] + W[2] * E0[code0[i], 1]
                  + W[3] * E1[code1[i], 0] + W[4] * E1[code1[i], 1] + b
                  for i in range(4)])
    np.testing.assert_allclose(ref.Problem(layout, X, None, None, params).forward()[:, 0],
                               Z, rtol=1e-15)
    # the squared error and its gradient: r = Z - y, weighted
    r = Z - y
    loss, grad = ref.raw_loss_grad(layout, params, X, y[:, None], sw)
    assert loss == pytest.approx(np.sum(sw * 0.5 * r * r), rel=1e-15)
    wr = sw * r
    np.testing.assert_allclose(grad[0], np.sum(wr * x), rtol=1e-14)
    assert grad[5] == pytest.approx(np.sum(wr), rel=1e-14)
    # E0[k, j] gets the rows whose code is k, times W at column 1 + j
    gE0 = np.zeros((3, 2))
    gE1 = np.zeros((2, 2))
    for i in range(4):
        gE0[code0[i]] += wr[i] * W[1:3]
        gE1[code1[i]] += wr[i] * W[3:5]
    np.testing.assert_allclose(grad[6:12].reshape(3, 2), gE0, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(grad[12:16].reshape(2, 2), gE1, rtol=1e-14, atol=1e-15)
    # and W_0's gradient reads the looked-up values, not the placeholders
    Xe = np.c_[x, E0[code0], E1[code1]]
    np.testing.assert_allclose(grad[:5], Xe.T @ wr, rtol=1e-14)


@pytest.mark.parametrize("input_scale", [False, True])
@pytest.mark.parametrize("stage", list(STAGES))
@pytest.mark.parametrize("embedding", EMBEDDINGS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_forward_is_the_network_without_tables_on_the_lookup(hidden, embedding, stage,
                                                             input_scale):
    periodic = STAGES[stage]
    layout, X, Y, sw, params, codes = _build(hidden, "softmax", embedding, periodic,
                                             "silu", input_scale=input_scale)
    col0 = _col0(embedding, periodic)
    Xe = _looked_up(X, params, layout, col0)
    # the columns before the block are X's own, and so are the periodic
    # stage's output columns before the stage writes them
    np.testing.assert_array_equal(Xe[:, :col0], X[:, :col0])
    np.testing.assert_array_equal(Xe[:, col0 + len(embedding[0]) * embedding[1]:],
                                  X[:, col0 + len(embedding[0]) * embedding[1]:])
    plain = ref.Layout(layout.units, N_SAMPLES, "silu", "softmax", periodic=periodic,
                       input_scale=input_scale)
    expected = ref.Problem(plain, Xe, None, None, _without_tables(layout, params)).forward()
    got = ref.Problem(layout, X, None, None, params).forward()
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    # the loss and the gradient of everything but the tables, too
    kw = dict(alpha=0.03, alpha1=0.0, n_threads=1)
    mine = ref.Problem(layout, X, Y, sw, params)
    other = ref.Problem(plain, Xe, Y, sw, _without_tables(layout, params))
    assert mine.loss_grad(**kw) == pytest.approx(other.loss_grad(**kw), rel=1e-13)
    np.testing.assert_allclose(_without_tables(layout, mine.grads), other.grads,
                               rtol=1e-12, atol=1e-15)
    # whatever the block holds beside the codes is ignored
    X2 = X.copy()
    cards, d = embedding
    for c in range(len(cards)):
        X2[:, col0 + c * d + 1 : col0 + (c + 1) * d] = -7.0
    np.testing.assert_array_equal(ref.Problem(layout, X2, None, None, params).forward(),
                                  got)


# ---------------------------------------------------------------------------
# The reference's gradient: central finite differences, every parameter
# ---------------------------------------------------------------------------


VARIANTS = {
    "tanh": ("tanh", {}),
    "scale": ("tanh", {"input_scale": True}),
    "parametric-silu-scale": ("silu", {"parametric": True, "input_scale": True}),
}


def _check_finite_differences(layout, X, Y, sw, params, codes, masks=None):
    loss, analytic = ref.raw_loss_grad(layout, params, X, Y, sw, masks=masks)
    p = params.copy()
    numeric = central_gradient(
        lambda: ref.raw_loss_grad(layout, p, X, Y, sw, masks=masks, with_grad=False)[0],
        p, FD_STEP)
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL)
    # every table row a code picks learns; the others get exactly 0
    for c, grad_E in enumerate(_tables(analytic, layout)):
        seen = np.isin(np.arange(grad_E.shape[0]), codes[:, c])
        assert (np.abs(grad_E[seen]).max(axis=1) > 1e-6).all(), c
        np.testing.assert_array_equal(grad_E[~seen], 0.0)
    return analytic


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("out", ["softmax", "identity"])
@pytest.mark.parametrize("stage", list(STAGES))
@pytest.mark.parametrize("embedding", EMBEDDINGS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradient_matches_finite_differences(hidden, embedding, stage, out, weighted,
                                             variant):
    activation, kwargs = VARIANTS[variant]
    layout, X, Y, sw, params, codes = _build(hidden, out, embedding, STAGES[stage],
                                             activation, weighted, spare_last_row=True,
                                             **kwargs)
    analytic = _check_finite_differences(layout, X, Y, sw, params, codes)
    if embedding[0] == (2, 1, 5):
        # the one-row table learns in full; the last row of the 5-row
        # table, which no code picks, not at all
        assert (np.abs(_tables(analytic, layout)[1]) > 0).all()
        assert not _tables(analytic, layout)[2][-1].any()


@pytest.mark.parametrize("stage", list(STAGES))
@pytest.mark.parametrize("embedding", [((1, 2), 3), ((5, 2), 1)])
def test_gradient_with_fixed_dropout_masks_matches_finite_differences(embedding, stage):
    layout, X, Y, sw, params, codes = _build((5, 4), "softmax", embedding, STAGES[stage],
                                             "silu", weighted=True, input_scale=True,
                                             dropout=(0.3, 0.2))
    rng = np.random.RandomState(3)
    masks = [None] + [np.where(rng.uniform(size=(N_SAMPLES, u)) < 0.7, 1 / 0.7, 0.0)
                      for u in (5, 4)]
    _check_finite_differences(layout, X, Y, sw, params, codes, masks)


def test_problem_loss_grad_is_the_raw_gradient_finished():
    # loss_grad = (raw + alpha W) / sum(sw) over the coefs, raw / sum(sw) after
    layout, X, Y, sw, params, _ = _build((5,), "softmax", EMBEDDINGS[1], (2, 3, 2),
                                         weighted=True, input_scale=True)
    loss_sum, raw = ref.raw_loss_grad(layout, params, X, Y, sw)
    problem = ref.Problem(layout, X, Y, sw, params)
    loss = problem.loss_grad(alpha=0.5, n_threads=1)
    W = params[: layout.n_coef]
    assert loss == pytest.approx((loss_sum + 0.25 * W @ W) / sw.sum(), rel=1e-14)
    expected = raw / sw.sum()
    expected[: layout.n_coef] += 0.5 * W / sw.sum()
    np.testing.assert_allclose(problem.grads, expected, rtol=1e-14, atol=1e-16)


# ---------------------------------------------------------------------------
# The reference's steps: SGD at the tables' rate; L2 and max_norm skip them
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("stage", list(STAGES))
def test_one_sgd_step_moves_every_part_at_its_rate(stage):
    lr, periodic_lr, embedding_lr, input_scale_lr, parametric_lr = 0.1, 3.0, 7.0, 0.5, 2.0
    layout, X, Y, sw, params, _ = _build(
        (5, 4), "softmax", EMBEDDINGS[1], STAGES[stage], "silu", weighted=True,
        periodic_lr=periodic_lr, embedding_lr=embedding_lr, input_scale=True,
        input_scale_lr=input_scale_lr, parametric=True, parametric_lr=parametric_lr)
    before = params.copy()
    problem = ref.Problem(layout, X, Y, sw, params)
    loss = problem.loss_grad(alpha=0.05, n_threads=1)
    grad = problem.grads.copy()
    total = problem.epoch(plain_sgd(layout.n_params, lr), np.arange(N_SAMPLES),
                          shuffled=False, batch_size=N_SAMPLES, lr=lr, alpha=0.05,
                          clip_norm=0.0, n_threads=1)
    assert total == pytest.approx(loss * N_SAMPLES, rel=1e-15)
    E_end = layout.embedding_off + layout.embedding_size
    assert E_end == layout.input_scale_off
    factors = np.ones(layout.n_params)
    factors[layout.periodic_off : layout.embedding_off] = periodic_lr
    factors[layout.embedding_off : E_end] = embedding_lr
    factors[layout.input_scale_off : layout.parametric_off] = input_scale_lr
    factors[layout.parametric_off :] = parametric_lr
    np.testing.assert_array_equal(params, before - (lr * factors) * grad)
    assert not np.array_equal(params[layout.embedding_off : E_end],
                              before[layout.embedding_off : E_end])


def test_l2_and_max_norm_leave_the_tables_alone():
    layout, X, Y, sw, params, _ = _build((5,), "softmax", EMBEDDINGS[1], (2, 2),
                                         weighted=True)
    start, stop = layout.embedding_off, layout.embedding_off + layout.embedding_size
    problem = ref.Problem(layout, X, Y, sw, params)
    loss0 = problem.loss_grad(alpha=0.0, n_threads=1)
    grad0 = problem.grads.copy()
    loss1 = problem.loss_grad(alpha=0.5, n_threads=1)
    coefs = params[: layout.n_coef]
    assert loss1 - loss0 == pytest.approx(0.25 * coefs @ coefs / sw.sum(), rel=1e-12)
    np.testing.assert_array_equal(problem.grads[start:stop], grad0[start:stop])
    lr = 0.1
    capped = ref.Layout(layout.units, N_SAMPLES, "tanh", "softmax", periodic=(2, 2),
                        embedding=EMBEDDINGS[1], max_norm=1e-3)
    p = params.copy()
    ref.Problem(capped, X, Y, sw, p).epoch(
        plain_sgd(layout.n_params, lr), np.arange(N_SAMPLES), shuffled=False,
        batch_size=N_SAMPLES, lr=lr, alpha=0.0, clip_norm=0.0, n_threads=1)
    np.testing.assert_array_equal(p[start:stop],
                                  params[start:stop] - lr * grad0[start:stop])
    assert np.abs(p[: layout.n_coef]).max() <= 1e-3 * (1 + 1e-12)
    assert np.abs(p[start:stop]).max() > 0.1


# ---------------------------------------------------------------------------
# The reference's layout
# ---------------------------------------------------------------------------


def test_layout_places_the_tables_between_the_periodic_stage_and_s():
    cards, d = (3, 1, 4), 2
    units = (2 + 1 + 6 + 4, 5, 3)  # numeric, plain, block, Q = 2 * 2
    plain = ref.Layout(units, 4, "silu", "identity", periodic=(2, 3, 2), input_scale=True,
                       parametric=True)
    layout = ref.Layout(units, 4, "silu", "identity", periodic=(2, 3, 2), input_scale=True,
                        parametric=True, embedding=(np.array(cards), np.int64(d)),
                        embedding_lr=7)
    assert layout.embedding == (cards, d)
    assert type(layout.embedding[0]) is tuple and type(layout.embedding[1]) is int
    assert all(type(card) is int for card in layout.embedding[0])
    assert layout.embedding_lr == 7.0 and type(layout.embedding_lr) is float
    assert layout.embedding_size == 8 * d
    assert layout.periodic_off == plain.periodic_off
    assert layout.embedding_off == plain.input_scale_off  # the end of b
    assert layout.input_scale_off == layout.embedding_off + 16
    assert layout.parametric_off == layout.input_scale_off + units[0]
    assert layout.n_params == plain.n_params + 16
    params = np.arange(layout.n_params, dtype=float)
    net = _Net(layout)
    assert net.embedding_col0 == units[0] - 4 - 6 == 3
    E = net.embedding_views(params)
    assert [e.shape for e in E] == [(3, 2), (1, 2), (4, 2)]
    off = layout.embedding_off
    np.testing.assert_array_equal(np.concatenate([e.ravel() for e in E]),
                                  np.arange(off, off + 16))
    np.testing.assert_array_equal(E[2], np.arange(off + 8, off + 16).reshape(4, 2))
    for e in E:
        assert np.shares_memory(e, params)
    E[1][0, 1] = -1.0  # a view: writes go to the buffer
    assert params[off + 6 + 1] == -1.0
    assert [part for part in net.tail_parts()] == [
        (layout.periodic_off, off, 1.0), (off, off + 16, 7.0),
        (layout.input_scale_off, layout.parametric_off, 1.0),
        (layout.parametric_off, layout.n_params, 1.0)]
    # without embeddings
    assert plain.embedding == ((), 0) and plain.embedding_size == 0
    assert plain.embedding_off == plain.input_scale_off
    assert _Net(plain).embedding_views(params) == []


def test_the_block_only_needs_to_fit():
    # numeric + block + Q == units[0]: no plain column
    layout = ref.Layout((2 + 3 + 2, 3), 4, "tanh", "identity", periodic=(2, 3, 1),
                        embedding=((4, 4, 4), 1))
    assert _Net(layout).embedding_col0 == 2
    assert layout.n_params == 7 * 3 + 3 + 2 * 6 + 6 + 2 + 12
    # every column a categorical one
    layout = ref.Layout((6, 3), 4, "tanh", "identity", embedding=((2, 7), 3))
    assert _Net(layout).embedding_col0 == 0
    rng = np.random.RandomState(0)
    X = _make_X(rng, ((2, 7), 3), None, _codes(rng, (2, 7), 5))[:, 1:]
    assert X.shape == (5, 6)
    assert np.isfinite(ref.raw_loss_grad(layout, np.ones(layout.n_params), X,
                                         np.zeros((5, 3)))[0])


# ---------------------------------------------------------------------------
# Refusals, in both Layouts and both Problems
# ---------------------------------------------------------------------------

# units (9, 5, 3): periodic (2, 2) leaves 9 - 2 - 4 = 3 columns for the block
BAD_EMBEDDINGS = [
    (3, {}),
    ("ab", {}),
    (([3],), {}),
    (([3], 2, 1), {}),
    (([], 1), {}),
    (((), 0), {}),
    (([0], 1), {}),
    (([3, -1], 1), {}),
    (([2.0], 1), {}),
    (([2.5], 1), {}),
    ((None, 1), {}),
    ((3, 1), {}),
    (([3], 0), {}),
    (([3], -1), {}),
    (([3], 1.0), {}),
    (([3], None), {}),
    (([3, 3], 2), {}),  # 2 + 4 + 4 > 9
    (([3, 3, 3, 3], 1), {}),  # 2 + 4 + 4 > 9
    (([3], 4), {}),  # 2 + 4 + 4 > 9
    (([3], 1), {"input_dropout": 0.2}),
    (([3], 1), {"embedding_lr": 0}),
    (([3], 1), {"embedding_lr": -1.0}),
    (([3], 1), {"embedding_lr": np.inf}),
    (([3], 1), {"embedding_lr": np.nan}),
]


@pytest.mark.parametrize("module", [_engine, ref], ids=["engine", "reference"])
@pytest.mark.parametrize("embedding, kwargs", BAD_EMBEDDINGS,
                         ids=[repr(b) for b in BAD_EMBEDDINGS])
def test_layouts_refuse(module, embedding, kwargs):
    periodic = None if kwargs.get("input_dropout") else (2, 2)
    with pytest.raises(ValueError):
        module.Layout((9, 5, 3), 4, "tanh", "identity", periodic=periodic,
                      embedding=embedding, **kwargs)


@pytest.mark.parametrize("module", [_engine, ref], ids=["engine", "reference"])
def test_layouts_take_what_fits(module):
    # the widest block beside the pair: 2 + 3 + 4 == 9; numpy ints; cards 1
    for embedding in [([3, 3, 3], 1), ((1,), np.int32(3)), (np.array([1, 1, 1]), 1)]:
        layout = module.Layout((9, 5, 3), 4, "tanh", "identity", periodic=(2, 2),
                               embedding=embedding)
        assert layout.embedding_size == sum(embedding[0]) * int(embedding[1])
    # a periodic stage without columns (P = 0) reads no numeric columns
    for periodic in [(3, 0), (0, 4)]:
        layout = module.Layout((9, 5, 3), 4, "tanh", "identity", periodic=periodic,
                               embedding=([2] * 9, 1))
        assert layout.embedding_off == layout.periodic_off
        assert _Net(layout).embedding_col0 == 0


@pytest.mark.parametrize("args, kwargs", [
    (((6, 5, 3), 4, "tanh", "softmax"), {"embedding": ([4], 2)}),
    (((9, 5, 3), 4, "silu", "identity"), {"embedding": ((1, 5, 2), 2), "embedding_lr": 3,
                                          "input_scale": True, "parametric": True}),
    (((12, 3), 4, "tanh", "identity"), {"embedding": ([2, 2], 3), "periodic": (2, 2)}),
    (((12, 4, 3), 4, "tanh", "identity"), {"embedding": ([7], 1), "periodic": (2, 3, 2),
                                           "input_scale": True, "embedding_lr": 0.5}),
    (((12, 4, 3), 4, "tanh", "identity"), {"periodic": (2, 3, 2)}),
])
def test_engine_and_reference_layouts_agree(args, kwargs):
    engine, mine = _engine.Layout(*args, **kwargs), ref.Layout(*args, **kwargs)
    for name in ("embedding", "embedding_off", "embedding_size", "embedding_lr",
                 "periodic_off", "input_scale_off", "parametric_off", "n_params"):
        a, b = getattr(engine, name), getattr(mine, name)
        assert a == b, name
        assert type(a) is type(b), name
    for a, b in zip(engine.embedding[0], mine.embedding[0]):
        assert type(a) is type(b) is int
    # the reference reads the engine's layout as its own
    net_engine, net_mine = _Net(engine), _Net(mine)
    assert net_engine.embedding_col0 == net_mine.embedding_col0
    assert net_engine.tail_parts() == net_mine.tail_parts()


# each bad value at row 4 of the second table's code column (cards (3, 4))
BAD_CODES = [np.nan, np.inf, -np.inf, -1.0, 0.5, 3.999, 4.0, 1e30, -1e-30]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", [_engine, ref], ids=["engine", "reference"])
@pytest.mark.parametrize("bad", BAD_CODES)
def test_bad_codes_are_refused(bad, module, dtype):
    embedding = ((3, 4), 2)
    layout, X, Y, _, params, _ = _build((5,), "softmax", embedding, (2, 2),
                                        module=module, dtype=dtype)
    col = _col0(embedding, (2, 2)) + 2
    X[4, col] = bad
    # the engine's message (_contract.check_codes), which the reference keeps
    match = f"X\\[4, {col}\\] = .* embedding table 1: an integer in \\[0, 4\\)"
    with pytest.raises(ValueError, match=match):
        module.Problem(layout, X, Y, None, params).loss_grad(alpha=0.0, n_threads=1)
    with pytest.raises(ValueError, match=match):
        module.Problem(layout, X, None, None, params).forward(n_threads=1)
    with pytest.raises(ValueError, match=match):
        problem = module.Problem(layout, X, Y, None, params)
        opt = StochasticOptimizer("sgd", layout.n_params, np.dtype(dtype), 0.1)
        opt.set_hyperparameters(momentum=0.0, nesterov=False, beta_1=0.9, beta_2=0.999,
                                epsilon=1e-8, rho=0.9, weight_decay=0.0, alpha1=0.0,
                                clip_value=0.0)
        problem.epoch(opt, np.arange(N_SAMPLES), shuffled=False, batch_size=N_SAMPLES,
                      lr=0.1, alpha=0.0, clip_norm=0.0, n_threads=1)


@pytest.mark.parametrize("module", [_engine, ref], ids=["engine", "reference"])
def test_the_edge_codes_are_taken(module):
    # 0, -0.0 and cards[c] - 1 are codes; the placeholders may be anything
    embedding = ((3, 4), 2)
    layout, X, Y, _, params, _ = _build((5,), "softmax", embedding, None, module=module)
    col = _col0(embedding, None)
    X[:3, col] = [0.0, -0.0, 2.0]
    X[:3, col + 2] = [3.0, -0.0, 0.0]
    X[:, col + 1] = np.nan
    X[:, col + 3] = -np.inf
    assert np.isfinite(module.Problem(layout, X, Y, None, params).loss_grad(
        alpha=0.0, n_threads=1))
    assert np.isfinite(module.Problem(layout, X, None, None, params).forward(
        n_threads=1)).all()


@pytest.mark.parametrize("module", [_engine, ref], ids=["engine", "reference"])
def test_sparse_X_is_refused(module):
    layout, X, Y, _, params, _ = _build((5,), "softmax", ((3, 4), 2), module=module)
    with pytest.raises(ValueError, match="dense X"):
        module.Problem(layout, sp.csr_matrix(X), Y, None, params).loss_grad(
            alpha=0.0, n_threads=1)
    with pytest.raises(ValueError, match="dense X"):
        module.Problem(layout, sp.csr_matrix(X), None, None, params).forward(n_threads=1)


def test_reference_refuses_input_dropout_masks():
    layout, X, Y, _, params, _ = _build((5,), "softmax", ((3, 4), 2))
    with pytest.raises(ValueError, match="input dropout"):
        ref.raw_loss_grad(layout, params, X, Y, masks=[np.ones_like(X), None])
    with pytest.raises(ValueError, match="dense X"):
        ref.raw_loss_grad(layout, params, sp.csr_matrix(X), Y)


# ---------------------------------------------------------------------------
# The engine against the reference
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("input_scale", [False, True])
@pytest.mark.parametrize("out", ["softmax", "identity"])
@pytest.mark.parametrize("stage", list(STAGES))
@pytest.mark.parametrize("embedding", EMBEDDINGS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_engine_loss_grad_is_the_references_raw_loss_and_gradient(
        hidden, embedding, stage, out, input_scale, weighted, dtype):
    layout, X, Y, sw, params, _ = _build(hidden, out, embedding, STAGES[stage], "tanh",
                                         weighted, n=23, module=_engine, dtype=dtype,
                                         input_scale=input_scale)
    sw_sum = 23.0 if sw is None else float(sw.astype(np.float64).sum())
    engine = _engine.Problem(layout, X, Y, sw, params)
    loss = engine.loss_grad(alpha=0.0, n_threads=1)
    loss_sum, raw = ref.raw_loss_grad(layout, params, X, Y, sw)
    rtol_loss, rtol = TOL[dtype]["loss"], TOL[dtype]["arrays"]
    assert loss * sw_sum == pytest.approx(loss_sum, rel=rtol_loss, abs=0)
    _close(engine.grads * sw_sum, raw, rtol, "raw gradient")
    start, stop = layout.embedding_off, layout.embedding_off + layout.embedding_size
    _close(engine.grads[start:stop] * sw_sum, raw[start:stop], rtol, "the tables")
    assert np.abs(raw[start:stop]).max() > 1e-3
    # and the forward, on a Problem with no targets
    _close(_engine.Problem(layout, X, None, None, params).forward(n_threads=1),
           ref.Problem(layout, X, None, None, params).forward(n_threads=1), rtol, "forward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stage", list(STAGES))
def test_engine_threaded_loss_grad_and_forward_match_the_reference(stage, dtype):
    # many rows, two threads, a team at every size: the tables' sums over
    # rows split by thread
    embedding = ((2, 1, 5), 3)
    layout, X, Y, sw, params, _ = _build((16,), "softmax", embedding, STAGES[stage],
                                         "tanh", True, n=700, module=_engine, dtype=dtype,
                                         input_scale=True)
    tuning = {"pace": False, "par_min_flops": 0}
    engine = _engine.Problem(layout, X, Y, sw, params, tuning=tuning)
    mine = ref.Problem(layout, X, Y, sw, params)
    rtol_loss, rtol = TOL[dtype]["loss"], TOL[dtype]["arrays"]
    assert engine.loss_grad(alpha=0.01, n_threads=2) == pytest.approx(
        mine.loss_grad(alpha=0.01, n_threads=2), rel=rtol_loss, abs=0)
    _close(engine.grads, mine.grads, rtol, "gradient")
    _close(engine.forward(n_threads=2), mine.forward(n_threads=2), rtol, "forward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("scale", [False, True])
@pytest.mark.parametrize("stage", list(STAGES))
@pytest.mark.parametrize("embedding", EMBEDDINGS)
def test_engine_epochs_match_the_reference(embedding, stage, scale, weighted, dtype):
    # Adam over shuffled minibatches with hidden dropout and clipping by
    # norm and by value (each bites in nearly every batch: norms above 0.1,
    # entries above 0.03 after the norm's clip), every input-layer part at
    # its own rate: step for step
    periodic = STAGES[stage]
    n = 90
    rng = np.random.RandomState(5)
    codes = _codes(rng, embedding[0], n)
    X = _make_X(rng, embedding, periodic, codes, dtype)
    Y = np.eye(3, dtype=dtype)[rng.randint(3, size=n)]
    sw = rng.uniform(0.5, 2, n).astype(dtype) if weighted else None
    (layout, p_engine, l_engine, t_engine), (_, p_ref, l_ref, t_ref) = (
        adam_epochs_engine_and_reference(
            (X.shape[1], 7, 5, 3), X, Y, sw, clip_norm=0.1, clip_value=0.03,
            periodic=periodic, input_scale=scale, periodic_lr=3.0, input_scale_lr=6.0,
            embedding=embedding, embedding_lr=4.0))
    off, size = layout.embedding_off, layout.embedding_size
    rtol_loss, rtol = TOL[dtype]["loss"], TOL[dtype]["arrays"]
    _close(p_engine, p_ref, rtol, "params")
    _close(p_engine[off : off + size], p_ref[off : off + size], rtol, "the tables")
    np.testing.assert_allclose(l_engine, l_ref, rtol=rtol_loss)
    assert t_engine == t_ref == 9
    start = np.random.RandomState(0).normal(scale=0.4, size=p_ref.shape[0])
    assert not np.allclose(p_ref[off : off + size], start[off : off + size].astype(dtype))


@pytest.mark.parametrize("solver", ["sgd", "adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("stage", ["alone", "triple"])
def test_embedding_lr_scales_the_step_of_the_tables_only(solver, stage):
    # the engine and the reference agree at factors 1 and 7; and from the
    # same start, one batch, only the tables moved 7 times as far
    periodic = STAGES[stage]
    embedding = ((2, 5), 3)
    n = 64
    rng = np.random.RandomState(2)
    X = _make_X(rng, embedding, periodic, _codes(rng, embedding[0], n))
    Y = rng.normal(size=(n, 1))
    units = (X.shape[1], 6, 1)
    out = {}
    for name, mod in (("engine", _engine), ("reference", ref)):
        for factor in (1.0, 7.0):
            layout = mod.Layout(units, n, "tanh", "identity", periodic=periodic,
                                embedding=embedding, embedding_lr=factor)
            out[name, factor] = full_batch_step(mod, layout, X, Y, solver, alpha=1e-3)
            offsets = layout.embedding_off, layout.embedding_off + layout.embedding_size
    a, b = offsets
    for name in ("engine", "reference"):
        d1, d7 = out[name, 1.0], out[name, 7.0]
        np.testing.assert_allclose(d7[:a], d1[:a], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(d7[b:], d1[b:], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(d7[a:b], 7 * d1[a:b], rtol=1e-9, atol=1e-15)
        assert np.abs(d1[a:b]).max() > 1e-4
    for factor in (1.0, 7.0):
        _close(out["engine", factor], out["reference", factor],
               TOL[np.float64]["arrays"], f"embedding_lr={factor}")
