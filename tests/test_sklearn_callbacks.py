"""scikit-learn 1.9's experimental callback protocol on fastmlp's estimators."""
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier, MLPRegressor

pytest.importorskip("sklearn.callback")


class Recorder:
    """Records each epoch's task and the fitted copy's weights; may stop."""

    def __init__(self, stop_after=None):
        self.stop_after = stop_after
        self.events = []
        self.epoch_weights = []

    def setup(self, estimator, context):
        self.events.append("setup")

    def teardown(self, estimator, context):
        self.events.append("teardown")

    def on_fit_task_begin(self, estimator, context):
        self.events.append(("begin", context.task_name))

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.events.append(("end", context.task_name))
        if context.task_name == "epoch" and fitted_estimator is not None:  # None: cut short
            self.epoch_weights.append([c.copy() for c in fitted_estimator.coefs_])
            return self.stop_after is not None and len(self.epoch_weights) >= self.stop_after
        return False


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:500] / 16, y[:500]


def test_epochs_are_subtasks_with_the_epochs_weights(digits):
    X, y = digits
    rec = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier((16,), max_iter=4, random_state=0).set_callbacks(rec).fit(X, y)
        for k in (1, 3):
            ref = MLPClassifier((16,), max_iter=k, random_state=0).fit(X, y)
            for a, b in zip(rec.epoch_weights[k - 1], ref.coefs_):
                np.testing.assert_array_equal(a, b)
    assert rec.events[0] == "setup" and rec.events[-1] == "teardown"
    assert rec.events.count(("begin", "epoch")) == 4
    assert rec.events.count(("end", "epoch")) == 4


def test_a_callback_can_stop_training(digits):
    X, y = digits
    est = MLPRegressor(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    est.set_callbacks(Recorder(stop_after=3)).fit(X, y.astype(float))
    assert est.n_iter_ == 3


def test_progress_bar_runs(digits):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier((8,), max_iter=3, random_state=0).set_callbacks(ProgressBar())
        est.fit(X, y)
    assert est.n_iter_ == 3


@pytest.mark.parametrize("labels", [np.array([3, 7]), np.array([0, 1, 2]),
                                    np.array(["no", "yes"])])
def test_scoring_monitor_sees_the_users_labels(labels):
    # callbacks were handed the network's 0/1 targets: a ScoringMonitor
    # logged accuracy 0 for labels {3, 7} and crashed the fit for 3 classes
    # or strings; scikit-learn's estimators hand over y as given
    from sklearn.callback import ScoringMonitor

    pytest.importorskip("pandas")   # the monitor's logs
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 2))
    y = labels[np.digitize(X[:, 0], np.linspace(-0.5, 0.5, len(labels) - 1))]
    monitor = ScoringMonitor(scoring="accuracy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(max_iter=30, random_state=0).set_callbacks(monitor).fit(X, y)
    logged = monitor.get_logs().data_as_pandas["accuracy"].to_numpy()
    assert len(logged) >= 30
    assert logged[-1] == pytest.approx(clf.score(X, y))
    assert logged[-1] > 0.8


def test_scoring_monitor_on_the_regressor():
    from sklearn.callback import ScoringMonitor

    pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 2))
    y = X @ [1.0, -2.0]
    monitor = ScoringMonitor(scoring="r2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(max_iter=30, random_state=0).set_callbacks(monitor).fit(X, y)
    logged = monitor.get_logs().data_as_pandas["r2"].to_numpy()
    assert logged[-1] == pytest.approx(reg.score(X, y))


def _diverging():
    # scikit-learn's "non-finite parameter weights" error, after the
    # callbacks' setup: targets far past what sgd can follow
    X = np.random.RandomState(0).randn(50, 3)
    return X, X[:, 0] * 1e200


@pytest.mark.parametrize("fitted_first", [False, True])
def test_a_failed_fit_tears_its_callbacks_down_and_keeps_them(fitted_first):
    # a failed call removed every attribute it had not found: the callbacks'
    # fit context (so scikit-learn skipped their teardown) and, on a first
    # fit, the callbacks themselves
    X, y = _diverging()
    rec = Recorder()
    est = MLPRegressor(solver="sgd", max_iter=5, random_state=0)
    if fitted_first:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, X[:, 0])
    est.set_callbacks(rec)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        est.fit(X, y)
    assert rec.events[0] == "setup" and rec.events[-1] == "teardown"
    assert est._skl_callbacks == [rec] and est._skl_callbacks[0] is rec
    assert hasattr(est, "coefs_") == fitted_first


def test_a_failed_fit_in_a_pipeline_raises_its_own_error():
    # the pipeline's callback context on its step was removed with the rest,
    # and the pipeline's cleanup then raised AttributeError in its place
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _diverging()
    pipe = make_pipeline(StandardScaler(), MLPRegressor(solver="sgd", max_iter=5,
                                                        random_state=0))
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        pipe.fit(X, y)
    assert not hasattr(pipe[-1], "_parent_callback_ctx")   # the pipeline's cleanup ran
