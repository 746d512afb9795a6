"""The docstring text MLPClassifier and MLPRegressor share, written once.

Design: the two estimators take the same parameters except ``class_weight``
(classifier), ``loss`` and ``huber_delta`` (regressor). Most of their fitted
attributes and notes are also the same. Each class docstring in
``_multilayer_perceptron.py`` holds the text that belongs to that class only:
its summary, its own parameters and attributes, See Also and Examples. Where
the shared text goes, the docstring has a marker line of its own::

    $parameters      every entry of PARAMETERS, in signature order
    $attributes      every entry of ATTRIBUTES
    $notes           NOTES

The class body then runs ``__doc__ = expand(__doc__, "MLPClassifier")``.
``help(MLPRegressor)`` therefore shows a complete docstring, and nothing in
it is a second, hand-kept copy of the classifier's. Inside the shared text,
a ``$name`` field stands for one of the few phrases that differ between
the two estimators (see FIELDS).

tests/test_docstrings.py checks the result. Each Parameters section must
list exactly the constructor's parameters, in order, with their defaults.
Each Attributes section must name every public attribute a fitted model
has. The Examples must pass as doctests.
"""
import re
import textwrap
from string import Template


def _entries(block):
    """numpydoc entries keyed by name: an entry starts at a line that is not
    indented (``name : type``) and runs until the next one."""
    entries = {}
    name = None
    for line in textwrap.dedent(block).strip("\n").splitlines():
        if line and not line[0].isspace():
            name = line.split(" : ")[0].strip()
            entries[name] = []
        entries[name].append(line)
    return {key: "\n".join(lines).strip("\n") for key, lines in entries.items()}


# The constructor parameters both estimators take, in signature order
# (hidden_layer_sizes ... progress). Entries marked (fastmlp) are options
# scikit-learn's MLPs do not have; at their defaults the model is
# scikit-learn's.
PARAMETERS = _entries(
    """
    hidden_layer_sizes : array-like of shape (n_layers - 2,) or int, default=(100,)
        Number of units in each hidden layer, from the input side:
        ``(64, 32)`` is two hidden layers, of 64 and then 32 units. An int
        is a single hidden layer of that size.

    activation : str or list of str, default='relu'
        Nonlinearity applied to the output of each hidden layer (the output
        layer's function depends on the task; see ``out_activation_``).
        One of the names below, or (fastmlp) a list with one name per
        hidden layer, as long as ``hidden_layer_sizes``.

        - 'identity': ``f(z) = z``.
        - 'logistic': ``f(z) = 1 / (1 + exp(-z))``.
        - 'tanh': ``f(z) = tanh(z)``.
        - 'relu': ``f(z) = max(0, z)``.
        - 'leaky_relu' (fastmlp): ``z`` for ``z > 0``, else ``0.01 * z``.
        - 'elu' (fastmlp): ``z`` for ``z > 0``, else ``exp(z) - 1``.
        - 'softplus' (fastmlp): ``log(1 + exp(z))``.
        - 'gelu' (fastmlp): ``z * Phi(z)``, ``Phi`` the standard normal
          CDF, computed exactly with ``erf`` (not the tanh approximation).
        - 'silu' (fastmlp): ``z / (1 + exp(-z))``.

        The initial weights of a layer are drawn uniformly from
        ``[-b, b]``, ``b = sqrt(6 / (fan_in + fan_out))``, or
        ``sqrt(2 / (fan_in + fan_out))`` where the activation is
        'logistic' (with a list, the output layer goes by the last
        hidden layer's activation).

    solver : {'lbfgs', 'sgd', 'adam', 'rmsprop', 'adagrad', 'adamw'}, default='adam'
        How the weights are optimised. All solvers except 'lbfgs' are
        stochastic: they step once per minibatch of ``batch_size`` rows.
        Below, ``g`` is the minibatch gradient (penalties included, after
        clipping), ``lr`` the epoch's learning rate (``learning_rate_init``
        under the ``learning_rate`` schedule), and the solver's state
        arrays start at zero at every ``fit``. They carry over from one
        ``partial_fit`` call to the next.

        - 'lbfgs': SciPy's L-BFGS-B on the whole training set at once (no
          minibatches, no epochs). It stops at ``max_iter`` iterations,
          ``max_fun`` evaluations, or a projected gradient below ``tol``.
          On small data sets it often converges faster and better.
        - 'sgd': ``v = momentum * v - lr * g``, then
          ``w += momentum * v - lr * g`` (``nesterovs_momentum=True``) or
          ``w += v``.
        - 'adam': ``m = beta_1 * m + (1 - beta_1) * g``,
          ``s = beta_2 * s + (1 - beta_2) * g**2``,
          ``w -= lr_t * m / (sqrt(s) + epsilon)`` with the bias-corrected
          ``lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`` at step
          ``t``.
        - 'rmsprop' (fastmlp): ``s = rho * s + (1 - rho) * g**2``,
          ``w -= lr * g / (sqrt(s) + epsilon)``.
        - 'adagrad' (fastmlp): ``s += g**2``,
          ``w -= lr * g / (sqrt(s) + epsilon)``.
        - 'adamw' (fastmlp): 'adam' with decoupled weight decay. Before
          each step, the weights (not the intercepts) are multiplied by
          ``1 - lr * weight_decay``, with ``lr`` not bias-corrected.

        ``partial_fit`` exists only for the stochastic solvers.

    alpha : float >= 0, default=0.0001
        Strength of the L2 penalty on the weights. Intercepts are not
        penalised. Each minibatch (for 'lbfgs', the whole training set) adds
        ``0.5 * alpha * sum(W**2) / n`` to its loss, where ``n`` is its total
        sample weight (its number of rows when no ``sample_weight`` is given).

    batch_size : int >= 1 or 'auto', default='auto'
        Rows per minibatch for the stochastic solvers. 'auto' means
        ``min(200, n_samples)``. A value above the number of training rows is
        clipped to it, with a warning. 'lbfgs' ignores it.

    learning_rate : {'constant', 'invscaling', 'adaptive', 'cosine', 'exponential', 'step'}, default='constant'
        Schedule of the stochastic solvers' learning rate, set once per
        epoch. Write ``lr0 = learning_rate_init``. Epochs count from 0 at
        weight initialisation, and warm-started fits and ``partial_fit``
        calls continue the count.

        - 'constant': ``lr0`` throughout.
        - 'invscaling': with ``solver='sgd'``, after each epoch
          ``lr = lr0 / (t_ + 1)**power_t``, where ``t_`` is the number of
          samples seen so far. The other solvers keep ``lr0``.
        - 'adaptive': with ``solver='sgd'``, ``lr0`` until the training loss
          (or validation score) stalls as described under
          ``n_iter_no_change``. There, training does not stop: ``lr`` is
          divided by 5 and the count starts again. Training stops once
          ``lr`` is already at or below ``1e-6``. The other solvers keep
          ``lr0``.
        - 'cosine' (fastmlp):
          ``lr = lr_min + 0.5 * (lr0 - lr_min) * (1 + cos(pi * min(e, E) / E))``.
          It falls from ``lr0`` to ``lr_min``, which it reaches when
          ``epoch == max_iter``, and stays there afterwards.
        - 'exponential' (fastmlp): ``lr = max(lr_min, lr0 * lr_decay**e)``.
        - 'step' (fastmlp):
          ``lr = max(lr_min, lr0 * lr_decay**(e // lr_step_size))``.

        Here ``e = epoch - warmup_epochs`` and
        ``E = max(1, max_iter - warmup_epochs)``. fastmlp's three schedules
        apply to every stochastic solver. During the first
        ``warmup_epochs`` epochs, every schedule is scaled by the warm-up
        factor (see ``warmup_epochs``).

    learning_rate_init : float > 0, default=0.001
        Base step size of every stochastic solver: the rate the schedules
        start from. 'lbfgs' ignores it.

    power_t : float >= 0, default=0.5
        Exponent of the 'invscaling' schedule (``solver='sgd'`` only).

    max_iter : int >= 1, default=200
        Most training allowed in one call to ``fit``. For the stochastic
        solvers this counts epochs (passes over the training data), not
        minibatch steps. For 'lbfgs' it counts iterations. Reaching it
        without converging raises ``ConvergenceWarning``. It also sets the
        period of the 'cosine' schedule. ``partial_fit`` runs one epoch per
        call, whatever ``max_iter`` is.

    shuffle : bool, default=True
        Whether the stochastic solvers visit the training rows in a new
        random order each epoch, drawn from ``random_state``.

    random_state : int, RandomState instance or None, default=None
        Source of every random draw: the initial weights, the order of each
        epoch, the early-stopping split and (fastmlp) the dropout masks.
        The draws are made in scikit-learn's order, so an int gives the same
        model as scikit-learn's estimator with that seed, up to rounding
        (dropout aside). For a given thread count, an int gives the same
        model bit for bit at every fit.

    tol : float >= 0, default=1e-4
        Improvement threshold. For the stochastic solvers, an epoch counts
        as no improvement unless its training loss falls below the best so
        far by at least ``tol``. With ``early_stopping``, it is the
        validation score that must rise above the best by ``tol``. See
        ``n_iter_no_change`` for what a run of such epochs does. For
        'lbfgs', ``tol`` is SciPy's ``gtol``.

    verbose : bool or int, default=False
        Print scikit-learn's progress messages to stdout: the loss of
        each epoch (``Iteration 3, loss = 0.12345678``), the validation
        score with ``early_stopping``, and why training stopped. Every true
        value prints the same lines, however large. 'lbfgs' has no epochs:
        it hands ``verbose`` to SciPy's L-BFGS-B, which prints its own report
        only in SciPy versions before 1.15. With ``progress=True``, these
        lines go above the progress bar.

    warm_start : bool, default=False
        When True, ``fit`` starts from the current weights instead of
        drawing new ones. The solver's state starts afresh, while
        ``loss_curve_``, ``t_`` and the schedules' epoch count carry on.
        ``fit`` raises ``ValueError`` unless the data has
        $same_data.

    momentum : float in [0, 1], default=0.9
        Momentum of ``solver='sgd'`` (see ``solver``).

    nesterovs_momentum : bool, default=True
        Whether ``solver='sgd'`` uses Nesterov's form of momentum.

    early_stopping : bool, default=False
        Stop when the score on held-out data stops improving. After every
        epoch, the held-out data is scored with ``scoring`` into
        ``validation_scores_``. Training ends after more than
        ``n_iter_no_change`` epochs in a row that fail to beat
        ``best_validation_score_`` by ``tol``. The weights of the
        best-scoring epoch are restored at the end. The held-out data is
        the ``X_val``, ``y_val`` given to ``fit``, or else a
        ``validation_fraction`` share of the training data, which is then
        not trained on. Stochastic solvers only: ``partial_fit`` raises
        ``ValueError`` when it is True. The share is split off with
        ``random_state`` as scikit-learn splits it$stratified.

    validation_fraction : float in [0, 1), default=0.1
        Share of the training data held out for ``early_stopping`` when
        ``fit`` gets no ``X_val``. The held-out part must have at least two
        samples.

    beta_1 : float in [0, 1), default=0.9
        Decay rate of the running mean of gradients in 'adam' and 'adamw'.

    beta_2 : float in [0, 1), default=0.999
        Decay rate of the running mean of squared gradients in 'adam' and
        'adamw'.

    epsilon : float > 0, default=1e-8
        Added to the denominator of the 'adam', 'adamw', 'rmsprop' and
        'adagrad' steps so that it never divides by zero.

    n_iter_no_change : int >= 1 or inf, default=10
        Patience of the stochastic solvers. After more than this many epochs
        in a row without improvement (see ``tol``), training stops. Under
        'adaptive' with 'sgd', the learning rate drops instead.

    max_fun : int >= 1, default=15000
        Most evaluations of the loss and gradient that 'lbfgs' may make
        (it can take several per iteration). Other solvers ignore it.

    rho : float in [0, 1), default=0.9
        (fastmlp) Decay rate of the running mean of squared gradients in
        'rmsprop': ``s = rho * s + (1 - rho) * g**2``.

    weight_decay : float >= 0, default=0.01
        (fastmlp) Decoupled weight decay of 'adamw'. Before each step the
        weights (not the intercepts) are multiplied by
        ``1 - lr * weight_decay``, with ``lr`` the epoch's scheduled rate.
        Unlike ``alpha``, it does not pass through the gradient, so Adam's
        per-parameter step scaling does not apply to it. Ignored by the
        other solvers.

    alpha_l1 : float >= 0, default=0.0
        (fastmlp) Strength of an L1 penalty on the weights (not the
        intercepts), applied on top of ``alpha``. Each minibatch (or, for
        'lbfgs', the training set) adds ``alpha_l1 * sum(|W|) / n`` to its
        loss, ``n`` as for ``alpha``. The penalty's gradient is
        ``alpha_l1 * sign(W) / n``. It pulls weights toward zero, but they
        do not land exactly on zero. Every solver uses it.

    grad_clip_norm : float > 0 or None, default=None
        (fastmlp) Stochastic solvers: when the L2 norm of a step's whole
        gradient (every weight and intercept, penalties included) exceeds
        this value, the gradient is scaled down to that norm. It is applied
        before ``grad_clip_value``. None means no clipping.

    grad_clip_value : float > 0 or None, default=None
        (fastmlp) Stochastic solvers: clip each gradient component to
        ``[-grad_clip_value, grad_clip_value]``. None means no clipping.

    warmup_epochs : int >= 0, default=0
        (fastmlp) Linear warm-up of the learning rate, for every
        stochastic solver and every schedule. While
        ``epoch < warmup_epochs``, the rate is
        ``lr0 * (epoch + 1) / (warmup_epochs + 1)``, climbing in equal
        steps. For 'constant', 'invscaling' and 'adaptive', this factor
        scales their current rate. Epoch ``warmup_epochs`` is the first to
        run at the full rate. 0 means no warm-up.

    lr_decay : float in (0, 1], default=0.9
        (fastmlp) Decay factor of the 'exponential' schedule (applied once
        per epoch) and of the 'step' schedule (applied once every
        ``lr_step_size`` epochs).

    lr_step_size : int >= 1, default=10
        (fastmlp) Epochs between the decays of the 'step' schedule.

    lr_min : float >= 0, default=0.0
        (fastmlp) Floor of the 'exponential' and 'step' schedules, and the
        rate 'cosine' ends at.

    dropout : float in [0, 1) or list of float, default=0.0
        (fastmlp) Probability that each hidden unit is zeroed, drawn anew
        for every sample at every epoch, during training only. A float
        applies to every hidden layer. A list gives one rate per hidden
        layer. Dropout is inverted: the units kept are scaled by
        ``1 / (1 - rate)``, so that ``predict`` uses the whole network
        unchanged. The masks come from ``random_state`` and do not depend
        on the number of threads. Stochastic solvers only: 'lbfgs' raises
        ``ValueError``.

    input_dropout : float in [0, 1), default=0.0
        (fastmlp) Dropout of the input features, as ``dropout`` does for
        hidden units (X itself is never modified). It needs dense X and a
        stochastic solver.

    max_norm : float > 0 or None, default=None
        (fastmlp) Max-norm constraint: after every stochastic step, each
        unit's incoming weight vector ``coefs_[i][:, j]`` (every layer,
        the output layer included, intercepts excluded) whose L2 norm
        exceeds ``max_norm`` is scaled back to that norm. It is a common
        companion of ``dropout``. 'lbfgs' raises ``ValueError``. None means
        no constraint.

    scoring : str, callable or None, default=None
        (fastmlp) How ``early_stopping`` scores the held-out data each
        epoch. Higher is better.

        - None: the estimator's own ``score`` ($score).
        - 'loss': minus the held-out loss (as in
          ``validation_loss_curve_``).
        - any other str: a scikit-learn scorer name, such as
          'neg_mean_absolute_error' or 'f1_macro'.
        - a callable ``scorer(estimator, X, y)``, which is also given
          ``sample_weight=...`` when the held-out data is weighted.

        Only used when ``early_stopping=True``.

    max_time : float > 0 or None, default=None
        (fastmlp) Budget in seconds of wall time, counted from the start of
        training. It is checked after every epoch (for 'lbfgs', every
        iteration). Training stops after the first one that ends past the
        budget, without ``ConvergenceWarning``. With ``early_stopping``,
        the best epoch's weights are still restored. None means no limit.

    callbacks : callable, list of callables or None, default=None
        (fastmlp) Called after every epoch (for 'lbfgs', every iteration)
        as ``callback(estimator, history)``. ``history`` is a dict of lists
        with one entry per epoch of the current call: "loss", "val_loss",
        "val_score", "seconds" and "learning_rate", where None marks a value
        that was not computed. A callback that returns a true value stops
        training after that epoch, but the other callbacks still run for it.
        An exception raised by a callback propagates out of ``fit``, and the
        model reverts to its state before the call. scikit-learn's own
        ``set_callbacks`` protocol (1.9) is supported beside this.

    progress : bool, default=False
        (fastmlp) Print one line per epoch of the stochastic solvers: the
        training loss, the held-out loss (``val_loss``) and score
        (``val_score``) when there are any, the epoch's seconds and samples
        per second::

            Epoch 3/200: loss=0.123456, val_loss=0.234567, val_score=0.912345, 0.12 s, 15,000 samples/s

        On a terminal, a progress bar with a time estimate sits under these
        lines and is erased when ``fit`` returns. The reason training
        stopped is printed too. It is independent of ``verbose``.
    """
)


# Fitted attributes both estimators have, in the order they are listed.
ATTRIBUTES = _entries(
    """
    loss_ : float
        Training loss of the last epoch: the data loss plus the ``alpha``
        and ``alpha_l1`` penalties of each minibatch, averaged over the
        epoch's minibatches weighted by their numbers of rows. For 'lbfgs',
        the loss at the solution.

    best_loss_ : float or None
        Lowest value in ``loss_curve_``. None with ``early_stopping=True``
        (see ``best_validation_score_``). Stochastic solvers only.

    loss_curve_ : list of float
        ``loss_`` after each epoch, one entry per epoch. Warm-started fits
        and ``partial_fit`` calls append to it. Stochastic solvers only.

    validation_loss_curve_ : list of float or None
        (fastmlp) Loss on the held-out data after each epoch: the
        ``X_val``, ``y_val`` given to ``fit``, or the ``early_stopping``
        split. It is the weighted mean data loss, without penalties and
        without dropout. None when there is no held-out data. Once
        recorded, it has one entry per entry of ``loss_curve_``: NaN for
        the epochs of warm-started fits or ``partial_fit`` calls without
        held-out data. Stochastic solvers only.

    validation_scores_ : list of float or None
        Score of the held-out data after each epoch, as ``scoring`` defines
        it (by default $score). None without ``early_stopping``.
        Stochastic solvers only.

    best_validation_score_ : float or None
        Highest value in ``validation_scores_``: the score of the epoch
        whose weights the model keeps. None without ``early_stopping``.
        Stochastic solvers only.

    t_ : int
        Number of training samples the solver has processed, summed over
        epochs, warm-started fits and ``partial_fit`` calls (rows held out
        for early stopping excluded). The 'invscaling' schedule uses it.
        Always 0 for 'lbfgs'.

    coefs_ : list of ndarray of shape (n_layers - 1,)
        ``coefs_[i]`` is the weight matrix from layer ``i`` to layer
        ``i + 1``, of shape ``(fan_in, fan_out)``, in the model's dtype. It
        is a view into the flat parameter buffer (see Notes).

    intercepts_ : list of ndarray of shape (n_layers - 1,)
        ``intercepts_[i]`` is the bias vector of layer ``i + 1``, of shape
        ``(fan_out,)``. It is a view into the flat parameter buffer.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``. Defined only when ``X``
        had feature names that are all strings.

    n_iter_ : int
        Epochs run by the stochastic solver in the last call to ``fit``
        or ``partial_fit`` (1 for ``partial_fit``), or iterations run by
        'lbfgs'.

    n_layers_ : int
        Number of layers, input and output included:
        ``len(hidden_layer_sizes) + 2``.
    """
)


NOTES = """\
fastmlp trains with scikit-learn's algorithm. Each epoch is one call into
compiled code that runs every minibatch (gather, forward, loss, backward,
update) in C, without the GIL, on OpenMP threads. Random numbers are drawn
in scikit-learn's order, so results equal scikit-learn's up to
floating-point rounding.

**float32 end to end.** The model takes its dtype from the training data.
float32 X gives float32 ``coefs_`` and ``intercepts_``, float32 arithmetic in
training (losses are summed in float64), and float32 predictions and
probabilities. Any other X is converted to float64. ``partial_fit`` and warm
starts continue in the model's dtype. ``predict`` on X of another dtype
computes in the wider of X's dtype and the model's (float64 for X that is not
float).

**Determinism.** For a given number of threads, the same data, parameters and
integer ``random_state`` give the same model, bit for bit. Each thread's
share of the work is fixed, per-sample losses are summed in a fixed order,
and dropout masks are a hash of (seed, layer, sample position, unit), not of
scheduling. With a different number of threads, results agree up to
rounding. The thread count is OpenMP's (``OMP_NUM_THREADS``,
``threadpoolctl.threadpool_limits``). While a fit runs, BLAS is held to one
thread and the engine's threads share the cores.

**One flat parameter buffer.** All parameters live in one contiguous array:
the weights of every layer, then the intercepts. Each optimiser step is one
loop over it. ``coefs_[i]`` and ``intercepts_[i]`` are views into this
buffer. Editing them in place (``model.coefs_[0][:] = 0``) therefore changes
the next ``predict`` and ``partial_fit``. Replacing them with new arrays is
also allowed. ``predict`` then packs the new arrays into a temporary buffer,
and the next ``partial_fit`` or warm-started ``fit`` re-packs the model's
buffer from them and makes them views again. ``coefs_`` and ``intercepts_``
are always the truth, and a pickled model stores only them.

**A failed call changes nothing.** If ``fit`` or ``partial_fit`` raises (an
invalid input, an exception in a callback), the model is put back as it was
before the call. Ctrl-C during training stops it with a warning and keeps
the weights of the last complete minibatch, as scikit-learn does."""


# The phrases that differ between the estimators, by class name.
FIELDS = {
    "MLPClassifier": {
        "score": "accuracy",
        "same_data": "the same number of features and the same classes",
        "stratified": ", stratified by class for a binary target",
    },
    "MLPRegressor": {
        "score": "R^2, the coefficient of determination",
        "same_data": "the same numbers of features and of targets",
        "stratified": "",
    },
}

_MARKER = re.compile(r"^([ \t]*)\$(\w+)[ \t]*$", re.MULTILINE)


def shared_blocks(estimator):
    """The text each marker stands for, with ``estimator``'s fields filled in."""
    fields = FIELDS[estimator]
    blocks = {
        "parameters": "\n\n".join(PARAMETERS.values()),
        "attributes": "\n\n".join(ATTRIBUTES.values()),
        "notes": NOTES,
    }
    return {key: Template(text).substitute(fields) for key, text in blocks.items()}


def expand(doc, estimator):
    """``doc`` with each marker line (``$parameters``, ``$attributes``,
    ``$notes``) replaced by its shared block, indented as the marker is.

    Raises KeyError for an unknown marker or field, so that a typo fails at
    import and not in front of a user. Under ``python -OO`` there are no
    docstrings, and None stays None.
    """
    if doc is None:
        return None
    blocks = shared_blocks(estimator)
    return _MARKER.sub(lambda m: textwrap.indent(blocks[m.group(2)], m.group(1)), doc)
