"""Per-batch schedules inside one engine epoch (``step_factors``): the
factors' edge values against the engine without them, their checks, and
batch size 1 on a team against the NumPy reference.  The all-pairs matrix
of ``test_reference_problem.py`` compares random factors with the
reference under every option."""
import numpy as np
import pytest

from fastmlp import _engine
from fastmlp import _reference as ref
from fastmlp._stochastic_optimizers import StochasticOptimizer

N, BATCH = 37, 8
N_BATCHES = -(-N // BATCH)
PATHS = {"serial": ({}, 1),
         "rows": (dict(par_min_flops=0, rows_pass=True, rows_pass_min_rows=2,
                       rows_pass_step=True), 2)}


def _problem(dtype, dropout=(0.3, 0.2), solver="adamw", path="serial", batch_size=BATCH,
             seed=0, input_dropout=0.1, tuning=None):
    rng = np.random.RandomState(seed)
    layout = _engine.Layout((6, 9, 7, 3), batch_size, ("silu", "relu"), "softmax",
                            dropout=dropout, input_dropout=input_dropout)
    X = rng.normal(size=(N, 6)).astype(dtype)
    Y = np.eye(3, dtype=bool)[rng.randint(3, size=N)]
    params = (rng.uniform(-1, 1, layout.n_params) * 0.5).astype(dtype)
    opt = StochasticOptimizer(solver, layout.n_params, dtype, 0.01)
    opt.set_hyperparameters(momentum=0.9, nesterov=False, beta_1=0.9, beta_2=0.95,
                            epsilon=1e-8, rho=0.9, weight_decay=0.05, alpha1=0.0,
                            clip_value=0.0)
    tun, nt = PATHS[path] if tuning is None else tuning
    problem = _engine.Problem(layout, X, Y, None, params, tuning=tun)
    problem.data = (X, Y)  # for the reference
    return problem, opt, nt


def _epochs(problem, opt, nt, factors, n_epochs=3, batch_size=BATCH):
    order = np.random.RandomState(1).permutation(N)
    losses = []
    for e in range(n_epochs):
        losses.append(problem.epoch(opt, order, shuffled=True, batch_size=batch_size,
                                    lr=0.01, alpha=1e-3, clip_norm=0.0, n_threads=nt,
                                    seed=100 + e,
                                    step_factors=None if factors is None else factors[e]))
    return losses


def test_columns_are_named_once():
    assert _engine.STEP_FACTORS == ("learning_rate", "weight_decay", "dropout")
    assert ref.STEP_FACTORS == _engine.STEP_FACTORS


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_factors_of_one_are_the_epoch_without_them(path, dtype):
    a, opt_a, nt = _problem(dtype, path=path)
    b, opt_b, _ = _problem(dtype, path=path)
    ones = [np.ones((N_BATCHES, 3))] * 3
    assert _epochs(a, opt_a, nt, None) == _epochs(b, opt_b, nt, ones)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(opt_a.state2, opt_b.state2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_factor_zero_is_the_network_without_dropout(dtype):
    a, opt_a, nt = _problem(dtype, dropout=None, input_dropout=0.0)
    b, opt_b, _ = _problem(dtype)
    no_drop = [np.c_[np.ones(N_BATCHES), np.ones(N_BATCHES), np.zeros(N_BATCHES)]] * 3
    assert _epochs(a, opt_a, nt, None) == _epochs(b, opt_b, nt, no_drop)
    np.testing.assert_array_equal(a.params, b.params)


@pytest.mark.parametrize("solver", ["sgd", "adam", "adamw", "rmsprop"])
def test_rate_factor_zero_leaves_the_parameters(solver):
    problem, opt, nt = _problem(np.float64, solver=solver)
    before = problem.params.copy()
    frozen = [np.c_[np.zeros(N_BATCHES), np.ones(N_BATCHES), np.ones(N_BATCHES)]]
    _epochs(problem, opt, nt, frozen, n_epochs=1)
    np.testing.assert_array_equal(problem.params, before)
    if solver in ("adam", "adamw"):
        assert opt.t == N_BATCHES  # the steps were taken, at rate 0


def test_weight_decay_factor_scales_the_decay_only():
    # rate factor 1, no gradient signal beyond the data: two runs that differ
    # in the decay factor differ; factor 0 equals a weight decay of 0
    a, opt_a, nt = _problem(np.float64)
    b, opt_b, _ = _problem(np.float64)
    opt_b.hyper["weight_decay"] = 0.0
    no_decay = [np.c_[np.ones(N_BATCHES), np.zeros(N_BATCHES), np.ones(N_BATCHES)]] * 3
    assert _epochs(a, opt_a, nt, no_decay) == _epochs(b, opt_b, nt, None)
    np.testing.assert_array_equal(a.params, b.params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_size_one_on_a_team_matches_the_reference(dtype):
    online = (dict(online_split=True, online_min_coefs=0, online_min_samples=1), 2)
    engine, opt, nt = _problem(dtype, dropout=None, input_dropout=0.0, batch_size=1,
                               solver="adam", tuning=online)
    mine = ref.Problem(engine.layout, *engine.data, None, engine.params.copy())
    opt_ref = ref.OptimizerState.copy_of(opt)
    rng = np.random.RandomState(3)
    factors = [np.c_[rng.uniform(0, 1, N), rng.uniform(0, 2, N), rng.uniform(0, 1, N)]
               for _ in range(2)]
    for e in range(2):
        kw = dict(shuffled=False, batch_size=1, lr=0.01, alpha=1e-3, clip_norm=0.0,
                  n_threads=nt, seed=e, step_factors=factors[e])
        got = engine.epoch(opt, np.arange(N), **kw)
        want = mine.epoch(opt_ref, np.arange(N), **kw)
        tol = 1e-10 if dtype == np.float64 else 2e-5
        assert got == pytest.approx(want, rel=tol)
        np.testing.assert_allclose(engine.params, mine.params, rtol=tol,
                                   atol=tol * np.abs(mine.params).max())


@pytest.mark.parametrize("bad, message", [
    (np.ones((N_BATCHES - 1, 3)), r"shape \(4, 3\); this epoch needs \(5, 3\)"),
    (np.ones((N_BATCHES, 2)), r"needs \(5, 3\)"),
    (np.c_[np.ones(N_BATCHES), np.full(N_BATCHES, -0.5), np.ones(N_BATCHES)],
     r"step_factors\[0, 1\] \(weight_decay\) is -0.5"),
    (np.c_[np.full(N_BATCHES, np.nan), np.ones((N_BATCHES, 2))],
     r"\(learning_rate\) is nan; factors are finite"),
    (np.c_[np.ones((N_BATCHES, 2)), np.full(N_BATCHES, np.inf)], r"\(dropout\) is inf"),
    (np.c_[np.ones((N_BATCHES, 2)), np.full(N_BATCHES, 1.5)], r"at most 1 for dropout"),
])
def test_bad_factors_are_refused_before_any_step(bad, message):
    problem, opt, nt = _problem(np.float64)
    before, state = problem.params.copy(), opt.state1.copy()
    with pytest.raises(ValueError, match=message):
        _epochs(problem, opt, nt, [bad], n_epochs=1)
    np.testing.assert_array_equal(problem.params, before)
    np.testing.assert_array_equal(opt.state1, state)
    assert opt.t == 0
