"""Watching a fit at the estimator level: ``verbose`` (scikit-learn's lines at
every value), ``progress`` (fastmlp's epoch lines), ``max_time`` and
``callbacks`` (which may stop training, and whose exceptions propagate and
leave the model as it was), with the stochastic solvers and L-BFGS.

The reporter, the time budget and the callback runner themselves are tested
in test_progress.py.  Everything runs in float64 on small data and small
networks.
"""
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from fastmlp import MLPClassifier, MLPRegressor

from _option_helpers import (
    _multiclass,
    _flat,
    _regression,
    _split,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_progress_prints_one_epoch_line_per_epoch(capsys):
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0, progress=True)
    est.fit(X, y)
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if re.match(r"^Epoch \d+/5: ", ln)]
    assert [int(re.match(r"^Epoch (\d+)/", ln).group(1)) for ln in lines] == [1, 2, 3, 4, 5]
    for ln, loss in zip(lines, est.loss_curve_):
        assert "loss=%.6f" % loss in ln
    assert "Iteration" not in out


@pytest.mark.parametrize("verbose", [True, 1, 2, 10])
def test_any_verbose_prints_scikit_learn_lines_and_progress_adds_its_own(verbose, capsys):
    """verbose is scikit-learn's at every value; progress=True adds the epoch
    lines, with scikit-learn's lines still printed (above the bar)."""
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0, verbose=verbose)
    est.fit(X, y)
    out = capsys.readouterr().out
    expected = ["Iteration %d, loss = %.8f" % (i + 1, l) for i, l in enumerate(est.loss_curve_)]
    assert [ln for ln in out.splitlines() if ln.startswith("Iteration")] == expected
    assert "Epoch " not in out
    est.set_params(progress=True).fit(X, y)
    out = capsys.readouterr().out
    assert [ln for ln in out.splitlines() if ln.startswith("Iteration")] == expected
    assert len([ln for ln in out.splitlines() if ln.startswith("Epoch ")]) == 3


def test_progress_epoch_numbers_with_warm_start(capsys):
    """A warm-started fit of max_iter=N runs N epochs: its lines must not
    claim more epochs than planned ("Epoch 4/3")."""
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0, progress=True,
                        warm_start=True)
    est.fit(X, y)
    est.fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Epoch ")]
    assert len(lines) == 6
    for ln in lines:
        done, planned = map(int, re.match(r"^Epoch (\d+)/(\d+):", ln).groups())
        assert 1 <= done <= planned, ln


def test_progress_partial_fit_does_not_claim_max_iter_epochs(capsys):
    """partial_fit runs one epoch per call: as EpochReporter documents
    (max_iter=None for partial_fit), its lines read "Epoch k", not
    "Epoch k/200" (max_iter plays no part in partial_fit)."""
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), random_state=0, progress=True)
    est.partial_fit(X, y, classes=np.unique(y))
    est.partial_fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Epoch ")]
    assert len(lines) == 2
    for k, ln in enumerate(lines, start=1):
        assert ln.startswith("Epoch %d: " % k), ln


def test_verbose_true_prints_scikit_learn_lines(capsys):
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=4, random_state=0, verbose=True)
    est.fit(X, y)
    out = capsys.readouterr().out
    expected = ["Iteration %d, loss = %.8f" % (i + 1, l) for i, l in enumerate(est.loss_curve_)]
    got = [ln for ln in out.splitlines() if ln.startswith("Iteration")]
    assert got == expected
    assert "Epoch " not in out


def test_max_time_tiny_stops_after_first_epoch():
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=50, random_state=0, max_time=1e-9)
    est.fit(X, y)
    assert est.n_iter_ == 1
    assert len(est.loss_curve_) == 1


def test_callback_stop_at_epoch_3_and_all_callbacks_called():
    X, y = _multiclass()
    calls = {"a": 0, "b": 0}

    def stop_at_3(est, history):
        calls["a"] += 1
        assert len(history["loss"]) == est.n_iter_
        return len(history["loss"]) == 3

    def logger(est, history):
        calls["b"] += 1

    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=50, random_state=0,
                        callbacks=[stop_at_3, logger])
    est.fit(X, y)
    assert est.n_iter_ == 3
    assert calls == {"a": 3, "b": 3}
    # a single callable (not in a list) works too
    est.set_params(callbacks=stop_at_3).fit(X, y)
    assert est.n_iter_ == 3


def test_callback_that_raises_propagates_and_leaves_model_unchanged():
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    before = _flat(est).copy()
    curve = list(est.loss_curve_)
    P = est.predict_proba(X)

    def boom(est, history):
        if len(history["loss"]) == 2:
            raise RuntimeError("boom")

    for warm in (False, True):
        est.set_params(callbacks=boom, warm_start=warm, random_state=1)
        with pytest.raises(RuntimeError, match="boom"):
            est.fit(X, y)
        assert_array_equal(_flat(est), before)
        assert est.loss_curve_ == curve
        assert est.n_iter_ == 5
        assert_array_equal(est.predict_proba(X), P)
    # and a fresh model is left unfitted
    fresh = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, callbacks=boom)
    with pytest.raises(RuntimeError):
        fresh.fit(X, y)
    assert not hasattr(fresh, "coefs_")


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_that_fails_after_its_step_is_undone_exactly(solver):
    # the step has already moved the weights and the optimizer state in
    # place and appended to loss_curve_ when the callback raises
    X, y = _multiclass()
    twin, est = (
        MLPClassifier(hidden_layer_sizes=(4,), solver=solver, random_state=0)
        for _ in range(2)
    )
    for model in (twin, est):
        for _ in range(3):
            model.partial_fit(X, y, classes=np.unique(y))

    def boom(est, history):
        raise RuntimeError("boom")

    est.set_params(callbacks=boom)
    with pytest.raises(RuntimeError, match="boom"):
        est.partial_fit(X, y)
    est.set_params(callbacks=None)
    assert est.loss_curve_ == twin.loss_curve_
    assert (est.n_iter_, est.t_) == (twin.n_iter_, twin.t_)
    for model in (twin, est):
        model.partial_fit(X, y)
    assert_array_equal(_flat(est), _flat(twin))
    assert est.loss_curve_ == twin.loss_curve_


def test_a_fresh_model_that_fails_is_left_unfitted():
    X, y = _multiclass()

    def boom(est, history):
        raise RuntimeError("boom")

    fresh = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, callbacks=boom)
    with pytest.raises(RuntimeError):
        fresh.fit(X, y)
    assert not hasattr(fresh, "coefs_")


@pytest.mark.parametrize("how", ["max_time", "callback"])
def test_early_stop_by_budget_or_callback_warns_nothing(how):
    import warnings

    X, y = _multiclass()
    extra = {"max_time": 1e-9} if how == "max_time" else {
        "callbacks": lambda est, h: len(h["loss"]) == 2}
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    assert est.n_iter_ == (1 if how == "max_time" else 2)


def test_progress_reports_validation(capsys):
    X, y = _multiclass(n=90)
    Xt, yt, Xv, yv = _split(X, y, 30)
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0, progress=True,
                        early_stopping=True, n_iter_no_change=10)
    est.fit(Xt, yt, X_val=Xv, y_val=yv)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Epoch ")]
    assert len(lines) == 3
    for ln, vl, vs in zip(lines, est.validation_loss_curve_, est.validation_scores_):
        assert "val_loss=%.6f" % vl in ln
        assert "val_score=%.6f" % vs in ln


def test_callbacks_not_callable():
    X, y = _multiclass()
    with pytest.raises(TypeError):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, callbacks=[1]).fit(X, y)
    with pytest.raises(TypeError):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2,
                      callbacks=[lambda e, h: False, "x"]).fit(X, y)
    with pytest.raises(InvalidParameterError):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, callbacks=5).fit(X, y)


def test_lbfgs_honours_callbacks_and_max_time():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X[:400] / 16
    y = y[:400]
    seen = []

    def stop_at_three(est, history):
        seen.append(history["loss"][-1])
        return len(history["loss"]) >= 3

    with warnings.catch_warnings():
        # a stop asked for is no failure to converge: no ConvergenceWarning
        # (lbfgs raised one, from scipy's status 99), as the other solvers
        warnings.simplefilter("error", ConvergenceWarning)
        est = MLPClassifier((16,), solver="lbfgs", max_iter=100, random_state=0,
                            callbacks=stop_at_three).fit(X, y)
        timed = MLPClassifier((16,), solver="lbfgs", max_iter=100, random_state=0,
                              max_time=1e-9).fit(X, y)
    assert timed.n_iter_ == 1
    assert est.n_iter_ == 3
    assert seen == sorted(seen, reverse=True)  # L-BFGS losses decrease
    assert est.loss_ == pytest.approx(seen[-1])
    with pytest.raises(ValueError, match="lbfgs"):
        MLPClassifier((16,), solver="lbfgs", max_norm=1.0).fit(X, y)
    with pytest.raises(ValueError, match="lbfgs"):
        MLPClassifier((16,), solver="lbfgs").fit(X, y, X_val=X, y_val=y)


@pytest.mark.parametrize("params", [
    {"early_stopping": True, "n_iter_no_change": 2, "tol": 10.0},
    {"n_iter_no_change": 2, "tol": 10.0},
    {"solver": "sgd", "learning_rate": "adaptive", "n_iter_no_change": 1, "tol": 10.0},
], ids=["early_stopping", "tol", "adaptive"])
def test_callbacks_see_the_epoch_training_stops_at(params):
    # the stop on n_iter_no_change broke out before the callbacks ran: a
    # logger missed the last epoch (4 epochs, 3 calls)
    X, y = _multiclass(n=80)
    seen = []
    est = MLPClassifier(hidden_layer_sizes=(6,), max_iter=50, random_state=0,
                        callbacks=lambda est, history: seen.append(len(history["loss"])),
                        **params).fit(X, y)
    assert est.n_iter_ < 50   # it stopped on its own
    assert seen == list(range(1, est.n_iter_ + 1))


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_callbacks_stop_iteration_propagates_with_every_solver(solver):
    # SciPy's L-BFGS reads a StopIteration from its callback as "stop": the
    # user's own ended the fit quietly there, and propagated with adam
    X, y = _multiclass()

    def broken(est, history):
        if len(history["loss"]) == 2:
            raise StopIteration("a bug inside the callback")

    est = MLPClassifier(hidden_layer_sizes=(6,), max_iter=20, solver=solver, random_state=0,
                        callbacks=broken)
    with pytest.raises(StopIteration, match="a bug inside the callback"):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_coefs_a_callback_replaces_are_trained_on(solver):
    # "restore the best weights" from a callback: assigning new arrays, not
    # editing in place.  The engine trained its own buffer on, and fit ended
    # with the callback's arrays: the model was epoch 2's, its loss_curve_
    # that of 10 epochs.  Now training goes on from them: the same fit as
    # one that edits them in place
    X, y = _multiclass()

    def restore(in_place):
        def callback(est, history):
            if len(history["loss"]) == 2:
                callback.saved = [a.copy() for a in est.coefs_ + est.intercepts_]
            if len(history["loss"]) == 4:
                n = len(est.coefs_)
                if in_place:
                    for a, saved in zip(est.coefs_ + est.intercepts_, callback.saved):
                        a[...] = saved
                else:
                    est.coefs_ = callback.saved[:n]
                    est.intercepts_ = callback.saved[n:]
        return callback

    fits = [MLPClassifier(hidden_layer_sizes=(8,), max_iter=10, solver=solver,
                          random_state=0, callbacks=restore(in_place)).fit(X, y)
            for in_place in (True, False)]
    for a, b in zip(fits[0].coefs_ + fits[0].intercepts_, fits[1].coefs_ + fits[1].intercepts_):
        assert_array_equal(a, b)
    assert fits[0].loss_curve_ == fits[1].loss_curve_
    # and the arrays are the trained ones: the same predictions as packed anew
    assert fits[1]._params_intact()


def test_coefs_a_callback_replaces_with_the_wrong_shape_fail_the_fit():
    X, y = _multiclass()

    def bad(est, history):
        est.coefs_ = [est.coefs_[0][:, :3], est.coefs_[1]]

    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, callbacks=bad)
    with pytest.raises(ValueError, match=re.escape("intercepts_[0] must have shape (3,); got (8,).")):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")


def test_coefs_a_callback_replaces_during_lbfgs_are_an_error():
    # SciPy's L-BFGS goes on from its own copy of the weights: the fit ended
    # with the callback's arrays as coefs_ beside the trained weights
    X, y = _multiclass()

    def replace(est, history):
        est.coefs_ = [a.copy() for a in est.coefs_]

    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, solver="lbfgs", random_state=0,
                        callbacks=replace)
    with pytest.raises(ValueError, match="replaced coefs_ or intercepts_ during solver='lbfgs'"):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize("scoring", [None, "loss"])
def test_ctrl_c_while_an_epoch_is_scored_keeps_the_records_in_step(scoring):
    # Ctrl-C lands while the held-out rows are scored about as often as in
    # the compiled epoch (a sweep: 4 of 10 real SIGINTs): loss_curve_ had
    # the epoch, validation_scores_ (and validation_loss_curve_) did not,
    # and stayed one short through warm starts
    X, y = _multiclass()
    calls = []

    def interrupt_third(est, X_val, y_val):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return est.score(X_val, y_val)

    est = MLPClassifier(hidden_layer_sizes=(10,), max_iter=10, early_stopping=True,
                        random_state=0, scoring=interrupt_third if scoring is None else "loss")
    if scoring == "loss":
        # the held-out loss is what scores the epoch: interrupt its third
        original = MLPClassifier._validation_loss_fn

        def validation_loss_fn(self, *args):
            fn = original(self, *args)

            def interrupted():
                calls.append(1)
                if len(calls) == 3:
                    raise KeyboardInterrupt
                return fn()
            return interrupted

        MLPClassifier._validation_loss_fn = validation_loss_fn
    try:
        with pytest.warns(UserWarning, match="Training interrupted by user."):
            est.fit(X, y)
    finally:
        if scoring == "loss":
            MLPClassifier._validation_loss_fn = original
    assert est.n_iter_ == 3
    assert len(est.loss_curve_) == len(est.validation_scores_) == 3
    if scoring == "loss":
        assert len(est.validation_loss_curve_) == 3
        assert est.validation_scores_[-1] == -est.validation_loss_curve_[-1]
    est.set_params(warm_start=True, max_iter=2, scoring=None).fit(X, y)
    assert len(est.loss_curve_) == len(est.validation_scores_) == 5


def test_a_second_ctrl_c_while_the_interrupted_epoch_is_scored_keeps_the_fit():
    # the scoring after Ctrl-C is one more pass over the held-out rows, when
    # a user who sees no answer presses Ctrl-C again: that threw the whole
    # fit away (the estimator restored to unfitted)
    X, y = _multiclass()
    calls = []

    def interrupt_from_fifth(est, X_val, y_val):
        calls.append(1)
        if len(calls) >= 5:
            raise KeyboardInterrupt
        return est.score(X_val, y_val)

    est = MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, early_stopping=True,
                        random_state=0, scoring=interrupt_from_fifth)
    with pytest.warns(UserWarning, match="Training interrupted by user."):
        try:
            est.fit(X, y)
        except KeyboardInterrupt:   # not out of pytest: it would end the session
            pytest.fail("the second KeyboardInterrupt left fit")
    assert est.n_iter_ == 5 and len(est.validation_scores_) == 4
    est.predict(X)


def test_coefs_a_callback_replaces_with_other_hidden_sizes_name_the_layer():
    X, y = _multiclass()
    n_features, n_classes = X.shape[1], len(np.unique(y))

    def other_network(est, history):
        est.coefs_ = [np.zeros((n_features, 32)), np.zeros((32, n_classes))]
        est.intercepts_ = [np.zeros(32), np.zeros(n_classes)]

    est = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0,
                        callbacks=other_network)
    with pytest.raises(ValueError, match=re.escape(
            f"coefs_[0] must keep the shape ({n_features}, 16) of the network being "
            f"trained; got ({n_features}, 32).")):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("inner", ["fit", "partial_fit", "failing partial_fit"])
def test_training_the_model_from_its_own_callback_is_refused(solver, inner):
    # the running fit trains a buffer the inner call replaced: it went on
    # stepping one that was no longer the model's (a failed inner call froze
    # the weights returned; a successful one left n_iter_ 10 of max_iter 6)
    X, y = _multiclass()
    Est = MLPClassifier
    if solver == "lbfgs" and inner != "fit":
        # the classifier's partial_fit is not lbfgs's; the regressor's is
        X, y = _regression()
        Est = MLPRegressor
    caught = []

    def callback(est, history):
        try:
            if inner == "fit":
                est.fit(X, y)
            elif inner == "partial_fit":
                est.partial_fit(X, y)
            else:
                est.partial_fit(X[:, :3], y)
        except RuntimeError as e:      # the refusal, caught: the fit goes on
            caught.append(str(e))
        return False

    params = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=6, random_state=0)
    est = Est(**params, callbacks=callback).fit(X, y)
    plain = Est(**params).fit(X, y)
    assert len(caught) == est.n_iter_ == plain.n_iter_
    assert caught[0].startswith(f"{Est.__name__}.{inner.split()[-1]} was called while this "
                                "estimator is being fitted")
    for a, b in zip(est.coefs_ + est.intercepts_, plain.coefs_ + plain.intercepts_):
        assert_array_equal(a, b)
    # after it, the model trains as any other
    est.set_params(callbacks=None).fit(X, y)


def test_a_shallow_copy_trains_its_own_optimizer_moments():
    # copy.copy copied the weights but shared Adam's moments: the copy's
    # training moved the original's next step (scikit-learn's callbacks
    # hand a copy.copy of the model to theirs)
    import copy

    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    twin = copy.deepcopy(est)
    copy.copy(est).partial_fit(X, y)
    est.partial_fit(X, y)
    twin.partial_fit(X, y)
    for a, b in zip(est.coefs_, twin.coefs_):
        assert_array_equal(a, b)


def test_shuffle_switched_off_by_a_callback_takes_effect_at_the_next_fit():
    # read each epoch, it met rows the epochs before had left shuffled: the
    # fit failed on the engine's "shuffled=False reads the rows in place"
    X, y = _multiclass()
    params = dict(hidden_layer_sizes=(5,), max_iter=4, random_state=0)
    def switch_off(est, history):
        est.set_params(shuffle=False)     # (returns None: the fit goes on)

    est = MLPClassifier(**params, callbacks=switch_off).fit(X, y)
    assert est.n_iter_ == 4
    plain = MLPClassifier(**params).fit(X, y)
    for a, b in zip(est.coefs_, plain.coefs_):
        assert_array_equal(a, b)
    assert est.shuffle is False


@pytest.mark.parametrize("dtype", [np.float16, np.int64])
def test_weights_put_in_as_float16_or_integers_train_on_in_float64(dtype):
    # "No matching signature found" from the engine, which computes in
    # float32 or float64; scikit-learn trains on them
    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0).fit(X, y)
    est.coefs_ = [np.round(a * 8).astype(dtype) for a in est.coefs_]
    est.intercepts_ = [np.round(a * 8).astype(dtype) for a in est.intercepts_]
    start = [a.astype(np.float64) for a in est.coefs_]
    est.partial_fit(X, y)
    assert all(a.dtype == np.float64 for a in est.coefs_ + est.intercepts_)
    assert any(not np.array_equal(a, b) for a, b in zip(est.coefs_, start))
    est.set_params(warm_start=True).fit(X, y)


def test_a_binary_model_whose_classes_were_edited_to_three_refuses_to_train():
    # its one logistic output read the third class as the first, silently
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(60, 3)), np.arange(60) % 2
    est = MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0).fit(X, y)
    est.classes_ = np.array([0, 1, 2])
    y3 = np.arange(60) % 3
    with pytest.raises(ValueError, match="classes_ has 3 classes, but the model was fitted on 2"):
        est.partial_fit(X, y3)
    with pytest.raises(ValueError, match="classes_ has 3 classes, but the model was fitted on 2"):
        est.set_params(warm_start=True).fit(X, y3)


def test_a_refused_fit_leaves_the_running_fits_scikit_learn_callbacks_alone():
    # refused inside scikit-learn's callback wrapper, the inner call tore the
    # running fit's callbacks down (ScoringMonitor then failed with KeyError)
    X, y = _multiclass()
    log = []

    class Recorder:
        def setup(self, estimator, context):
            log.append("setup")

        def teardown(self, estimator, context):
            log.append("teardown")

        def on_fit_task_begin(self, estimator, context, **kwargs):
            log.append("begin " + context.task_name)

        def on_fit_task_end(self, estimator, context, **kwargs):
            log.append("end " + context.task_name)
            return False

    def refit(est, history):
        if len(history["loss"]) == 1:
            with pytest.raises(RuntimeError, match="is being fitted"):
                est.fit(X, y)
            log.append("refused")

    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0, callbacks=refit)
    if not hasattr(est, "set_callbacks"):
        pytest.skip("this scikit-learn has no callback protocol")
    est.set_callbacks(Recorder())
    est.fit(X, y)
    assert log.count("setup") == log.count("teardown") == 1
    assert log[-1] == "teardown" and log.index("refused") < log.index("teardown")


def test_a_fit_in_another_thread_of_an_estimator_being_fitted_is_refused():
    # the guard was per thread: a callback that fitted its own estimator in
    # a worker thread was let through (n_iter_ 10 of max_iter 6)
    import threading

    X, y = _multiclass()
    errors = []

    def fit_elsewhere(est, history):
        if len(history["loss"]) == 1:
            def run():
                try:
                    est.fit(X, y)
                except RuntimeError as e:
                    errors.append(str(e))
            worker = threading.Thread(target=run)
            worker.start()
            worker.join()

    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=6, random_state=0,
                        callbacks=fit_elsewhere).fit(X, y)
    assert len(errors) == 1 and "is being fitted" in errors[0]
    assert est.n_iter_ == 6 == len(est.loss_curve_)
    est.set_params(callbacks=None).fit(X, y)   # and after it, fits as any other


def test_a_ctrl_c_as_a_fit_begins_leaves_the_estimator_fittable(monkeypatch):
    # a KeyboardInterrupt as the lock around the running-fit entry was left
    # (before the try that removes it) left the entry: the estimator then
    # refused every fit as "being fitted"
    import threading

    from fastmlp import _multilayer_perceptron as mlp

    class InterruptedOnLeaving:
        def __init__(self):
            self.lock, self.armed = threading.Lock(), True

        def __enter__(self):
            self.lock.acquire()

        def __exit__(self, *exc):
            self.lock.release()
            if self.armed:
                self.armed = False
                raise KeyboardInterrupt

    X, y = _multiclass()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    monkeypatch.setattr(mlp, "_fitting_lock", InterruptedOnLeaving())
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    assert id(est) not in mlp._fitting
    est.fit(X, y)
