"""An epoch stops within itself: on Ctrl-C (main thread) or on the caller's
stop event (any thread: _engine.stopping_on), after about
Tuning.signal_check_seconds whatever a step costs, with Adam's step count
that of the steps taken.

Oracle: with checks after every step (signal_check_samples=1,
signal_check_seconds=0) and the event set before the epoch, the epoch
stops after its first step, and the weights, moments and step count are
those of an epoch of that one batch alone.
"""
import threading
import time

import numpy as np
import pytest

from fastmlp import TabularMLPRegressor, _engine

from _engine_helpers import engine_optimizer

EVERY_STEP = {"signal_check_samples": 1, "signal_check_seconds": 0.0, "pace": False,
              "par_min_flops": 0}


def _problem(units, n, batch_size, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, units[0]))
    Y = rng.normal(size=(n, units[-1]))
    layout = _engine.Layout(units, batch_size, "relu", "identity")
    params = rng.normal(scale=0.3, size=layout.n_params)
    return layout, X, Y, params


def _epoch(layout, X, Y, params, order, batch_size, n_threads, stop=None):
    prob = _engine.Problem(layout, X, Y, None, params.copy(), tuning=EVERY_STEP)
    opt = engine_optimizer("adam", layout.n_params, np.float64, 0.01)
    with _engine.stopping_on(stop):
        try:
            prob.epoch(opt, order, shuffled=True, batch_size=batch_size, lr=0.01, alpha=1e-4,
                       clip_norm=0.0, n_threads=n_threads)
            stopped = False
        except KeyboardInterrupt:
            stopped = True
    return stopped, prob.params, opt


@pytest.mark.parametrize("batch_size, n_threads", [
    (16, 1),   # minibatches
    (1, 1),    # batch size 1 on one thread
    pytest.param(1, 2, marks=pytest.mark.needs_threads),  # the online step's team
])
def test_a_set_stop_event_ends_the_epoch_after_its_first_step(batch_size, n_threads):
    units = [8, 64, 64, 1] if n_threads > 1 else [8, 16, 1]
    layout, X, Y, params = _problem(units, 96, batch_size)
    order = np.random.RandomState(3).permutation(96)
    stop = threading.Event()
    stop.set()
    stopped, got, opt = _epoch(layout, X, Y, params, order, batch_size, n_threads, stop)
    assert stopped
    assert opt.t == 1   # Adam's count: the one step taken (it was lost before)
    # the same as an epoch of that first batch alone
    _, expected, ref = _epoch(layout, X, Y, params, order[:batch_size], batch_size, n_threads)
    assert ref.t == 1
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(opt.state1, ref.state1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(opt.state2, ref.state2, rtol=1e-12, atol=1e-15)


def test_an_unset_stop_event_changes_nothing():
    layout, X, Y, params = _problem([8, 16, 1], 96, 16)
    order = np.random.RandomState(3).permutation(96)
    stopped, got, opt = _epoch(layout, X, Y, params, order, 16, 1, threading.Event())
    _, expected, ref = _epoch(layout, X, Y, params, order, 16, 1)
    assert not stopped and opt.t == ref.t == 6
    np.testing.assert_array_equal(got, expected)


def test_a_stop_event_set_during_a_long_epoch_ends_it_early():
    # one epoch of ~1,200 steps of a wide network at batch size 1: the
    # checks now come by the clock (the default 0.05 s), not every 2,048
    # samples (seconds of work for such a network)
    layout, X, Y, params = _problem([64, 512, 512, 1], 1200, 1)
    order = np.arange(1200)
    prob = _engine.Problem(layout, X, Y, None, params.copy(), tuning={"pace": False})
    opt = engine_optimizer("adam", layout.n_params, np.float64, 0.001)
    stop = threading.Event()
    setter = threading.Timer(0.05, stop.set)
    setter.start()
    try:
        with _engine.stopping_on(stop), pytest.raises(KeyboardInterrupt):
            prob.epoch(opt, order, shuffled=True, batch_size=1, lr=0.001, alpha=0.0,
                       clip_norm=0.0, n_threads=1)
    finally:
        setter.cancel()
    assert 0 < opt.t < 1200
    assert np.isfinite(prob.params).all()


@pytest.mark.needs_threads
def test_an_ensemble_stops_within_its_members_epoch(monkeypatch):
    # members train on threads of their own, which never see Ctrl-C: they
    # stopped only at the end of an epoch, seconds later on a large table.
    # Here the main thread is "interrupted" while it waits for them, one
    # epoch of each taking far longer than the wait
    import pandas as pd

    rng = np.random.RandomState(0)
    df = pd.DataFrame(rng.normal(size=(120_000, 4)), columns=list("abcd"))
    y = df["a"].to_numpy() + rng.normal(scale=0.1, size=120_000)
    real_join, pressed = threading.Thread.join, []

    def interrupted_join(self, timeout=None):
        # the main thread's first wait for a member: Ctrl-C 0.3 s into it
        if (self.name.startswith("fastmlp-member") and not pressed
                and threading.current_thread() is threading.main_thread()):
            pressed.append(1)
            real_join(self, 0.3)
            raise KeyboardInterrupt
        return real_join(self, timeout)

    monkeypatch.setattr(threading.Thread, "join", interrupted_join)
    est = TabularMLPRegressor(n_ensemble=2, max_iter=1, min_steps=1, batch_size=1,
                              hidden_layer_sizes=(1024, 1024), random_state=0)
    t0 = time.perf_counter()
    with _engine.pinned_threads(2), pytest.raises(KeyboardInterrupt):
        est.fit(df, y)
    # an epoch of 96,000 steps of this network takes about 30 s on these
    # machines (10 s for 32,000); the members stop within their first
    assert time.perf_counter() - t0 < 8
    assert not hasattr(est, "networks_")


def test_the_step_count_is_left_for_an_interrupt_that_surfaces_at_the_return():
    # a Ctrl-C after the epoch's last check surfaces as train_epoch returns,
    # before Problem.epoch stores Adam's count: t_done must be the final one
    layout, X, Y, params = _problem([8, 16, 1], 96, 16)
    prob = _engine.Problem(layout, X, Y, None, params.copy(), tuning={"pace": False})
    opt = engine_optimizer("adam", layout.n_params, np.float64, 0.01)
    seen = []
    constants = opt.epoch_constants

    def recording(lr):
        seen.append(constants(lr))
        return seen[-1]

    opt.epoch_constants = recording
    for order in (np.arange(96), np.arange(0)):
        prob.epoch(opt, order, shuffled=True, batch_size=16, lr=0.01, alpha=0.0,
                   clip_norm=0.0, n_threads=1)
        assert seen[-1]["t_done"] == opt.t == 6


def _pretend_forked(monkeypatch):
    """This thread as the one that forked the process: run() hands calls
    with a team to the host thread (_omp_host)."""
    from fastmlp import _omp_host

    monkeypatch.setattr(_omp_host, "_forking_thread", threading.get_ident())
    return _omp_host


@pytest.mark.parametrize("raised", [KeyboardInterrupt, TimeoutError])
def test_an_exception_while_the_forking_thread_waits_waits_for_the_call(raised, monkeypatch):
    # a signal handler's exception (Ctrl-C, a SIGALRM timeout) left run()
    # at once while the host went on with the call: the tabular quantile
    # kernel then read the caller's freed columns (a segfault in a sweep)
    import signal

    host = _pretend_forked(monkeypatch)
    finished, stopped = [], []

    def call():
        time.sleep(0.4)
        finished.append(True)
        return "done"

    def handler(signum, frame):
        raise raised("from a signal handler")

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(raised, match="from a signal handler"):
            host.run(2, call, on_interrupt=lambda: stopped.append(True))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert finished == [True]   # the call had ended when run() raised
    assert stopped == [True]    # and was told to stop
    assert host.run(2, lambda: "again") == "again"


def test_calls_without_a_team_or_off_the_forking_thread_run_here(monkeypatch):
    host = _pretend_forked(monkeypatch)
    me = threading.get_ident()
    assert host.run(1, threading.get_ident) == me
    assert host.run(2, threading.get_ident) != me
    out = []
    worker = threading.Thread(target=lambda: out.append(
        host.run(2, threading.get_ident) == threading.get_ident()))
    worker.start()
    worker.join()
    assert out == [True]


def test_a_forked_childs_calls_run_here_on_one_thread_when_no_thread_starts(monkeypatch):
    # Python 3.12 starts no thread at interpreter shutdown: a forked child's
    # fit (or predict) with a team, from an atexit handler, raised "can't
    # create new thread at interpreter shutdown" as the host thread started.
    # Now such calls run here on one thread: the one-thread fit's bits
    from sklearn.datasets import load_digits

    from fastmlp import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = X[:600] / 16.0

    def fit(n_threads):
        with _engine.pinned_threads(n_threads):
            est = MLPClassifier(hidden_layer_sizes=(32,), max_iter=3, random_state=0)
            return est.fit(X, y[:600]).predict_proba(X)

    expected = fit(1)
    host = _pretend_forked(monkeypatch)
    monkeypatch.setattr(host, "_host", None)
    real_start = threading.Thread.start

    def start(self):
        if self.name == "fastmlp-openmp-host":
            raise RuntimeError("can't create new thread at interpreter shutdown")
        return real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    assert host.threads_for(2) == 1 and host.threads_for(1) == 1
    np.testing.assert_array_equal(fit(2), expected)


# ------------------------------------------------ predict and L-BFGS passes

def _interrupt_case(n=40 * 256):
    # 40 predict blocks: more than the first span of an interruptible
    # predict (_predict.PREDICT_SPAN_BLOCKS per thread), on one thread
    layout, X, Y, params = _problem([8, 16, 1], n, 2048)
    return _engine.Problem(layout, X, Y, None, params, tuning=EVERY_STEP)


@pytest.mark.parametrize("call", ["forward", "loss_grad"])
def test_a_set_stop_event_ends_an_interruptible_pass(call):
    # a user's predict and an L-BFGS pass stop between row spans (chunks);
    # the same call not asked to be interruptible (a fit's held-out
    # scoring, README "Ctrl-C") runs to its end, to the same bits
    prob = _interrupt_case()

    def run(interruptible):
        if call == "forward":
            return prob.forward(n_threads=1, interruptible=interruptible)
        return prob.loss_grad(alpha=1e-4, n_threads=1, interruptible=interruptible)

    expected = run(False)
    stop = threading.Event()
    with _engine.stopping_on(stop):
        assert np.array_equal(run(True), expected)    # unset: nothing changes
        stop.set()
        assert np.array_equal(run(False), expected)   # not interruptible: to the end
        with pytest.raises(KeyboardInterrupt):
            run(True)


def test_ctrl_c_reaches_a_long_predict_inside_it():
    # a signal handler's exception (Ctrl-C's KeyboardInterrupt, here a
    # SIGALRM's) is raised between the spans of a predict, not once the
    # whole of it is done: the traceback ends in the engine's predict
    import signal
    import traceback

    from fastmlp import MLPRegressor

    class Alarm(Exception):
        pass

    rng = np.random.RandomState(0)
    X = rng.normal(size=(64, 32))
    est = MLPRegressor(hidden_layer_sizes=(256, 256), max_iter=1, random_state=0)
    est.fit(X, X[:, 0])
    big = np.tile(X, (4000, 1))      # 256,000 rows: 1,000 blocks, seconds of work

    def handler(signum, frame):
        raise Alarm

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        with pytest.raises(Alarm) as info:
            est.predict(big)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    frames = [f.filename for f in traceback.extract_tb(info.value.__traceback__)]
    assert any(f.endswith("_predict.pyx") for f in frames), frames
