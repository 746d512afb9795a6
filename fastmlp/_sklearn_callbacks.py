"""A thin adapter to scikit-learn 1.9's experimental callback protocol.

``est.set_callbacks(ProgressBar())`` works on fastmlp's estimators: the fit
is the root task and each epoch a subtask; a callback's ``on_fit_task_end``
returning True stops training after that epoch, and ``fitted_estimator`` is a
copy of the model with the epoch's weights.  Where scikit-learn has no
``sklearn.callback`` module the adapter is inert.
"""


class EpochCallbacks:
    """Root task = fit, one subtask per epoch; no-ops without callbacks."""

    def __init__(self, estimator, X, Y, sample_weight, max_epochs):
        """``Y``: the network's targets; callbacks get the user's (a
        classifier's labels, which a scorer compares with predict's)."""
        self.estimator = estimator
        self.active = bool(getattr(estimator, "_skl_callbacks", None))
        self.X, self.y = X, (estimator._user_targets(Y) if self.active else Y)
        y = self.y
        self.metadata = {"sample_weight": sample_weight}
        self.epoch_ctx = None
        if self.active:
            self.root = estimator._init_callback_context(max_subtasks=max_epochs)
            self.root.call_on_fit_task_begin(
                estimator=estimator, X=X, y=y, metadata=self.metadata
            )

    def _attributes(self):
        est = self.estimator
        return lambda: {
            "coefs_": [c.copy() for c in est.coefs_],
            "intercepts_": [b.copy() for b in est.intercepts_],
        }

    def epoch_begin(self):
        if self.active:
            self.epoch_ctx = self.root.subcontext(task_name="epoch")
            self.epoch_ctx.call_on_fit_task_begin(
                estimator=self.estimator, X=self.X, y=self.y, metadata=self.metadata
            )

    def epoch_end(self):
        """True if a callback asks to stop."""
        if not self.active or self.epoch_ctx is None:
            return False
        ctx, self.epoch_ctx = self.epoch_ctx, None
        return bool(
            ctx.call_on_fit_task_end(
                estimator=self.estimator, X=self.X, y=self.y, metadata=self.metadata,
                reconstruction_attributes=self._attributes(),
            )
        )

    def close(self):
        if not self.active:
            return
        if self.epoch_ctx is not None:  # an epoch cut short (Ctrl-C, error)
            self.epoch_ctx.call_on_fit_task_end(estimator=self.estimator)
        self.root.call_on_fit_task_end(
            estimator=self.estimator, X=self.X, y=self.y, metadata=self.metadata,
            reconstruction_attributes=self._attributes(),
        )
        self.active = False
