"""LossCurveDisplay: plot a fitted model's training curves, scikit-learn style.

Design: like scikit-learn's ``*Display`` classes, the display stores the data
(``loss_curve`` and the optional validation curves) and ``plot`` draws it,
setting ``ax_``, ``figure_`` and ``lines_``; ``from_estimator`` reads a fitted
model's ``loss_curve_``, ``validation_loss_curve_`` and ``validation_scores_``.
matplotlib is imported inside ``plot`` only, so it stays an optional
dependency of fastmlp.
"""
import numpy as np
from fastmlp._sklearn_compat import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted


def _curve(values, name):
    """A curve as a 1-D float array, or None."""
    if values is None:
        return None
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(
            "%s must be a 1-D sequence of per-epoch values, got shape %r."
            % (name, arr.shape)
        )
    return arr


def _last_epochs(loss, curve):
    """The epochs of a validation curve: the last ones of the loss curve.
    validation_loss_curve_ has an entry for each of them once recorded (NaN
    where an epoch had no held-out data); validation_scores_, scikit-learn's,
    only for the epochs scored, the latest ones."""
    return np.arange(loss.shape[0] - curve.shape[0] + 1, loss.shape[0] + 1)


class LossCurveDisplay:
    """Training (and validation) loss per epoch.

    Create it with :meth:`from_estimator`, or from the curves directly and
    call :meth:`plot`.  All parameters are stored as attributes.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training loss per epoch (``loss_curve_``).
    validation_loss_curve : array-like of shape (n_epochs,), default=None
        Validation loss per epoch (``validation_loss_curve_``); drawn on the
        loss axis.
    validation_scores : array-like of shape (n_epochs,), default=None
        Validation score per epoch (``validation_scores_``); drawn on a
        secondary y axis when there is no validation loss.
    estimator_name : str, default=None
        Used as the title of the axes.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the loss curves.
    ax_score_ : matplotlib Axes or None
        The secondary axes holding the validation scores, if drawn.
    figure_ : matplotlib Figure
    lines_ : list of matplotlib Line2D
        The training line first, then the validation line if drawn.

    Examples
    --------
    >>> from fastmlp import MLPClassifier, LossCurveDisplay  # doctest: +SKIP
    >>> clf = MLPClassifier(early_stopping=True).fit(X, y)   # doctest: +SKIP
    >>> LossCurveDisplay.from_estimator(clf)                 # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        loss_curve,
        validation_loss_curve=None,
        validation_scores=None,
        estimator_name=None,
    ):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.validation_scores = validation_scores
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, show_validation=True, **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure and axes are created if None.
        show_validation : bool, default=True
            Draw the validation loss (or, failing that, the validation
            scores) when available.
        **kwargs : dict
            Passed to ``ax.plot`` for the training line (e.g. ``label``,
            ``color``).  Restyle the others through ``lines_``.

        Returns
        -------
        display : LossCurveDisplay
        """
        check_matplotlib_support(f"{self.__class__.__name__}.plot")
        import matplotlib.pyplot as plt

        loss = _curve(self.loss_curve, "loss_curve")
        val_loss = _curve(self.validation_loss_curve, "validation_loss_curve")
        val_scores = _curve(self.validation_scores, "validation_scores")

        if ax is None:
            _, ax = plt.subplots()

        train_kw = {"label": "train", **kwargs}
        lines = ax.plot(np.arange(1, loss.shape[0] + 1), loss, **train_kw)
        self.ax_score_ = None
        if show_validation and val_loss is not None:
            lines += ax.plot(_last_epochs(loss, val_loss), val_loss, label="validation")
        elif show_validation and val_scores is not None:
            ax_score = ax.twinx()
            # next colour of the loss axes, so the two lines differ
            try:
                color = ax._get_lines.get_next_color()
            except AttributeError:  # private matplotlib API; fall back
                color = "C1"
            lines += ax_score.plot(
                _last_epochs(loss, val_scores),
                val_scores,
                label="validation",
                color=color,
            )
            ax_score.set_ylabel("validation score")
            self.ax_score_ = ax_score

        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        if self.estimator_name is not None:
            ax.set_title(self.estimator_name)
        ax.legend(handles=lines)

        self.lines_ = lines
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, **kwargs):
        """Plot the loss curves of a fitted MLPClassifier / MLPRegressor.

        Parameters
        ----------
        estimator : fitted estimator with ``loss_curve_``
            Fitted with a stochastic solver; ``validation_loss_curve_`` and
            ``validation_scores_`` are drawn when present and not None.
        ax : matplotlib Axes, default=None
        **kwargs : dict
            Passed to :meth:`plot` (``show_validation`` and line keywords).

        Returns
        -------
        display : LossCurveDisplay

        Raises
        ------
        NotFittedError
            If the estimator is not fitted.
        ValueError
            If it has no ``loss_curve_`` (e.g. ``solver='lbfgs'``).
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        loss_curve = getattr(estimator, "loss_curve_", None)
        name = type(estimator).__name__
        if getattr(estimator, "solver", None) == "lbfgs" and hasattr(estimator, "coefs_"):
            # before loss_curve_: an lbfgs refit of a model fitted with
            # adam keeps the old, stale curve (as scikit-learn's does)
            raise ValueError(
                "LossCurveDisplay needs a per-epoch loss curve, but %s has"
                " solver='lbfgs', which records none (a loss_curve_ left by an"
                " earlier fit with another solver is not that of a refit). Fit"
                " with a stochastic solver such as solver='adam' or 'sgd'." % name
            )
        if loss_curve is None:
            raise ValueError(
                "LossCurveDisplay needs a per-epoch loss curve, but %s has no"
                " loss_curve_ attribute." % name
            )
        display = cls(
            loss_curve=loss_curve,
            validation_loss_curve=getattr(estimator, "validation_loss_curve_", None),
            validation_scores=getattr(estimator, "validation_scores_", None),
            estimator_name=type(estimator).__name__,
        )
        return display.plot(ax=ax, **kwargs)
