"""The compiled network (forward, loss + gradient, whole epochs) against oracles:
the pure-NumPy reference, finite differences, and itself across thread counts."""
import numpy as np
import pytest

from fastmlp import _reference as ref
from fastmlp._engine import HIDDEN_ACTIVATIONS, OUTPUT_KINDS

from _engine_helpers import (
    engine_forward,
    engine_loss_grad,
    engine_sgd_epoch,
    make_problem,
    reference_forward,
    tol,
)

DTYPES = [np.float32, np.float64]
UNITS = [5, 6, 4, 3]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ref.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("out", list(OUTPUT_KINDS))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_loss_grad_matches_reference(dtype, activation, out, weighted, sparse):
    X, Y, sw, params = make_problem(UNITS, out, dtype=dtype, weighted=weighted, sparse=sparse)
    expected_loss, expected_grad = ref.loss_grad(params, X, Y, sw, UNITS, activation, out, 0.01)
    # chunk < n_samples: gradients accumulate over chunks
    loss, grad = engine_loss_grad(params, X, Y, sw, UNITS, activation, out, 0.01, chunk=10)
    assert grad.dtype == dtype
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5 if dtype == np.float32 else 1e-11)
    np.testing.assert_allclose(grad, expected_grad, **tol(dtype))


@pytest.mark.parametrize("activation", list(HIDDEN_ACTIVATIONS))
@pytest.mark.parametrize("out", list(OUTPUT_KINDS))
def test_gradient_matches_finite_differences(activation, out):
    # squared error: scikit-learn averages the loss over outputs but not the
    # gradient, so the finite-difference check uses a single output there
    units = [4, 5, 1] if out == "identity" else [4, 5, 3]
    X, Y, sw, params = make_problem(units, out, n_samples=20, weighted=True, seed=5)
    if out == "logistic" or out == "softmax":
        params *= 0.5  # keep probabilities clear of the log-loss clipping
    _, grad = engine_loss_grad(params, X, Y, sw, units, activation, out, 0.1)
    eps = 1e-6
    fd = np.empty_like(params)
    for j in range(params.shape[0]):
        step = np.zeros_like(params)
        step[j] = eps
        lp, _ = engine_loss_grad(params + step, X, Y, sw, units, activation, out, 0.1)
        lm, _ = engine_loss_grad(params - step, X, Y, sw, units, activation, out, 0.1)
        fd[j] = (lp - lm) / (2 * eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", list(HIDDEN_ACTIVATIONS))
@pytest.mark.parametrize("out", list(OUTPUT_KINDS))
@pytest.mark.parametrize("sparse", [False, True])
def test_forward_matches_reference(dtype, activation, out, sparse):
    X, _, _, params = make_problem(UNITS, out, n_samples=600, dtype=dtype, sparse=sparse)
    expected = reference_forward(params, X, UNITS, activation, out)
    for n_threads, block in [(1, 256), (2, 64)]:
        got = engine_forward(params, X, UNITS, activation, out, n_threads, block)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("units", [[100, 256, 64, 130], [200, 128, 3], [7, 96, 200, 5]])
@pytest.mark.parametrize("row_loop", [False, True])
def test_one_row_forward_matches_reference(dtype, units, row_loop):
    # a block of one row multiplies by GEMV where W is wide (_blas.row_times_rm)
    # and elsewhere by the GEMM or (one_row_loop) fastmlp's loop: each of
    # these networks has layers of both kinds
    X, _, _, params = make_problem(units, "softmax", n_samples=257, dtype=dtype)
    expected = reference_forward(params, X, units, "tanh", "softmax")
    tuning = {"one_row_loop": row_loop}
    for i in (0, 256):
        got = engine_forward(params, X[i : i + 1], units, "tanh", "softmax", 1, 256, tuning)
        np.testing.assert_allclose(got, expected[i : i + 1], **tol(dtype))
    # 257 rows in blocks of 256: the last block is a single row
    got = engine_forward(params, X, units, "tanh", "softmax", 2, 256, tuning)
    np.testing.assert_allclose(got, expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ref.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("out", list(OUTPUT_KINDS))
@pytest.mark.parametrize("weighted", [False, True])
def test_sgd_epoch_matches_reference(dtype, activation, out, weighted):
    X, Y, sw, params = make_problem(UNITS, out, n_samples=31, dtype=dtype, weighted=weighted)
    expected = params.copy()
    ref_loss = ref.sgd_epoch(expected, X, Y, sw, UNITS, activation, out, 0.01, 7, 0.05)
    loss, got = engine_sgd_epoch(params, X, Y, sw, UNITS, activation, out, 0.01, 7, 0.05)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5 if dtype == np.float32 else 1e-11)
    np.testing.assert_allclose(got, expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ref.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("out", list(OUTPUT_KINDS))
@pytest.mark.needs_threads
def test_one_region_step_matches_reference(dtype, activation, out):
    # Force the step that runs forward, deltas and gradients of a batch in
    # one parallel region (_step.pyx, Tuning.rows_pass) on a small problem: 2
    # threads, batches of 31 rows split 16 + 15, the last batch of 13 split
    # 7 + 6; in shuffled order, so that each thread gathers its own rows of X.
    X, Y, sw, params = make_problem(UNITS, out, n_samples=106, dtype=dtype, weighted=True)
    order = np.random.RandomState(1).permutation(106)
    expected = params.copy()
    ref_loss = ref.sgd_epoch(expected, X[order], Y[order], sw[order], UNITS, activation,
                             out, 0.01, 31, 0.05)
    loss, got = engine_sgd_epoch(params, X, Y, sw, UNITS, activation, out, 0.01, 31,
                                 0.05, n_threads=2, order=order,
                                 tuning=dict(par_min_flops=0, rows_pass=True,
                                             rows_pass_min_rows=4))
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5 if dtype == np.float32 else 1e-11)
    np.testing.assert_allclose(got, expected, **tol(dtype))


@pytest.mark.parametrize("activation", ["gelu", "silu", "elu"])
@pytest.mark.parametrize("dropout", [False, True])
def test_one_region_step_matches_the_layer_by_layer_step(activation, dropout,
                                                         require_threads):
    # Activations the NumPy reference lacks (gelu and silu keep their
    # pre-activation), with and without dropout: the one-region step on 2
    # threads gives the weights the layer-by-layer step gives on 1.
    require_threads(2, explicit=True)

    units = [7, 12, 9, 4]
    X, Y, sw, params = make_problem(units, "softmax", n_samples=90, dtype=np.float64,
                                    weighted=True)
    extra = {"dropout": [0.3, 0.1], "input_dropout": 0.2} if dropout else None
    runs = []
    for n_threads, tuning in [(1, {}), (2, dict(par_min_flops=0, rows_pass=True,
                                                 rows_pass_min_rows=4))]:
        p = params.copy()
        loss, _ = engine_sgd_epoch(p, X, Y, sw, units, activation, "softmax", 0.01, 30,
                                   0.05, n_threads=n_threads, solver="adam",
                                   layout_extra=extra, seed=5, tuning=tuning)
        runs.append((loss, p))
    np.testing.assert_allclose(runs[1][1], runs[0][1], rtol=1e-12, atol=1e-14)
    assert runs[1][0] == pytest.approx(runs[0][0], rel=1e-12)


def test_shuffled_order_equals_presorted_data():
    X, Y, sw, params = make_problem(UNITS, "softmax", n_samples=40, weighted=True)
    order = np.random.RandomState(0).permutation(40)
    a = params.copy()
    b = params.copy()
    la, _ = engine_sgd_epoch(a, X, Y, sw, UNITS, "tanh", "softmax", 0.01, 8, 0.1, order=order)
    lb, _ = engine_sgd_epoch(b, X[order], Y[order], sw[order], UNITS, "tanh", "softmax", 0.01, 8, 0.1)
    np.testing.assert_allclose(a, b, rtol=1e-13)
    assert la == pytest.approx(lb, rel=1e-13)


@pytest.mark.parametrize("n_threads", [1, pytest.param(2, marks=pytest.mark.needs_threads)])
def test_gather_split_over_threads_equals_presorted_data(n_threads):
    # par_min_gather=1: every shuffled batch is gathered by the team, in row
    # ranges (the default splits only batches of 16k values and more)
    X, Y, sw, params = make_problem(UNITS, "softmax", n_samples=40, weighted=True)
    order = np.random.RandomState(1).permutation(40)
    a = params.copy()
    b = params.copy()
    la, _ = engine_sgd_epoch(a, X, Y, sw, UNITS, "tanh", "softmax", 0.01, 9, 0.1,
                             order=order, n_threads=n_threads, tuning=dict(par_min_gather=1))
    lb, _ = engine_sgd_epoch(b, X[order], Y[order], sw[order], UNITS, "tanh", "softmax", 0.01,
                             9, 0.1, n_threads=n_threads)
    np.testing.assert_allclose(a, b, rtol=1e-13)
    assert la == pytest.approx(lb, rel=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sparse", [False, True])
def test_thread_counts_agree(dtype, sparse, require_threads):
    # big enough that every step takes the parallel path with 2 threads
    units = [200, 256, 128, 10]
    X, Y, sw, params = make_problem(units, "softmax", n_samples=1024, dtype=dtype,
                                    sparse=sparse, weighted=True)
    results = {}
    # the thread count asked for is the one that runs: the pacer, which may
    # move a batch to one thread on a busy machine, is off (test_pacing)
    fixed = {"pace": False}
    for n_threads in (1, 2):
        for rep in range(2):
            p = params.copy()
            loss, _ = engine_sgd_epoch(p, X, Y, sw, units, "relu", "softmax", 1e-3, 256,
                                       0.01, n_threads=n_threads, solver="adam",
                                       tuning=fixed)
            results[n_threads, rep] = (loss, p)
    # identical for a fixed thread count, close across thread counts
    for n_threads in (1, 2):
        np.testing.assert_array_equal(results[n_threads, 0][1], results[n_threads, 1][1])
        assert results[n_threads, 0][0] == results[n_threads, 1][0]
    require_threads(2, explicit=True)
    np.testing.assert_allclose(results[1, 0][1], results[2, 0][1], **tol(dtype))
    lg1 = engine_loss_grad(params, X, Y, sw, units, "relu", "softmax", 1e-3, n_threads=1,
                           tuning=fixed)
    lg2 = engine_loss_grad(params, X, Y, sw, units, "relu", "softmax", 1e-3, n_threads=2,
                           tuning=fixed)
    np.testing.assert_allclose(lg1[1], lg2[1], **tol(dtype))


def test_gradient_clipping_bounds_the_step():
    X, Y, sw, params = make_problem(UNITS, "identity", n_samples=16, seed=3)
    Y = Y * 1000  # huge gradients
    lr, clip = 0.1, 0.5
    start = params.copy()
    engine_sgd_epoch(params, X, Y, sw, UNITS, "tanh", "identity", 0.0, 16, lr, clip=clip)
    # one batch, plain sgd: the step is lr * clipped gradient
    assert np.linalg.norm(params - start) == pytest.approx(lr * clip, rel=1e-9)
    unclipped = start.copy()
    engine_sgd_epoch(unclipped, X, Y, sw, UNITS, "tanh", "identity", 0.0, 16, lr)
    assert np.linalg.norm(unclipped - start) > 10 * lr * clip


@pytest.mark.parametrize("loss", ["huber", "absolute_error"])
@pytest.mark.parametrize("n_out", [1, 3])
def test_regression_losses_match_finite_differences(loss, n_out):
    from fastmlp import _engine, _network
    units = [4, 6, n_out]
    X, Y, sw, params = make_problem(units, "identity", n_samples=25, weighted=True, seed=9)
    Y = Y * 3  # residuals on both sides of the Huber threshold
    layout = _engine.Layout(units, 25, "tanh", "identity", loss=loss, huber_delta=0.7)

    def lg(p, with_grad=True):
        g = np.empty_like(p)
        val = _network.loss_grad(p, g, np.empty(layout.work_size), np.empty(layout.scratch_size),
                                 X, None, None, None, Y, None, sw, np.arange(25, dtype=np.intp),
                                 25, layout, 0.01, 1, 0.02, with_grad)
        return val, g

    _, grad = lg(params)
    eps = 1e-6
    fd = np.array([(lg(params + eps * e, False)[0] - lg(params - eps * e, False)[0]) / (2 * eps)
                   for e in np.eye(params.shape[0])])
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("delta_wt", [True, False])
@pytest.mark.parametrize(
    "units, out",
    [([40, 30, 20, 3], "softmax"),      # deltas through 20x3 and 30x20 weights
     ([8, 12, 1], "identity"),          # one output: D @ W.T is a rank-one product
     ([10, 80, 60, 2], "logistic")],    # 80x60 weights: more than DELTA_WT_MAX
)
def test_delta_with_transposed_copy_of_w_matches_reference(dtype, delta_wt, units, out):
    # Small layers take the delta D @ W.T as D @ (a contiguous copy of W.T);
    # both ways must give the reference's gradient, on 1 and 2 threads.
    X, Y, sw, params = make_problem(units, out, n_samples=50, dtype=dtype, weighted=True)
    expected_loss, expected_grad = ref.loss_grad(params, X, Y, sw, units, "relu", out, 0.01)
    for n_threads in (1, 2):
        loss, grad = engine_loss_grad(params, X, Y, sw, units, "relu", out, 0.01,
                                      n_threads=n_threads, tuning=dict(delta_wt=delta_wt))
        np.testing.assert_allclose(loss, expected_loss,
                                   rtol=1e-5 if dtype == np.float32 else 1e-11)
        np.testing.assert_allclose(grad, expected_grad, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", [1, pytest.param(2, marks=pytest.mark.needs_threads)])
def test_gemms_in_small_pieces_match_reference(dtype, n_threads):
    # Lower the piece size so that the forward GEMMs and the weight gradients
    # of this small network are issued in pieces (three each: 22 rows of the
    # batch, 14 fan_in rows), as they are for mid-size layers by default.
    units = [40, 30, 20, 3]
    X, Y, sw, params = make_problem(units, "softmax", n_samples=64, dtype=dtype, weighted=True)
    expected_loss, expected_grad = ref.loss_grad(params, X, Y, sw, units, "relu", "softmax", 0.01)
    expected_out = reference_forward(params, X, units, "relu", "softmax")
    pieces = dict(small_gemm_mnk=16 * 30 * 64)
    loss, grad = engine_loss_grad(params, X, Y, sw, units, "relu", "softmax", 0.01,
                                  n_threads=n_threads, tuning=pieces)
    out = engine_forward(params, X, units, "relu", "softmax", n_threads, 64, tuning=pieces)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5 if dtype == np.float32 else 1e-11)
    np.testing.assert_allclose(grad, expected_grad, **tol(dtype))
    np.testing.assert_allclose(out, expected_out, **tol(dtype))


def test_a_used_layout_pickles_and_copies():
    # the engine keeps typed views on a Layout (they do not pickle); a
    # pickled or copied Layout drops them and makes its own on first use
    import copy
    import pickle

    from fastmlp import _engine

    X, _, _, params = make_problem(UNITS, "softmax", n_samples=9)
    layout = _engine.Layout(UNITS, 0, "tanh", "softmax")
    expected = _engine.Problem(layout, X, None, None, params).forward()
    assert layout.typed_views is not None
    for other in (pickle.loads(pickle.dumps(layout)), copy.deepcopy(layout)):
        assert other.typed_views is None
        got = _engine.Problem(other, X, None, None, params).forward()
        np.testing.assert_array_equal(got, expected)
        assert other.typed_views is not None
    assert layout.typed_views is not None  # the original keeps its views


def test_unknown_tuning_keys_are_refused():
    X, Y, sw, params = make_problem(UNITS, "softmax", n_samples=10)
    with pytest.raises(ValueError, match="Unknown tuning keys \\['par_min_flop'\\]"):
        engine_sgd_epoch(params, X, Y, sw, UNITS, "relu", "softmax", 0.01, 5, 0.1,
                         tuning=dict(par_min_flop=0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_blocks_give_the_same_bits_on_any_team(dtype):
    # the threads take the row blocks as they come free (_predict.pyx): which
    # thread computes a block must not change a bit of it
    units = [20, 64, 32, 3]
    X, _, _, params = make_problem(units, "softmax", n_samples=1000, dtype=dtype)
    want = engine_forward(params, X, units, "relu", "softmax", 1, 64)
    for n_threads in (2, 3, 8):
        got = engine_forward(params, X, units, "relu", "softmax", n_threads, 64)
        np.testing.assert_array_equal(got, want)


def test_sparse_x_and_loss_grad_take_no_room_for_gathered_rows():
    # the work buffer held a batch of dense rows for every Problem: a sparse X
    # of 2**22 columns asked 64 GiB (lbfgs) for a copy its CSR path never
    # makes, where scikit-learn trains in 5 GiB
    import scipy.sparse as sp
    from fastmlp import MLPClassifier, _engine

    rng = np.random.RandomState(0)
    n, f = 30, 100_000
    X = sp.random(n, f, density=20 / f, format="csr", random_state=rng)
    Y = np.eye(2)[np.arange(n) % 2]
    layout = _engine.layout_for((f, 3, 2), n, "relu", "softmax")
    assert layout.work_size - layout.work_size_in_place == n * f
    params = rng.normal(scale=0.1, size=layout.n_params)
    sparse = _engine.Problem(layout, X, Y, None, params)
    dense = _engine.Problem(layout, X.toarray(), Y, None, params)
    # the same rows, the same loss
    np.testing.assert_allclose(sparse.loss_grad(alpha=1e-4, n_threads=1),
                               dense.loss_grad(alpha=1e-4, n_threads=1), rtol=1e-12)
    np.testing.assert_allclose(sparse.grads, dense.grads, rtol=1e-9, atol=1e-15)
    assert sparse.work.shape == dense.work.shape == (layout.work_size_in_place,)
    # an epoch of dense X adds the room for its gathered rows; of sparse, not
    from fastmlp._stochastic_optimizers import StochasticOptimizer
    for problem, size in ((sparse, layout.work_size_in_place), (dense, layout.work_size)):
        opt = StochasticOptimizer("adam", layout.n_params, params.dtype, 1e-3)
        opt.set_hyperparameters(momentum=0.9, nesterov=True, beta_1=0.9, beta_2=0.999,
                                epsilon=1e-8, rho=0.9, weight_decay=0.0, alpha1=0.0,
                                clip_value=None)
        problem.epoch(opt, np.arange(n), shuffled=True, batch_size=n, lr=1e-3,
                      alpha=1e-4, clip_norm=0.0, n_threads=1)
        assert problem.work.shape == (size,)
    # and through the estimator, minibatches and the held-out scoring
    y = np.arange(n) % 2
    for solver in ("adam", "lbfgs"):
        MLPClassifier((3,), solver=solver, max_iter=2, batch_size=8, early_stopping=(
            solver == "adam"), validation_fraction=0.3, random_state=0).fit(X, y)
