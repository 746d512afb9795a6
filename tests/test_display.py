"""LossCurveDisplay: the lines hold the fitted curves, with the right labels."""
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.base import BaseEstimator  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402

from fastmlp import LossCurveDisplay, MLPClassifier, MLPRegressor  # noqa: E402

import _checkout


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _fit(X, y, **params):
    params = {"hidden_layer_sizes": (8,), "max_iter": 6, "random_state": 0, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(**params).fit(X, y)


class FittedWithValidationLoss(BaseEstimator):
    """Stands in for a model fitted with a validation set."""

    def __init__(self, scores=True):
        self.solver = "adam"
        self.scores = scores
        self.loss_curve_ = [0.9, 0.7, 0.6, 0.55]
        self.validation_loss_curve_ = [1.0, 0.8, 0.75, 0.74]
        self.validation_scores_ = [0.5, 0.6, 0.65, 0.66] if scores else None

    def fit(self, X, y):
        return self


def test_from_estimator_training_curve_only(binary):
    clf = _fit(*binary)
    assert clf.validation_scores_ is None
    disp = LossCurveDisplay.from_estimator(clf)
    assert isinstance(disp, LossCurveDisplay)
    assert len(disp.lines_) == 1
    x, y = disp.lines_[0].get_data()
    np.testing.assert_array_equal(x, np.arange(1, clf.n_iter_ + 1))
    np.testing.assert_array_equal(y, clf.loss_curve_)
    assert disp.lines_[0].get_label() == "train"
    assert disp.ax_.get_xlabel() == "epoch"
    assert disp.ax_.get_ylabel() == "loss"
    assert disp.ax_.get_title() == "MLPClassifier"
    assert disp.figure_ is disp.ax_.figure
    assert disp.ax_score_ is None
    assert [t.get_text() for t in disp.ax_.get_legend().get_texts()] == ["train"]


def test_from_estimator_early_stopping(binary):
    # a real model with a validation split: the validation curve drawn is its
    # validation loss if it records one, otherwise its scores on a twin axis
    clf = _fit(*binary, early_stopping=True, n_iter_no_change=50)
    disp = LossCurveDisplay.from_estimator(clf)
    assert len(disp.lines_) == 2
    train, val = disp.lines_
    np.testing.assert_array_equal(train.get_ydata(), clf.loss_curve_)
    val_loss = getattr(clf, "validation_loss_curve_", None)
    expected = clf.validation_scores_ if val_loss is None else val_loss
    assert len(expected) == clf.n_iter_
    np.testing.assert_array_equal(val.get_ydata(), expected)
    np.testing.assert_array_equal(val.get_xdata(), np.arange(1, clf.n_iter_ + 1))
    assert val.get_label() == "validation"
    assert (val.axes is disp.ax_) == (val_loss is not None)


def test_from_estimator_validation_scores_on_secondary_axis(binary):
    clf = _fit(*binary, early_stopping=True, n_iter_no_change=50)
    clf.validation_loss_curve_ = None  # as a model without validation loss
    disp = LossCurveDisplay.from_estimator(clf)
    assert len(disp.lines_) == 2
    train, val = disp.lines_
    np.testing.assert_array_equal(train.get_ydata(), clf.loss_curve_)
    np.testing.assert_array_equal(val.get_ydata(), clf.validation_scores_)
    np.testing.assert_array_equal(val.get_xdata(), np.arange(1, len(clf.validation_scores_) + 1))
    assert val.get_label() == "validation"
    # scores live on the twin axes, not on the loss axes
    assert val.axes is disp.ax_score_ and disp.ax_score_ is not disp.ax_
    assert train.axes is disp.ax_
    assert disp.ax_score_.get_ylabel() == "validation score"
    assert val.get_color() != train.get_color()
    legend = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert legend == ["train", "validation"]


def test_from_estimator_validation_loss_preferred():
    est = FittedWithValidationLoss()
    disp = LossCurveDisplay.from_estimator(est)
    train, val = disp.lines_
    np.testing.assert_array_equal(train.get_data()[0], [1, 2, 3, 4])
    np.testing.assert_array_equal(train.get_ydata(), est.loss_curve_)
    np.testing.assert_array_equal(val.get_ydata(), est.validation_loss_curve_)
    np.testing.assert_array_equal(val.get_xdata(), [1, 2, 3, 4])
    # validation loss shares the loss axes; scores are then not drawn
    assert val.axes is disp.ax_ and disp.ax_score_ is None
    assert len(disp.ax_.figure.axes) == 1
    assert [ln.get_label() for ln in disp.lines_] == ["train", "validation"]


def test_validation_loss_none_falls_back_to_scores():
    est = FittedWithValidationLoss()
    est.validation_loss_curve_ = None
    disp = LossCurveDisplay.from_estimator(est)
    assert disp.lines_[1].axes is disp.ax_score_
    np.testing.assert_array_equal(disp.lines_[1].get_ydata(), est.validation_scores_)


def test_show_validation_false():
    disp = LossCurveDisplay.from_estimator(FittedWithValidationLoss(), show_validation=False)
    assert len(disp.lines_) == 1 and disp.ax_score_ is None


def test_given_ax_and_line_kwargs():
    fig, ax = plt.subplots()
    disp = LossCurveDisplay.from_estimator(
        FittedWithValidationLoss(), ax=ax, color="red", label="adam"
    )
    assert disp.ax_ is ax and disp.figure_ is fig
    assert disp.lines_[0].get_color() == "red"
    assert disp.lines_[0].get_label() == "adam"
    assert disp.lines_[1].get_label() == "validation"


def test_direct_construction_and_plot():
    disp = LossCurveDisplay(loss_curve=[3.0, 2.0, 1.0], estimator_name=None)
    assert not hasattr(disp, "ax_")
    out = disp.plot()
    assert out is disp
    np.testing.assert_array_equal(disp.lines_[0].get_ydata(), [3.0, 2.0, 1.0])
    assert disp.ax_.get_title() == ""


def test_bad_curve_shape():
    with pytest.raises(ValueError, match="loss_curve must be a 1-D"):
        LossCurveDisplay(loss_curve=[[1.0, 2.0]]).plot()


def test_not_fitted():
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(MLPClassifier())
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(MLPRegressor(solver="lbfgs"))


def test_lbfgs_has_no_loss_curve(binary):
    clf = _fit(*binary, solver="lbfgs", max_iter=20)
    assert not hasattr(clf, "loss_curve_")
    with pytest.raises(ValueError, match="solver='lbfgs', which records none"):
        LossCurveDisplay.from_estimator(clf)


def test_other_model_without_loss_curve():
    class Other(BaseEstimator):
        def fit(self, X, y):
            self.coef_ = 1.0
            return self

    with pytest.raises(ValueError, match="Other has no loss_curve_"):
        LossCurveDisplay.from_estimator(Other().fit(None, None))


def test_matplotlib_missing_gives_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now fails
    disp = LossCurveDisplay(loss_curve=[1.0])
    with pytest.raises(ImportError, match="requires matplotlib"):
        disp.plot()
    with pytest.raises(ImportError, match="requires matplotlib"):
        LossCurveDisplay.from_estimator(FittedWithValidationLoss())


def test_import_does_not_import_matplotlib():
    import subprocess

    code = (
        "import sys, fastmlp, fastmlp._display; "
        "sys.exit('matplotlib' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=_checkout.cwd()).returncode == 0


def test_an_lbfgs_refit_of_an_adam_model_has_no_curve_to_draw():
    # loss_curve_ outlives an lbfgs refit (as scikit-learn's): the display
    # drew the old adam curve for a model fitted with lbfgs
    X, y = np.random.RandomState(0).normal(size=(60, 4)), np.arange(60) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, y)
        est.set_params(solver="lbfgs").fit(X, y)
    assert len(est.loss_curve_) == 5
    with pytest.raises(ValueError, match="has solver='lbfgs', which records none"):
        LossCurveDisplay.from_estimator(est)


def test_the_validation_curve_is_drawn_at_its_own_epochs():
    # a warm start's fit with X_val after a plain fit: the validation loss
    # of epochs 6-10 was drawn at 1-5
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(90, 4)), np.arange(90) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, warm_start=True,
                            random_state=0).fit(X[:60], y[:60])
        est.fit(X[:60], y[:60], X_val=X[60:], y_val=y[60:])
    train, validation = LossCurveDisplay.from_estimator(est).lines_
    np.testing.assert_array_equal(train.get_xdata(), np.arange(1, 11))
    np.testing.assert_array_equal(validation.get_xdata(), np.arange(1, 11))
    shown = validation.get_ydata()
    assert np.isnan(shown[:5]).all() and np.isfinite(shown[5:]).all()
    # scores alone (scikit-learn's attribute, the scored epochs only): the last ones
    display = LossCurveDisplay(loss_curve=[3.0, 2.0, 1.0, 0.5], validation_scores=[0.6, 0.7])
    _, scores = display.plot().lines_
    np.testing.assert_array_equal(scores.get_xdata(), [3, 4])
