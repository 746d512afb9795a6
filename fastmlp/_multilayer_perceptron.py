"""MLPClassifier and MLPRegressor: scikit-learn 1.9's API on fastmlp's engine.

This layer validates input, implements scikit-learn's API and runs the
per-epoch policy (loss curve, tol / n_iter_no_change, early stopping,
verbose, learning-rate schedules, callbacks).  Each epoch is one call into
the compiled engine through ``_engine.Problem``, which runs every minibatch
-- gather, forward, loss, backward, update -- without the GIL; the solver's
state is a ``_stochastic_optimizers.StochasticOptimizer``.

The random state is consumed exactly as scikit-learn consumes it (weight
initialisation, per-epoch shuffles, the early-stopping split), so the same
``random_state`` gives the same model as scikit-learn's, up to rounding.

The fitted parameters (one flat buffer, ``coefs_``/``intercepts_`` its
views, checked when replaced) are ``_fitted_network.FittedNetwork``'s.
"""
import functools
import os
import sys
import threading
import time
import warnings
import weakref
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    is_classifier,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, get_scorer, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array, check_random_state, column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from fastmlp import _docstrings, _engine, _fastcheck, _label
from fastmlp._fitted_network import PREDICT_ONLY_OUTPUTS, FittedNetwork, SeededRandomState
from fastmlp._sklearn_callbacks import EpochCallbacks
from fastmlp._stochastic_optimizers import StochasticOptimizer
from fastmlp._tuning import LBFGS_CHUNK_ROWS
from fastmlp._sklearn_compat import (
    SKLEARN_CLASSIFIER_CONSTRAINTS,
    SKLEARN_REGRESSOR_CONSTRAINTS,
    ZERO_WEIGHTS_MESSAGE,
    CallbackSupportMixin,
    Interval,
    StrOptions,
    _check_optimize_result,
    _check_partial_fit_first_call,
    _check_sample_weight,
    _check_some_sample_weight,
    _fit_context,
    _get_additional_lbfgs_options_dict,
    with_callbacks,
)
from fastmlp._progress import (
    PROGRESS_PARAM_CONSTRAINTS,
    EpochReporter,
    TimeBudget,
    run_callbacks,
    validate_callbacks,
)
from fastmlp._schedules import SCHEDULE_PARAM_CONSTRAINTS, epoch_learning_rate

_STOCHASTIC_SOLVERS = ("sgd", "adam", "rmsprop", "adagrad", "adamw")
_SKLEARN_SCHEDULES = ("constant", "invscaling", "adaptive")


def _constraints(sk_constraints):
    """scikit-learn's own validation, plus fastmlp's options."""
    constraints = dict(sk_constraints)
    constraints["activation"] = [StrOptions(set(_engine.HIDDEN_ACTIVATIONS)), list, tuple]
    constraints["solver"] = [StrOptions({"lbfgs", *_STOCHASTIC_SOLVERS})]
    constraints["learning_rate"] = [
        StrOptions({"constant", "invscaling", "adaptive", "cosine", "exponential", "step"})
    ]
    constraints.update(SCHEDULE_PARAM_CONSTRAINTS)
    constraints["rho"] = [Interval(Real, 0, 1, closed="left")]
    constraints["weight_decay"] = [Interval(Real, 0, None, closed="left")]
    constraints["alpha_l1"] = [Interval(Real, 0, None, closed="left")]
    constraints["grad_clip_norm"] = [None, Interval(Real, 0, None, closed="neither")]
    constraints["grad_clip_value"] = [None, Interval(Real, 0, None, closed="neither")]
    constraints["dropout"] = [Interval(Real, 0, 1, closed="left"), list, tuple]
    constraints["input_dropout"] = [Interval(Real, 0, 1, closed="left")]
    constraints["max_norm"] = [None, Interval(Real, 0, None, closed="neither")]
    constraints["scoring"] = [None, str, callable]
    constraints.update(PROGRESS_PARAM_CONSTRAINTS)
    return constraints


def _set_params(estimator, params):
    """__init__'s body: store each constructor argument under its own name
    (scikit-learn's convention: no validation or logic in __init__)."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


# _BaseMLP._get_param_names, per class (weak: classes made on the fly go)
_PARAM_NAMES = weakref.WeakKeyDictionary()


def _model_weights(sample_weight, dtype, name="sample_weight"):
    """Checked sample weights (scikit-learn's checks and messages, in their
    own dtype) in the model's dtype, which the engine weighs in; weights a
    float32 model cannot hold are an error (scikit-learn trains on them in
    float64)."""
    if sample_weight.dtype == dtype:
        return sample_weight
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        cast = sample_weight.astype(dtype)
    # weights that were NaN or inf already (a scalar, which scikit-learn's
    # check does not read) train on, to scikit-learn's non-finite error
    finite = np.isfinite(sample_weight)
    given, held = sample_weight[finite], cast[finite]
    if not np.isfinite(held).all() or (given.any() and not held.any()):
        raise ValueError(
            f"{name} spans {np.abs(given[given != 0]).min():g} to "
            f"{np.abs(given).max():g}, beyond {np.dtype(dtype).name}'s range: the "
            f"model trains in {np.dtype(dtype).name} (that of X). Scale the weights, or fit "
            "float64 X.")
    return cast


# the type of scikit-learn's loss of float32 outputs and targets, a float32
# scalar times a Python float (its L2 term): np.float32 under NumPy 2's
# promotion rules, np.float64 under NumPy 1's
_FLOAT32_LOSS = type(np.float32(1) * 0.5)

# the estimators whose fit or partial_fit is running: id -> (the thread's
# ident, the call's token)
_fitting = {}
_fitting_lock = threading.Lock()


def _one_fit_at_a_time(method):
    """fit / partial_fit refuse an estimator whose fit is running, from one
    of its own callbacks or from another thread: the running fit trains a
    buffer the call would replace, and went on stepping one no longer the
    model's (a failed inner call froze the weights it returned; a successful
    one left n_iter_ past max_iter).  Outermost, so that a refused call runs
    none of scikit-learn's callback wrapper, whose teardown would end the
    running fit's callbacks."""
    @functools.wraps(method)
    def one_at_a_time(self, *args, **kwargs):
        key, mine = id(self), (threading.get_ident(), object())
        try:
            with _fitting_lock:
                if key in _fitting:
                    raise RuntimeError(
                        f"{type(self).__name__}.{method.__name__} was called while this "
                        "estimator is being fitted (from a callback of its own fit, or in "
                        "another thread). A callback may read and edit the model, and stop "
                        "the fit; to train another model, fit a clone "
                        "(sklearn.base.clone) or a copy.")
                _fitting[key] = mine
            return method(self, *args, **kwargs)
        finally:
            # this call's entry only, wherever a Ctrl-C struck (one between
            # the entry and the try left the estimator refusing every fit)
            with _fitting_lock:
                if _fitting.get(key) is mine:
                    del _fitting[key]
    return one_at_a_time


def _after_fork_in_child():
    """A forked child runs only the forking thread: the fits of the others
    never end here (their estimators stay fittable), its own go on."""
    global _fitting_lock
    _fitting_lock = threading.Lock()
    me = threading.get_ident()
    for key in [k for k, (ident, _) in _fitting.items() if ident != me]:
        del _fitting[key]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _CallbackRaised(Exception):
    """A user callback's StopIteration, carried through SciPy's L-BFGS (which
    would take it for a request to stop) to be raised again out of fit."""

    def __init__(self, exc):
        super().__init__(exc)
        self.exc = exc


class _BaseMLP(FittedNetwork, CallbackSupportMixin, BaseEstimator):
    """Shared machinery of MLPClassifier and MLPRegressor."""

    # A validation set's loss is computed each epoch (one forward pass of it)
    # for validation_loss_curve_; a subclass that keeps no such curve and
    # does not select on the loss turns this off (the tabular classifier,
    # which selects on accuracy: one forward pass of the set instead of two)
    _records_validation_loss = True
    # Whether reaching max_iter warns (ConvergenceWarning); the tabular
    # networks' fixed epoch budget is their recipe, not a failure to converge
    # (a class attribute: a warnings filter set around their fits would be
    # the process's, and not thread-safe)
    _warns_at_max_iter = True
    # Which of tied best validation scores early stopping keeps: scikit-learn's
    # first (a strict '>'); the tabular networks the latest, as RealMLP does
    # (use_last_best_epoch), since accuracy on a small held-out split ties
    # often and the first of tied epochs is the least trained
    _keeps_latest_best = False
    # Whether Ctrl-C ends training with the model kept and a warning, as
    # scikit-learn's stochastic solvers; a tabular member lets it through,
    # so that the ensemble's fit stops and restores the estimator instead of
    # training the next members and averaging a half-trained one in
    _keeps_interrupted_fit = True
    # The error of a fit whose weights became non-finite: scikit-learn's; the
    # tabular networks name the learning rate, as their inputs are scaled
    _diverged_message = ("Solver produced non-finite parameter weights. The input data may"
                         " contain large values and need to be preprocessed.")

    @classmethod
    def _get_param_names(cls):
        """BaseEstimator's list, kept per class: it reads __init__'s signature
        with inspect on every get_params, clone and parameter validation
        (~60 us of every fit), and a class's signature does not change."""
        names = _PARAM_NAMES.get(cls)
        if names is None:
            names = _PARAM_NAMES[cls] = tuple(super()._get_param_names())
        return list(names)

    def _fresh_random_state(self):
        """``check_random_state(self.random_state)``, as every call to fit and
        partial_fit draws it.  For an int seed, the generator this estimator
        made for its previous call is reseeded instead (numpy builds a new one
        through SeedSequence first: ~85 us, a partial_fit step of 200 rows),
        and a new estimator takes the generator of one that is gone."""
        seed = self.random_state
        if not isinstance(seed, Integral):
            return check_random_state(seed)
        previous = self.__dict__.get("_random_state")
        if type(previous) is SeededRandomState and previous.owner() is self:
            previous.seed(seed)  # the state RandomState(seed) starts in
            return previous
        return SeededRandomState.for_estimator(self, seed)

    def _validate_params(self):
        """scikit-learn's parameter validation, skipped for values this class
        has already accepted (see _fastcheck)."""
        _fastcheck.validate_params(self, super()._validate_params)

    # ------------------------------------------------------------- training

    def _initialize(self, y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._target_type == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"

        # Glorot uniform, drawing from the random state in scikit-learn's order
        # (factor 2 for logistic layers: with a list of activations, the one
        # applied to the layer's output; the output layer takes the last one)
        names = self._activations(len(layer_units) - 2)
        coefs, intercepts = [], []
        for i, (fan_in, fan_out) in enumerate(zip(layer_units[:-1], layer_units[1:])):
            if isinstance(self.activation, str):
                act = self.activation
            else:
                act = names[min(i, len(names) - 1)] if names else "relu"
            factor = 2.0 if act == "logistic" else 6.0
            bound = np.sqrt(factor / (fan_in + fan_out))
            coefs.append(self._random_state.uniform(-bound, bound, (fan_in, fan_out)))
            intercepts.append(self._random_state.uniform(-bound, bound, fan_out))
        self.coefs_, self.intercepts_ = coefs, intercepts
        self._params = None
        self._link_params(np.dtype(dtype))
        self._best_params = self._params.copy()
        self._clear_optimizer()

        self._epoch = 0  # epochs trained since initialisation (schedules)
        if self.solver in _STOCHASTIC_SOLVERS:
            self._start_stochastic_records()

    def _start_stochastic_records(self):
        """The attributes a stochastic fit keeps from epoch to epoch, as a
        fresh model starts them."""
        self.loss_curve_ = []
        self.validation_loss_curve_ = None
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _clear_optimizer(self):
        self.__dict__.pop("_optimizer", None)

    def _init_optimizer(self):
        self._optimizer = StochasticOptimizer(
            self.solver, self._params.shape[0], self._params.dtype, self.learning_rate_init
        )

    def _fit(self, X, y, sample_weight=None, incremental=False, validation=None):
        snapshot = self._snapshot()
        try:
            return self._fit_unsafe(X, y, sample_weight, incremental, validation)
        except BaseException:
            self._restore(snapshot)
            raise

    def _fit_unsafe(self, X, y, sample_weight, incremental, validation=None):
        hidden_layer_sizes = self.hidden_layer_sizes
        if not hasattr(hidden_layer_sizes, "__iter__"):
            hidden_layer_sizes = [hidden_layer_sizes]
        hidden_layer_sizes = list(hidden_layer_sizes)
        # plain ints are checked in Python (numpy's way costs ~10 us, ~80 cold)
        if (
            min(hidden_layer_sizes) <= 0
            if hidden_layer_sizes and all(type(h) is int for h in hidden_layer_sizes)
            else np.any(np.array(hidden_layer_sizes) <= 0)
        ):
            raise ValueError(
                "hidden_layer_sizes must be > 0, got %s." % hidden_layer_sizes
            )
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if scipy.sparse.issparse(X) and X.format == "csc":
            # before any row indexing (the early-stopping split), which reads
            # X's index arrays unchecked (_engine.check_csc)
            _engine.check_csc(X)
        checked_weights = None if sample_weight is None else \
            _check_sample_weight(sample_weight, X)
        model_dtype = None if first_pass else self._packed().dtype
        # the type of scikit-learn's loss, NumPy's of its operands: X as
        # given, the weights as it checks them, and a continued model's
        # (whose X is cast to it below, where scikit-learn's is not)
        loss_type = self._loss_scalar(
            [X.dtype, y.dtype] + ([] if model_dtype is None else [model_dtype])
            + ([] if checked_weights is None else [checked_weights.dtype]))
        if model_dtype is not None:
            # continue in the model's dtype
            X = X.astype(model_dtype, copy=False)
        if checked_weights is not None:
            sample_weight = _model_weights(checked_weights, X.dtype)
        sample_weight = self._apply_class_weight(y, sample_weight, X.dtype, incremental)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        n_features = X.shape[1]
        layer_units = [n_features] + hidden_layer_sizes + [y.shape[1]]
        self._activations(len(hidden_layer_sizes))
        self._dropout_rates(len(hidden_layer_sizes))
        validate_callbacks(self.callbacks)
        if self.solver == "lbfgs" and (
            self._dropout_rates(len(hidden_layer_sizes)) != (0.0,) * len(hidden_layer_sizes)
            or self.input_dropout > 0
        ):
            raise ValueError(
                "dropout and input_dropout need a stochastic solver (sgd, adam, "
                "rmsprop, adagrad, adamw); solver='lbfgs' has no minibatches."
            )
        if self.solver == "lbfgs" and self.max_norm is not None:
            raise ValueError(
                "max_norm constrains the weights after each stochastic step; "
                "solver='lbfgs' takes none. Use a stochastic solver or drop max_norm."
            )
        if self.solver == "lbfgs" and validation is not None:
            raise ValueError(
                "X_val/y_val are evaluated once per epoch by the stochastic solvers; "
                "solver='lbfgs' has no epochs."
            )
        if self.input_dropout > 0 and scipy.sparse.issparse(X):
            raise ValueError("input_dropout needs dense X; got a sparse matrix.")
        if validation is not None:
            validation = self._validate_validation_set(*validation, X)
        if not first_pass:
            self._link_params()  # checks replaced coefs_ before anything reads them
            expected = list(self._units())
            if expected != layer_units:
                raise ValueError(
                    f"The fitted network has layer sizes {expected}, but the data and "
                    f"hidden_layer_sizes ask for {layer_units}; refit from scratch "
                    "(warm_start=False) to change the architecture."
                )
        self.n_outputs_ = y.shape[1]
        self._random_state = self._fresh_random_state()
        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        else:
            self._link_params()

        n_threads = _engine.fit_threads()
        with _engine.engine_session():
            if self.solver in _STOCHASTIC_SOLVERS:
                self._fit_stochastic(X, y, sample_weight, incremental, n_threads, validation,
                                     loss_type)
            else:
                self._fit_lbfgs(X, y, sample_weight, n_threads, loss_type)

        if not _fastcheck.finite_values(self._params):
            raise ValueError(self._diverged_message)
        return self

    def _apply_class_weight(self, y, sample_weight, dtype, incremental):
        return sample_weight  # the classifier overrides this

    def _validate_validation_set(self, X_val, y_val, sample_weight_val, X):
        """Check X_val/y_val as the training data (same width, dtype)."""
        if X_val is None or y_val is None:
            raise ValueError(
                "X_val and y_val must be given together (sample_weight_val needs "
                "both); got only part of the validation set."
            )
        X_val = validate_data(
            self, X_val, accept_sparse=["csr", "csc"], reset=False,
            dtype=(np.float64, np.float32),
        ).astype(X.dtype, copy=False)
        y_val = np.asarray(y_val)
        if y_val.shape[0] != X_val.shape[0]:
            raise ValueError(
                f"X_val has {X_val.shape[0]} samples but y_val has {y_val.shape[0]}."
            )
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        if sample_weight_val is not None:
            try:
                # checked in its own dtype, then held to the model's range
                sample_weight_val = _model_weights(
                    _check_some_sample_weight(sample_weight_val, X_val), X.dtype)
            except ValueError as e:
                # scikit-learn's checks and messages, naming the parameter given
                raise ValueError(str(e).replace("sample_weight", "sample_weight_val")) from None
        return X_val, y_val, sample_weight_val

    def _fit_lbfgs(self, X, y, sample_weight, n_threads, loss_type):
        params = self._params
        chunk = min(X.shape[0], LBFGS_CHUNK_ROWS)
        problem = _engine.Problem(
            self._train_layout(chunk, training=False), X, y, sample_weight, params
        )

        def loss_grad(x):
            params[:] = x
            loss = problem.loss_grad(alpha=self.alpha, alpha1=self.alpha_l1,
                                     n_threads=n_threads, interruptible=True)
            return loss, problem.grads.astype(np.float64)

        # callbacks and max_time act once per L-BFGS iteration
        budget = TimeBudget(self.max_time)
        history = self._history()
        watch = self.callbacks is not None or self.max_time is not None
        stopped = []

        def on_iteration(intermediate_result):
            params[:] = intermediate_result.x
            history["loss"].append(float(intermediate_result.fun))
            for key in ("val_loss", "val_score", "seconds", "learning_rate"):
                history[key].append(None)
            try:
                asked = run_callbacks(self.callbacks, self, history)
            except StopIteration as exc:
                # SciPy reads a StopIteration from its callback as "stop":
                # the user's own goes out of fit as any other exception
                raise _CallbackRaised(exc) from exc
            if not self._params_intact():
                # SciPy goes on from its own copy of the weights, and fit
                # would end with the callback's arrays beside the trained ones
                raise _CallbackRaised(ValueError(
                    "A callback replaced coefs_ or intercepts_ during solver='lbfgs', "
                    "whose L-BFGS goes on from its own copy of the weights; stop "
                    "training (return True) and refit with warm_start=True to "
                    "train from new weights."))
            if asked or budget.exceeded():
                stopped.append(True)
                raise StopIteration

        iprint = 1 if (self.verbose is True or self.verbose >= 1) else -1
        try:
            opt_res = scipy.optimize.minimize(
                loss_grad,
                params.astype(np.float64),
                method="L-BFGS-B",
                jac=True,
                callback=on_iteration if watch else None,
                options={
                    "maxfun": self.max_fun,
                    "maxiter": self.max_iter,
                    "gtol": self.tol,
                    **_get_additional_lbfgs_options_dict("iprint", iprint),
                },
            )
        except _CallbackRaised as raised:
            raise raised.exc
        # a stop asked for (max_time, a callback) is no failure to converge:
        # no ConvergenceWarning, as with the stochastic solvers
        self.n_iter_ = (min(opt_res.nit, self.max_iter) if stopped
                        else _check_optimize_result("lbfgs", opt_res, self.max_iter))
        self.loss_ = loss_type(opt_res.fun)  # as below
        if not np.isfinite(self.loss_):
            # scikit-learn returns here too (its weights stay finite)
            self._warn_loss_not_finite()
        params[:] = opt_res.x
        self._pace_report = problem.pace_report()  # bench --contention

    def _warn_loss_not_finite(self):
        """Where scikit-learn's NumPy overflow warnings ('overflow encountered
        in square', ...) say why its loss is inf or NaN: the engine's loops
        do not warn."""
        warnings.warn(
            "The loss is not finite: the input data may contain large values "
            "and need to be preprocessed"
            + (", or y negative values, which loss='poisson' cannot fit."
               if self.loss == "poisson" else "."), RuntimeWarning)

    def _split_validation(self, X, y, sample_weight):
        """Indices of the early-stopping split, drawn as scikit-learn draws them."""
        should_stratify = is_classifier(self) and self.n_outputs_ == 1
        stratify = y if should_stratify else None
        train_idx, val_idx = train_test_split(
            np.arange(X.shape[0]),
            random_state=self._random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        if val_idx.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        return train_idx.astype(np.intp), val_idx

    def _validation_loss_fn(self, X_val, Y_val, sw_val, n_threads):
        """A function giving the data loss on the validation set (no
        regularization terms); layout, buffers and inputs are prepared once
        per fit, not once per epoch."""
        chunk = min(X_val.shape[0], LBFGS_CHUNK_ROWS)
        problem = _engine.Problem(
            self._train_layout(chunk, training=False), X_val, Y_val, sw_val, self._params,
            with_grad=False,
        )
        return lambda: problem.loss_grad(alpha=0.0, n_threads=n_threads)

    def _epoch_step_factors(self, n_batches):
        """Per-batch factors of the next epoch's rate, weight decay and
        dropout rates (``_engine.STEP_FACTORS``), or None: constant."""
        return None

    def _epoch_lr(self):
        """Base learning rate of the next epoch (schedules, warm-up)."""
        rate = self._optimizer.learning_rate  # scikit-learn's rule, updated at epoch ends
        if self.learning_rate in _SKLEARN_SCHEDULES and self.warmup_epochs == 0:
            return rate
        lr = epoch_learning_rate(
            self.learning_rate, self._epoch,
            learning_rate_init=float(self.learning_rate_init),
            max_iter=self.max_iter, warmup_epochs=self.warmup_epochs,
            lr_decay=self.lr_decay, lr_step_size=self.lr_step_size, lr_min=self.lr_min,
        )
        if self.learning_rate in _SKLEARN_SCHEDULES:
            # warm-up scales scikit-learn's current rate (invscaling/adaptive)
            lr *= rate / float(self.learning_rate_init)
        return lr

    def _fit_stochastic(self, X, y, sample_weight, incremental, n_threads, validation,
                        loss_type):
        optimizer = getattr(self, "_optimizer", None)
        if not incremental or optimizer is None or not optimizer.fits(
            self.solver, self._params.shape[0], self._params.dtype
        ):
            self._init_optimizer()
        else:
            self._optimizer.writable()
        self._optimizer.set_hyperparameters(
            momentum=self.momentum, nesterov=self.nesterovs_momentum, beta_1=self.beta_1,
            beta_2=self.beta_2, epsilon=self.epsilon, rho=self.rho,
            weight_decay=self.weight_decay, alpha1=self.alpha_l1,
            clip_value=self.grad_clip_value,
        )
        self._optimizer.set_learning_rate_init(self.learning_rate_init, self.learning_rate,
                                               self.t_, self.power_t)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not hasattr(self, "loss_curve_"):
            # trained so far by L-BFGS, which keeps none of these, and now
            # by a stochastic solver (set_params between partial_fit calls,
            # or a warm start): they start here (scikit-learn fails with an
            # AttributeError)
            self._start_stochastic_records()
        early_stopping = self.early_stopping
        train_idx = None
        X_val = y_val = sample_weight_val = Y_val = None
        if validation is not None:
            # the user's validation set replaces the internal split
            X_val, y_val, sample_weight_val = validation
            Y_val = self._encode_validation_targets(y_val)
        elif early_stopping:
            train_idx, val_idx = self._split_validation(X, y, sample_weight)
            X_val = X[val_idx]
            Y_val = y[val_idx]
            y_val = self._user_targets(Y_val)
            sample_weight_val = None if sample_weight is None else sample_weight[val_idx]
            if sample_weight_val is not None and not sample_weight_val.any():
                # scikit-learn's weighted score raises this after the first
                # epoch; the validation loss pass would divide by zero first
                raise ValueError(ZERO_WEIGHTS_MESSAGE)
        records_loss = X_val is not None and (self._records_validation_loss
                                              or self.scoring == "loss")
        if records_loss and self.validation_loss_curve_ is None:
            # one entry per epoch of loss_curve_: NaN for the epochs of earlier
            # warm-started fits, which had no held-out data
            self.validation_loss_curve_ = [np.nan] * len(self.loss_curve_)
        # early stopping switched on or off for a warm start (scikit-learn
        # fails: an AttributeError, a TypeError): the attributes of a fit
        # with that setting, tracked from this call's epochs on
        if early_stopping:
            if self.validation_scores_ is None:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        elif self.best_loss_ is None:
            self.best_loss_ = np.inf

        n_samples = X.shape[0] if train_idx is None else train_idx.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than "
                    "sample size. It is going to be clipped"
                )
            batch_size = int(min(max(self.batch_size, 1), n_samples))

        params = self._params
        problem = _engine.Problem(self._train_layout(batch_size), X, y, sample_weight, params)
        clip = 0.0 if self.grad_clip_norm is None else float(self.grad_clip_norm)
        uses_dropout = problem.layout.uses_dropout
        sample_idx = np.arange(n_samples, dtype=np.intp)
        # epochs are numbered within this call (fit) or since initialisation
        # (partial_fit, which has no epoch budget)
        validation_loss = (
            None if not records_loss
            else self._validation_loss_fn(X_val, Y_val, sample_weight_val, n_threads)
        )
        reporter = EpochReporter(self.progress, n_samples, None if incremental else self.max_iter)
        budget = TimeBudget(self.max_time)
        history = self._history()
        skl_callbacks = EpochCallbacks(self, X, y, sample_weight, self.max_iter)

        # the records of this call's epochs so far (a Ctrl-C between them: below)
        records = (len(self.loss_curve_),
                   None if self.validation_loss_curve_ is None
                   else len(self.validation_loss_curve_),
                   len(self.validation_scores_) if early_stopping else None)
        # read once: set_params from a callback takes effect at the next fit
        # (shuffle=False mid-fit met rows left shuffled by the epochs before)
        shuffle = self.shuffle
        try:
            self.n_iter_ = 0
            warn_loss = True
            for _ in range(self.max_iter):
                tic = time.perf_counter()
                skl_callbacks.epoch_begin()
                if shuffle:
                    # sklearn.utils.shuffle draws perm by shuffling arange(n) and
                    # returns sample_idx[perm]; shuffling sample_idx in place makes
                    # the same swaps from the same draws: same order, no copies
                    self._random_state.shuffle(sample_idx)
                order = sample_idx if train_idx is None else train_idx[sample_idx]
                # dropout masks: a seed per epoch (drawn only when dropout is on,
                # so scikit-learn's random stream is unchanged otherwise)
                # mixed with the epoch count, so that partial_fit and warm starts
                # (which re-seed an int random_state each call) get new masks)
                seed = (
                    int(self._random_state.randint(0, 2**31 - 1))
                    + self._epoch * 0x9E3779B97F4A7C15 % 2**63
                    if uses_dropout
                    else 0
                ) % 2**64
                lr = self._epoch_lr()
                factors = self._epoch_step_factors(-(-order.shape[0] // batch_size))
                loss_sum = problem.epoch(
                    self._optimizer, order, shuffled=shuffle or train_idx is not None,
                    batch_size=batch_size, lr=lr, alpha=self.alpha, clip_norm=clip,
                    n_threads=_engine.thread_share(n_threads), seed=seed,
                    step_factors=factors,
                )
                if factors is not None:  # the epoch's mean rate, for the history
                    lr = lr * float(np.mean(factors[:, 0]))
                self.n_iter_ += 1
                self._epoch += 1
                # a NumPy scalar of scikit-learn's type: loss_.round(3), its repr
                self.loss_ = loss_type(loss_sum / n_samples)
                if not early_stopping and not _fastcheck.finite_values(params):
                    # non-finite weights never become finite again: stop now,
                    # and _fit_unsafe raises scikit-learn's error.  With early
                    # stopping scikit-learn trains on, records NaN validation
                    # scores and restores the best weights (its issue 29504).
                    break
                self.t_ += n_samples
                if warn_loss and not np.isfinite(self.loss_):
                    self._warn_loss_not_finite()
                    warn_loss = False   # once a call
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    self._say(reporter)("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))

                val_loss = None
                if records_loss:
                    val_loss = validation_loss()
                    self.validation_loss_curve_.append(val_loss)
                elif self.validation_loss_curve_ is not None:
                    self.validation_loss_curve_.append(np.nan)   # this fit has none
                self._update_no_improvement_count(
                    early_stopping, X_val, y_val, sample_weight_val, val_loss,
                    self._say(reporter),
                )
                self._optimizer.iteration_ends(self.t_, self.learning_rate, self.power_t)

                history["loss"].append(self.loss_)
                history["val_loss"].append(val_loss)
                history["val_score"].append(
                    self.validation_scores_[-1] if early_stopping and self.validation_scores_ else None
                )
                history["seconds"].append(time.perf_counter() - tic)
                history["learning_rate"].append(lr)
                reporter.epoch_end(
                    epoch=self._epoch if incremental else self.n_iter_, loss=self.loss_, seconds=history["seconds"][-1],
                    val_score=history["val_score"][-1], val_loss=val_loss,
                )

                converged = False
                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = (
                            "Validation score did not improve more than "
                            "tol=%f for %d consecutive epochs."
                            % (self.tol, self.n_iter_no_change)
                        )
                    else:
                        msg = (
                            "Training loss did not improve more than tol=%f"
                            " for %d consecutive epochs."
                            % (self.tol, self.n_iter_no_change)
                        )
                    converged = self._optimizer.trigger_stopping(
                        msg, self.learning_rate, self._say(reporter))
                    if not converged:
                        self._no_improvement_count = 0

                # every callback sees every epoch, the one training stops at too
                stop = skl_callbacks.epoch_end()
                asked = run_callbacks(self.callbacks, self, history) or stop
                self._adopt_replaced()   # a callback's new coefs_: trained on
                if converged:
                    break
                if asked:
                    self._say(reporter)("A callback asked to stop training.")
                    break
                if budget.exceeded():
                    self._say(reporter)("max_time=%g s reached; stopping." % self.max_time)
                    break

                if incremental:
                    break

                if self.n_iter_ == self.max_iter and self._warns_at_max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) "
                        "reached and the optimization hasn't converged yet."
                        % self.max_iter,
                        ConvergenceWarning,
                    )
        except KeyboardInterrupt:
            if not self._keeps_interrupted_fit:
                raise
            warnings.warn("Training interrupted by user.")
            # Ctrl-C while an epoch was being scored (a large share of a
            # short compiled epoch): its held-out records, as the others have
            # (a second Ctrl-C meanwhile leaves them as they are: the fit's
            # epochs are kept all the same)
            try:
                self._score_unscored_epoch(records, early_stopping, records_loss,
                                           validation_loss, X_val, y_val,
                                           sample_weight_val, self._say(reporter))
            except KeyboardInterrupt:
                pass
        finally:
            reporter.close()
            skl_callbacks.close()
            # the engine's team-or-one-thread choices (bench --contention)
            self._pace_report = problem.pace_report()

        if early_stopping:
            params[:] = self._best_params

    def _loss_scalar(self, dtypes):
        """The type of loss_, loss_curve_'s items and best_loss_ for
        operands of ``dtypes``: scikit-learn's, np.float64 (its losses mix
        in float64 targets or weights) unless a subclass says otherwise."""
        return np.float64

    def _history(self):
        return {"loss": [], "val_loss": [], "val_score": [], "seconds": [], "learning_rate": []}

    def _user_targets(self, Y):
        """The targets as the user gave them, from the network's (n_samples,
        n_outputs) ones: 1-D for one output."""
        return Y.ravel() if Y.shape[1] == 1 else Y

    def _encode_validation_targets(self, y_val):
        # numbers, finite (unless assume_finite) in the model's dtype, as y
        # itself: a NaN made every epoch's validation loss NaN
        given = np.asarray(y_val).dtype
        if given.kind in "USV":
            raise TypeError(f"MLPRegressor needs numeric targets, but y_val has dtype {given}.")
        y_val = check_array(y_val, ensure_2d=False, dtype="numeric", input_name="y_val")
        Y = y_val.reshape(-1, 1) if y_val.ndim == 1 else y_val
        if Y.ndim != 2 or Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y_val has shape {y_val.shape}, but the model has "
                             f"{self.n_outputs_} output(s); y_val must have as many "
                             "target columns as y.")
        cast = Y.astype(self._params.dtype, copy=False)
        if cast is not Y and not np.isfinite(cast).all() and np.isfinite(Y).all():
            raise ValueError(f"y_val has values beyond {self._params.dtype}'s range, the "
                             "model's: scale the targets.")
        return cast

    def _say(self, reporter):
        """Where messages go: above the progress bar (progress=True), stdout
        (verbose, as scikit-learn prints them) or nowhere."""
        if self.progress:
            return reporter.message
        if not self.verbose:
            return lambda text: None
        prefix = getattr(self, "_say_prefix", None)   # a tabular ensemble's member
        if prefix is None:
            return print
        # members train side by side: one write a line, so lines do not mix
        return lambda text: sys.stdout.write(f"{prefix}{text}\n")

    def _validation_score(self, X, y, sample_weight, val_loss):
        """Higher is better: scikit-learn's score, -loss, or a named scorer."""
        if self.scoring is None:
            return self._score(X, y, sample_weight=sample_weight)
        if self.scoring == "loss":
            return -val_loss
        scorer = get_scorer(self.scoring)
        if sample_weight is None:
            return scorer(self, X, y)
        return scorer(self, X, y, sample_weight=sample_weight)

    def _score_unscored_epoch(self, records, early_stopping, records_loss, validation_loss,
                              X_val, y_val, sample_weight_val, say):
        """After Ctrl-C: the held-out records of the last epoch, if it was
        interrupted while being scored (``records``: the curves' lengths
        when the call began)."""
        done = len(self.loss_curve_) - records[0]
        val_loss = None
        if records[1] is not None and len(self.validation_loss_curve_) - records[1] < done:
            val_loss = validation_loss() if records_loss else np.nan
            self.validation_loss_curve_.append(val_loss)
        elif records_loss and done:
            val_loss = self.validation_loss_curve_[-1]
        if early_stopping and len(self.validation_scores_) - records[2] < done:
            self._update_no_improvement_count(early_stopping, X_val, y_val,
                                              sample_weight_val, val_loss, say)

    def _update_no_improvement_count(self, early_stopping, X, y, sample_weight, val_loss,
                                     say):
        if early_stopping:
            val_score = self._validation_score(X, y, sample_weight, val_loss)
            self.validation_scores_.append(val_score)
            if self.verbose:
                say("Validation score: %f" % self.validation_scores_[-1])
            last_valid_score = self.validation_scores_[-1]
            if last_valid_score < (self.best_validation_score_ + self.tol):
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last_valid_score > self.best_validation_score_ or (
                self._keeps_latest_best and last_valid_score == self.best_validation_score_
            ):
                self.best_validation_score_ = last_valid_score
                self._best_params = self._params.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    # ----------------------------------------------------------- prediction

    def _validate_predict_input(self, X):
        """validate_data(reset=False), with a fast path for the common case:
        a 2-D float ndarray of the right width from a model fitted without
        feature names.  Anything else takes scikit-learn's full validation."""
        if not hasattr(self, "feature_names_in_") and _fastcheck.plain_matrix(
            X, self.n_features_in_
        ):
            return X
        return validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)

    def _forward_pass_fast(self, X, check_input=True):
        if check_input:
            X = self._validate_predict_input(X)
        params, layout = self._predict_parts()
        if X.dtype != params.dtype:
            # NumPy's promotion, as scikit-learn's X @ coefs_ gets it: a
            # float32 model keeps float32 for bool and 8/16-bit integers
            dtype = np.result_type(X.dtype, params.dtype)
            if dtype not in (np.float32, np.float64):
                # long double (scikit-learn computes in it): the engine's
                # float64, the widest it has
                dtype = np.float64
            X = X.astype(dtype, copy=False)
            params = params.astype(dtype, copy=False)
        # a user's predict stops on Ctrl-C; one scoring a fit's held-out
        # rows runs to its end (README, "Ctrl-C")
        out = _engine.Problem(layout, X, None, None, params).forward(
            interruptible=id(self) not in _fitting)
        if self.out_activation_ == "exp" and np.isposinf(out).any():
            # scikit-learn's np.exp says so; the engine's loop does not
            warnings.warn("overflow encountered in exp", RuntimeWarning)
        after = PREDICT_ONLY_OUTPUTS.get(self.out_activation_)
        return out if after is None else after(out)

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    # -------------------------------------------------------------- public

    @_one_fit_at_a_time
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            The input data.  float32 input trains and predicts in float32.
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in
            regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        X_val, y_val : array-like, default=None
            Your own validation set (fastmlp; as HistGradientBoosting's).  Its
            loss is recorded per epoch in ``validation_loss_curve_``; with
            ``early_stopping=True`` it replaces the internal split, is scored
            with ``scoring``, and the best epoch's weights are restored.
            The stochastic solvers only: with ``solver='lbfgs'``, which has
            no epochs, it is a ValueError.
        sample_weight_val : array-like of shape (n_val,), default=None
            Sample weights of the validation set.

        Returns
        -------
        self : object
            The fitted model.
        """
        validation = None
        if X_val is not None or y_val is not None or sample_weight_val is not None:
            validation = (X_val, y_val, sample_weight_val)
        return self._fit(X, y, sample_weight=sample_weight, incremental=False,
                         validation=validation)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic"
                " optimizers. %s is not stochastic." % self.solver
            )
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # input_dropout refuses sparse X (its mask is drawn on dense rows)
        tags.input_tags.sparse = not self.input_dropout > 0
        return tags


# what a classifier's first partial_fit call sets before _fit (restored by hand
# on an error there; _fit restores the rest)
_LABEL_STATE = ("classes_", "_target_type", "_sparse_target")


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer Perceptron classifier: scikit-learn's, compiled.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`,
    with the same parameters, defaults, validation, fitted attributes,
    methods and errors, trained by fastmlp's Cython/OpenMP engine. The
    parameters marked (fastmlp) are fastmlp's own options. At their defaults,
    the model is scikit-learn's.

    The network minimises the log-loss plus the ``alpha`` and ``alpha_l1``
    penalties. Its output layer is a softmax for a multiclass target, and one
    logistic unit per output for a binary or multilabel target. Each sample's
    loss is weighted by its ``sample_weight`` times its ``class_weight``.

    Parameters
    ----------
    $parameters

    class_weight : dict, 'balanced' or None, default=None
        (fastmlp) Weight of each class in the loss: a sample's loss is
        multiplied by its class's weight (and by its ``sample_weight``, if
        given). A dict maps class labels to weights, and classes it leaves
        out weigh 1. 'balanced' weighs each class by
        ``n_samples / (n_classes * n_samples_of_that_class)``, counted in the
        ``y`` given to ``fit``. None weighs every class 1. The weights also
        apply to the split that ``early_stopping`` holds out, but not to an
        ``X_val``, ``y_val`` given to ``fit`` (``sample_weight_val`` weighs
        those). Multilabel targets do not support it. ``partial_fit`` takes
        only a dict, because one batch's class counts are not the data's.
        ``sklearn.utils.class_weight.compute_class_weight`` can make one.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, in the order of the columns of ``predict_proba``. For a
        multilabel target, ``0 .. n_labels - 1``.

    $attributes

    n_outputs_ : int
        Number of output units: 1 for a binary target, the number of classes
        for a multiclass one, the number of labels for a multilabel one.

    out_activation_ : str
        Function of the output layer: 'logistic' (binary, multilabel) or
        'softmax' (multiclass).

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The scikit-learn estimator this
        one replaces.
    MLPRegressor : The same network, for regression.
    fastmlp.LossCurveDisplay : Plots ``loss_curve_`` and the validation
        curve of a fitted model.
    fastmlp.to_onnx : Exports a fitted model as an ONNX graph.

    Notes
    -----
    $notes

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from fastmlp import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = X.astype(np.float32)  # float32 in: float32 weights and outputs
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), solver="adamw",
    ...                     learning_rate="cosine", learning_rate_init=0.02,
    ...                     max_iter=300, random_state=0).fit(X, y)
    >>> [W.shape for W in clf.coefs_], clf.coefs_[0].dtype
    ([(4, 16), (16, 3)], dtype('float32'))
    >>> clf.predict(X[:3])
    array([0, 0, 0])
    >>> clf.predict_proba(X[:1]).dtype
    dtype('float32')
    >>> clf.score(X, y) > 0.9
    True
    """
    __doc__ = _docstrings.expand(__doc__, "MLPClassifier")

    _parameter_constraints: dict = {
        **_constraints(SKLEARN_CLASSIFIER_CONSTRAINTS),
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        rho=0.9,
        weight_decay=0.01,
        alpha_l1=0.0,
        grad_clip_norm=None,
        grad_clip_value=None,
        warmup_epochs=0,
        lr_decay=0.9,
        lr_step_size=10,
        lr_min=0.0,
        dropout=0.0,
        input_dropout=0.0,
        max_norm=None,
        scoring=None,
        max_time=None,
        callbacks=None,
        progress=False,
        class_weight=None,
    ):
        _set_params(self, locals())

    loss = "log_loss"  # scikit-learn's classifier fixes its loss
    # fitted on a sparse multilabel indicator: predict returns CSR, as
    # scikit-learn's LabelBinarizer does (a class default: older pickles)
    _sparse_target = False

    def _validate_input(self, X, y, incremental, reset):
        checked = _fastcheck.plain_fit_data(self, X, y, reset)
        X, y = checked if checked is not None else validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)

        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._target_type, self.classes_ = _label.fit_labels(y)
            self._sparse_target = scipy.sparse.issparse(y)
        else:
            # 1-D targets are never multilabel: no type_of_target (~0.2 ms);
            # unique_labels of a 2-D y: the indicator's columns, or
            # scikit-learn's error for any other 2-D target
            classes = unique_labels(y) if y.ndim == 2 else np.unique(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
            # LabelBinarizer.transform's checks, with its messages
            fitted_multilabel = self._target_type.startswith("multilabel")
            if y.ndim == 2 and not fitted_multilabel:
                raise ValueError("The object was not fitted with multilabel input.")
            if y.ndim == 2 and classes.shape[0] != len(self.classes_):
                raise ValueError(
                    f"classes {self.classes_} mismatch with the labels {classes} "
                    "found in the data"
                )
            if self._target_type == "binary" and len(self.classes_) > 2:
                # classes_ edited by hand: a binary network's one output would
                # read the third class as the first, silently
                raise ValueError(
                    f"classes_ has {len(self.classes_)} classes, but the model was fitted "
                    "on 2 (one logistic output): set classes_ back, or fit anew.")
        return X, _label.encode(y, self._target_type, self.classes_)

    def _apply_class_weight(self, y, sample_weight, dtype, incremental):
        """sample_weight * class_weight[y]: a fit with class_weight is exactly
        the fit with those sample weights."""
        if self.class_weight is None:
            return sample_weight
        if self._target_type.startswith("multilabel"):
            raise ValueError("class_weight is not supported for multilabel targets.")
        if incremental and self.class_weight == "balanced":
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit: the "
                "class frequencies of one batch are not those of the data. Pass "
                "a dict computed with sklearn.utils.class_weight.compute_class_weight."
            )
        y_idx = y.argmax(axis=1) if y.shape[1] > 1 else y[:, 0].astype(np.intp)
        labels = np.asarray(self.classes_)[y_idx]
        weights = _label.class_weights(self.class_weight, self.classes_, labels)
        per_sample = weights[y_idx]
        weighted = per_sample if sample_weight is None else sample_weight * per_sample
        if not weighted.any():
            # scikit-learn's error for the equivalent sample_weight (the
            # engine would divide by their sum)
            raise ValueError("class_weight gives every sample a weight of 0: "
                             + ZERO_WEIGHTS_MESSAGE)
        # made in float64, so that products a float32 model cannot hold are
        # the range error of sample_weight, not zeros or inf
        return _model_weights(weighted, dtype, "class_weight" if sample_weight is None
                              else "sample_weight * class_weight")

    def _encode_validation_targets(self, y_val):
        y_val = np.asarray(y_val)
        multilabel = self._target_type.startswith("multilabel")
        if (y_val.ndim == 2) != multilabel or (multilabel and y_val.shape[1] != len(self.classes_)):
            fitted = (f"a label indicator of {len(self.classes_)} columns" if multilabel
                      else "1-D class labels")
            raise ValueError(f"y_val has shape {y_val.shape}, but the model was fitted on "
                             f"{fitted}; y_val must be the same kind of targets.")
        if not multilabel:
            unseen = np.setdiff1d(np.unique(y_val), self.classes_)
            if len(unseen):
                raise ValueError(
                    f"y_val has classes not in `self.classes_`: {unseen}."
                )
        Y = _label.encode(y_val, self._target_type, self.classes_)
        return Y.astype(self._params.dtype)

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        if not hasattr(self, "coefs_"):
            check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return _label.decode(y_pred, self._target_type, self.classes_, self._sparse_target)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(
            X, y, sample_weight=sample_weight, score_function=accuracy_score
        )

    @available_if(lambda est: est._check_solver())
    @_one_fit_at_a_time
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single iteration over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        classes : array of shape (n_classes,), default=None
            Classes across all calls to partial_fit; required on the first.

        Returns
        -------
        self : object
            The trained model.
        """
        # only the classes can change here (_fit snapshots everything else,
        # after them: a first call that fails in _fit goes back to unfitted)
        saved = {k: self.__dict__[k] for k in _LABEL_STATE if k in self.__dict__}
        unfitted = None if hasattr(self, "coefs_") else self._snapshot()
        try:
            if _check_partial_fit_first_call(self, classes):
                if type_of_target(y).startswith("multilabel"):
                    # classes_ stays the classes given, as scikit-learn's:
                    # y's columns must then be among them (_validate_input)
                    self._target_type = _label.fit_labels(y)[0]
                    self._sparse_target = scipy.sparse.issparse(y)
                else:
                    self._target_type, self.classes_ = _label.fit_labels(classes)
            return self._fit(X, y, sample_weight=sample_weight, incremental=True)
        except BaseException:
            if unfitted is not None:
                self._restore(unfitted)
            else:
                for key in _LABEL_STATE:
                    self.__dict__.pop(key, None)
                self.__dict__.update(saved)
            raise

    def _user_targets(self, Y):
        """The class labels of the network's 0/1 targets."""
        return _label.decode(Y, self._target_type, self.classes_, self._sparse_target)

    def predict_log_proba(self, X):
        """Log of the probability estimates, ``log(predict_proba(X))``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            The log-probability of each class for each sample, the classes
            in the order of ``classes_``.
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            The probability of each class for each sample, the classes in
            the order of ``classes_`` (multilabel: each label's probability).
        """
        if not hasattr(self, "coefs_"):
            check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer Perceptron regressor: scikit-learn's, compiled.

    A drop-in replacement for :class:`sklearn.neural_network.MLPRegressor`,
    with the same parameters, defaults, validation, fitted attributes,
    methods and errors, trained by fastmlp's Cython/OpenMP engine. The
    parameters marked (fastmlp) are fastmlp's own options. At their defaults,
    the model is scikit-learn's.

    The network minimises the loss chosen by ``loss`` plus the ``alpha`` and
    ``alpha_l1`` penalties, with each sample's loss weighted by its
    ``sample_weight``. It predicts one value per target column.

    Parameters
    ----------
    loss : {'squared_error', 'poisson', 'huber', 'absolute_error'}, default='squared_error'
        Loss of one sample, with ``p`` its prediction and ``r = p - y``:

        - 'squared_error': ``r**2 / 2``, averaged over the targets.
        - 'poisson': ``y * log(y / p) - y + p``, summed over the targets.
          This is half the Poisson deviance, with ``0 * log(0) = 0``. The
          output layer is ``exp`` (a log link), so predictions are positive.
          The targets must be >= 0.
        - 'huber' (fastmlp): ``r**2 / 2`` where ``|r| <= huber_delta``,
          else ``huber_delta * (|r| - huber_delta / 2)``, averaged over the
          targets. It is quadratic near zero and linear in the tails, so
          outliers pull less on the fit.
        - 'absolute_error' (fastmlp): ``|r|``, averaged over the targets.
          Its gradient is ``sign(r)``, and 0 where ``r = 0``.

        Every loss except 'poisson' has an identity output layer.

    $parameters

    huber_delta : float > 0, default=1.0
        (fastmlp) Size of the residual at which the 'huber' loss turns from
        quadratic to linear. Only used with ``loss='huber'``.

    Attributes
    ----------
    $attributes

    n_outputs_ : int
        Number of targets: the columns of ``y``, or 1 for a 1-D ``y``.

    out_activation_ : str
        Function of the output layer: 'exp' for ``loss='poisson'``, else
        'identity'.

    See Also
    --------
    sklearn.neural_network.MLPRegressor : The scikit-learn estimator this
        one replaces.
    MLPClassifier : The same network, for classification.
    fastmlp.LossCurveDisplay : Plots ``loss_curve_`` and the validation
        curve of a fitted model.
    fastmlp.to_onnx : Exports a fitted model as an ONNX graph.

    Notes
    -----
    $notes

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from fastmlp import MLPRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=1.0,
    ...                        random_state=0)
    >>> y = y / y.std()
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), loss="huber",
    ...                    solver="lbfgs", max_iter=500,
    ...                    random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> reg.score(X, y) > 0.9
    True
    """
    __doc__ = _docstrings.expand(__doc__, "MLPRegressor")

    _parameter_constraints: dict = {
        **_constraints(SKLEARN_REGRESSOR_CONSTRAINTS),
        "loss": [StrOptions({"squared_error", "poisson", "huber", "absolute_error"})],
        "huber_delta": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        rho=0.9,
        weight_decay=0.01,
        alpha_l1=0.0,
        grad_clip_norm=None,
        grad_clip_value=None,
        warmup_epochs=0,
        lr_decay=0.9,
        lr_step_size=10,
        lr_min=0.0,
        dropout=0.0,
        input_dropout=0.0,
        max_norm=None,
        scoring=None,
        max_time=None,
        callbacks=None,
        progress=False,
        huber_delta=1.0,
    ):
        _set_params(self, locals())

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        if not hasattr(self, "coefs_"):
            check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(
            X, y, sample_weight=sample_weight, score_function=r2_score
        )

    def _loss_scalar(self, dtypes):
        """The type of scikit-learn's losses, NumPy's of their operands'
        ``dtypes`` (_fit's): _FLOAT32_LOSS when all are float32 (any byte
        order) or narrower floats; else float64."""
        return _FLOAT32_LOSS if np.result_type(*dtypes) == np.float32 else np.float64

    def _validate_input(self, X, y, incremental, reset):
        checked = _fastcheck.plain_fit_data(self, X, y, reset)
        X, y = checked if checked is not None else validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.dtype.kind not in "biuf":
            # scikit-learn fails here with numpy's TypeError from `P - y`
            raise TypeError(
                f"MLPRegressor needs numeric targets, but y has dtype {y.dtype}."
            )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    # scikit-learn's regressor offers partial_fit whatever the solver (its
    # available_if tests the bound method, never calls it): with 'lbfgs' a
    # call runs up to max_iter L-BFGS iterations from the current weights,
    # and code relying on that (learning_curve's incremental mode, dask-ml's
    # Incremental, MultiOutputRegressor.partial_fit) works there; so it does here
    @_one_fit_at_a_time
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single iteration over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : ndarray of shape (n_samples,)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The trained model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
