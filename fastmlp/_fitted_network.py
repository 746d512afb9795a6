"""The fitted network's state, shared by both estimators.

Design: fitted parameters live in one flat buffer ``_params`` laid out as
scikit-learn's ``_pack`` (all coefs, then all intercepts); ``coefs_[i]`` and
``intercepts_[i]`` are views into it, so editing them in place takes effect
and the optimizer runs over one buffer.  If they are replaced (or the model
was unpickled), the buffer is rebuilt from them: ``coefs_`` and
``intercepts_`` are the truth, and they are checked against the model
(``n_layers_``, ``n_features_in_``, ``n_outputs_``) before anything is packed,
since the engine reads past arrays that do not fit.  Also here: the layouts
the engine runs on, pickling (plain types only, so skops trusts nothing but
the estimators), the snapshot a failed call restores, and the random state
an int ``random_state`` reseeds.
"""
import copy
import weakref
from operator import attrgetter, is_

import numpy as np

from fastmlp import _engine
from fastmlp._saved_state import with_defaults, without_old_optimizer
from fastmlp._stochastic_optimizers import StochasticOptimizer

_SHAPE = attrgetter("shape")

# output activations scikit-learn's predict applies (to a model whose
# out_activation_ the user set after fit) that no loss of the engine trains:
# the engine computes the identity output, and predict applies these to it
PREDICT_ONLY_OUTPUTS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0, out=z)}


class SeededRandomState(np.random.RandomState):
    """A RandomState an estimator made from an int random_state: only that
    estimator (``owner``, a weak reference) reseeds it, never a shallow copy
    of it, and never a RandomState the user gave.  When the estimator is
    gone the generator waits in ``_spares`` for the next estimator, which
    reseeds it: numpy builds a new one through SeedSequence first (~85 us, an
    eighth of the Python cost of a fit).  Pickles as a plain RandomState."""

    _spares = []
    _MAX_SPARES = 4

    @classmethod
    def for_estimator(cls, estimator, seed):
        """RandomState(seed), owned by ``estimator``."""
        try:
            rs = cls._spares.pop()  # atomic: one thread gets each spare
        except IndexError:
            rs = cls(seed)
        else:
            rs.seed(seed)  # the state RandomState(seed) starts in
        rs.owner = weakref.ref(estimator, rs._owner_gone)
        return rs

    def _owner_gone(self, _ref):
        if len(self._spares) < self._MAX_SPARES:
            self._spares.append(self)


# scikit-learn's attributes on an estimator, set from outside its fit
# (set_output, set_fit_request, set_callbacks, a meta-estimator's callback
# context) or around it (the callbacks' context, torn down after fit, failed
# or not): a call that fails leaves them as they are
NOT_FIT_STATE = frozenset({
    "_sklearn_output_config", "_metadata_request", "_skl_callbacks",
    "_parent_callback_ctx", "_callback_fit_ctx", "_skl_callbacks_to_teardown",
})

# lists of floats that fit only appends to (copied shallowly by _snapshot)
_CURVES = frozenset({"loss_curve_", "validation_scores_", "validation_loss_curve_"})


class FittedNetwork:
    """Mixin of the estimators: the fitted parameters and what is built from
    them.  Expects the estimator's parameters (activation, dropout, ...)."""


    def __getstate__(self):
        state = self.__dict__.copy()
        # the flat buffer is rebuilt from coefs_/intercepts_ on load
        state.pop("_params", None)
        state.pop("_views", None)
        state.pop("_coef_shapes", None)
        state.pop("_predict_layout", None)
        if "_optimizer" in state:  # plain types: skops trusts only the estimators
            state["_optimizer"] = state["_optimizer"].to_state()
        own = state.get("_random_state")
        if type(own) is SeededRandomState:
            # stored as the plain RandomState it stands for (pickle, skops),
            # made from a fixed seed before its state is set: an unseeded one
            # carries a fresh SeedSequence that NumPy pickles, so a model's
            # bytes differed from pickle to pickle (Dask could not hash it)
            plain = np.random.RandomState(0)
            plain.set_state(own.get_state())
            state["_random_state"] = plain
        return state

    def __copy__(self):
        """copy.copy: the estimator's own weights (rebuilt from coefs_, as
        on load) and optimizer moments.  They were shared through the
        state's arrays: training the copy moved the original's next step
        (scikit-learn's callbacks hand a copy.copy of the model to theirs).
        Loading keeps them shared (joblib's read-only memmaps, copied when
        training writes to them)."""
        state = self.__getstate__()
        optimizer = state.get("_optimizer")
        if optimizer is not None:
            state["_optimizer"] = {**optimizer, "state1": optimizer["state1"].copy(),
                                   "state2": optimizer["state2"].copy()}
        new = type(self).__new__(type(self))
        new.__setstate__(state)
        return new

    def __setstate__(self, state):
        # saved by an earlier fastmlp: parameters added since at their
        # defaults (scikit-learn's behaviour, which it had), its optimizer
        # state dropped with a warning (_saved_state)
        state = without_old_optimizer(type(self), with_defaults(type(self), state))
        if isinstance(state.get("_optimizer"), dict):
            state = {**state, "_optimizer": StochasticOptimizer.from_state(state["_optimizer"])}
        self.__dict__.update(state)
        if "coefs_" in state:
            try:
                self._link_params()
            except ValueError:
                # saved edited out of shape (an intercept reshaped in place):
                # it loads as it was saved, as scikit-learn's, and predict
                # and fit say what is wrong (_packed)
                pass

    def _units(self):
        coefs = self.coefs_
        try:
            return (coefs[0].shape[0], *[c.shape[1] for c in coefs])
        except AttributeError:  # replaced by nested lists (checked in _packed)
            return (np.shape(coefs[0])[0], *[np.shape(c)[1] for c in coefs])

    def _check_parameters(self):
        """coefs_ and intercepts_ as arrays, once they are known to form this
        model's network, or ValueError naming the layer, the shape it needs
        and the shape found.  Runs before anything is packed from replaced
        (or unpickled) parameters: the engine would read past them otherwise.
        """
        coefs, intercepts = self.coefs_, self.intercepts_
        if not isinstance(coefs, (list, tuple)) or not isinstance(intercepts, (list, tuple)):
            raise ValueError(
                "coefs_ and intercepts_ must be lists of arrays; got "
                f"{type(coefs).__name__} and {type(intercepts).__name__}."
            )
        n_weights = self.n_layers_ - 1
        if len(coefs) != n_weights or len(intercepts) != n_weights:
            raise ValueError(
                f"The model has n_layers_={self.n_layers_}, so coefs_ and intercepts_ "
                f"need {n_weights} arrays each; got {len(coefs)} and {len(intercepts)}."
            )
        coefs = [np.asarray(W) for W in coefs]
        intercepts = [np.asarray(b) for b in intercepts]
        fan_in = self.n_features_in_
        for i, (W, b) in enumerate(zip(coefs, intercepts)):
            for name, a in ((f"coefs_[{i}]", W), (f"intercepts_[{i}]", b)):
                if a.dtype.kind not in "biuf":
                    raise ValueError(
                        f"{name} must hold real numbers; got dtype {a.dtype}."
                    )
            last = i == n_weights - 1
            fan_out = self.n_outputs_ if last else (W.shape[1] if W.ndim == 2 else None)
            if W.ndim != 2 or W.shape[0] != fan_in or W.shape[1] != fan_out or fan_out < 1:
                needed = f"({fan_in}, {fan_out if last else 'n_units'})"
                raise ValueError(
                    f"coefs_[{i}] must have shape {needed}; got {W.shape}."
                )
            if b.shape != (fan_out,):
                raise ValueError(
                    f"intercepts_[{i}] must have shape ({fan_out},); got {b.shape}."
                )
            fan_in = fan_out
        return coefs, intercepts

    def _activations(self, n_hidden):
        """One activation name per hidden layer (validated)."""
        if isinstance(self.activation, str):
            return (self.activation,) * n_hidden
        names = tuple(self.activation)
        if len(names) != n_hidden or any(
            not isinstance(a, str) or a not in _engine.HIDDEN_ACTIVATIONS for a in names
        ):
            raise ValueError(
                f"activation given as a list must name one of "
                f"{sorted(_engine.HIDDEN_ACTIVATIONS)} for each of the {n_hidden} "
                f"hidden layers; got {list(self.activation)!r}."
            )
        return names

    def _dropout_rates(self, n_hidden):
        if isinstance(self.dropout, (list, tuple)):
            rates = tuple(float(r) for r in self.dropout)
            if len(rates) != n_hidden or not all(0 <= r < 1 for r in rates):
                raise ValueError(
                    f"dropout given as a list needs one rate in [0, 1) for each of the "
                    f"{n_hidden} hidden layers; got {list(self.dropout)!r}."
                )
            return rates
        return (float(self.dropout),) * n_hidden

    def _layout_extras(self):
        """The engine Layout's arguments for the parameters after the
        intercepts: the input layer's and the parametric activations' (none
        here; the tabular networks have them, ``_tabular_network``)."""
        return {}

    def _layout(self, batch_size=0):
        """The prediction layout (cached)."""
        units = self._units()
        out = self.out_activation_
        return _engine.layout_for(
            units, batch_size, self._activations(len(units) - 2),
            "identity" if out in PREDICT_ONLY_OUTPUTS else out,
            getattr(self, "loss", None), **self._layout_extras()
        )

    def _predict_key(self):
        activation = self.activation
        return (activation if isinstance(activation, str) else tuple(activation),
                self.out_activation_, getattr(self, "loss", None))

    def _predict_parts(self):
        """(flat parameters, prediction layout) for predict.  The layout made
        when the parameters were linked is used while coefs_ and intercepts_
        are those intact views and activation, out_activation_ and loss are
        what it was made for (making it anew costs about a tenth of a one-row
        predict).  predict changes nothing on the estimator."""
        if not self._params_intact():
            return self._packed(), self._layout()
        key, layout = self._predict_layout
        return self._params, layout if key == self._predict_key() else self._layout()

    def _train_layout(self, batch_size, training=True):
        """The training layout (cached, as the prediction one)."""
        if self.out_activation_ in PREDICT_ONLY_OUTPUTS:
            raise ValueError(
                f"out_activation_={self.out_activation_!r} (set after fit) predicts as in "
                "scikit-learn, but fastmlp trains only the output its loss calls for "
                "('identity', 'exp', 'logistic' or 'softmax'): set it back to train on "
                "(partial_fit, warm_start), or fit anew."
            )
        units = self._units()
        n_hidden = len(units) - 2
        return _engine.layout_for(
            units, batch_size, self._activations(n_hidden), self.out_activation_,
            loss=getattr(self, "loss", None),
            dropout=self._dropout_rates(n_hidden) if training else None,
            input_dropout=float(self.input_dropout or 0.0) if training else 0.0,
            huber_delta=float(getattr(self, "huber_delta", 1.0)),
            max_norm=float(self.max_norm or 0.0) if training else 0.0,
            **self._layout_extras(),
        )

    def _params_intact(self):
        """Are coefs_/intercepts_ still the views we made of _params, the
        coefs and intercepts with the shapes they were made with (a view's
        shape can be assigned in place, and the layout is read from the coefs'
        shapes; an intercept reshaped so pickled unloadable), in
        a model of as many layers and features?"""
        views = getattr(self, "_views", None)
        if views is None:
            return False
        coefs, intercepts = self.coefs_, self.intercepts_
        # C-level loops (map): this runs on every predict
        return (type(coefs) is list and type(intercepts) is list
                and len(coefs) == self.n_layers_ - 1
                and len(coefs) + len(intercepts) == len(views)
                and self._coef_shapes[0][0] == self.n_features_in_
                and all(map(is_, coefs + intercepts, views))
                and list(map(_SHAPE, coefs + intercepts)) == self._coef_shapes)

    def _adopt_replaced(self):
        """After a callback: coefs_/intercepts_ it replaced (rather than
        edited in place) are copied into the buffer the engine trains, which
        they view again, so training goes on from them; ValueError when they
        no longer form this network (``_check_parameters``) or form one of
        other hidden sizes.
        Returns whether any was replaced."""
        if self._params_intact():
            return False
        coefs, intercepts = self._check_parameters()
        n = len(coefs)
        for i, (view, new) in enumerate(zip(self._views, coefs + intercepts, strict=True)):
            if new.shape != view.shape:
                # a whole network of other hidden sizes: not the one training
                name = f"coefs_[{i}]" if i < n else f"intercepts_[{i - n}]"
                raise ValueError(f"{name} must keep the shape {view.shape} of the network "
                                 f"being trained; got {new.shape}.")
        for view, new in zip(self._views, coefs + intercepts, strict=True):
            view[...] = new
        self.coefs_, self.intercepts_ = list(self._views[:n]), list(self._views[n:])
        return True

    def _packed(self, dtype=None):
        """The flat parameters, packed anew from coefs_ if they were replaced."""
        if self._params_intact() and (dtype is None or dtype == self._params.dtype):
            return self._params
        coefs, intercepts = self._check_parameters()
        dtype = dtype or np.result_type(*coefs, *intercepts)
        if np.dtype(dtype) not in (np.float32, np.float64):
            # float16 or integer weights put in by hand: the engine computes
            # in float32 or float64 only (a warm start failed with "No
            # matching signature found"); as predict, in float64
            dtype = np.float64
        return np.concatenate([a.astype(dtype, copy=False).ravel() for a in coefs + intercepts])

    def _link_params(self, dtype=None):
        """Make coefs_/intercepts_ views of one flat buffer (copying if needed)."""
        if self._params_intact() and (dtype is None or dtype == self._params.dtype):
            return
        params = self._packed(dtype)
        layout = self._layout()
        self.coefs_, self.intercepts_ = layout.coef_views(params)
        self._predict_layout = (self._predict_key(), layout)
        self._params = params
        self._views = tuple(self.coefs_ + self.intercepts_)
        self._coef_shapes = [a.shape for a in self.coefs_ + self.intercepts_]

    def _snapshot(self):
        """Copy of the state a call may change, to restore if it fails.

        Arrays (and lists of arrays: coefs_ are the truth, _params is rebuilt
        from them) are copied, the curves fit appends floats to are copied
        shallowly, the random state not at all (every call draws a new one
        from ``random_state``), anything else deeply.  A deep copy of it all
        grew with loss_curve_ and copied the random state: ~0.5 ms per
        partial_fit call after a few hundred calls.  What scikit-learn keeps
        on the estimator (``NOT_FIT_STATE``) is neither copied nor restored.
        """
        skip = set(self._get_param_names()) | NOT_FIT_STATE | {
            "_params", "_views", "_coef_shapes", "_predict_layout"}
        state = {}
        for key, value in self.__dict__.items():
            if key in skip:
                continue
            if isinstance(value, np.ndarray):
                value = value.copy()
            elif type(value) is list and value and all(
                isinstance(a, np.ndarray) for a in value
            ):
                value = [a.copy() for a in value]
            elif key in _CURVES and type(value) is list:
                value = list(value)
            elif not isinstance(value, np.random.RandomState):
                value = copy.deepcopy(value)
            state[key] = value
        return state

    def _restore(self, snapshot):
        """The state of ``_snapshot``: what the call added is removed, but
        for what scikit-learn keeps on the estimator (``NOT_FIT_STATE``),
        which it sets and removes itself."""
        keep = set(self._get_param_names()) | NOT_FIT_STATE
        for key in [k for k in self.__dict__ if k not in keep]:
            del self.__dict__[key]
        self.__dict__.update(snapshot)
        if "coefs_" in snapshot:
            try:
                self._link_params()
            except ValueError:
                # the call failed on coefs_/intercepts_ the user had replaced
                # by ones that do not fit: they stay as the user set them, and
                # the next call says so again
                pass
