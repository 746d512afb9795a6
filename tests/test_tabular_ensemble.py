"""n_ensemble of the tabular estimators: the members against the estimator
without an ensemble, the averaged prediction against the members' own, and
a failed fit leaving the fitted estimator as it was."""
import pickle
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from sklearn import config_context, get_config
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

import _checkout
from _tabular_helpers import expected_failed_checks
from fastmlp import TabularMLPClassifier, TabularMLPRegressor, _engine, _tabular
from fastmlp._openmp import effective_n_threads
from fastmlp._sklearn_compat import InvalidParameterError
from fastmlp._temperature import temper

pd = pytest.importorskip("pandas")

SMALL = dict(hidden_layer_sizes=(16,), max_iter=8, min_steps=0, batch_size=64)
ESTIMATORS = [TabularMLPClassifier, TabularMLPRegressor]


# three members (two are the default, checked in test_tabular.py); min_steps=0:
# the ensemble, not the step rule, in a quarter of the time
@parametrize_with_checks([TabularMLPClassifier(n_ensemble=3, min_steps=0),
                          TabularMLPRegressor(n_ensemble=3, min_steps=0)],
                         expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_with_an_ensemble(estimator, check):
    check(estimator)


def _table(n=240, seed=0):
    rng = np.random.RandomState(seed)
    df = pd.DataFrame({
        "x": rng.normal(size=n),
        "z": np.where(rng.rand(n) < 0.2, np.nan, rng.lognormal(size=n)),
        "color": rng.choice(["red", "green", "blue", None], n).astype(object),
    })
    signal = np.sin(2 * df["x"].to_numpy()) + (df["color"] == "red").to_numpy()
    return df, signal


def _target(cls, signal):
    if cls is TabularMLPClassifier:
        return np.digitize(signal, np.quantile(signal, [0.33, 0.66]))  # 3 classes
    return np.c_[100 + 30 * signal, signal] if cls is TabularMLPRegressor else signal


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_first_member_is_the_model_without_an_ensemble(cls):
    df, signal = _table()
    y = _target(cls, signal)
    three = cls(**SMALL, n_ensemble=3, random_state=5).fit(df, y)
    # the members train side by side, each on its share of the threads
    running = min(3, effective_n_threads())
    with threadpool_limits(limits=effective_n_threads() // running, user_api="openmp"):
        one = cls(**SMALL, n_ensemble=1, random_state=5).fit(df, y)
    assert len(three.networks_) == 3 and three.network_ is three.networks_[0]
    assert one.networks_ == [one.network_]
    for a, b in zip(one.network_.coefs_, three.networks_[0].coefs_):
        np.testing.assert_array_equal(a, b)
    assert three.best_epoch_ == one.best_epoch_ and three.n_iter_ == one.n_iter_
    # the other members start, split and shuffle from their own seeds
    seeds = {net.random_state for net in three.networks_}
    assert len(seeds) == 3
    for net in three.networks_[1:]:
        assert not np.array_equal(net.coefs_[0], three.network_.coefs_[0])


def test_each_member_keeps_its_best_epoch_on_its_own_held_out_rows():
    df, signal = _table()
    reg = TabularMLPRegressor(**SMALL, n_ensemble=3, random_state=0).fit(df, signal)
    Xt = reg.preprocessor_.transform(df).astype(np.float64)
    target = (signal - reg.y_mean_[0]) / reg.y_scale_[0]
    # the members' splits, drawn again in fit's order from the same seed
    rng = np.random.RandomState(0)
    rng.randint(2**31 - 1)  # the periodic features' seed
    held_out = []
    for net in reg.networks_:
        _, val = reg._split(Xt.shape[0], None, rng, stratify=False)
        assert rng.randint(2**31 - 1) == net.random_state
        held_out.append(val)
    assert len({tuple(v) for v in held_out}) == 3

    def loss(net, rows):  # the validation score is -(squared error / 2)
        return 0.5 * np.mean((net.predict(Xt[rows]) - target[rows]) ** 2)

    for k, net in enumerate(reg.networks_):
        best = -max(net.validation_scores_)
        assert loss(net, held_out[k]) == pytest.approx(best, rel=1e-4)
        others = [loss(net, v) for j, v in enumerate(held_out) if j != k]
        assert all(o != pytest.approx(best, rel=1e-3) for o in others)


def test_classifier_averages_the_members_probabilities():
    df, signal = _table()
    y = np.array(["lo", "mid", "hi"])[_target(TabularMLPClassifier, signal)]
    clf = TabularMLPClassifier(**SMALL, n_ensemble=3, random_state=1).fit(df, y)
    Xt = clf.preprocessor_.transform(df).astype(np.float64)
    # each member's probabilities at its temperature (test_temperature.py)
    members = [temper(net.predict_proba(Xt), t)
               for net, t in zip(clf.networks_, clf.temperatures_)]
    expected = (members[0] + members[1] + members[2]) / 3
    proba = clf.predict_proba(df)
    np.testing.assert_allclose(proba, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(df), clf.classes_[expected.argmax(axis=1)])
    assert not np.allclose(members[0], members[1])
    # the average is what a user would get averaging three fits by hand
    assert clf.score(df, y) == np.mean(clf.predict(df) == y)


@pytest.mark.parametrize("two_targets", [False, True])
def test_regressor_averages_the_members_standardized_outputs(two_targets):
    df, signal = _table()
    y = _target(TabularMLPRegressor, signal) if two_targets else 100 + 30 * signal
    reg = TabularMLPRegressor(**SMALL, n_ensemble=2, random_state=2).fit(df, y)
    Xt = reg.preprocessor_.transform(df).astype(np.float64)
    raw = sum(net.predict(Xt).astype(np.float64) for net in reg.networks_) / 2
    expected = raw.reshape(len(df), -1) * reg.y_scale_ + reg.y_mean_
    expected = np.clip(expected, reg.y_min_, reg.y_max_).reshape(np.shape(y))
    np.testing.assert_allclose(reg.predict(df), expected, rtol=1e-12)
    assert reg.predict(df).shape == np.shape(y)


def test_an_ensemble_fits_better_than_its_members_on_average():
    # not a guarantee for every table, but for a noisy smooth target and
    # fixed seeds the averaged members' error is below their mean error
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(600, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + rng.normal(scale=0.3, size=600)
    train, test = slice(0, 400), slice(400, None)
    reg = TabularMLPRegressor(hidden_layer_sizes=(64, 64), max_iter=30, n_ensemble=4,
                              random_state=0).fit(X[train], y[train])
    Xt = reg.preprocessor_.transform(X[test]).astype(np.float64)
    member_mse = [np.mean((net.predict(Xt) * reg.y_scale_[0] + reg.y_mean_[0] - y[test]) ** 2)
                  for net in reg.networks_]
    ensemble_mse = np.mean((reg.predict(X[test]) - y[test]) ** 2)
    assert ensemble_mse < np.mean(member_mse)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_same_seed_same_ensemble_and_pickle(cls):
    df, signal = _table(160)
    y = _target(cls, signal)
    a = cls(**SMALL, n_ensemble=2, random_state=3).fit(df, y)
    b = cls(**SMALL, n_ensemble=2, random_state=3).fit(df, y)
    np.testing.assert_array_equal(a.predict(df), b.predict(df))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(c.predict(df), a.predict(df))
    sio = pytest.importorskip("skops.io")
    data = sio.dumps(a)
    untrusted = sio.get_untrusted_types(data=data)
    assert all(t.startswith("fastmlp.") for t in untrusted), untrusted
    np.testing.assert_array_equal(sio.loads(data, trusted=untrusted).predict(df), a.predict(df))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_n_ensemble_is_checked(cls):
    X, y = np.zeros((30, 2)), np.arange(30) % 2
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises(InvalidParameterError, match="n_ensemble"):
            cls(n_ensemble=bad).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("n_ensemble", [1, 2])
def test_a_failed_fit_leaves_the_fitted_estimator_as_it_was(cls, n_ensemble):
    df, signal = _table(120)
    y = _target(cls, signal)
    est = cls(**SMALL, n_ensemble=n_ensemble, random_state=0).fit(df, y)
    before = dict(est.__dict__)
    expected = est.predict(df)
    other = pd.DataFrame({"a": np.arange(50.0), "b": ["u", "v"] * 25})
    # fails after the new table's width and names were recorded
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(other, y[:40])
    assert est.__dict__.keys() == before.keys()
    assert all(est.__dict__[k] is v for k, v in before.items())
    np.testing.assert_array_equal(est.predict(df), expected)
    # and when a member's network fails (a callback raising mid-fit)
    with pytest.raises(ZeroDivisionError):
        _fit_with_failing_member(est, df, y)
    assert all(est.__dict__[k] is v for k, v in before.items())
    np.testing.assert_array_equal(est.predict(df), expected)


def _fit_with_failing_member(est, df, y, made=None):
    """Fit with the last member's network raising in its third epoch; the
    members' networks are appended to ``made``."""
    original = type(est)._make_network
    made = [] if made is None else made

    def make(self, *args, **kwargs):
        net = original(self, *args, **kwargs)
        made.append(net)
        if len(made) == self.n_ensemble:
            net.set_params(callbacks=[_FailAt(3)])
        return net

    type(est)._make_network = make
    try:
        est.fit(df, y)
    finally:
        type(est)._make_network = original


class _FailAt:
    def __init__(self, epoch):
        self.epoch = epoch

    def __call__(self, est, history):
        if len(history["loss"]) == self.epoch:
            1 / 0


def _record_member(pause):
    """(seen, fit_one): a fit_one for _train_side_by_side that records in
    seen its thread, the threads a fit in it would use, and how many run at
    once."""
    seen, lock = {"running": 0, "most": 0, "members": []}, threading.Lock()

    def fit_one(plan):
        with lock:
            seen["running"] += 1
            seen["most"] = max(seen["most"], seen["running"])
        time.sleep(pause)
        seen["members"].append((plan, threading.current_thread().name, _engine.fit_threads(),
                                _engine.thread_share(64), get_config()["assume_finite"]))
        with lock:
            seen["running"] -= 1
        if plan == "fail":
            raise ZeroDivisionError
        return plan
    return seen, fit_one


@pytest.mark.parametrize("n_threads, n_plans, most, each", [
    (2, 5, 2, [1, 1, 1, 1, 2]),  # rounds of 2, 2 and 1
    (3, 4, 3, [1, 1, 1, 3]),
    (8, 3, 3, [2, 2, 2]),
    (4, 2, 2, [2, 2]),
    (3, 1, 1, None),  # one member: here, as it is
    (1, 4, 1, None),  # one thread: one after the other, here
])
def test_members_train_side_by_side_on_pinned_threads(n_threads, n_plans, most, each):
    seen, fit_one = _record_member(0.05)
    plans = list(range(n_plans))
    with config_context(assume_finite=True):
        out = _tabular._train_side_by_side(fit_one, plans, n_threads)
    assert out == plans  # in the plans' order
    assert seen["most"] == most
    assert sorted(m[0] for m in seen["members"]) == plans
    for plan, thread, fit_threads, share, assume_finite in seen["members"]:
        assert assume_finite  # the caller's scikit-learn configuration
        if each is None:  # not pinned
            assert thread == threading.current_thread().name
            assert fit_threads == effective_n_threads()
        else:
            assert thread.startswith("fastmlp-member")
            # pinned: not re-shared per epoch by the fits beside it
            assert fit_threads == each[plan] and share == each[plan]
    assert _engine.fit_threads() == effective_n_threads()  # the pin ends with the member


def test_a_failing_member_raises_and_later_rounds_do_not_start():
    seen, fit_one = _record_member(0.05)
    with pytest.raises(ZeroDivisionError):
        _tabular._train_side_by_side(fit_one, ["fail", 1, 2, 3, 4, 5], 2)
    assert sorted(str(m[0]) for m in seen["members"]) == ["1", "fail"]


def test_a_failing_member_stops_the_member_beside_it():
    if effective_n_threads() < 2:
        pytest.skip("one thread: the members train one after the other")
    df, signal = _table(240)
    y = _target(TabularMLPClassifier, signal)
    est = TabularMLPClassifier(**dict(SMALL, max_iter=2000), n_ensemble=2, random_state=0)
    made = []
    with pytest.raises(ZeroDivisionError):
        _fit_with_failing_member(est, df, y, made)
    # the first member ended at an epoch's end soon after, not at 2000
    assert 0 < made[0].n_iter_ < 2000
    # the failed fit's members keep the stop callback, set (a member still
    # running would stop at its epoch's end); fitted ones keep none (below)
    assert len(made[0].callbacks) == 1 and made[0].callbacks[0](made[0], {}) is True
    assert len(made[1].callbacks) == 2 and made[1].callbacks[1](made[1], {}) is True


def test_fitted_members_keep_no_stop_callback():
    df, signal = _table(160)
    est = TabularMLPRegressor(**SMALL, n_ensemble=2, random_state=0).fit(df, signal)
    assert all(net.callbacks is None for net in est.networks_)


class _InterruptAt:
    """Ctrl-C, as a member's callback sees its epoch ``epoch`` end."""

    def __init__(self, epoch):
        self.epoch = epoch

    def __call__(self, est, history):
        if len(history["loss"]) == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("cls", [TabularMLPClassifier, TabularMLPRegressor])
def test_ctrl_c_stops_members_trained_one_after_the_other(cls):
    # on one thread the members train in turn in the main thread, where the
    # drop-in's Ctrl-C handling kept the first member half-trained with a
    # warning, then trained the others and averaged them all
    df, signal = _table(120)
    y = _target(cls, signal)
    est = cls(**SMALL, n_ensemble=3, random_state=0).fit(df, y)
    before = dict(est.__dict__)
    expected = est.predict(df)
    made, original = [], cls._make_network

    def make(self, *args, **kwargs):
        net = original(self, *args, **kwargs)
        made.append(net)
        if len(made) == 1:
            net.set_params(callbacks=[_InterruptAt(2)])
        return net

    cls._make_network = make
    try:
        with _engine.pinned_threads(1), pytest.raises(KeyboardInterrupt):
            est.fit(df, y)
    finally:
        cls._make_network = original
    assert len(made) == 3 and not any(hasattr(net, "coefs_") for net in made[1:])
    assert all(est.__dict__[k] is v for k, v in before.items())
    np.testing.assert_array_equal(est.predict(df), expected)



def _interrupted_pair_fit(monkeypatch, df, y):
    """The members made by a two-member fit of up to 2,000 epochs on 2
    threads that a patched Ctrl-C interrupts (KeyboardInterrupt expected)."""
    made, original = [], TabularMLPRegressor._make_network

    def make(self, *args, **kwargs):
        made.append(original(self, *args, **kwargs))
        return made[-1]

    monkeypatch.setattr(TabularMLPRegressor, "_make_network", make)
    with _engine.pinned_threads(2), pytest.raises(KeyboardInterrupt):
        TabularMLPRegressor(**dict(SMALL, max_iter=2000), n_ensemble=2,
                            random_state=0).fit(df, y)
    return made


def test_a_ctrl_c_as_the_members_start_stops_the_started_ones(monkeypatch):
    # a Ctrl-C between one member's start and the next's was raised outside
    # the code that sets stop: the pool's exit then waited for the started
    # member to train all of max_iter (1.0 s of 2.1 here; minutes at scale)
    df, signal = _table(240)
    y = _target(TabularMLPRegressor, signal)
    real_start, started = threading.Thread.start, []

    def start(self):
        if self.name.startswith("fastmlp-member") and started:
            raise KeyboardInterrupt   # as the second member starts
        started.append(self)
        return real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    made = _interrupted_pair_fit(monkeypatch, df, y)
    assert len(started) == 1 and not started[0].is_alive()   # joined before the raise
    assert 0 < made[0].n_iter_ < 2000



def test_a_ctrl_c_inside_a_members_start_stops_it_before_the_raise(monkeypatch):
    # a Ctrl-C inside Thread.start (which waits for the new thread) left
    # that member out of those joined: it trained on after the raise (41 of
    # 100 randomly interrupted fits, the review's). Every member that calls
    # fit_one has now ended when the KeyboardInterrupt reaches the caller
    stop, ends = threading.Event(), []

    def fit_one(plan):
        stop.wait(5)   # trains until stopped, at the end of an epoch: the
        time.sleep(0.3 * plan)   # second member's ends 0.3 s later
        ends.append(time.perf_counter())
        return plan

    real_start = threading.Thread.start

    def start(self):
        real_start(self)
        if self.name == "fastmlp-member-1":
            raise KeyboardInterrupt   # as start waits for the new thread

    monkeypatch.setattr(threading.Thread, "start", start)
    with pytest.raises(KeyboardInterrupt):
        _tabular._train_side_by_side(fit_one, [0, 1], 2, stop)
    raised = time.perf_counter()
    time.sleep(0.5)
    assert ends and all(end <= raised for end in ends)


def test_members_whose_threads_cannot_start_train_here_to_the_same_bits(monkeypatch):
    # at interpreter shutdown (a fit from an atexit handler, or in a thread
    # left running at exit) no thread starts: the fit failed ("cannot
    # schedule new futures after interpreter shutdown") on 2 threads only
    df, signal = _table(160)
    y = _target(TabularMLPClassifier, signal)
    kw = dict(SMALL, n_ensemble=3, random_state=0)
    with _engine.pinned_threads(2):
        expected = TabularMLPClassifier(**kw).fit(df, y).predict_proba(df)
    real_start = threading.Thread.start

    def start(self):
        if self.name.startswith("fastmlp-member"):
            raise RuntimeError("can't create new thread at interpreter shutdown")
        return real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    with _engine.pinned_threads(2):
        got = TabularMLPClassifier(**kw).fit(df, y).predict_proba(df)
    np.testing.assert_array_equal(got, expected)


def test_a_fit_from_an_atexit_handler_trains():
    code = textwrap.dedent("""
        import atexit
        import numpy as np
        from fastmlp import TabularMLPClassifier, _engine

        def fit():
            rng = np.random.RandomState(0)
            X = rng.normal(size=(200, 3))
            with _engine.pinned_threads(2):
                est = TabularMLPClassifier(hidden_layer_sizes=(8,), max_iter=3, min_steps=0,
                                           random_state=0).fit(X, X[:, 0] > 0)
            print("fitted", est.score(X, X[:, 0] > 0) > 0.5, flush=True)

        atexit.register(fit)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=_checkout.cwd())
    assert out.returncode == 0 and out.stdout.strip() == "fitted True", out.stderr[-2000:]


def test_members_stop_when_the_main_thread_is_interrupted_twice(monkeypatch):
    # a second Ctrl-C while the members finished their epoch ended the fit
    # and then took the stop callback off the members, which trained on to
    # max_iter in the background on both cores
    df, signal = _table(240)
    y = _target(TabularMLPRegressor, signal)
    real_join, presses = threading.Thread.join, []

    def pressed(self, timeout=None):
        # the main thread's joins of the members: a first Ctrl-C while it
        # waits, a second as it waits for them to end their epoch
        if (self.name.startswith("fastmlp-member") and len(presses) < 2
                and threading.current_thread() is threading.main_thread()):
            if not presses:
                real_join(self, 0.05)
            presses.append(1)
            raise KeyboardInterrupt
        return real_join(self, timeout)

    monkeypatch.setattr(threading.Thread, "join", pressed)
    made = _interrupted_pair_fit(monkeypatch, df, y)
    for thread in threading.enumerate():
        if thread.name.startswith("fastmlp-member"):
            thread.join(timeout=60)
            assert not thread.is_alive()
    assert len(made) == 2 and all(net.n_iter_ < 2000 for net in made)



@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("weighted", [False, True])
def test_members_read_their_rows_in_place_with_the_copies_bits(cls, weighted, monkeypatch):
    # each member trained on a copy of its rows of the network input (as
    # large as the input itself, per member training at once); it now
    # reads them in place (_split_validation).  Oracle: the fit on copies
    from fastmlp._tabular_network import TabularNetClassifier, TabularNetRegressor

    df, signal = _table()
    y = _target(cls, signal)
    sw = None
    if weighted:
        sw = np.random.RandomState(1).rand(len(df))
        sw[::9] = 0.0   # rows left out, as if removed
    net_cls = TabularNetClassifier if cls is TabularMLPClassifier else TabularNetRegressor
    real_fit = net_cls.fit
    seen = []

    def recording(self, X, y, **kwargs):
        seen.append((X.shape[0], sorted(kwargs)))
        return real_fit(self, X, y, **kwargs)

    monkeypatch.setattr(net_cls, "fit", recording)
    in_place = cls(**SMALL, n_ensemble=2, random_state=3).fit(df, y, sample_weight=sw)
    # the whole input, no held-out copy
    assert seen == [(len(df), ["sample_weight"])] * 2

    def copies(self, X, y, sample_weight=None, **kwargs):
        # the members' fit before: their rows copied, the held-out set given
        train, val = self.__dict__.pop("_rows")
        w = (lambda rows: None) if sample_weight is None else (lambda rows: sample_weight[rows])
        try:
            return real_fit(self, X[train], y[train], sample_weight=w(train), X_val=X[val],
                            y_val=y[val], sample_weight_val=w(val))
        finally:
            self._rows = (train, val)

    monkeypatch.setattr(net_cls, "fit", copies)
    copied = cls(**SMALL, n_ensemble=2, random_state=3).fit(df, y, sample_weight=sw)
    method = "predict_proba" if cls is TabularMLPClassifier else "predict"
    np.testing.assert_array_equal(getattr(in_place, method)(df), getattr(copied, method)(df))
    for a, b in zip(in_place.networks_, copied.networks_):
        assert a.validation_scores_ == b.validation_scores_
        assert "_rows" not in a.__dict__


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_fitted_table_model_pickles_to_the_same_bytes_every_time(cls):
    # its networks' random states pickled a fresh SeedSequence each time:
    # Dask's map_partitions(model.predict) raised TokenizationError, where
    # HistGradientBoosting's works (test_persistence has the drop-ins')
    from dask.base import tokenize

    df, signal = _table()
    model = cls(**SMALL, random_state=None).fit(df, _target(cls, signal))
    assert pickle.dumps(model) == pickle.dumps(model)
    assert tokenize(model) == tokenize(model)


def test_verbose_names_each_member(capsys):
    # the members train side by side and print scikit-learn's lines: they
    # came interleaved with nothing saying whose they were
    X, signal = _table()
    y = _target(TabularMLPClassifier, signal)
    TabularMLPClassifier(**SMALL, n_ensemble=2, verbose=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    for k in (1, 2):
        own = [line[len(f"member {k}: "):] for line in lines
               if line.startswith(f"member {k}: ")]
        assert [line.split(",")[0] for line in own[::2]] == [
            f"Iteration {e}" for e in range(1, SMALL["max_iter"] + 1)]
        assert all(line.startswith("Validation score: ") for line in own[1::2])
    assert len(lines) == 4 * SMALL["max_iter"]
    one = TabularMLPClassifier(**SMALL, n_ensemble=1, verbose=True, random_state=0).fit(X, y)
    assert capsys.readouterr().out.startswith("Iteration 1, loss = ")
    assert not hasattr(one.network_, "_say_prefix")
