"""The engine's Problem against the NumPy reference's, option by option.

Each case builds one problem, runs the same epochs on the compiled engine
(``fastmlp._engine.Problem``) and on ``fastmlp._reference.Problem`` from the
same parameters and optimizer state, and compares the returned loss sums,
the parameters, the optimizer's state and Adam's ``t`` after each epoch,
then ``loss_grad``'s loss and gradient.  Float64 must agree to RTOL (the
two differ only in summation order); float32 to the looser TOL table
(the reference takes some steps in float64, as scikit-learn does).

The options form a matrix too large to run whole (6 solvers x 7 losses x 9
activations x 4 clipping modes (none, by norm, by value, both) x L1 x
dropout x max_norm x sparse X x sample weights x the engine's three step
paths: ~10^5 cases), so
``test_engine_epochs_match_the_reference`` runs an all-pairs cover of it:
every value of every option meets every value of every other option in
some case (``ALL_PAIRS``, a deterministic greedy cover; pairs the engine
cannot run, such as the one-sample-per-thread step with dropout, are left
out).  The smaller products are run whole: every solver x clipping x L1,
and every loss x activation for ``loss_grad``.

The engine's step paths are forced on these tiny networks through its
tuning knobs (``tuning=`` on ``_engine.Problem``): "serial" (one thread), "rows" (a
batch's forward, deltas, gradients and optimizer step in one parallel
region, 2 threads) and "online" (batch size 1, each of 2 threads owning a
slice of the units, ``_online.pyx``).  Their results do not depend on the
thread count beyond rounding, so the comparisons hold on any machine.
"""
import random

import numpy as np
import pytest
import scipy.sparse as sp

from fastmlp import _engine, _network
from fastmlp import _reference as ref
from fastmlp._stochastic_optimizers import StochasticOptimizer

ACTIVATIONS = list(ref.ACTIVATION_CODES)
LOSSES = ["identity", "exp", "logistic", "binary", "softmax", "huber", "absolute_error"]
SOLVERS = ["sgd", "nesterov", "adam", "adamw", "rmsprop", "adagrad"]

# Per dtype: rtol of the loss sums and of the arrays (which also get an atol
# of rtol times their largest magnitude, for entries that cancel to ~0).
# Measured worst over every case here (relative to the largest magnitude):
# float64 4e-16 (loss) and 3e-15 (arrays); float32 2.4e-7 and 1.2e-6.
TOL = {np.float64: {"loss": 1e-11, "arrays": 1e-11},
       np.float32: {"loss": 5e-6, "arrays": 3e-5}}
RTOL = TOL[np.float64]["arrays"]

FACTORS = {
    "solver": SOLVERS,
    "loss": LOSSES,
    "activation": ACTIVATIONS,
    "clip": ["none", "norm", "value", "both"],
    "l1": [False, True],
    "dropout": [False, True],
    "max_norm": [False, True],
    "sparse": [False, True],
    "weighted": [False, True],
    "path": ["serial", "rows", "online"],
    "schedule": [False, True],
}


def _allowed(case):
    """What the engine can run: its one-region step takes dense X only (it
    would fall back to the serial step), and its one-sample-per-thread step
    only dense X without dropout, clipping by norm or max_norm."""
    path = case.get("path")
    if path in ("rows", "online") and case.get("sparse"):
        return False
    if path == "online" and case.get("schedule"):
        return False  # per-batch factors run the usual step at batch size 1
    if path == "online" and (case.get("dropout") or case.get("clip") in ("norm", "both")
                             or case.get("max_norm")):
        return False
    return True


def _pairs(case):
    names = sorted(case)
    return {((a, case[a]), (b, case[b])) for i, a in enumerate(names) for b in names[i + 1:]}


def _all_pairs(factors, allowed, seed=0, n_candidates=200):
    """A small list of cases in which every allowed pair of option values
    occurs: greedily, each case the candidate (random, but holding the
    first uncovered pair) that covers the most uncovered pairs."""
    names = sorted(factors)
    uncovered = {
        ((a, va), (b, vb))
        for i, a in enumerate(names) for b in names[i + 1:]
        for va in factors[a] for vb in factors[b] if allowed({a: va, b: vb})
    }
    rng = random.Random(seed)
    cases = []
    while uncovered:
        (a, va), (b, vb) = min(uncovered, key=repr)
        best, best_gain = None, 0
        tries = 0
        while best is None or tries < n_candidates:
            tries += 1
            case = {name: rng.choice(factors[name]) for name in names}
            case[a], case[b] = va, vb
            if allowed(case):
                gain = len(_pairs(case) & uncovered)
                if gain > best_gain:
                    best, best_gain = case, gain
        cases.append(best)
        uncovered -= _pairs(best)
    return cases


ALL_PAIRS = _all_pairs(FACTORS, _allowed)


def _case_id(case):
    parts = [case["solver"], case["loss"], case["activation"], case["path"]]
    parts += [f"clip-{case['clip']}"] if case["clip"] != "none" else []
    parts += [name for name in ("l1", "dropout", "max_norm", "sparse", "weighted",
                                "schedule") if case[name]]
    return "-".join(parts)


# ---------------------------------------------------------------------------
# Building a case on both sides
# ---------------------------------------------------------------------------

N_OUT = {"identity": 2, "exp": 2, "logistic": 3, "binary": 1, "softmax": 3,
         "huber": 2, "absolute_error": 2}
OUT_ACTIVATION = {"identity": "identity", "exp": "exp", "logistic": "logistic",
                  "binary": "logistic", "softmax": "softmax", "huber": "identity",
                  "absolute_error": "identity"}
LR = {"sgd": 0.1, "nesterov": 0.1, "adam": 0.02, "adamw": 0.02, "rmsprop": 0.01,
      "adagrad": 0.05}
# epoch seeds of the dropout masks: the second exercises the hash's wrap-around
SEEDS = (12345, 2**64 - 3)


def _targets(rng, loss, n, n_out):
    if loss == "softmax":
        return np.eye(n_out, dtype=bool)[rng.randint(n_out, size=n)]
    if loss in ("logistic", "binary"):
        return rng.uniform(size=(n, n_out)) < 0.5
    if loss == "exp":
        return rng.poisson(2.0, size=(n, n_out)).astype(float)
    return rng.normal(size=(n, n_out))


def _build(case, dtype=np.float64, seed=0, n_samples=23):
    """(layout, X, Y, sample_weight, params, optimizer, run) for a case;
    ``run`` holds the epoch keywords, the orders and the tuning."""
    rng = np.random.RandomState(seed)
    loss = case["loss"]
    acts = case["activation"]
    second = ACTIVATIONS[(ACTIVATIONS.index(acts) + 4) % len(ACTIVATIONS)]
    units = (5, 6, 4, N_OUT[loss])
    online = case["path"] == "online"
    batch_size = 1 if online else 5
    dense_dropout = case["dropout"] and not case["sparse"]
    layout = _engine.Layout(
        units, batch_size, (acts, second), OUT_ACTIVATION[loss],
        loss=loss if loss in ("huber", "absolute_error") else None,
        dropout=(0.3, 0.2) if case["dropout"] else None,
        input_dropout=0.2 if dense_dropout else 0.0,
        huber_delta=0.6, max_norm=0.6 if case["max_norm"] else 0.0,
    )
    X = rng.normal(size=(n_samples, units[0]))
    if case["sparse"]:
        X[rng.uniform(size=X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    X = X.astype(dtype)
    Y = _targets(rng, loss, n_samples, units[-1])
    sw = rng.uniform(0.2, 2.0, n_samples).astype(dtype) if case["weighted"] else None
    params = (rng.uniform(-1, 1, layout.n_params) * 0.5).astype(dtype)

    solver = {"nesterov": "sgd"}.get(case["solver"], case["solver"])
    # one sample per step takes a fifth of the rate (sgd diverged there at 0.1)
    lr = LR[case["solver"]] * (0.2 if online else 1.0)
    opt = StochasticOptimizer(solver, layout.n_params, dtype, lr)
    opt.set_hyperparameters(
        momentum=0.9, nesterov=case["solver"] == "nesterov", beta_1=0.9, beta_2=0.99,
        epsilon=1e-8, rho=0.9, weight_decay=0.1,
        alpha1=0.01 if case["l1"] else 0.0,
        clip_value=0.05 if case["clip"] in ("value", "both") else 0.0,
    )
    # a state mid-training, not zeros: momentum, moments, running squares, t
    if solver in ("rmsprop", "adagrad"):
        opt.state1[:] = rng.uniform(0, 1e-3, layout.n_params)
    else:
        opt.state1[:] = rng.normal(scale=1e-2, size=layout.n_params)
    if solver in ("adam", "adamw"):
        opt.state2[:] = rng.uniform(0, 1e-4, layout.n_params)
        opt.t = 3
    orders = [(np.arange(n_samples), False), (rng.permutation(n_samples), True)]
    tuning = {
        "serial": ({}, 1),
        "rows": (dict(par_min_flops=0, rows_pass=True, rows_pass_min_rows=2,
                      rows_pass_step=True), 2),
        "online": (dict(online_split=True, online_min_coefs=0, online_min_samples=1), 2),
    }[case["path"]]
    # per-batch factors of the rate, the weight decay and the dropout rates
    # (every epoch its own), with the ends 0 and 1 among them
    n_batches = -(-n_samples // batch_size)
    factors = [None, None]
    if case.get("schedule"):
        factors = [np.c_[rng.uniform(0, 1.5, n_batches), rng.uniform(0, 2, n_batches),
                         rng.uniform(0, 1, n_batches)] for _ in orders]
        factors[0][0] = (1.0, 0.0, 0.0)
        factors[1][-1] = (0.0, 1.0, 1.0)
    run = {
        "orders": orders,
        "step_factors": factors,
        "tuning": tuning[0],
        "epoch": dict(batch_size=batch_size, lr=lr, alpha=0.01,
                      clip_norm=0.5 if case["clip"] in ("norm", "both") else 0.0,
                      n_threads=tuning[1]),
        "alpha1": 0.01 if case["l1"] else 0.0,
    }
    return layout, X, Y, sw, params, opt, run


def _close(actual, expected, rtol, what):
    expected = np.asarray(expected)
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale,
                               err_msg=what)


def _compare(case, dtype=np.float64):
    layout, X, Y, sw, params, opt, run = _build(case, dtype)
    rtol_loss, rtol = TOL[dtype]["loss"], TOL[dtype]["arrays"]
    p_engine, p_ref = params.copy(), params.copy()
    opt_ref = ref.OptimizerState.copy_of(opt)
    engine = _engine.Problem(layout, X, Y, sw, p_engine, tuning=run["tuning"])
    mine = ref.Problem(layout, X, Y, sw, p_ref)
    if case["path"] == "online":  # the tuning does open the online step
        assert _network.online_threads(layout, 1, X.shape[0], True, 0.0, 2,
                                       tuning=run["tuning"]) == 2
    for epoch, ((order, shuffled), seed, factors) in enumerate(
            zip(run["orders"], SEEDS, run["step_factors"])):
        kw = dict(run["epoch"], shuffled=shuffled, seed=seed, step_factors=factors)
        loss_engine = engine.epoch(opt, order, **kw)
        loss_ref = mine.epoch(opt_ref, order, **kw)
        assert np.isfinite(loss_ref), "the case diverges: pick gentler constants"
        assert loss_engine == pytest.approx(loss_ref, rel=rtol_loss, abs=0), epoch
        _close(p_engine, p_ref, rtol, f"params after epoch {epoch}")
        _close(opt.state1, opt_ref.state1, rtol, f"state1 after epoch {epoch}")
        _close(opt.state2, opt_ref.state2, rtol, f"state2 after epoch {epoch}")
        assert opt.t == opt_ref.t
    assert not np.allclose(p_ref, params)  # the epochs did train
    # serial: threaded, on these knobs, it is ~50 two-thread regions, slow on
    # busy cores (test_threaded_loss_grad_matches_the_reference runs it)
    kw = dict(alpha=0.01, alpha1=run["alpha1"], n_threads=1)
    loss_engine = engine.loss_grad(**kw)
    loss_ref = mine.loss_grad(**kw)
    assert loss_engine == pytest.approx(loss_ref, rel=rtol_loss, abs=0)
    _close(engine.grads, mine.grads, rtol, "loss_grad's gradient")
    return p_ref


# ---------------------------------------------------------------------------
# The matrix
# ---------------------------------------------------------------------------


def test_all_pairs_cover_every_allowed_pair():
    covered = set().union(*(_pairs(case) for case in ALL_PAIRS))
    for name, values in FACTORS.items():
        assert {case[name] for case in ALL_PAIRS} == set(values)
    names = sorted(FACTORS)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for va in FACTORS[a]:
                for vb in FACTORS[b]:
                    if _allowed({a: va, b: vb}):
                        assert ((a, va), (b, vb)) in covered
    assert all(_allowed(case) for case in ALL_PAIRS)
    assert len(ALL_PAIRS) < 100


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ALL_PAIRS, ids=[_case_id(c) for c in ALL_PAIRS])
def test_engine_epochs_match_the_reference(case, dtype):
    p = _compare(case, dtype)
    assert p.dtype == dtype


@pytest.mark.parametrize("l1", [False, True])
@pytest.mark.parametrize("clip", FACTORS["clip"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_every_solver_clipping_and_l1(solver, clip, l1):
    _compare(dict(solver=solver, loss="softmax", activation="tanh", clip=clip, l1=l1,
                  dropout=False, max_norm=False, sparse=False, weighted=True,
                  path="serial"))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_loss_grad_matches_the_reference(loss, activation):
    # every loss x activation, L2 and L1, chunked over the layout's batch
    case = dict(solver="sgd", loss=loss, activation=activation, clip="none", l1=True,
                dropout=False, max_norm=False, sparse=activation in ACTIVATIONS[::2],
                weighted=loss in LOSSES[::2], path="serial")
    layout, X, Y, sw, params, _, _ = _build(case, n_samples=31)
    engine = _engine.Problem(layout, X, Y, sw, params)
    mine = ref.Problem(layout, X, Y, sw, params)
    loss_engine = engine.loss_grad(alpha=0.02, alpha1=0.01, n_threads=1)
    loss_ref = mine.loss_grad(alpha=0.02, alpha1=0.01, n_threads=1)
    assert loss_engine == pytest.approx(loss_ref, rel=RTOL, abs=0)
    _close(engine.grads, mine.grads, RTOL, "gradient")
    # without a gradient buffer: the same loss (a validation set)
    for mod in (_engine, ref):
        problem = mod.Problem(layout, X, Y, sw, params, with_grad=False)
        value = problem.loss_grad(alpha=0.02, alpha1=0.01, n_threads=1)
        assert value == pytest.approx(loss_ref, rel=RTOL, abs=0)
        assert problem.grads.shape == (0,)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("loss, activation", [("softmax", "gelu"), ("huber", "relu"),
                                              ("exp", "tanh")])
def test_threaded_loss_grad_matches_the_reference(loss, activation, sparse):
    # every layer's forward, weight gradient, bias gradient and delta split
    # over 2 threads (par_min_flops 0), gradients accumulated over chunks
    case = dict(solver="sgd", loss=loss, activation=activation, clip="none", l1=True,
                dropout=False, max_norm=False, sparse=sparse, weighted=True, path="serial")
    layout, X, Y, sw, params, _, _ = _build(case, n_samples=12)
    engine = _engine.Problem(layout, X, Y, sw, params, tuning=dict(par_min_flops=0))
    mine = ref.Problem(layout, X, Y, sw, params)
    loss_engine = engine.loss_grad(alpha=0.02, alpha1=0.01, n_threads=2)
    loss_ref = mine.loss_grad(alpha=0.02, alpha1=0.01, n_threads=1)
    assert loss_engine == pytest.approx(loss_ref, rel=RTOL, abs=0)
    _close(engine.grads, mine.grads, RTOL, "gradient")


def test_reference_layout_and_optimizer_serve_the_same_epochs():
    # the reference's own Layout and OptimizerState (no compiled objects)
    # give the numbers it gives with the engine's
    case = dict(solver="adamw", loss="huber", activation="gelu", clip="value", l1=True,
                dropout=True, max_norm=True, sparse=False, weighted=True, path="serial")
    layout, X, Y, sw, params, opt, run = _build(case)
    mine_layout = ref.Layout((5, 6, 4, 2), 5, ("gelu", "tanh"), "identity", loss="huber",
                             dropout=(0.3, 0.2), input_dropout=0.2, huber_delta=0.6,
                             max_norm=0.6)
    mine_opt = ref.OptimizerState("adamw", layout.n_params, np.float64, 0.02)
    mine_opt.set_hyperparameters(**{k: v for k, v in opt.hyper.items()})
    mine_opt.state1[:], mine_opt.state2[:], mine_opt.t = opt.state1, opt.state2, opt.t
    results = []
    for lay, o in [(layout, ref.OptimizerState.copy_of(opt)), (mine_layout, mine_opt)]:
        p = params.copy()
        problem = ref.Problem(lay, X, Y, sw, p)
        losses = [problem.epoch(o, order, shuffled=shuffled, seed=seed, **run["epoch"])
                  for (order, shuffled), seed in zip(run["orders"], SEEDS)]
        results.append((losses, p, o.state1, o.state2, o.t))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1:], results[1][1:]):
        np.testing.assert_array_equal(a, b)


def test_an_empty_order_is_no_step():
    case = dict(solver="adam", loss="softmax", activation="relu", clip="none", l1=False,
                dropout=False, max_norm=False, sparse=False, weighted=False, path="serial")
    layout, X, Y, sw, params, opt, run = _build(case)
    for mod in (_engine, ref):
        p = params.copy()
        o = ref.OptimizerState.copy_of(opt) if mod is ref else opt
        loss = mod.Problem(layout, X, Y, sw, p).epoch(
            o, np.arange(0), shuffled=False, seed=0, **run["epoch"])
        assert loss == 0.0 and o.t == 3
        np.testing.assert_array_equal(p, params)



@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("loss", ["softmax", "logistic", "exp", "identity", "huber"])
def test_engine_forward_matches_the_reference(loss, sparse):
    """Problem.forward: every activation on some hidden layer, each output."""
    case = dict(solver="sgd", loss=loss, activation=None, clip="none", l1=False,
                dropout=False, max_norm=False, sparse=sparse, weighted=False, path="serial")
    for activation in ACTIVATIONS:
        case["activation"] = activation
        layout, X, Y, sw, params, _, _ = _build(case, n_samples=12)
        got = _engine.Problem(layout, X, Y, sw, params).forward(n_threads=1)
        expected = ref.Problem(layout, X, Y, sw, params).forward(n_threads=1)
        _close(got, expected, RTOL, f"forward, {activation}")
        # predict's Problem: no targets, the same output
        np.testing.assert_array_equal(
            _engine.Problem(layout, X, None, None, params).forward(), got)
        _close(ref.Problem(layout, X, None, None, params).forward(), expected, 0.0,
               f"reference forward without targets, {activation}")
