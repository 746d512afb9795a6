"""The networks inside the tabular estimators: the drop-in MLPs, plus the
recipe's per-epoch schedules and label smoothing.

Design: private subclasses of ``MLPClassifier``/``MLPRegressor``, made and
fitted only by ``TabularMLPClassifier``/``TabularMLPRegressor``, never
cloned.  They change two hooks of the drop-in's training loop and nothing
else, so every minibatch still runs in the compiled engine:

- ``_epoch_lr`` (called once per epoch, before the engine runs the epoch):
  the learning rate is ``learning_rate_init * lr_factor(t)`` and AdamW's
  weight decay ``weight_decay * decay_factor(t)``, both from
  ``_tabular_schedules`` at the epoch's midpoint ``t``.  The decay reaches
  the engine through the optimizer's constants, which the engine reads at
  the start of each epoch.
- ``_validate_input`` (classifier only): the 0/1 training targets become
  ``(1 - eps) * y + eps / K`` (label smoothing; K = n_classes, 2 for a
  binary target's single logistic output).  The engine's log-losses and
  their deltas ``P - Y`` take soft targets as they are.  The validation
  set given to ``fit`` is encoded unsmoothed, so the best epoch is chosen
  on the true labels.

- ``_initialize``: after the drop-in's Glorot initialization, the first
  hidden layer's biases are set from training rows (``_init_rows``, one
  row per unit, drawn by the estimator): see ``data_dependent_biases``.

The recipe's settings live in ``_recipe``, a plain dict (pickles, and skops
loads it, with the network).
"""
import numpy as np

from fastmlp._multilayer_perceptron import MLPClassifier, MLPRegressor
from fastmlp._tabular_schedules import decay_factor, epoch_progress, lr_factor

DEFAULT_RECIPE = {
    "lr_schedule": "constant",
    "n_lr_cycles": 1,
    "weight_decay_schedule": "constant",
    "label_smoothing": 0.0,
}


def data_dependent_biases(W, rows):
    """First-layer biases from the data: ``b_k = -(rows[k] @ W[:, k])``, so
    that unit k's pre-activation ``x @ W[:, k] + b_k`` is 0 at training row
    ``rows[k]``: each unit's bend passes through a data point.

    Parameters
    ----------
    W : ndarray of shape (n_features, n_units)
    rows : ndarray of shape (n_units, n_features)
        One training row per unit.

    Returns
    -------
    b : ndarray of shape (n_units,)
    """
    if rows.shape != (W.shape[1], W.shape[0]):
        raise ValueError(f"rows must have shape {(W.shape[1], W.shape[0])}, got {rows.shape}.")
    return -np.einsum("kj,jk->k", rows, W)


class _ScheduledMixin:
    """Per-epoch learning-rate and weight-decay schedules, and the
    data-dependent first-layer biases."""

    def _initialize(self, y, layer_units, dtype):
        # the drop-in's Glorot init (its random stream untouched), then the
        # first hidden layer's biases from the rows in _init_rows, if any
        super()._initialize(y, layer_units, dtype)
        rows = self.__dict__.get("_init_rows")
        if rows is not None and len(layer_units) > 2:
            self.intercepts_[0][...] = data_dependent_biases(
                self.coefs_[0].astype(np.float64), rows.astype(np.float64))
            self._best_params = self._params.copy()

    def _recipe_value(self, key):
        return self.__dict__.get("_recipe", DEFAULT_RECIPE).get(key, DEFAULT_RECIPE[key])

    def _epoch_lr(self):
        t = epoch_progress(self._epoch, self.max_iter)
        wd = float(self.weight_decay) * decay_factor(
            self._recipe_value("weight_decay_schedule"), t)
        self._optimizer.hyper["weight_decay"] = wd if self.solver == "adamw" else 0.0
        return float(self.learning_rate_init) * lr_factor(
            self._recipe_value("lr_schedule"), t, self._recipe_value("n_lr_cycles"))


class TabularNetClassifier(_ScheduledMixin, MLPClassifier):
    """MLPClassifier with the tabular schedules and label smoothing."""

    def _validate_input(self, X, y, incremental, reset):
        X, Y = super()._validate_input(X, y, incremental, reset)
        eps = float(self._recipe_value("label_smoothing"))
        if eps > 0:
            k = Y.shape[1] if Y.shape[1] > 1 else 2
            Y = np.asarray(Y, dtype=X.dtype) * (1.0 - eps) + eps / k
            Y = Y.astype(X.dtype, copy=False)
        return X, Y


class TabularNetRegressor(_ScheduledMixin, MLPRegressor):
    """MLPRegressor with the tabular schedules."""
