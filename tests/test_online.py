"""The online step on two or more threads (fastmlp/_online.pyx): batch size
1, each thread owning a slice of every hidden layer's units (their columns of
W_0, their rows of the next W).  Checked against the one-thread step (itself checked against the NumPy reference elsewhere) for
every activation, output and optimizer, against itself for determinism, and
through the estimators."""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from fastmlp import MLPClassifier, MLPRegressor, _engine, _network, _pacing

from _engine_helpers import engine_sgd_epoch, make_problem


# The online step for networks of any size and epochs of any length (it
# needs two threads), passed to the engine explicitly.
ONLINE_EVERYWHERE = dict(online_min_coefs=0, online_min_samples=0, online_split=True)


@pytest.fixture
def online_everywhere():
    return ONLINE_EVERYWHERE


def _epoch(units, activation, out, n_threads, solver="adam", weighted=True, alpha=0.01,
           opt_extra=None, layout_extra=None, n_samples=40, order=None, seed=0,
           tuning=ONLINE_EVERYWHERE):
    X, Y, sw, params = make_problem(units, out if out in ("softmax", "logistic", "identity",
                                                          "exp") else "identity",
                                    n_samples=n_samples, weighted=weighted, seed=seed)
    state = {"s1": np.zeros_like(params), "s2": np.zeros_like(params)}
    loss, p = engine_sgd_epoch(params, X, Y, sw, units, activation,
                               "identity" if out in ("huber", "absolute_error") else out,
                               alpha, 1, 0.05, order=order, n_threads=n_threads,
                               solver=solver, momentum=0.9, state=state,
                               opt_extra=opt_extra, layout_extra=layout_extra,
                               tuning=tuning)
    return loss, p, state


def _layout(units, activation="relu", out="softmax", batch_size=1, **extra):
    return _engine.Layout(units, batch_size, activation, out, **extra)


ACTIVATIONS = sorted(_engine.HIDDEN_ACTIVATIONS)
OUTPUTS = ["softmax", "logistic", "identity", "exp", "huber", "absolute_error"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("out", OUTPUTS)
def test_online_step_matches_the_one_thread_step(online_everywhere, activation, out,
                                                  require_threads):
    units = [6, 40, 9, 3]
    extra = {"loss": out} if out in ("huber", "absolute_error") else None
    assert _network.online_threads(_layout(units, activation, "identity" if extra else out,
                                           **(extra or {})), 1, 1000, True, 0.0, 2,
                                   tuning=online_everywhere) == 2
    require_threads(2, explicit=True)
    order = np.random.RandomState(3).permutation(40)
    runs = [_epoch(units, activation, out, n_threads, layout_extra=extra, order=order)
            for n_threads in (1, 2)]
    (l1, p1, s1), (l2, p2, s2) = runs
    # the forward sums are split in two: equal up to float64 rounding
    np.testing.assert_allclose(p2, p1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(s2["s1"], s1["s1"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(s2["s2"], s1["s2"], rtol=1e-9, atol=1e-15)
    assert l2 == pytest.approx(l1, rel=1e-10)
    assert s2["t"] == s1["t"] == 40


@pytest.mark.parametrize(
    "solver, opt_extra",
    [
        ("sgd", {}),
        ("sgd", {"nesterov": True}),
        ("adam", {"alpha1": 0.003, "clip_value": 0.05}),
        ("adamw", {"weight_decay": 0.1}),
        ("rmsprop", {}),
        ("adagrad", {}),
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_every_optimizer_and_option(online_everywhere, solver, opt_extra, weighted,
                                    require_threads):
    require_threads(2, explicit=True)
    units = [5, 70, 4]   # 70 units: slices cut on a multiple of 16 (32 + 38)
    runs = [_epoch(units, "tanh", "softmax", n_threads, solver=solver,
                   weighted=weighted, opt_extra=opt_extra) for n_threads in (1, 2)]
    np.testing.assert_allclose(runs[1][1], runs[0][1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(runs[1][2]["s1"], runs[0][2]["s1"], rtol=1e-9, atol=1e-12)
    assert runs[1][0] == pytest.approx(runs[0][0], rel=1e-10)


@pytest.mark.parametrize("units", [[7, 33, 1, 5], [3, 2, 2, 2, 2], [9, 64, 64, 1]])
def test_layers_thinner_than_the_team_and_deep_networks(online_everywhere, units,
                                                        require_threads):
    # a layer of 1 unit: one thread owns no row of the next layer
    require_threads(2, explicit=True)
    runs = [_epoch(units, "relu", "identity", n_threads, n_samples=30)
            for n_threads in (1, 2)]
    np.testing.assert_allclose(runs[1][1], runs[0][1], rtol=1e-9, atol=1e-12)
    assert runs[1][0] == pytest.approx(runs[0][0], rel=1e-10)


@pytest.mark.needs_threads
def test_same_result_every_time(online_everywhere):
    units = [6, 40, 9, 3]
    runs = [_epoch(units, "relu", "softmax", 2)[1] for _ in range(3)]
    for p in runs[1:]:
        np.testing.assert_array_equal(p, runs[0])


def _team_pace(chunk):
    """A pacer state (_pacing.pxd) that keeps the team on, in segments of
    `chunk` samples: one thread's cost known and far above the team's, no
    probe due."""
    state = np.zeros(_pacing.LENGTH)
    field = {name: i for i, name in enumerate(_pacing.FIELDS)}
    state[field["solo_cost"]] = 1.0
    state[field["team_cost"]] = 1e-9
    state[field["gap"]] = 1e9
    state[field["chunk"]] = chunk
    state[field["segments"]] = 2
    return state, field


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("solver, opt_extra", [("adam", None), ("sgd", {"alpha1": 1e-3})])
@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_team_segments_give_the_bits_of_one_segment(dtype, solver, opt_extra, chunk,
                                                    require_threads):
    # The pacer cuts an epoch into team segments; the threads' own copies of
    # the parameters stay live from one to the next, and the penalty's sums
    # pass from the last step of one to the first of the next.  So a team
    # that holds gives the same bits, parameters, state and losses, however
    # the epoch is cut, as one segment (pace off).
    require_threads(2, explicit=True)
    units = [12, 20, 9, 5]   # two meetings a sample
    segmented = dict(ONLINE_EVERYWHERE, pace=True, pace_first_chunk=chunk, pace_max_chunk=chunk,
                     pace_gap=10**9, pace_max_gap=10**9, pace_trigger=1e9)
    team_pace, field = _team_pace(chunk)
    runs = []
    for tuning, pace in ((dict(ONLINE_EVERYWHERE, pace=False), None),
                         (segmented, team_pace)):
        X, Y, sw, params = make_problem(units, "softmax", n_samples=90, dtype=dtype,
                                        weighted=True, seed=3)
        state = {"s1": np.zeros_like(params), "s2": np.zeros_like(params)}
        losses = []
        for epoch in range(2):
            order = np.random.RandomState(epoch).permutation(90)
            losses.append(engine_sgd_epoch(params, X, Y, sw, units, "tanh", "softmax", 0.01,
                                           1, 0.01, order=order, n_threads=2, solver=solver,
                                           momentum=0.9, state=state, opt_extra=opt_extra,
                                           tuning=tuning, pace=pace)[0])
        runs.append((params, state, losses, pace))
    (p0, st0, loss0, _), (p1, st1, loss1, pace) = runs
    assert pace[field["solo_segments"]] == 0
    assert pace[field["team_segments"]] == 2 * -(-90 // chunk)
    np.testing.assert_array_equal(p1, p0)
    np.testing.assert_array_equal(st1["s1"], st0["s1"])
    np.testing.assert_array_equal(st1["s2"], st0["s2"])
    assert loss1 == loss0


def test_float32(online_everywhere, require_threads):
    X, Y, sw, params = make_problem([8, 48, 5], "softmax", n_samples=60, dtype=np.float32)
    runs = []
    for n_threads in (1, 2):
        p = params.copy()
        engine_sgd_epoch(p, X, Y, sw, [8, 48, 5], "relu", "softmax", 1e-4, 1, 0.01,
                         n_threads=n_threads, solver="adam", tuning=online_everywhere)
        runs.append(p)
    assert runs[1].dtype == np.float32
    require_threads(2, explicit=True)
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-9), (np.float32, 1e-4)])
def test_forward_by_loop_or_gemm_matches_the_one_thread_step(dtype, rtol, require_threads):
    # the one-row products x W in fastmlp's loop (the default where OpenBLAS
    # has no small-matrix kernel) or in the GEMM, in the online step and in
    # the one-thread step of one-row batches: the same steps up to rounding
    units = [8, 48, 9, 5]
    X, Y, sw, params = make_problem(units, "softmax", n_samples=60, dtype=dtype)
    runs = []
    for n_threads, row_loop in ((1, False), (1, True), (2, True), (2, False)):
        p = params.copy()
        engine_sgd_epoch(p, X, Y, sw, units, "tanh", "softmax", 1e-4, 1, 0.01,
                         n_threads=n_threads, solver="adam",
                         tuning={**ONLINE_EVERYWHERE, "one_row_loop": row_loop})
        runs.append(p)
    require_threads(2, explicit=True)
    assert not np.array_equal(runs[0], params)
    for p in runs[1:]:
        np.testing.assert_allclose(p, runs[0], rtol=rtol, atol=rtol * 1e-2)


def test_when_the_online_step_runs():
    from fastmlp._tuning import DEFAULTS

    default_min = DEFAULTS["online_min_coefs"]
    if True:  # (the default thresholds, as estimators use them)
        big = [64, 100, 10]
        assert 64 * 100 + 100 * 10 >= default_min
        assert _network.online_threads(_layout(big), 1, 1000, True, 0.0, 2) == 2
        # not: a larger batch, one thread, a short epoch, CSR input, clipping by the global
        # norm, dropout, max_norm, no hidden layer, a small network
        assert _network.online_threads(_layout(big, batch_size=2), 2, 1000, True, 0.0, 2) == 1
        assert _network.online_threads(_layout(big), 1, 1000, True, 0.0, 1) == 1
        assert _network.online_threads(_layout(big), 1, 100, True, 0.0, 2) == 1
        assert _network.online_threads(_layout(big), 1, 1000, False, 0.0, 2) == 1
        assert _network.online_threads(_layout(big), 1, 1000, True, 1.0, 2) == 1
        assert _network.online_threads(_layout(big, dropout=[0.2]), 1, 1000, True, 0.0, 2) == 1
        assert _network.online_threads(_layout(big, input_dropout=0.1), 1, 1000, True, 0.0, 2) == 1
        assert _network.online_threads(_layout(big, max_norm=2.0), 1, 1000, True, 0.0, 2) == 1
        assert _network.online_threads(_layout([500, 10]), 1, 1000, True, 0.0, 2) == 1
        assert _network.online_threads(_layout([4, 8, 3]), 1, 1000, True, 0.0, 2) == 1
        assert _network.online_threads(_layout(big), 1, 1000, True, 0.0, 2,
                                       tuning=dict(online_split=False)) == 1


@pytest.mark.parametrize("Est, target", [(MLPClassifier, "multiclass"),
                                         (MLPClassifier, "multilabel"),
                                         (MLPRegressor, "regression")])
def test_estimators_train_the_same_model_on_one_and_two_threads(Est, target, require_threads):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 30))
    if target == "multiclass":
        y = rng.randint(0, 4, 300)
    elif target == "multilabel":
        y = rng.randint(0, 2, (300, 3))
    else:
        y = X[:, :2] @ [1.0, -2.0] + 0.1 * rng.normal(size=300)
    layout = _layout([30, 100, 4])
    assert _network.online_threads(layout, 1, 300, True, 0.0, 2) == 2
    fits = []
    for n_threads in (1, 2):
        with threadpool_limits(limits=n_threads):
            est = Est(hidden_layer_sizes=(100,), batch_size=1, max_iter=3, random_state=0)
            with pytest.warns(Warning):  # not converged in 3 epochs
                fits.append(est.fit(X, y))
    require_threads(2)
    for a, b in zip(fits[0].coefs_ + fits[0].intercepts_, fits[1].coefs_ + fits[1].intercepts_):
        np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fits[1].loss_curve_, fits[0].loss_curve_, rtol=1e-9)
    assert fits[1]._optimizer.t == fits[0]._optimizer.t == 900


def test_partial_fit_continues_the_online_step_as_on_one_thread(require_threads):
    # the optimizer state and Adam's step count carry over between calls
    rng = np.random.RandomState(1)
    X = rng.normal(size=(300, 30))
    y = rng.randint(0, 3, 300)
    assert _network.online_threads(_layout([30, 100, 3]), 1, 300, True, 0.0, 2) == 2
    fits = []
    for n_threads in (1, 2):
        with threadpool_limits(limits=n_threads):
            est = MLPClassifier(hidden_layer_sizes=(100,), batch_size=1, random_state=0)
            for _ in range(3):
                est.partial_fit(X, y, classes=np.arange(3))
        fits.append(est)
    require_threads(2)
    for a, b in zip(fits[0].coefs_ + fits[0].intercepts_, fits[1].coefs_ + fits[1].intercepts_):
        np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fits[1]._optimizer.state2, fits[0]._optimizer.state2, rtol=1e-7, atol=1e-14)
    assert fits[1]._optimizer.t == fits[0]._optimizer.t == 900


@pytest.mark.parametrize("n_threads", [3, 4])
@pytest.mark.parametrize("units", [[6, 40, 9, 3], [5, 70, 4], [3, 2, 2, 2, 2]])
def test_more_threads_than_cores(online_everywhere, units, n_threads, require_threads):
    # three or four threads on this two-core machine: slices of every width,
    # partial sums over more threads, and threads descheduled between
    # meetings (the spin wait yields), still the one-thread step's numbers
    layout = _layout(units, "relu", "identity")
    assert _network.online_threads(layout, 1, 1000, True, 0.0, n_threads,
                                   tuning=online_everywhere) == n_threads
    require_threads(n_threads, explicit=True)
    order = np.random.RandomState(5).permutation(60)
    runs = [_epoch(units, "relu", "identity", nt, n_samples=60, order=order)
            for nt in (1, n_threads)]
    np.testing.assert_allclose(runs[1][1], runs[0][1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(runs[1][2]["s2"], runs[0][2]["s2"], rtol=1e-9, atol=1e-15)
    assert runs[1][0] == pytest.approx(runs[0][0], rel=1e-10)
