"""The networks inside the tabular estimators: the drop-in MLPs, plus the
recipe's per-minibatch schedules and label smoothing.

Design: private subclasses of ``MLPClassifier``/``MLPRegressor``, made and
fitted only by ``TabularMLPClassifier``/``TabularMLPRegressor``, never
cloned.  They change two hooks of the drop-in's training loop and nothing
else, so every minibatch still runs in the compiled engine:

- ``_epoch_step_factors`` (called once per epoch, before the engine runs
  the epoch): per minibatch, the factors of the learning rate
  (``lr_factor(t)``), of AdamW's weight decay and of the dropout rates
  (``decay_factor(t)`` of their schedules), from ``_tabular_schedules`` at
  each batch's midpoint ``t``; the engine applies them batch by batch.
  ``_epoch_lr`` hands it the base rate and decay they multiply.
- ``_validate_input`` (classifier only): the 0/1 training targets become
  ``(1 - eps) * y + eps / K`` (label smoothing; K = n_classes, 2 for a
  binary target's single logistic output).  The engine's log-losses and
  their deltas ``P - Y`` take soft targets as they are.  The validation
  set given to ``fit`` is encoded unsmoothed, so the best epoch is chosen
  on the true labels.

- ``_initialize``: after the drop-in's Glorot initialization, the first
  hidden layer's biases are set from training rows (``_init_rows``, one
  row per unit, drawn by the estimator): see ``data_dependent_biases``.

- the engine's input layer (``_input_layer.pyx``), set by the estimator:
  periodic columns (``_periodic``, a pair ``(n_numeric, n_periodic)``, or
  a triple ending with ``d`` when each numeric column's cosines are mixed
  into d columns by its own linear layer), whose frequencies and phases the
  preprocessor draws and which start them (``_periodic_init``, with the
  linear layers' from ``periodic_linear_init``), and a diagonal scale of
  every input column (``_input_scale``, starting at 1).  They are fitted
  attributes ``periodic_frequencies_``, ``periodic_phases_`` (shape
  ``(n_numeric, n_periodic)``), ``periodic_linear_coefs_`` (``(n_numeric,
  n_periodic, d)``), ``periodic_linear_intercepts_`` (``(n_numeric, d)``)
  and ``input_scale_`` (shape ``(n_features_in_,)``), views
  into the flat parameter buffer after the intercepts, packed with
  ``coefs_`` and ``intercepts_`` (``_packed``, ``_link_params``); they
  train at ``_periodic_lr`` and ``_input_scale_lr`` times the network's
  learning rate.

- categorical embeddings (the engine's ``Layout(embedding=)``), set by the
  estimator (``_embedding``, a pair ``(table sizes, d)``): the
  preprocessor's code columns, each followed by d - 1 placeholders
  (``network_input``), read learned tables that start from
  ``embedding_init`` (``_embedding_init``) and train at ``_embedding_lr``
  times the rate; fitted ``embeddings_``, one ``(table size, d)`` array per
  embedded column, views into the flat buffer after the periodic layer's.

- parametric activations (the engine's ``Layout(parametric=True)``), set by
  the estimator (``_parametric``): each hidden unit's activation is
  ``z + alpha * (act(z) - z)``, alpha from 1, trained at ``_parametric_lr``
  times the rate; fitted ``activation_weights_``, one array per hidden
  layer, views into the flat buffer after the input layer's.

The recipe's settings live in ``_recipe``, a plain dict (pickles, and skops
loads it, with the network).
"""
import numpy as np

from fastmlp import _label
from fastmlp._multilayer_perceptron import MLPClassifier, MLPRegressor
from fastmlp._tabular_schedules import decay_factor, lr_factor, step_progress

DEFAULT_RECIPE = {
    "lr_schedule": "constant",
    "n_lr_cycles": 1,
    "weight_decay_schedule": "constant",
    "dropout_schedule": "constant",
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


def periodic_linear_dim(spec):
    """d of the periodic layer ``spec``: 0 for None or a pair (no linear
    layers), else the triple's last entry."""
    return 0 if spec is None or len(spec) < 3 else int(spec[2])


def network_input(Xt, spec, n_cos=None, n_codes=0, embedding_dim=0, dtype=None):
    """The network's input for the preprocessor's output Xt, whose last
    ``n_cos`` columns (None: ``spec``'s ``n_numeric * n_periodic``; 0 when
    the preprocessor left the cosines out, for the engine computes them)
    are the periodic cosines and the ``n_codes`` before them categorical
    codes: Xt itself when there are no codes, no periodic linear layer and
    nothing to add (as ``dtype``, None: Xt's).  Else, in the engine's order:
    the other columns (with the cosines, when the engine has no periodic
    layer: ``spec`` None), then each code followed by ``embedding_dim - 1``
    zeros (the columns the engine's embeddings write, from
    ``embedding_col``), then with a periodic layer its output's columns,
    which the engine writes: the cosines (Xt's, or zeros when Xt has none)
    or with a linear layer (``spec`` a triple ``(n_numeric, n_periodic,
    d)``) ``n_numeric * d`` zeros.  Written into one new array: the input of
    a large table is its biggest buffer."""
    dtype = Xt.dtype if dtype is None else np.dtype(dtype)
    d = periodic_linear_dim(spec)
    n_per = 0 if spec is None else spec[0] * spec[1]
    if n_cos is None:
        n_cos = n_per
    n_tail = 0 if spec is None else (spec[0] * d if d else n_per)
    if not d and not n_codes and (spec is None or n_cos == n_per):
        return Xt.astype(dtype, copy=False)
    n, p = Xt.shape
    n_front, step = p - n_cos - n_codes, max(embedding_dim, 1)
    front = n_front + (n_cos if spec is None else 0)
    out = np.zeros((n, front + n_codes * step + n_tail), dtype=dtype)
    out[:, :n_front] = Xt[:, :n_front]
    if spec is None:
        out[:, n_front:front] = Xt[:, p - n_cos:]
    out[:, front:front + n_codes * step:step] = Xt[:, n_front:n_front + n_codes]
    if spec is not None and not d and n_cos:
        out[:, out.shape[1] - n_cos:] = Xt[:, p - n_cos:]
    return out


def embedding_col(width, spec, n_codes, embedding_dim):
    """The first code column of ``network_input``'s output of ``width``
    columns: the engine's ``Layout.embedding_col``."""
    d = periodic_linear_dim(spec)
    n_periodic_out = 0 if spec is None else spec[0] * (d or spec[1])
    return width - n_periodic_out - n_codes * embedding_dim


def embedding_init(cards, d, seed):
    """The categorical embeddings' starting tables, one ``(cards[c], d)``
    array per embedded column: standard normal (RealMLP's default), from
    their own stream of ``seed``, with row 0 (the code shared by categories
    seen once and those unseen in fit) all zeros: it trains on the rare
    categories' rows, and without any it stays 0."""
    rng = np.random.default_rng((int(seed), 2))
    tables = [rng.standard_normal((int(card), int(d))) for card in cards]
    for table in tables:
        table[0] = 0.0
    return tables


def embed_codes(rows, col, tables):
    """``rows`` (network inputs) with each code block ``col + c * d`` written
    as table c's row at its code, as the engine's embeddings do."""
    rows = rows.copy()
    for c, table in enumerate(tables):
        d = table.shape[1]
        at = col + c * d
        rows[:, at:at + d] = table[rows[:, at].astype(np.intp)]
    return rows


def periodic_linear_init(spec, seed):
    """The periodic linear layers' starting weights ``A`` (n_numeric,
    n_periodic, d) and biases ``b`` (n_numeric, d), uniform in +-1/sqrt(
    n_periodic) (PyTorch's Linear init, as RealMLP), from their own stream
    of ``seed``; ``()`` without them."""
    d = periodic_linear_dim(spec)
    if not d:
        return ()
    n_num, n_per = spec[:2]
    rng = np.random.default_rng((int(seed), 1))
    bound = 1.0 / np.sqrt(n_per)
    return (rng.uniform(-bound, bound, size=(n_num, n_per, d)),
            rng.uniform(-bound, bound, size=(n_num, d)))


def periodic_linear_embed(Z, f, ph, A, b):
    """The periodic linear layer's output for the numeric values ``Z``
    (n_rows, n_numeric): column ``k * d + j`` is ``b[k, j] + sum_q cos(f[k,
    q] * Z[:, k] + ph[k, q]) * A[k, q, j]``."""
    C = np.cos(Z[:, :, np.newaxis] * f + ph)
    return (np.einsum("ikq,kqj->ikj", C, A) + b).reshape(Z.shape[0], -1)


class _ScheduledMixin:
    """Per-minibatch learning-rate, weight-decay and dropout schedules, and the
    data-dependent first-layer biases."""

    _warns_at_max_iter = False  # the epoch budget is the recipe (_multilayer_perceptron)
    _keeps_latest_best = True  # the latest of tied best epochs, as RealMLP
    _keeps_interrupted_fit = False  # Ctrl-C stops the ensemble's fit (_tabular)
    # the preprocessing scales every input: a diverging fit is the step's size
    _diverged_message = (
        "Training diverged: the network's weights became non-finite. Lower "
        "learning_rate_init (or weight_decay); the preprocessing already scales "
        "every input column.")

    def _initialize(self, y, layer_units, dtype):
        # the drop-in's Glorot init (its random stream untouched), then the
        # first hidden layer's biases from the rows in _init_rows, if any
        super()._initialize(y, layer_units, dtype)
        rows = self.__dict__.get("_init_rows")
        if rows is not None and len(layer_units) > 2:
            self.intercepts_[0][...] = data_dependent_biases(
                self.coefs_[0].astype(np.float64), rows.astype(np.float64))
            self._best_params = self._params.copy()

    def _split_validation(self, X, y, sample_weight):
        # the member's own held-out split (_tabular), as rows of X itself:
        # the training rows are read in place, not copied, and the random
        # state draws nothing for them
        rows = self.__dict__.get("_rows")
        if rows is None:
            return super()._split_validation(X, y, sample_weight)
        return rows

    def _recipe_value(self, key):
        return self.__dict__.get("_recipe", DEFAULT_RECIPE).get(key, DEFAULT_RECIPE[key])

    def _epoch_lr(self):
        # the bases that _epoch_step_factors' factors multiply
        wd = float(self.weight_decay) if self.solver == "adamw" else 0.0
        self._optimizer.hyper["weight_decay"] = wd
        return float(self.learning_rate_init)

    def _epoch_step_factors(self, n_batches):
        lr_schedule, n_cycles = self._recipe_value("lr_schedule"), self._recipe_value(
            "n_lr_cycles")
        wd_schedule = self._recipe_value("weight_decay_schedule")
        drop_schedule = self._recipe_value("dropout_schedule")
        return np.array([
            (lr_factor(lr_schedule, t, n_cycles), decay_factor(wd_schedule, t),
             decay_factor(drop_schedule, t))
            for t in step_progress(self._epoch, self.max_iter, n_batches).tolist()])


class _TailMixin:
    """The learned parameters after the intercepts (see the module
    docstring): the input layer's periodic frequencies and phases
    (``_periodic``, a pair or triple), embeddings (``_embedding``) and
    diagonal scale (``_input_scale``, a bool), and the parametric
    activations' alphas (``_parametric``, a bool).
    Without them the network is the drop-in's."""

    def _periodic_pair(self):
        """The engine's periodic layer, (n_numeric, n_periodic) or with a
        linear layer (n_numeric, n_periodic, d), or None."""
        pair = self.__dict__.get("_periodic")
        return None if pair is None or pair[0] * pair[1] == 0 else tuple(pair)

    def _embedding_spec(self):
        """The engine's embeddings, (tuple of table sizes, d), or None."""
        emb = self.__dict__.get("_embedding")
        return None if emb is None else (tuple(int(c) for c in emb[0]), int(emb[1]))

    def _has_tail(self):
        get = self.__dict__.get
        return (self._periodic_pair() is not None or bool(get("_input_scale"))
                or bool(get("_parametric")) or self._embedding_spec() is not None)

    def _layout_extras(self):
        if not self._has_tail():
            return {}
        get = self.__dict__.get
        return dict(periodic=self._periodic_pair(), periodic_lr=float(get("_periodic_lr", 1.0)),
                    input_scale=bool(get("_input_scale")),
                    input_scale_lr=float(get("_input_scale_lr", 1.0)),
                    parametric=bool(get("_parametric")),
                    parametric_lr=float(get("_parametric_lr", 1.0)),
                    embedding=self._embedding_spec(),
                    embedding_lr=float(get("_embedding_lr", 1.0)))

    def _initialize(self, y, layer_units, dtype):
        pair = self._periodic_pair()
        if pair is not None:
            init = tuple(self._periodic_init)
            tail = self._periodic_tail()
            if len(init) != len(tail) or any(
                    np.shape(a) != shape for a, (_, _, shape) in zip(init, tail)):
                raise ValueError(f"_periodic_init needs arrays of shapes "
                                 f"{[shape for _, _, shape in tail]}.")
            for (name, _, _), a in zip(tail, init):
                setattr(self, name, np.array(a, dtype=np.float64))
        if self._embedding_spec() is not None:
            cards, d = self._embedding_spec()
            init = list(self._embedding_init)
            if [np.shape(t) for t in init] != [(c, d) for c in cards]:
                raise ValueError(f"_embedding_init needs arrays of shapes "
                                 f"{[(c, d) for c in cards]}.")
            self.embeddings_ = [np.array(t, dtype=np.float64) for t in init]
        if self.__dict__.get("_input_scale"):
            self.input_scale_ = np.ones(layer_units[0])
        if self.__dict__.get("_parametric"):
            self.activation_weights_ = [np.ones(u) for u in layer_units[1:-1]]
        super()._initialize(y, layer_units, dtype)

    def _periodic_tail(self):
        """The periodic layer's part of ``_tail``."""
        pair = self._periodic_pair()
        if pair is None:
            return []
        freq = tuple(pair[:2])
        tail = [("periodic_frequencies_", None, freq), ("periodic_phases_", None, freq)]
        d = periodic_linear_dim(pair)
        if d:
            tail += [("periodic_linear_coefs_", None, pair),
                     ("periodic_linear_intercepts_", None, (pair[0], d))]
        return tail

    def _tail(self):
        """The fitted arrays after the intercepts, in their order in the flat
        buffer: (attribute, index in its list or None, shape)."""
        tail = self._periodic_tail()
        if self._embedding_spec() is not None:
            cards, d = self._embedding_spec()
            tail += [("embeddings_", i, (c, d)) for i, c in enumerate(cards)]
        if self.__dict__.get("_input_scale"):
            tail.append(("input_scale_", None, (self._units()[0],)))
        if self.__dict__.get("_parametric"):
            tail += [("activation_weights_", i, (u,))
                     for i, u in enumerate(self._units()[1:-1])]
        return tail

    def _tail_array(self, name, index):
        value = getattr(self, name, None)
        if index is None:
            return value
        n = sum(1 for other, i, _ in self._tail() if other == name)
        what = "hidden layer" if name == "activation_weights_" else "embedded column"
        if not isinstance(value, (list, tuple)) or len(value) != n:
            raise ValueError(f"{name} must be a list of {n} arrays, one per {what}; got "
                             f"{type(value).__name__}"
                             + (f" of {len(value)}" if isinstance(value, (list, tuple))
                                else "") + ".")
        return value[index]

    def _params_intact(self):
        intact = super()._params_intact()
        if not intact or not self._has_tail():
            return intact
        views = self.__dict__.get("_tail_views")
        try:
            arrays = [self._tail_array(name, i) for name, i, _ in self._tail()]
        except ValueError:
            return False
        return views is not None and len(views) == len(arrays) and all(
            a is b for a, b in zip(arrays, views))

    def _packed(self, dtype=None):
        if not self._has_tail() or (
                self._params_intact() and (dtype is None or dtype == self._params.dtype)):
            return super()._packed(dtype)
        front = super()._packed(dtype)
        tail = []
        for name, i, shape in self._tail():
            value = self._tail_array(name, i)
            a = np.asarray(value)
            what = name if i is None else f"{name}[{i}]"
            if a.shape != shape or a.dtype.kind not in "biuf":
                raise ValueError(f"{what} must be a real array of shape {shape}; got "
                                 f"{a.shape if a.ndim else type(value)}.")
            tail.append(a.astype(front.dtype).ravel())
        return np.concatenate([front, *tail])

    def _link_params(self, dtype=None):
        super()._link_params(dtype)
        if not self._has_tail():
            return
        off = self._layout().periodic_off
        views, lists = [], {}
        for name, i, shape in self._tail():
            n = int(np.prod(shape))
            view = self._params[off:off + n].reshape(shape)
            if i is None:
                setattr(self, name, view)
            else:
                lists.setdefault(name, []).append(view)
            views.append(view)
            off += n
        for name, arrays in lists.items():
            setattr(self, name, arrays)
        self._tail_views = tuple(views)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_tail_views", None)
        return state


class TabularNetClassifier(_TailMixin, _ScheduledMixin, MLPClassifier):
    """MLPClassifier with the tabular schedules and label smoothing."""

    # the best epoch is chosen on accuracy: no validation loss to compute
    _records_validation_loss = False

    def _score(self, X, y, sample_weight=None):
        """accuracy_score's value, the mean of the hits, without its checks of
        the targets (0.4-0.5 ms an epoch, 5% of a small table's fit): y is
        the member's own held-out labels, of classes_'s kind."""
        if sample_weight is not None:
            return super()._score(X, y, sample_weight=sample_weight)
        return float(np.mean(self._predict(X, check_input=False) == y))

    def _validate_input(self, X, y, incremental, reset):
        X, Y = super()._validate_input(X, y, incremental, reset)
        classes = self.__dict__.get("_classes")
        if classes is not None and len(classes) != len(self.classes_):
            # the estimator's classes, of which some have no training row
            # here (their rows all weigh 0): outputs for them all, as the
            # drop-in fitted on those rows with their weights of 0 has
            self._target_type, self.classes_ = _label.fit_labels(classes)
            Y = _label.encode(np.asarray(y), self._target_type, self.classes_)
        eps = float(self._recipe_value("label_smoothing"))
        if eps > 0:
            k = Y.shape[1] if Y.shape[1] > 1 else 2
            Y = np.asarray(Y, dtype=X.dtype) * (1.0 - eps) + eps / k
            Y = Y.astype(X.dtype, copy=False)
        return X, Y


class TabularNetRegressor(_TailMixin, _ScheduledMixin, MLPRegressor):
    """MLPRegressor with the tabular schedules."""
