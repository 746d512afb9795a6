"""The engine's ``Problem`` in plain NumPy: the oracle of whole training steps.

Design: ``fastmlp._engine.Problem`` is the engine's one entry for training
(``epoch``) and for the L-BFGS and validation losses (``loss_grad``).
``Problem`` here has exactly its signatures (``tests/test_reference_signatures.py``
keeps them equal, as thinc's test keeps ``ops.py`` and ``numpy_ops.pyx``
equal) and computes the same numbers one readable NumPy step at a time,
built on the scikit-learn-checked pieces of ``fastmlp._reference``
(activations and their derivatives, ``sgd_step``, ``adam_step``,
``rmsprop_step``, ``adagrad_step``, ``clip_grad_norm``).  It reads the
layout and the optimizer by duck typing: ``fastmlp._engine.Layout`` or the
``Layout`` below, ``fastmlp._stochastic_optimizers.StochasticOptimizer`` or
the ``OptimizerState`` below.

One minibatch step, in the engine's order (``_network.train_epoch``,
``_optimizers.pyx``, ``_simd_update.h``):

1. the batch is rows ``order[start:start + m]`` of X, Y and sample_weight;
   with input dropout, a copy of its X times the layer-0 mask; with the
   categorical embeddings or the periodic stage (below), a copy of its X
   with their columns written;
2. forward: ``Z_l = A_{l-1} @ W_l + b_l``, ``A_l = act_l(Z_l) * mask_l``
   (inverted dropout: each mask value 0 or 1 / keep; parametric
   activations below mix act_l(Z_l) with Z_l first); the output activation
   fused with its loss gives each row's weighted loss and the output delta
   (``output_loss_delta``);
3. backward: raw gradients ``A_{l-1}^T D_l`` and ``sum_rows(D_l)``, and
   ``D_{l-1} = (D_l @ W_l^T) * mask_{l-1} * act'(Z_{l-1})``
   (``raw_loss_grad``);
4. the batch loss ``(sum_i sw_i loss_i + alpha/2 sum W**2 + alpha1 sum |W|)
   / sum(sw)`` at the parameters before the step;
5. the finished gradient ``(g + alpha W + alpha1 sign(W)) / sum(sw)`` for
   coefs, ``g / sum(sw)`` for intercepts and the input layer's and the
   parametric activations' parameters (below); all of it scaled to global
   L2 norm ``clip_norm`` if larger; then each entry clipped to
   ``[-clip_value, clip_value]``;
6. the solver's update (AdamW first multiplies the coefs by
   ``1 - lr * weight_decay``; Adam's step count ``t`` counts batches);
7. max_norm: each unit's incoming weights ``W[:, j]`` scaled down to L2
   norm ``max_norm``.

The periodic stage (learnable periodic numeric embeddings, Gorishniy et
al. 2022; with its per-column linear layer, RealMLP's PBLD):
``Layout(periodic=(n_numeric, K, d))``, or the pair ``(n_numeric, K)`` for
``d = 0``; ``P = n_numeric * K``, ``Q = n_numeric * d``.  Columns
``0..n_numeric-1`` of X are numeric values ``z``, and ``theta[i, k, q] =
f[k, q] * z[i, k] + ph[k, q]``.  With d = 0 the last P columns, ``c(k, q)
= units[0] - P + k * K + q``, are overwritten (whatever X holds there is
ignored) by ``Xe[i, c(k, q)] = cos(theta[i, k, q])``; with d > 0 the last
Q columns, ``c(k, j) = units[0] - Q + k * d + j``, by ``Xe[i, c(k, j)] =
b[k, j] + sum_q cos(theta[i, k, q]) * A[k, q, j]``.  The network reads Xe
instead of X (``Z_1 = Xe @ W_0 + b_0``; in ``epoch``, ``loss_grad`` and
``forward``).  f and ph (n_numeric, K), A (n_numeric, K, d) and b
(n_numeric, d), each row-major, follow the intercepts in the flat buffer:
``coefs | intercepts | f | ph | A | b``, f at ``layout.periodic_off``.
With ``G = D_1 @ W_0^T`` (D_1 the delta at the first layer's
pre-activation; the output delta without a hidden layer) and ``dC`` the
gradient at ``cos(theta)``: for d = 0, ``dC[i, k, q] = G[i, c(k, q)]``;
for d > 0, ``dC[i, k, q] = sum_j A[k, q, j] * G[i, c(k, j)]``, and A and b
get ``sum_i cos(theta[i, k, q]) * G[i, c(k, j)]`` and ``sum_i G[i, c(k,
j)]``.  f and ph get ``sum_i -sin(theta[i, k, q]) * z[i, k] * dC[i, k,
q]`` and ``sum_i -sin(theta[i, k, q]) * dC[i, k, q]``.  None of them is a
coef: no L2, L1, weight decay or max_norm; clipping and the solver treat
them as every other parameter.  The stage needs dense X and no input
dropout; d > 0 needs P > 0.

Categorical embeddings (``Layout(embedding=(cards, d))``, d here the
tables' width): categorical column ``c < e = len(cards)`` has a table
``E_c`` of ``cards[c]`` rows of d values, and owns the d columns ``col(c,
j) = c0 + c * d + j`` of X, ``c0 = units[0] - T - e * d``, T the columns
the periodic stage writes (Q, or P for a pair; 0 without it): the block
sits just before them.  X holds c's code, an integer in ``[0, cards[c])``
stored as a float, in column ``col(c, 0)``; the block's other columns are
placeholders, ignored.  The lookup overwrites the block: ``Xe[i, col(c,
j)] = E_c[code[i, c], j]``; the periodic stage then writes its own last
columns.  With ``G'`` the gradient at Xe before the input scale (``G * s``
with the scale, G without), ``E_c[r, j]`` gets ``sum over rows i with
code[i, c] == r of G'[i, col(c, j)]`` (0 for a row no code picks).  The
tables, E_0, E_1, ..., each (cards[c], d) row-major, follow the periodic
stage's parameters at ``layout.embedding_off``: ``coefs | intercepts | f |
ph | A | b | E | s | alphas``; they are not coefs (no L2, L1, weight decay
or max_norm), and the solver steps them at ``embedding_lr`` times the
rate.  A code that is not an integer in ``[0, cards[c])`` (NaN, inf,
negative, fractional, too large) is a ValueError naming its place in X.
Like the periodic stage, the embeddings need dense X and no input dropout,
and the periodic stage's numeric columns, the block and the periodic
output columns must fit: ``n_numeric + e * d + T <= units[0]``.

The input scale (``Layout(input_scale=True)``, RealMLP's scaling layer):
after the embeddings and the periodic stage, every column of Xe is
multiplied by its own learned factor, ``Xe[:, j] = Xs[:, j] * s[j]`` (Xs
the embeddings' and the periodic stage's output, X without them); ``s``
(``units[0]`` values, after the tables E, at ``layout.input_scale_off``)
gets the raw gradient ``sum_rows(Xs * G)`` and passes ``G * s`` on to the
periodic stage and the tables.  Like f, ph, A, b and E it is not a coef.
The solver steps f, ph, A and b at ``periodic_lr`` times the rate, E at
``embedding_lr`` times it and s at ``input_scale_lr`` times it.

Parametric hidden activations (``Layout(parametric=True)``, RealMLP's):
every hidden layer l gets a vector ``alpha_l`` (``units[l]`` values) and
outputs ``A_l = Z_l + alpha_l * (g(Z_l) - Z_l)`` (then its dropout mask M),
g its activation, 'silu' or 'gelu' only; alpha = 1 is the plain network,
alpha = 0 the identity of Z.  With ``E = D_{l+1} @ W_l^T``, the backward
is ``D_l = E * M * (1 - alpha_l + alpha_l * g'(Z_l))`` and alpha_l's raw
gradient ``sum_rows(E * M * (g(Z_l) - Z_l))``.  The alphas come last in
the flat buffer, ``... | s | alpha_1 | alpha_2 | ...``, alpha_1 at
``layout.parametric_off``; like f, ph and s they are not coefs, and the
solver steps them at ``parametric_lr`` times the rate.

``epoch`` returns ``sum over batches of batch_loss * m`` (scikit-learn's
accumulation).  ``loss_grad`` is steps 2-5 over all rows, without dropout,
clipping or max_norm.

Dropout masks come from a counter-based hash, as in the engine: unit ``j``
of layer ``l`` (0: the input) for the sample at position ``row`` of the
epoch is kept when ``u < keep``, ``u = counter_uniform(seed, l, row, ...)``
(splitmix64's finalizer over ``seed + (l + 1) * golden + (row * width + j)
* mix``).  Masks are therefore a function of positions, not of threads.

Where the engine differs only in rounding (so the tests hold it to a tight
relative tolerance, not bit equality): summation order (per-row losses,
GEMMs, threads, SIMD lanes); clipping by norm, which the engine folds into
the ``1 / sum(sw)`` factor; the dropped layers' derivative, which the
engine reads back from the dropped output (``A * mask * keep``) where this
module keeps the undropped ``A``; and in float32, Adam's step, which this
module takes in float64 (scikit-learn's arithmetic, ``adam_step``).

Where this module is stricter than the engine: ``shuffled=False`` promises
that ``order`` is ``arange(len(order))`` (the engine then reads X's and
Y's rows in place and ignores ``order`` for them); here that promise is
checked.  ``n_threads`` is accepted and ignored: the engine's results
depend on it only through summation order.

This module imports only NumPy, SciPy and ``fastmlp._reference``.
"""
import numpy as np
import scipy.sparse as sp
from scipy.special import xlogy

from fastmlp._reference import (
    _matmul,
    activation,
    activation_derivative,
    adagrad_step,
    adam_step,
    clip_grad_norm,
    layer_slices,
    rmsprop_step,
    sgd_step,
    unpack,
)

# The engine's codes (the enums of _activations.pxd, _losses.pxd,
# _optimizers.pxd), by name: a layout carries codes, not names.
ACTIVATION_CODES = {"identity": 0, "logistic": 1, "tanh": 2, "relu": 3, "leaky_relu": 4,
                    "elu": 5, "softplus": 6, "gelu": 7, "silu": 8}
# an output activation with its canonical loss, then an identity output's other losses
OUTPUT_CODES = {"identity": 0, "exp": 1, "logistic": 2, "softmax": 3, "huber": 4,
                "absolute_error": 5}
SOLVER_CODES = {"sgd": 0, "adam": 1, "rmsprop": 2, "adagrad": 3, "adamw": 4}
ADAM_SOLVERS = ("adam", "adamw")
# the hidden activations that can be parametric (Layout(parametric=True))
PARAMETRIC_ACTIVATIONS = ("silu", "gelu")
# the columns of Problem.epoch's step_factors (the engine's _network.STEP_FACTORS)
STEP_FACTORS = ("learning_rate", "weight_decay", "dropout")
# identity outputs whose loss is averaged over outputs
_MEAN_OVER_OUTPUTS = ("identity", "huber", "absolute_error")
_ACTIVATION_NAMES = {code: name for name, code in ACTIVATION_CODES.items()}
_OUTPUT_NAMES = {code: name for name, code in OUTPUT_CODES.items()}


# ---------------------------------------------------------------------------
# Dropout masks: a counter-based hash
# ---------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xD1B54A32D192ED03)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)


def counter_uniform(seed, layer, start_row, n_rows, n_units):
    """U[0, 1) for units ``0..n_units-1`` of ``layer`` at epoch positions
    ``start_row..start_row+n_rows-1``, as the engine's ``_uniform``.

    ``z = seed + (layer + 1) * 0x9E3779B97F4A7C15 + (row * n_units + col) *
    0xD1B54A32D192ED03`` (mod 2**64), then splitmix64's finalizer; ``u`` is
    the top 53 bits of ``z`` over 2**53.

    Returns
    -------
    u : ndarray of shape (n_rows, n_units), float64
    """
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}.")
    if start_row < 0 or n_rows < 0 or n_units < 0 or layer < 0:
        raise ValueError(
            f"layer={layer}, start_row={start_row}, n_rows={n_rows} and "
            f"n_units={n_units} must be >= 0."
        )
    rows = np.arange(start_row, start_row + n_rows, dtype=np.uint64)[:, np.newaxis]
    cols = np.arange(n_units, dtype=np.uint64)[np.newaxis, :]
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps, as in C
        z = (np.uint64(seed) + np.uint64(layer + 1) * _GOLDEN
             + (rows * np.uint64(n_units) + cols) * _MIX)
        z = (z ^ (z >> np.uint64(30))) * _MUL1
        z = (z ^ (z >> np.uint64(27))) * _MUL2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 2.0**53)


def dropout_mask(seed, layer, start_row, n_rows, n_units, keep, dtype=np.float64):
    """The inverted-dropout mask the engine draws: ``1 / keep`` where
    ``counter_uniform(...) < keep``, else 0.

    Parameters
    ----------
    seed : int in [0, 2**64)
        The epoch's seed (``Problem.epoch(seed=...)``).
    layer : int
        0 for the input, ``l`` for hidden layer ``l``.
    start_row : int
        Position in the epoch of the first row (batch start).
    n_rows, n_units : int
    keep : float in (0, 1]
    dtype : float dtype of the mask

    Returns
    -------
    mask : ndarray of shape (n_rows, n_units)
    """
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}.")
    u = counter_uniform(seed, layer, start_row, n_rows, n_units)
    dtype = np.dtype(dtype)
    return np.where(u < keep, dtype.type(1.0 / keep), dtype.type(0))


# ---------------------------------------------------------------------------
# Layout and optimizer state (what the engine's objects hold, duck-typed)
# ---------------------------------------------------------------------------


class Layout:
    """What a step needs of ``fastmlp._engine.Layout``, built the same way.

    Same constructor as the engine's (one activation name, or one per hidden
    layer; ``dropout`` one rate per hidden layer or None; ``loss`` picks
    Huber / absolute error for an identity output).  It keeps only the
    semantic attributes -- ``units``, ``batch_size``, ``acts`` (codes,
    0 at the input and output), ``out_kind``, ``keep`` (per layer, 1 at the
    output), ``huber_delta``, ``max_norm``, ``n_coef``, ``n_params``,
    ``n_outputs``, ``uses_dropout``, ``coef_off``, ``int_off``,
    ``periodic`` (as given, in Python ints: ``(n_numeric, n_periodic)`` or
    ``(n_numeric, n_periodic, n_out)``; ``(0, 0)`` without the periodic
    stage), ``periodic_off`` (where the frequencies start: the end of the
    intercepts), ``embedding`` (``(cards, d)``, cards a tuple of Python
    ints; ``((), 0)`` without embeddings), ``embedding_off`` (where E_0
    starts: the end of the periodic stage's parameters),
    ``embedding_size``, ``input_scale``, ``input_scale_off``,
    ``parametric``, ``parametric_off`` (where alpha_1 starts) and the
    ``*_lr`` factors -- not the engine's buffer offsets.  ``n_params``
    counts the periodic stage's ``2 P + P d + n_numeric d`` parameters (f,
    ph, A, b; ``P = n_numeric * n_periodic``, ``d = n_out``), the
    embedding tables' ``sum(cards) * d``, the input scale's ``units[0]``
    and the parametric activations' ``sum(units[1:-1])``.
    """

    def __init__(self, units, batch_size, activation, out_activation, *,
                 loss=None, dropout=None, input_dropout=0.0, huber_delta=1.0,
                 max_norm=0.0, periodic=None, periodic_lr=1.0, input_scale=False,
                 input_scale_lr=1.0, parametric=False, parametric_lr=1.0,
                 embedding=None, embedding_lr=1.0):
        units = np.asarray(units, dtype=np.intp)
        n_layers = len(units)
        n_hidden = n_layers - 2
        coef_slices, intercept_slices = layer_slices(units)
        self.units = units
        self.batch_size = int(batch_size)
        self.coef_off = np.array([s.start for s in coef_slices], dtype=np.intp)
        self.int_off = np.array([s.start for s in intercept_slices], dtype=np.intp)
        self.n_coef = coef_slices[-1].stop
        stage = _check_periodic(periodic, units, input_dropout)
        # as given: a pair stays a pair (n_out = 0); the engine's keeps the triple
        given_triple = periodic is not None and len(tuple(periodic)) == 3
        self.periodic = stage if given_triple else stage[:2]
        self.periodic_off = intercept_slices[-1].stop
        self.n_params = self.periodic_off + _periodic_size(*stage)
        self.periodic_lr = _check_factor(periodic_lr, "periodic_lr")
        cards, dim = _check_embedding(embedding, units, stage, input_dropout)
        self.embedding = (cards, dim)
        self.embedding_off = self.n_params
        self.embedding_size = sum(cards) * dim
        self.n_params += self.embedding_size
        self.embedding_lr = _check_factor(embedding_lr, "embedding_lr")
        self.input_scale = bool(input_scale)
        if self.input_scale and input_dropout:
            raise ValueError("input_scale and input_dropout cannot be combined.")
        self.input_scale_off = self.n_params
        self.n_params += int(units[0]) if self.input_scale else 0
        self.input_scale_lr = _check_factor(input_scale_lr, "input_scale_lr")
        self.n_outputs = int(units[-1])
        names = [activation] * n_hidden if isinstance(activation, str) else list(activation)
        if len(names) != n_hidden:
            raise ValueError(f"{len(names)} activations for {n_hidden} hidden layers.")
        self.acts = np.zeros(n_layers, dtype=np.intc)
        self.acts[1 : n_layers - 1] = [ACTIVATION_CODES[a] for a in names]
        self.parametric = _check_parametric(parametric, names)
        self.parametric_off = self.n_params
        self.n_params += int(units[1:-1].sum()) if self.parametric else 0
        self.parametric_lr = _check_factor(parametric_lr, "parametric_lr")
        if loss in ("huber", "absolute_error"):
            self.out_kind = OUTPUT_CODES[loss]
        else:
            self.out_kind = OUTPUT_CODES[out_activation]
        self.huber_delta = float(huber_delta)
        self.max_norm = float(max_norm or 0.0)
        rates = [0.0] * n_hidden if dropout is None else list(dropout)
        self.keep = np.ones(n_layers, dtype=np.float64)
        self.keep[0] = 1.0 - float(input_dropout or 0.0)
        self.keep[1 : n_layers - 1] = [1.0 - float(r) for r in rates]
        self.uses_dropout = bool((self.keep < 1).any())

    def coef_views(self, params):
        """coefs_ and intercepts_ as views into the flat buffer (not the
        periodic stage's parameters after them)."""
        return unpack(params[: self.periodic_off], self.units)


def _check_factor(value, name):
    factor = float(value)
    if not 0 < factor < np.inf:
        raise ValueError(f"{name} must be a finite float > 0, got {value!r}.")
    return factor


def _check_parametric(parametric, names):
    """``parametric`` as a bool, checked against the hidden activations' names."""
    parametric = bool(parametric)
    bad = [name for name in names if name not in PARAMETRIC_ACTIVATIONS]
    if parametric and bad:
        raise ValueError(f"parametric activations need 'silu' or 'gelu' hidden "
                         f"activations, got {bad[0]!r}.")
    return parametric


def _check_periodic(periodic, units, input_dropout):
    """``periodic`` (None, ``(n_numeric, n_periodic)`` or ``(n_numeric,
    n_periodic, n_out)``) as a triple of Python ints, a pair meaning
    ``n_out = 0``, checked against the input width and input dropout."""
    if periodic is None:
        return (0, 0, 0)
    values = tuple(periodic) if np.iterable(periodic) else ()
    if len(values) not in (2, 3) or not all(isinstance(v, (int, np.integer))
                                            for v in values):
        raise ValueError(
            f"periodic must be None, a pair of ints (n_numeric, n_periodic) or a "
            f"triple (n_numeric, n_periodic, n_out), got {periodic!r}."
        )
    n_numeric, n_periodic, n_out = (int(v) for v in values + (0,) * (3 - len(values)))
    stage = (n_numeric, n_periodic, n_out)
    if min(stage) < 0:
        raise ValueError(
            f"periodic={stage}: n_numeric, n_periodic and n_out must be >= 0."
        )
    n_cols = n_numeric * n_periodic
    if n_out > 0 and n_cols == 0:
        raise ValueError(
            f"periodic={stage}: n_out={n_out} needs periodic columns to read "
            f"(n_numeric * n_periodic > 0)."
        )
    if n_cols > 0:
        # the stage writes the last n_numeric * n_out columns, or n_cols for n_out = 0
        n_written = n_numeric * n_out if n_out else n_cols
        if n_numeric + n_written > int(units[0]):
            what = "output" if n_out else "periodic"
            raise ValueError(
                f"periodic={stage[: 3 if n_out else 2]} needs {n_numeric} numeric "
                f"columns first and {n_written} {what} columns last, "
                f"{n_numeric + n_written} in all, but X has units[0]={int(units[0])}."
            )
        if float(input_dropout or 0.0) != 0.0:
            raise ValueError(
                f"periodic and input_dropout cannot be combined (periodic="
                f"{stage[: 3 if n_out else 2]}, input_dropout={input_dropout})."
            )
    return stage


def _stage_cols(n_numeric, n_periodic, n_out):
    """(numeric columns read, last columns written) of the periodic stage:
    (0, 0) without it (P = 0)."""
    n_cols = n_numeric * n_periodic
    if n_cols == 0:
        return 0, 0
    return n_numeric, n_numeric * n_out if n_out else n_cols


def _check_embedding(embedding, units, stage, input_dropout):
    """``embedding`` (None or ``(cards, d)``) as ``(tuple of Python int
    cards, d)``, ``((), 0)`` for None, checked: cards >= 1 each (at least
    one), d >= 1, the block fitting between the periodic stage's numeric
    columns and its output columns (``stage`` its checked triple), no input
    dropout."""
    if embedding is None:
        return (), 0
    pair = tuple(embedding) if np.iterable(embedding) and not isinstance(
        embedding, str) else ()
    cards = pair[0] if len(pair) == 2 else None
    cards = tuple(cards) if np.iterable(cards) and not isinstance(cards, str) else ()
    ints = (int, np.integer)
    if (len(pair) != 2 or not cards or not all(isinstance(c, ints) for c in cards)
            or not isinstance(pair[1], ints)):
        raise ValueError(
            f"embedding must be None or a pair (cards, d): a non-empty sequence of "
            f"ints (each categorical column's table rows) and an int, got {embedding!r}."
        )
    cards, dim = tuple(int(c) for c in cards), int(pair[1])
    if min(cards) < 1 or dim < 1:
        raise ValueError(f"embedding=({cards}, {dim}): every card and d must be >= 1.")
    n_numeric, n_written = _stage_cols(*stage)
    n_block = len(cards) * dim
    if n_numeric + n_block + n_written > int(units[0]):
        raise ValueError(
            f"embedding=({cards}, {dim}) needs {n_block} columns between the periodic "
            f"stage's {n_numeric} numeric columns and its {n_written} output columns, "
            f"{n_numeric + n_block + n_written} in all, but X has units[0]={int(units[0])}."
        )
    if float(input_dropout or 0.0) != 0.0:
        raise ValueError(
            f"embedding and input_dropout cannot be combined (embedding=({cards}, {dim}), "
            f"input_dropout={input_dropout})."
        )
    return cards, dim


def _periodic_size(n_numeric, n_periodic, n_out):
    """The periodic stage's parameter count: f and ph (P each, ``P = n_numeric
    * n_periodic``), A (``P * n_out``) and b (``n_numeric * n_out``)."""
    n_cols = n_numeric * n_periodic
    return 2 * n_cols + n_cols * n_out + n_numeric * n_out


class OptimizerState:
    """A stochastic solver's state, with the attributes ``Problem.epoch``
    reads of ``fastmlp._stochastic_optimizers.StochasticOptimizer``:
    ``solver``, ``state1`` (SGD's velocity, Adam's m, RMSprop's and
    Adagrad's running squares), ``state2`` (Adam's v, else empty), ``t``
    (Adam's step count) and ``epoch_constants(lr)``.  Same constructor and
    ``set_hyperparameters`` as the engine's; the learning-rate schedules
    (``iteration_ends``, ``trigger_stopping``) are the estimator's, not
    part of a step, and are left out.
    """

    def __init__(self, solver, n_params, dtype, learning_rate_init):
        if solver not in SOLVER_CODES:
            raise ValueError(f"solver must be one of {tuple(SOLVER_CODES)}, got {solver!r}.")
        self.solver = solver
        self.state1 = np.zeros(n_params, dtype=dtype)
        self.state2 = np.zeros(n_params if solver in ADAM_SOLVERS else 0, dtype=dtype)
        self.t = 0
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.hyper = {}

    def set_hyperparameters(self, *, momentum, nesterov, beta_1, beta_2, epsilon, rho,
                            weight_decay, alpha1, clip_value):
        """The constants of every solver (each reads its own)."""
        self.hyper = {
            "momentum": float(momentum),
            "nesterov": bool(nesterov),
            "beta_1": float(beta_1),
            "beta_2": float(beta_2),
            "epsilon": float(epsilon),
            "rho": float(rho),
            "weight_decay": float(weight_decay) if self.solver == "adamw" else 0.0,
            "alpha1": float(alpha1),
            "clip_value": float(clip_value or 0.0),
        }

    def epoch_constants(self, lr):
        """What a step needs for an epoch at base rate ``lr``."""
        return {"lr": float(lr), **self.hyper}

    @classmethod
    def copy_of(cls, optimizer):
        """An independent copy of any optimizer with these attributes (the
        engine's too), to run the same epochs on both."""
        opt = cls.__new__(cls)
        opt.solver = optimizer.solver
        opt.state1 = np.array(optimizer.state1)
        opt.state2 = np.array(optimizer.state2)
        opt.t = int(optimizer.t)
        opt.learning_rate_init = float(optimizer.learning_rate_init)
        opt.learning_rate = float(optimizer.learning_rate)
        opt.hyper = dict(optimizer.hyper)
        return opt


class _Net:
    """What a step reads of a layout (any object with the engine Layout's
    attributes), as names and Python numbers."""

    def __init__(self, layout):
        self.units = [int(u) for u in layout.units]
        if len(self.units) < 2:
            raise ValueError(f"a network needs at least 2 layers, got units {self.units}.")
        acts = np.asarray(layout.acts)
        self.hidden = [_ACTIVATION_NAMES[int(code)] for code in acts[1:-1]]
        self.out = _OUTPUT_NAMES[int(layout.out_kind)]
        self.keep = [float(k) for k in layout.keep]
        self.huber_delta = float(layout.huber_delta)
        self.max_norm = float(layout.max_norm)
        self.batch_size = int(layout.batch_size)
        coef_slices, intercept_slices = layer_slices(self.units)
        self.n_coef = coef_slices[-1].stop
        self.n_numeric, self.n_periodic, self.n_out = _check_periodic(
            layout.periodic, self.units, 1.0 - self.keep[0])
        self.n_periodic_cols = self.n_numeric * self.n_periodic  # P
        self.n_linear_cols = self.n_numeric * self.n_out  # Q
        # the columns of X the stage writes (the last ones): Q, or P for n_out = 0
        self.n_stage_cols = _stage_cols(self.n_numeric, self.n_periodic, self.n_out)[1]
        self.periodic_off = intercept_slices[-1].stop
        self.n_periodic_params = _periodic_size(self.n_numeric, self.n_periodic, self.n_out)
        self.n_params = self.periodic_off + self.n_periodic_params
        self.periodic_lr = float(layout.periodic_lr)
        # a layout holds ((), 0) for no embeddings, which the check refuses
        given = tuple(layout.embedding)
        self.cards, self.embedding_dim = _check_embedding(
            None if given == ((), 0) else given, self.units,
            (self.n_numeric, self.n_periodic, self.n_out), 1.0 - self.keep[0])
        self.n_categorical = len(self.cards)  # e
        # X's columns [c0, c0 + e d), just before the periodic stage's output
        self.embedding_col0 = (self.units[0] - self.n_stage_cols
                               - self.n_categorical * self.embedding_dim)
        self.embedding_off = self.n_params
        self.embedding_size = sum(self.cards) * self.embedding_dim
        self.n_params += self.embedding_size
        self.embedding_lr = float(layout.embedding_lr)
        self.input_scale = bool(layout.input_scale)
        self.input_scale_off = self.n_params
        self.input_scale_lr = float(layout.input_scale_lr)
        if self.input_scale:
            self.n_params += int(self.units[0])
        self.parametric = _check_parametric(layout.parametric, self.hidden)
        self.parametric_off = self.n_params
        self.parametric_lr = float(layout.parametric_lr)
        if self.parametric:
            self.n_params += sum(self.units[1:-1])
        if int(layout.n_params) != self.n_params:
            raise ValueError(
                f"layout.n_params={layout.n_params}, but units {self.units}, "
                f"periodic=({self.n_numeric}, {self.n_periodic}, {self.n_out}), embedding="
                f"({self.cards}, {self.embedding_dim}), input_scale={self.input_scale} "
                f"and parametric={self.parametric} have "
                f"{self.n_params} parameters."
            )

    def coef_views(self, params):
        """coefs and intercepts, views into ``params`` (or a gradient)."""
        return unpack(params[: self.periodic_off], self.units)

    def scale_view(self, params):
        """The input scale s, a view of shape (units[0],) into ``params``."""
        return params[self.input_scale_off : self.input_scale_off + int(self.units[0])]

    def tail_parts(self):
        """(start, stop, rate factor) of the parameters after the intercepts:
        the input layer's (periodic stage, embedding tables, scale), then the
        parametric activations'."""
        parts = []
        if self.n_periodic_params:
            # f, ph, A and b
            parts.append((self.periodic_off, self.periodic_off + self.n_periodic_params,
                          self.periodic_lr))
        if self.embedding_size:
            # E_0, E_1, ...
            parts.append((self.embedding_off, self.embedding_off + self.embedding_size,
                          self.embedding_lr))
        if self.input_scale:
            parts.append((self.input_scale_off, self.input_scale_off + self.units[0],
                          self.input_scale_lr))
        if self.parametric and self.n_params > self.parametric_off:
            parts.append((self.parametric_off, self.n_params, self.parametric_lr))
        return parts

    def alpha_views(self, params):
        """The parametric activations' alpha_l for hidden layers l = 1 ..
        n_layers - 2, views of shape (units[l],) into ``params`` (or a
        gradient); index l - 1 holds alpha_l.  None without them."""
        if not self.parametric:
            return [None] * (len(self.units) - 2)
        bounds = self.parametric_off + np.cumsum([0] + self.units[1:-1])
        return [params[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def periodic_views(self, params):
        """The frequencies f and phases ph, views of shape
        (n_numeric, n_periodic) into ``params`` (or a gradient)."""
        start, n_cols = self.periodic_off, self.n_periodic_cols
        shape = (self.n_numeric, self.n_periodic)
        return (params[start : start + n_cols].reshape(shape),
                params[start + n_cols : start + 2 * n_cols].reshape(shape))

    def embedding_views(self, params):
        """The tables E_c, c = 0 .. e - 1, views of shape (cards[c], d) into
        ``params`` (or a gradient), consecutive from ``embedding_off``;
        an empty list without embeddings."""
        bounds = self.embedding_off + self.embedding_dim * np.cumsum([0, *self.cards])
        return [params[a:b].reshape(card, self.embedding_dim)
                for a, b, card in zip(bounds[:-1], bounds[1:], self.cards)]

    def embedding_columns(self, c):
        """Categorical column c's d columns of X (a slice); its code is in
        the first."""
        start = self.embedding_col0 + c * self.embedding_dim
        return slice(start, start + self.embedding_dim)

    def periodic_linear_views(self, params):
        """The stage's linear layer: A of shape (n_numeric, n_periodic,
        n_out) and b of shape (n_numeric, n_out), views into ``params`` (or
        a gradient) right after ph; empty for n_out = 0."""
        start = self.periodic_off + 2 * self.n_periodic_cols
        n_A = self.n_periodic_cols * self.n_out
        return (params[start : start + n_A].reshape(
                    self.n_numeric, self.n_periodic, self.n_out),
                params[start + n_A : start + n_A + self.n_linear_cols].reshape(
                    self.n_numeric, self.n_out))


# ---------------------------------------------------------------------------
# One batch: forward, losses, backward
# ---------------------------------------------------------------------------


def output_loss_delta(kind, Z, Y, sample_weight=None, huber_delta=1.0):
    """The output layer: activation, each row's weighted loss, and the delta.

    Parameters
    ----------
    kind : {'identity', 'exp', 'logistic', 'softmax', 'huber', 'absolute_error'}
        An output activation with its canonical loss (squared error,
        Poisson, binary log-loss, log-loss), or an identity output with
        the Huber or absolute-error loss.
    Z : ndarray of shape (n_rows, n_outputs)
        The output layer's pre-activation (bias added).
    Y : ndarray of shape (n_rows, n_outputs)
    sample_weight : ndarray of shape (n_rows,) or None
    huber_delta : float

    Returns
    -------
    P : ndarray, the output activation
    row_loss : ndarray of shape (n_rows,), float64
        ``w_i * loss_i`` with ``loss_i`` (``r = p - y``, ``p' = clip(p, eps,
        1 - eps)``): squared error ``mean_k r**2 / 2``; Poisson ``sum_k
        xlogy(y, y / p) - y + p``; binary log-loss ``-sum_k xlogy(y, p') +
        xlogy(1 - y, 1 - p')``; log-loss ``-sum_k xlogy(y, p')``; Huber
        ``mean_k r**2 / 2 if |r| <= delta else delta (|r| - delta / 2)``;
        absolute error ``mean_k |r|``.  (A single softmax column is one
        class, not read as P(class 1) as ``_reference.loss`` reads it.)
    delta : ndarray like Z
        dLoss/dZ times ``w_i``: ``(P - Y) w`` for the canonical pairs, as
        scikit-learn (for squared error NOT divided by n_outputs, though the
        loss is averaged: scikit-learn's convention); for Huber ``r`` or
        ``delta sign(r)``, and for absolute error ``sign(r)``, times
        ``w / n_outputs``.
    """
    if kind not in OUTPUT_CODES:
        raise ValueError(f"kind must be one of {tuple(OUTPUT_CODES)}, got {kind!r}.")
    Z = np.asarray(Z)
    dtype = Z.dtype
    Y = np.asarray(Y, dtype=dtype)
    n_rows, n_out = Z.shape
    if Y.shape != Z.shape:
        raise ValueError(f"Y has shape {Y.shape} but Z has shape {Z.shape}.")
    w = (np.ones(n_rows, dtype=dtype) if sample_weight is None
         else np.asarray(sample_weight, dtype=dtype))
    P = activation("identity" if kind in _MEAN_OVER_OUTPUTS else kind, Z)
    eps = np.finfo(dtype).eps
    if kind == "identity":
        terms = 0.5 * (Y - P) ** 2
        delta = (P - Y) * w[:, np.newaxis]
    elif kind == "exp":
        terms = xlogy(Y, Y / P) - Y + P
        delta = (P - Y) * w[:, np.newaxis]
    elif kind == "logistic":
        Pc = np.clip(P, eps, 1 - eps)
        terms = -(xlogy(Y, Pc) + xlogy(1 - Y, 1 - Pc))
        delta = (P - Y) * w[:, np.newaxis]
    elif kind == "softmax":
        terms = -xlogy(Y, np.clip(P, eps, 1 - eps))
        delta = (P - Y) * w[:, np.newaxis]
    else:
        r = P - Y
        if kind == "absolute_error":
            terms = np.abs(r)
            slope = np.sign(r)
        else:
            small = np.abs(r) <= huber_delta
            terms = np.where(small, 0.5 * r * r, huber_delta * (np.abs(r) - 0.5 * huber_delta))
            slope = np.where(small, r, np.sign(r) * dtype.type(huber_delta))
        delta = slope * w[:, np.newaxis] / dtype.type(n_out)
    row_loss = terms.astype(np.float64).sum(axis=1)
    if kind in _MEAN_OVER_OUTPUTS:
        row_loss /= n_out
    return P, w.astype(np.float64) * row_loss, delta


def _embedding_codes(net, X):
    """Each categorical column's codes, read from X's column ``c0 + c d``:
    an intp array of shape (n_rows, e), checked to be integers in ``[0,
    cards[c])``."""
    codes = np.empty((X.shape[0], net.n_categorical), dtype=np.intp)
    for c, card in enumerate(net.cards):
        col = net.embedding_columns(c).start
        v = X[:, col]
        bad = ~(np.isfinite(v) & (v == np.floor(v)) & (v >= 0) & (v < card))
        if bad.any():
            row = np.flatnonzero(bad)[0]
            raise ValueError(
                f"X[{row}, {col}] = {v[row]!r} is not a code of embedding table {c}: an "
                f"integer in [0, {card}) was expected."
            )
        codes[:, c] = v.astype(np.intp)
    return codes


def _embedding_forward(net, params, X):
    """The table lookups: the input with the embedding block written, and
    the codes.

    ``Xe = X`` with ``Xe[:, c0 + c d + j] = E_c[code[:, c], j]``, the code
    read from column ``c0 + c d`` (whatever the block holds elsewhere is
    ignored).  Without embeddings: ``X`` itself and None.

    Returns
    -------
    Xe : ndarray of shape (n_rows, units[0]), a copy, or X
    codes : ndarray of shape (n_rows, e), intp, or None
    """
    if net.n_categorical == 0:
        return X, None
    if sp.issparse(X):
        raise ValueError(
            f"embedding=({net.cards}, {net.embedding_dim}) needs dense X, got a "
            f"sparse matrix."
        )
    codes = _embedding_codes(net, X)
    Xe = X.copy()
    for c, E in enumerate(net.embedding_views(params)):
        Xe[:, net.embedding_columns(c)] = E[codes[:, c]]
    return Xe, codes


def _embedding_backward(net, codes, G, grad):
    """The tables' raw gradients, written into ``grad``.

    ``G`` is dLoss/dXe before the input scale.  Differentiating ``Xe[i, c0 +
    c d + j] = E_c[code[i, c], j]``: ``grad_E_c[r, j] = sum over rows i with
    code[i, c] == r of G[i, c0 + c d + j]`` (a scatter-add; 0 for a row of
    the table no code picks).
    """
    for c, grad_E in enumerate(net.embedding_views(grad)):
        grad_E[...] = 0
        np.add.at(grad_E, codes[:, c], G[:, net.embedding_columns(c)])


def _periodic_forward(net, params, X):
    """The periodic stage: the input the first layer reads, and theta.

    ``theta[i, k, q] = f[k, q] * X[i, k] + ph[k, q]``, then ``Xe = X`` with
    its last columns written: for n_out = 0, ``Xe[:, c(k, q)] = cos(theta[:,
    k, q])``, ``c(k, q) = units[0] - P + k * n_periodic + q``; for n_out = d
    > 0, ``Xe[:, c(k, j)] = b[k, j] + sum_q cos(theta[:, k, q]) A[k, q, j]``,
    ``c(k, j) = units[0] - Q + k * d + j``.  Without the stage (P = 0):
    ``X`` itself and None.

    Returns
    -------
    Xe : ndarray of shape (n_rows, units[0]), a copy, or X
    theta : ndarray of shape (n_rows, n_numeric, n_periodic) or None
    """
    n_cols = net.n_periodic_cols
    if n_cols == 0:
        return X, None
    if sp.issparse(X):
        raise ValueError(
            f"periodic=({net.n_numeric}, {net.n_periodic}) needs dense X, got a "
            f"sparse matrix."
        )
    f, ph = net.periodic_views(params)
    z = X[:, : net.n_numeric]
    theta = z[:, :, np.newaxis] * f + ph
    Xe = X.copy()
    if net.n_out == 0:
        # row-major [k, q]: column c(k, q) of the last n_cols
        Xe[:, net.units[0] - n_cols :] = np.cos(theta).reshape(X.shape[0], n_cols)
    else:
        # one linear layer per numeric column k: e[:, k] = cos(theta[:, k]) @ A[k] + b[k]
        A, b = net.periodic_linear_views(params)
        e = np.einsum("ikq,kqj->ikj", np.cos(theta), A) + b
        # row-major [k, j]: column c(k, j) of the last Q
        Xe[:, net.units[0] - net.n_linear_cols :] = e.reshape(X.shape[0], net.n_linear_cols)
    return Xe, theta


def _periodic_backward(net, params, X, theta, G, grad):
    """The periodic stage's raw gradients (f, ph, and for n_out > 0 A and
    b), written into ``grad``.

    ``G = D_1 @ W_0^T`` is dLoss/dXe.  Differentiating ``e[:, k, j] = b[k, j]
    + sum_q cos(theta[:, k, q]) A[k, q, j]`` (n_out > 0): ``grad_b =
    sum_rows(G_e)``, ``grad_A[k] = cos(theta[:, k])^T G_e[:, k]``, ``dC[:,
    k] = G_e[:, k] @ A[k]^T`` (G_e the columns c(k, j) of G); for n_out = 0,
    ``dC`` is the columns c(k, q) of G.  Then ``cos(theta)``, ``theta = f z
    + ph``: ``dtheta = -sin(theta) * dC``, ``grad_f = sum_rows(dtheta * z)``,
    ``grad_ph = sum_rows(dtheta)``.
    """
    n_rows = theta.shape[0]
    if net.n_out == 0:
        dC = G[:, net.units[0] - net.n_periodic_cols :].reshape(theta.shape)
    else:
        G_e = G[:, net.units[0] - net.n_linear_cols :].reshape(
            n_rows, net.n_numeric, net.n_out)
        A, _ = net.periodic_linear_views(params)
        grad_A, grad_b = net.periodic_linear_views(grad)
        grad_b[...] = G_e.sum(axis=0)
        grad_A[...] = np.einsum("ikq,ikj->kqj", np.cos(theta), G_e)
        dC = np.einsum("kqj,ikj->ikq", A, G_e)
    dtheta = -np.sin(theta) * dC
    z = X[:, : net.n_numeric]
    grad_f, grad_ph = net.periodic_views(grad)
    grad_f[...] = (dtheta * z[:, :, np.newaxis]).sum(axis=0)
    grad_ph[...] = dtheta.sum(axis=0)


def _hidden_forward(net, params, Xe, masks):
    """The hidden layers' forward from the input layer's output Xe.

    Returns lists indexed by layer (entry 0 the input): ``A[l]`` layer l's
    output as the next layer reads it (``A[0] = Xe``; parametric mix, then
    dropout), ``Zs[l]`` its pre-activation and ``Hs[l] = act(Zs[l])``
    (``Zs[0]``, ``Hs[0]`` None).  ``masks[l]`` None is no dropout.
    """
    coefs, intercepts = net.coef_views(params)
    alphas = net.alpha_views(params)
    A, Zs, Hs = [Xe], [None], [None]
    for layer in range(1, len(net.units) - 1):
        Z = _matmul(A[layer - 1], coefs[layer - 1])
        Z += intercepts[layer - 1]
        H = activation(net.hidden[layer - 1], Z)
        out = Z + alphas[layer - 1] * (H - Z) if net.parametric else H
        Zs.append(Z)
        Hs.append(H)
        A.append(out if masks[layer] is None else out * masks[layer])
    return A, Zs, Hs


def _raw_loss_grad(net, params, X, Y, sample_weight, masks, with_grad):
    """``raw_loss_grad`` on a ``_Net``; inputs already in params' dtype."""
    units = net.units
    n_layers = len(units)
    masks = [None] * (n_layers - 1) if masks is None else list(masks)
    if len(masks) != n_layers - 1:
        raise ValueError(f"masks needs {n_layers - 1} entries (input and hidden layers), "
                         f"got {len(masks)}.")
    coefs, intercepts = net.coef_views(params)
    if masks[0] is not None:
        if sp.issparse(X):
            raise ValueError("input dropout needs dense X.")
        if net.n_periodic_cols:
            raise ValueError("periodic and input dropout cannot be combined.")
        if net.n_categorical:
            raise ValueError("embedding and input dropout cannot be combined.")
        X = X * masks[0]  # a dropped copy of the batch
    Xe, theta, codes, Xs = _input_forward(net, params, X)
    A, Zs, Hs = _hidden_forward(net, params, Xe, masks)
    Z = _matmul(A[-1], coefs[-1])
    Z += intercepts[-1]
    _, row_loss, D = output_loss_delta(net.out, Z, Y, sample_weight, net.huber_delta)
    loss_sum = float(np.sum(row_loss))
    if not with_grad:
        return loss_sum, None

    grad = np.empty_like(params)
    coef_grads, intercept_grads = net.coef_views(grad)
    alphas, alpha_grads = net.alpha_views(params), net.alpha_views(grad)
    for layer in range(n_layers - 1, 0, -1):
        # Z_l = A_{l-1} @ W + b:  dW = A_{l-1}^T D_l,  db = sum_rows(D_l)
        coef_grads[layer - 1][...] = _matmul(A[layer - 1].T, D)
        intercept_grads[layer - 1][...] = D.sum(axis=0)
        if layer > 1:
            # A_{l-1} = act(Z_{l-1}) * mask: D_{l-1} = (D_l @ W^T) * mask * act'(Z_{l-1})
            D = _matmul(D, coefs[layer - 1].T)
            if masks[layer - 1] is not None:
                D = D * masks[layer - 1]
            name, Z, H = net.hidden[layer - 2], Zs[layer - 1], Hs[layer - 1]
            if net.parametric:
                # A = Z + alpha (g(Z) - Z): dA/dalpha = g(Z) - Z,
                # dA/dZ = 1 - alpha + alpha g'(Z)
                alpha = alphas[layer - 2]
                alpha_grads[layer - 2][...] = (D * (H - Z)).sum(axis=0)
                g_prime = activation_derivative(name, H, np.ones_like(D), Z=Z)
                D = D * (1 - alpha + alpha * g_prime)
            else:
                D = activation_derivative(name, H, D, Z=Z)
    if theta is not None or codes is not None or Xs is not None:
        # Z_1 = Xe @ W_0 + b_0: dLoss/dXe = D_1 @ W_0^T (X itself gets none)
        G = _matmul(D, coefs[0].T)
        if Xs is not None:
            # Xe = Xs * s: grad s = sum_rows(Xs * G), dLoss/dXs = G * s
            net.scale_view(grad)[...] = (Xs * G).sum(axis=0)
            G = G * net.scale_view(params)
        if theta is not None:
            _periodic_backward(net, params, X, theta, G, grad)
        if codes is not None:
            _embedding_backward(net, codes, G, grad)
    return loss_sum, grad


def _input_forward(net, params, X):
    """The embedding lookups, the periodic stage, then the input scale:
    (Xe, theta, codes, Xs), Xs the unscaled Xe (None without the scale)."""
    Xe, codes = _embedding_forward(net, params, X)
    Xe, theta = _periodic_forward(net, params, Xe)
    if not net.input_scale:
        return Xe, theta, codes, None
    if sp.issparse(Xe):
        raise ValueError("input_scale needs dense X.")
    return Xe * net.scale_view(params), theta, codes, Xe


def raw_loss_grad(layout, params, X, Y, sample_weight=None, *, masks=None,
                  with_grad=True):
    """A batch's summed weighted loss and raw gradient, with given dropout masks.

    Parameters
    ----------
    layout : Layout or fastmlp._engine.Layout
    params : ndarray of shape (layout.n_params,)
    X : ndarray or sparse matrix of shape (n_rows, n_features)
    Y : ndarray of shape (n_rows, n_outputs)
    sample_weight : ndarray of shape (n_rows,) or None
    masks : sequence of (ndarray or None), length n_layers - 1, or None
        ``masks[0]`` multiplies X (input dropout, dense X only), ``masks[l]``
        hidden layer ``l``'s output; shapes (n_rows, units[l]).  The engine's
        are ``dropout_mask(seed, l, start, n_rows, units[l], keep[l])``; a
        test may hand in any (the derivative does not assume 0 or 1/keep).
    with_grad : bool

    Returns
    -------
    loss_sum : float
        ``sum_i w_i loss_i`` (``output_loss_delta``), without penalties.
    raw_grad : ndarray of shape (n_params,) or None
        ``A_{l-1}^T D_l`` for coefs (``A_0 = Xe``), ``sum_rows(D_l)`` for
        intercepts, then the periodic stage's f, ph, A and b, the
        embedding tables E, the input scale and the parametric activations'
        alphas (see the module docstring): not divided by ``sum(w)``, no L2
        or L1 term.
    """
    net = _Net(layout)
    dtype = params.dtype
    X = X.astype(dtype) if sp.issparse(X) else np.asarray(X, dtype=dtype)
    Y = np.asarray(Y, dtype=dtype)
    sample_weight = None if sample_weight is None else np.asarray(sample_weight, dtype=dtype)
    return _raw_loss_grad(net, params, X, Y, sample_weight, masks, with_grad)


# ---------------------------------------------------------------------------
# Steps 4-7: penalties, finished gradient, clipping, update, max_norm
# ---------------------------------------------------------------------------


def _coef_sums(params, n_coef):
    """sum(W**2) and sum|W| over every coef (float64)."""
    w = params[:n_coef].astype(np.float64)
    return float(np.dot(w, w)), float(np.abs(w).sum())


def _finished_gradient(raw, params, n_coef, alpha, alpha1, scale):
    """``(g + alpha W + alpha1 sign(W)) * scale`` for coefs, ``g * scale``
    for intercepts and every parameter after them (scale = 1 / sum(sw))."""
    g = raw.copy()
    W = params[:n_coef]
    g[:n_coef] = g[:n_coef] + alpha * W + alpha1 * np.sign(W)
    g *= scale
    return g


def _solver_step(solver, params, grad, state1, state2, t, c, n_coef, parts=()):
    """One update of ``params`` and the state in place; returns Adam's t.
    ``parts`` are (start, stop, factor) of the input layer's parameters
    (``_Net.tail_parts``): the same step at ``factor`` times the rate."""
    if parts:
        state2_ = (lambda s: None) if state2 is None else (lambda s: state2[s])
        head = slice(0, parts[0][0])
        t_next = _solver_step(solver, params[head], grad[head], state1[head],
                              state2_(head), t, c, n_coef)
        for start, stop, factor in parts:
            part = slice(start, stop)
            _solver_step(solver, params[part], grad[part], state1[part], state2_(part), t,
                         {**c, "lr": c["lr"] * factor}, 0)
        return t_next
    lr = c["lr"]
    if solver == "sgd":
        sgd_step(params, grad, state1, lr, c["momentum"], c["nesterov"])
    elif solver in ADAM_SOLVERS:
        t += 1
        if solver == "adamw":
            # decoupled weight decay on the coefs, at the schedule's rate
            # (not Adam's bias-corrected one), as PyTorch's AdamW
            params[:n_coef] *= params.dtype.type(1 - lr * c["weight_decay"])
        adam_step(params, grad, state1, state2, t, lr, c["beta_1"], c["beta_2"],
                  c["epsilon"])
    elif solver == "rmsprop":
        rmsprop_step(params, grad, state1, lr, c["rho"], c["epsilon"])
    elif solver == "adagrad":
        adagrad_step(params, grad, state1, lr, c["epsilon"])
    else:
        raise ValueError(f"solver must be one of {tuple(SOLVER_CODES)}, got {solver!r}.")
    return t


def _apply_max_norm(params, net, max_norm):
    """Scale each unit's incoming weights ``W[:, j]`` to L2 norm <= max_norm."""
    coefs, _ = net.coef_views(params)
    for W in coefs:
        sq = (W.astype(np.float64) ** 2).sum(axis=0)
        factor = np.ones_like(sq)
        over = sq > max_norm * max_norm
        factor[over] = max_norm / np.sqrt(sq[over])
        W *= factor.astype(W.dtype)


# ---------------------------------------------------------------------------
# Problem: the engine's entry, in NumPy
# ---------------------------------------------------------------------------


class Problem:
    """One call's data, as ``fastmlp._engine.Problem``, computed in NumPy.

    Parameters
    ----------
    layout : Layout or fastmlp._engine.Layout
        Its ``batch_size`` is the most rows one step takes.
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs) or None
        Float targets, or bool (0/1, classification); None for a prediction
        (which can only :meth:`forward`).
    sample_weight : ndarray of shape (n_samples,) or None
    params : ndarray of shape (layout.n_params,)
        The flat parameters (``_reference.pack`` layout), stepped in place;
        their dtype is the working dtype.
    with_grad : bool, default=True
        Whether ``loss_grad`` leaves a gradient in ``grads``.
    tuning : dict or None, default=None
        The engine's thresholds (which step path runs); accepted and
        ignored: the math does not depend on them.
    """

    def __init__(self, layout, X, Y, sample_weight, params, *, with_grad=True,
                 tuning=None):
        net = _Net(layout)
        dtype = params.dtype
        if params.ndim != 1 or params.shape[0] != net.n_params:
            raise ValueError(
                f"params has shape {params.shape}; the layout needs ({net.n_params},)."
            )
        y_shape = (X.shape[0], net.units[-1]) if Y is None else Y.shape
        if X.ndim != 2 or X.shape[1] != net.units[0] or y_shape != (
            X.shape[0], net.units[-1]
        ):
            raise ValueError(
                f"X {X.shape} and Y {y_shape} do not fit a network of layer sizes "
                f"{tuple(net.units)}."
            )
        if sample_weight is not None and sample_weight.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight has shape {sample_weight.shape}; X has {X.shape[0]} rows."
            )
        if net.n_periodic_cols and sp.issparse(X):
            raise ValueError(
                f"periodic=({net.n_numeric}, {net.n_periodic}) needs dense X, got a "
                f"sparse matrix."
            )
        if net.n_categorical and sp.issparse(X):
            raise ValueError(
                f"embedding=({net.cards}, {net.embedding_dim}) needs dense X, got a "
                f"sparse matrix."
            )
        self.layout = layout
        self.params = params
        self.n_samples = X.shape[0]
        self.X = X.tocsr().astype(dtype) if sp.issparse(X) else np.asarray(X, dtype=dtype)
        self.Y = None if Y is None else np.asarray(Y, dtype=dtype)
        self.sample_weight = (
            None if sample_weight is None else np.asarray(sample_weight, dtype=dtype)
        )
        self.grads = np.zeros(net.n_params if with_grad else 0, dtype=dtype)
        self.tuning = tuning  # the engine's step path; the math is the same
        self._net = net

    @property
    def dense(self):
        return not sp.issparse(self.X)

    def epoch(self, optimizer, order, *, shuffled, batch_size, lr, alpha, clip_norm,
              n_threads, seed=0, step_factors=None):
        """One epoch of minibatch training over the rows ``order``, stepping
        ``params`` and ``optimizer``'s state (and ``t``) in place; returns
        the sum over batches of batch loss times batch rows.

        Batches are positions ``[0, batch_size), [batch_size, 2 batch_size),
        ...`` of ``order``; ``seed`` draws the dropout masks (``dropout_mask``
        at those positions); the optimizer's constants are
        ``optimizer.epoch_constants(lr)``.  ``shuffled=False`` promises that
        ``order`` is ``arange(len(order))``.  ``n_threads`` is ignored.

        ``step_factors`` (n_batches, 3) or None: batch b runs at rate
        ``lr * f[b, 0]``, weight decay ``weight_decay * f[b, 1]`` and dropout
        rates ``(1 - keep) * f[b, 2]`` (columns ``STEP_FACTORS``).
        """
        net = self._net
        order = np.asarray(order, dtype=np.intp)
        n = order.shape[0]
        params = self.params
        dtype = params.dtype
        solver = optimizer.solver
        if solver not in SOLVER_CODES:
            raise ValueError(f"Unknown solver {solver!r}.")
        if optimizer.state1.shape != (net.n_params,) or (
            solver in ADAM_SOLVERS and optimizer.state2.shape != (net.n_params,)
        ):
            raise ValueError(
                f"the optimizer's state has shapes {optimizer.state1.shape} and "
                f"{optimizer.state2.shape}; params ({net.n_params},)."
            )
        if not 1 <= batch_size <= net.batch_size:
            raise ValueError(
                f"batch_size={batch_size} is outside the layout's [1, {net.batch_size}]."
            )
        if n and (order.min() < 0 or order.max() >= self.n_samples):
            raise ValueError(f"order has rows outside [0, {self.n_samples}).")
        if not shuffled and not np.array_equal(order, np.arange(n)):
            raise ValueError("shuffled=False promises order == arange(len(order)).")
        n_batches = -(-n // batch_size)
        if step_factors is not None:
            step_factors = np.asarray(step_factors, dtype=np.float64)
            if step_factors.shape != (n_batches, len(STEP_FACTORS)):
                raise ValueError(
                    f"step_factors has shape {step_factors.shape}; this epoch needs "
                    f"({n_batches}, {len(STEP_FACTORS)}).")
            if not (np.isfinite(step_factors).all() and (step_factors >= 0).all()
                    and (step_factors[:, 2] <= 1).all()):
                raise ValueError("step_factors must be finite, >= 0, and at most 1 for "
                                 "dropout.")
        if n == 0:
            return 0.0
        if net.keep[0] < 1 and not self.dense:
            raise ValueError("input_dropout needs dense X")

        c = optimizer.epoch_constants(lr)
        alpha1 = float(c.get("alpha1", 0.0))
        clip_value = float(c.get("clip_value", 0.0))
        t = optimizer.t
        total = 0.0
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            m = rows.shape[0]
            sw = None if self.sample_weight is None else self.sample_weight[rows]
            keeps = net.keep[:-1]
            cb = c
            if step_factors is not None:
                f_lr, f_wd, f_drop = step_factors[start // batch_size]
                cb = {**c, "lr": c["lr"] * f_lr, "weight_decay": c["weight_decay"] * f_wd}
                keeps = [1 - (1 - keep) * f_drop for keep in keeps]
            masks = [
                None if keep >= 1
                else dropout_mask(seed, layer, start, m, net.units[layer], keep, dtype)
                for layer, keep in enumerate(keeps)
            ]
            loss_sum, raw = _raw_loss_grad(net, params, self.X[rows], self.Y[rows], sw,
                                           masks, True)
            sw_sum = float(m) if sw is None else float(sw.astype(np.float64).sum())
            sq, l1 = _coef_sums(params, net.n_coef)
            batch_loss = (loss_sum + 0.5 * alpha * sq + alpha1 * l1) / sw_sum

            grad = _finished_gradient(raw, params, net.n_coef, alpha, alpha1, 1.0 / sw_sum)
            if clip_norm > 0:
                clip_grad_norm(grad, clip_norm)
            if clip_value > 0:
                np.clip(grad, -clip_value, clip_value, out=grad)
            t = _solver_step(solver, params, grad, optimizer.state1, optimizer.state2,
                             t, cb, net.n_coef, net.tail_parts())
            if net.max_norm > 0:
                _apply_max_norm(params, net, net.max_norm)
            total += batch_loss * m
        optimizer.t = t
        return total

    def forward(self, *, n_threads=None, interruptible=False):
        """The network's output at ``params`` for every row of X (no dropout,
        no loss; ``n_threads`` and ``interruptible`` are ignored: NumPy's
        passes return to Python, where Ctrl-C lands): the input layer's ``A = Xe``
        (embeddings, periodic stage, scale; X without them), hidden ``A =
        act(A @ W + b)`` (parametric: ``Z + alpha (act(Z) - Z)``, ``Z = A @
        W + b``), then the output activation (identity for the Huber and
        absolute-error losses)."""
        net = self._net
        coefs, intercepts = net.coef_views(self.params)
        Xe = _input_forward(net, self.params, self.X)[0]
        A = _hidden_forward(net, self.params, Xe, [None] * (len(net.units) - 1))[0][-1]
        out = net.out if net.out in ("identity", "exp", "logistic", "softmax") else "identity"
        return activation(out, _matmul(A, coefs[-1]) + intercepts[-1])

    def loss_grad(self, *, alpha, alpha1=0.0, n_threads, interruptible=False):
        """Loss (with the L2 and L1 terms) at ``params`` over every row, no
        dropout; the finished gradient is left in ``self.grads`` unless the
        problem was built without one.  ``n_threads`` and ``interruptible``
        are ignored."""
        net = self._net
        params = self.params
        with_grad = self.grads.shape[0] > 0
        loss_sum, raw = _raw_loss_grad(net, params, self.X, self.Y, self.sample_weight,
                                       None, with_grad)
        sw_sum = (float(self.n_samples) if self.sample_weight is None
                  else float(self.sample_weight.astype(np.float64).sum()))
        sq, l1 = _coef_sums(params, net.n_coef)
        if with_grad:
            self.grads[...] = _finished_gradient(raw, params, net.n_coef, alpha, alpha1,
                                                 1.0 / sw_sum)
        return (loss_sum + 0.5 * alpha * sq + alpha1 * l1) / sw_sum
