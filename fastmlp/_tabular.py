"""TabularMLPClassifier and TabularMLPRegressor: MLPs with a recipe for tables.

Design: each estimator is a ``TabularPreprocessor`` (``preprocessor_``)
followed by one of the drop-in networks with the recipe's schedules
(``network_``, from ``_tabular_network``), both fitted in ``fit`` and
pickled with the estimator.  The pieces of the recipe that the engine
already has are used as they are: AdamW with ``beta_2=0.95``, dropout, and
the best epoch's weights restored from a validation set (``fit``'s
``X_val``/``y_val``, held out here).  The rest is done around the engine:
the per-minibatch schedules and label smoothing (``_tabular_network``), the
preprocessing (``_tabular_preprocessing``), and the standardized, clipped
regression target (here).

The network trains in float32 (the preprocessor's output) and predicts in
float64 (see ``_input_of``).

Randomness: one ``random_state`` draws, in this order, the periodic
features' seed, then for each ensemble member its validation split's seed
and its network's seed, so an int gives the same model on every fit with
the same thread count, and the first member of an ensemble is the model
fitted without one on the member's share of the threads.

Ensembles (``n_ensemble``) train their members on the same preprocessed
table, side by side in threads, each on a fixed share of the OpenMP threads
(``_train_side_by_side``); each differs by its held-out rows and its seed.
"""
import threading
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn import config_context, get_config
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (check_consistent_length, check_is_fitted, column_or_1d,
                                      validate_data)

from fastmlp import _engine, _label
from fastmlp._fitted_network import NOT_FIT_STATE
from fastmlp._saved_state import refuse_unreadable, with_defaults
from fastmlp._sklearn_compat import (ZERO_WEIGHTS_MESSAGE, Interval, StrOptions,
                                     _check_some_sample_weight, _fit_context)
from fastmlp._tabular_network import (TabularNetClassifier, TabularNetRegressor,
                                      embed_codes, embedding_col, embedding_init,
                                      network_input,
                                      periodic_linear_dim, periodic_linear_embed,
                                      periodic_linear_init)
from fastmlp._tabular_preprocessing import (TabularPreprocessor, _check_frame_shape,
                                            _is_dataframe, _read_columns, as_table,
                                            periodic_features)
from fastmlp._tabular_schedules import DECAY_SCHEDULES, LR_SCHEDULES
from fastmlp._temperature import fit_temperature, temper
from fastmlp._tuning import PREDICT_BLOCK_ROWS

# Fewer training rows than this: no validation split (best_epoch is ignored)
MIN_ROWS_FOR_VALIDATION = 20
# rows predicted at a time: bounds the preprocessed table and the network's
# float64 input (each rows x columns) of a large X.  A multiple of the
# engine's row blocks, so that every row stays in the block it has when X is
# predicted whole, and gets the same bits (a GEMM's edge rows may round
# differently, by an ulp)
PREDICT_ROWS = 256 * PREDICT_BLOCK_ROWS
# and fewer for a wide table: each of those two arrays' blocks stays within
# this (65,536 rows of a 2,000-column table's input were 9 GB); _predict_rows
PREDICT_BLOCK_BYTES = 256 << 20
# periodic_dim's default.  RealMLP-TD uses 3 (its PBLD's 4 columns per
# numeric column, the column itself among them); on the tuning tables (6
# splits) 3 measured 0.983 HistGB's error and 8 0.977, against 0.971 for 0
# (README, "Tables").
PERIODIC_DIM = 0
# n_bins's default: no piecewise-linear features.  By the rule of commit
# d15add0, 8 bins measured 0.946 and 0.947 HistGB's error on the tuning and
# small tables against 0.945 and 0.951 without, short of the 1.0% asked
# (README, "Tables").
N_BINS = 0
# max_one_hot's default: categorical columns with more categories than this
# are embedded (None: every column one-hot), as RealMLP-TD does.  On
# bench/tabular.py's five 'embedding' tables, 8 measured 0.994 HistGB's
# error against 1.056 for None, and on sacramento, the one tuning table with
# such a column, 0.299 against 0.304 (README, "Tables").
MAX_ONE_HOT = 8
# embedding_lr's default: at 1 the tables barely move from their N(0, 1)
# start at the network's rate (README, "Tables")
EMBEDDING_LR = 10.0
# max_iter's and n_ensemble's defaults: two members of 32 epochs, which
# train side by side (_train_side_by_side).  On the tuning tables (6 splits,
# one run) they measured 0.962 HistGB's error in 38.4 s of fitting, against
# 0.964 in 50.6 s for one member of 64 epochs (the defaults before
# 2026-12-05); one of 32: 0.968 in 26.5 s, two of 64: 0.953 in 74.7 s
# (README, "Tables").
MAX_ITER = 32
N_ENSEMBLE = 2
# hidden_layer_sizes's default: two layers of 128 (RealMLP-TD: three of
# 256).  A fit's time is the dense layers' GEMMs, which go as the width
# squared.  On the 14 tables of bench/tabular.py's 'tuning' and 'small'
# sets (6 splits each, one run per set) (128, 128) measured 0.9475
# HistGB's error in 18.1 s, (192, 192) 0.9514 in 28.7 s, (256, 256), the
# default before 2026-12-05's night, 0.9477 in 42.0 s; the rule fixed
# before the runs took the narrower within 0.5% (README, "Tables").
HIDDEN_LAYER_SIZES = (128, 128)
# max_steps's default: None, every table trains max_iter epochs.  On
# bench/tabular.py's five 'large' tables (22k-54k rows; no tuning table
# reaches 1024 steps a member) a cap of 2048 measured 1.026 HistGB's error
# and 1024 1.041, against 1.016 uncapped; the rule fixed before the run
# allowed 1% (README, "Tables").
MAX_STEPS = None
# min_steps's default: a small table trains at least 256 steps a member
# (RealMLP's 256 epochs give a table of 3 minibatches 768; 32 epochs 96).
# On the tuning tables (6 splits, one run) 256 measured 0.945 HistGB's
# error in 46.2 s against 0.962 in 37.6 s for 0 (512: 0.942 in 65.2 s);
# confirmed, by a rule fixed before the run, on six fresh small tables
# (bench/tabular.py's 'small' set): 0.952 against 0.960 (README, "Tables").
MIN_STEPS = 256
_SEED_BOUND = 2**31 - 1
# row weights whose largest is outside this range are rescaled to a largest
# of 1 before the float32 cast (_network_weights)
WEIGHT_RANGE = (1e-30, 1e30)
# the bounds of n_lr_cycles and periodic_scale (_COMMON_CONSTRAINTS)
MAX_LR_CYCLES = 64
MAX_PERIODIC_SCALE = 1e3

_COMMON_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions({"relu", "tanh", "logistic", "identity", "leaky_relu", "elu",
                               "softplus", "gelu", "silu"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "lr_schedule": [StrOptions(set(LR_SCHEDULES))],
    # 2**n_lr_cycles in the schedule; past ~30 a cycle is under one step anyway
    "n_lr_cycles": [Interval(Integral, 1, MAX_LR_CYCLES, closed="both")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "min_steps": [Interval(Integral, 0, None, closed="left")],
    "max_steps": [Interval(Integral, 1, None, closed="left"), None],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "weight_decay_schedule": [StrOptions(set(DECAY_SCHEDULES))],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "dropout_schedule": [StrOptions(set(DECAY_SCHEDULES))],
    "data_init": ["boolean"],
    "best_epoch": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "categorical_features": [StrOptions({"auto"}), "array-like"],
    "max_categories": [Interval(Integral, 1, None, closed="left")],
    "max_one_hot": [Interval(Integral, 1, None, closed="left"), None],
    "embedding_dim": [Interval(Integral, 1, None, closed="left")],
    "embedding_lr": [Interval(Real, 0, None, closed="neither")],
    "numeric_scaling": [StrOptions({"quantile", "robust", "both"})],
    "smooth_clip": ["boolean"],
    "add_missing_indicator": ["boolean"],
    "n_bins": [Interval(Integral, 0, None, closed="left")],
    "n_periodic": [Interval(Integral, 0, None, closed="left")],
    # the engine's cosine is exact to |argument| ~1e5 (_vtrig.h): a scale of
    # 1e3 reaches ~8e4 (3.09 scaled units, 4 sigma of N(0, 1) frequencies)
    "periodic_scale": [Interval(Real, 0, MAX_PERIODIC_SCALE, closed="right")],
    "learn_periodic": ["boolean"],
    "periodic_lr": [Interval(Real, 0, None, closed="neither")],
    "periodic_dim": [Interval(Integral, 0, None, closed="left")],
    "input_scale": ["boolean"],
    "input_scale_lr": [Interval(Real, 0, None, closed="neither")],
    "parametric_activation": ["boolean"],
    "parametric_activation_lr": [Interval(Real, 0, None, closed="neither")],
    "n_ensemble": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}

_SHARED_PARAMS_DOC = """\
hidden_layer_sizes : array-like of int, default={hidden}
    Width of each hidden layer.
activation : str, default='silu'
    Hidden activation (any of the drop-in MLP's).
learning_rate_init : float > 0, default={lr}
    Peak learning rate of AdamW.
lr_schedule : {{'multicycle', 'cosine', 'constant'}}, default='multicycle'
    Learning-rate factor over training, evaluated at each minibatch:
    'multicycle' is ``n_lr_cycles`` warm-up-and-anneal cycles, each twice
    as long as the one before (see ``fastmlp._tabular_schedules``).
n_lr_cycles : int in [1, 64], default=4
    Cycles of the 'multicycle' schedule.
max_iter : int >= 1, default={max_iter}
    Epochs. Training always runs them all (the schedules span them),
    unless ``min_steps`` makes them more or ``max_steps`` fewer.
min_steps : int >= 0, default={min_steps}
    The fewest optimizer steps (minibatches) per member, as epochs: a
    table of ``n_batches`` minibatches per epoch trains
    ``max(max_iter, ceil(min_steps / n_batches))`` epochs, so a small
    table gets as many steps as a larger one. 0: always ``max_iter``.
max_steps : int >= 1 or None, default={max_steps}
    The most optimizer steps (minibatches) per member, as epochs: a table
    of ``n_batches`` minibatches per epoch trains
    ``min(epochs, ceil(max_steps / n_batches))`` epochs, so a large
    table's fit stops growing with its rows (it wins over ``min_steps``).
    None: no cap.
batch_size : int >= 1, default=256
    Rows per minibatch (made the number of training rows when larger).
beta_1 : float in [0, 1), default=0.9
    AdamW's first-moment decay.
beta_2 : float in [0, 1), default=0.95
    AdamW's second-moment decay.
weight_decay : float >= 0, default={wd}
    AdamW's decoupled weight decay (on the weights, not the biases).
weight_decay_schedule : {{'flat_cosine', 'constant'}}, default='flat_cosine'
    Factor of ``weight_decay`` over training: 'flat_cosine' holds it for
    the first half and anneals it to 0 by a half cosine.
dropout : float in [0, 1), default=0.15
    Dropout rate of every hidden layer.
dropout_schedule : {{'flat_cosine', 'constant'}}, default='constant'
    Factor of ``dropout`` over training, per minibatch, as
    ``weight_decay_schedule``.
data_init : bool, default=True
    Set the first hidden layer's biases from the data, so that each unit's
    bend passes through a random training row (``b_k = -x_r @ W[:, k]``).
"""

_SPLIT_PARAMS_DOC = """\
best_epoch : bool, default=True
    Hold out ``validation_fraction`` of the rows (stratified for a
    classifier when every class has two rows), and keep the weights of the
    epoch that scores best on them. Needs at least 20 rows; with fewer, or
    when False, every row is trained on and the last epoch is kept.
validation_fraction : float in (0, 1), default=0.2
    Share of the rows held out when ``best_epoch`` is True.
categorical_features : 'auto' or array-like, default='auto'
    Which columns are categorical (see ``TabularPreprocessor``).
max_categories : int >= 1, default=32
    Most one-hot columns of one categorical column; rarer categories share
    an "infrequent" column.
max_one_hot : int >= 1 or None, default=8
    A categorical column with more categories than this is embedded
    instead of one-hot encoded: each of its categories (and missing) gets
    a learned row of ``embedding_dim`` values, which the first dense layer
    reads (the engine's embeddings; RealMLP embeds columns of more than 8
    categories).  Categories seen in only one training row share one row
    with those unseen in fit (zeros when no training row has it).  None
    one-hot encodes every column.  Fitted as the network's
    ``embeddings_``.
embedding_dim : int >= 1, default=8
    Width of each embedded column's rows.
embedding_lr : float > 0, default=10.0
    Learning rate of the embeddings, as a factor of ``learning_rate_init``.
numeric_scaling : {'quantile', 'robust', 'both'}, default='quantile'
    How numeric columns are scaled: 'quantile' maps each value's rank
    among the training values to a standard normal quantile (within
    +-3.09); 'robust' is RealMLP's ``(x - median) / IQR``; 'both' gives
    each numeric column twice, its quantile and, in a column of its own,
    its robust value (see ``TabularPreprocessor``).
smooth_clip : bool, default=True
    With 'robust' or 'both' scaling, smoothly clip the robust columns to
    about +-3.
add_missing_indicator : bool, default=True
    Add a 0/1 column for each numeric column with missing values in fit.
n_bins : int >= 0, default=0
    Piecewise-linear features ``clip((z - e_t) / (e_{t+1} - e_t), 0, 1)``
    added per numeric column (0: none), with the edges ``e_t`` at the
    standard normal quantiles of ``t / n_bins``: with 'quantile' scaling,
    each bin holds a ``1 / n_bins`` share of the training rows (see
    ``TabularPreprocessor``).
n_periodic : int >= 0, default=8
    Periodic features ``cos(f * z + p)`` added per numeric column (0: none),
    with random frequencies ``f`` drawn once per fit at scales spread from
    ``periodic_scale / 20`` to ``periodic_scale`` (see
    ``TabularPreprocessor``).
periodic_scale : float in (0, 1000], default=1.0
    Largest scale of the periodic features' frequencies, in units of the
    scaled column (about +-3 after smooth clipping).
learn_periodic : bool, default=True
    Learn the periodic features' frequencies and phases with the network
    (the engine's periodic input layer; the drawn ones start them). False
    keeps them as drawn.
periodic_lr : float > 0, default=5.0
    Learning rate of the periodic frequencies and phases (and of
    ``periodic_dim``'s linear layers), as a factor of ``learning_rate_init``.
periodic_dim : int >= 0, default=0
    With ``learn_periodic``, each numeric column's ``n_periodic`` cosines
    are mixed by the column's own learned linear layer into this many
    columns (RealMLP's PBLD), which the first dense layer reads; 0 feeds
    it the cosines themselves.  Fitted as the network's
    ``periodic_linear_coefs_`` and ``periodic_linear_intercepts_``.
input_scale : bool, default=False
    Learn a scale factor for each of the network's input columns, starting
    at 1 (RealMLP's diagonal scaling layer; the engine's input layer). Off
    by default: on the tables the defaults were chosen on it did not help
    (README, "Tables").
input_scale_lr : float > 0, default=6.0
    Its learning rate, as a factor of ``learning_rate_init``.
parametric_activation : bool, default=False
    Learn each hidden unit's activation as ``z + a * (act(z) - z)``, ``a``
    from 1 (RealMLP's parametric activations; the engine's parametric
    layers). Needs ``activation`` 'silu' or 'gelu'.
parametric_activation_lr : float > 0, default=1.0
    Learning rate of the ``a``, as a factor of ``learning_rate_init``.
n_ensemble : int >= 1, default=2
    Networks trained, each on its own validation split (when
    ``best_epoch``) and from its own seed, on the same preprocessing;
    predictions average their probabilities (classifier) or standardized
    outputs (regressor). With T OpenMP threads, the members train in
    rounds of up to T at once, each on T // (its round's size) threads. On
    2 cores fit takes about 0.7 ``n_ensemble`` times as long as one
    member's (two members at once, one on each core), predict
    ``n_ensemble`` times. The default, two members of 32 epochs, measured
    the error of one of 64 epochs in three quarters of its time (README,
    "Tables").
random_state : int, RandomState instance or None, default=None
    Seeds the periodic features, then each network's validation split and
    its seed (initialization, shuffles, dropout).
verbose : bool, default=False
    Print the network's progress each epoch (scikit-learn's lines; with
    ``n_ensemble > 1`` each starts with its member, ``member 1: ``, as the
    members train side by side).
"""

_SHARED_ATTRS_DOC = """\
preprocessor_ : TabularPreprocessor
    The fitted preprocessing.
network_ : MLPClassifier or MLPRegressor
    The fitted network (a private subclass with the recipe's schedules);
    with ``n_ensemble > 1``, the first member.
networks_ : list of MLPClassifier or MLPRegressor
    Every member of the ensemble (``[network_]`` without one).
n_features_in_ : int
    Number of columns seen in fit.
feature_names_in_ : ndarray of shape (n_features_in_,)
    Column names seen in fit, when they are all strings.
n_iter_ : int
    Epochs trained (by ``network_``, as are the three below).
best_epoch_ : int
    1-based epoch whose weights were kept: the latest of the epochs with
    the best validation score, as RealMLP (``n_iter_`` without a
    validation split). A NaN score is never the best; 0 (the initial
    weights) when no score is a number, after a fit that diverged.
loss_curve_ : list of float
    Training loss of each epoch.
validation_scores_ : list of float or None
    Validation score of each epoch (None without a validation split).
"""


def _network_input(pre, Xt, spec, embedding_dim, dtype=None):
    """The network's input for the preprocessor ``pre``'s output Xt, with
    or without its cosines (``_transform_columns``' ``periodic``), with the
    periodic layer ``spec`` (``network_input``)."""
    n_cos = Xt.shape[1] - (pre.n_features_out_ - pre.periodic_frequencies_.size)
    return network_input(Xt, spec, n_cos, pre.embedding_cards_.shape[0], embedding_dim,
                         dtype)


def _hidden(given):
    sizes = [given] if isinstance(given, Integral) else list(given)
    if not sizes or any(not isinstance(h, Integral) or h < 1 for h in sizes):
        # at least one layer: the first layer's data-dependent init needs it
        raise ValueError("hidden_layer_sizes must be one or more positive ints (the "
                         f"tabular networks have at least one hidden layer), got {given!r}.")
    return tuple(int(h) for h in sizes)


def _train_side_by_side(fit_one, plans, n_threads, stop=None):
    """``[fit_one(plan) for plan in plans]``, in rounds of up to
    ``n_threads`` running at once, each on ``n_threads // (its round's size)``
    OpenMP threads: 5 members on 2 threads train in two rounds of two on one
    thread each, then the fifth alone on two.

    A network of 256 units at batch 256 gains only ~1.45x from a second
    thread (one of 128 less), so two members side by side on one thread each
    train 1.3-1.4x faster than one after the other on two (2 cores,
    2026-12-05).  Each member's thread count is pinned
    (``_engine.pinned_threads``) and depends on ``n_threads`` and the number
    of members only, never on which members happened to overlap, so a fit
    stays deterministic for a thread count.  scikit-learn's configuration
    (per thread) is passed on.  The first failure (or a KeyboardInterrupt
    here, wherever it lands) sets ``stop``, a threading.Event that ends the
    running members within their epoch (``_engine.stopping_on``: signals
    reach only this thread), and is raised once they have stopped; later
    rounds do not start.  A member whose thread cannot start (interpreter
    shutdown: a fit from an atexit handler, or from a thread left running
    at exit) trains here, on the same pinned threads, so the same bits."""
    size = min(len(plans), n_threads)
    if size < 2:
        return [fit_one(plan) for plan in plans]
    stop = threading.Event() if stop is None else stop
    config = get_config()
    fitted = []
    for first in range(0, len(plans), size):
        group = plans[first:first + size]
        each = n_threads // len(group)
        out, failed = [None] * len(group), []
        began = [threading.Event() for _ in group]

        def member(k, plan, each=each, out=out, failed=failed, began=began):
            began[k].set()
            try:
                if stop.is_set():   # the fit ends: a thread that began late
                    return
                with config_context(**config), _engine.pinned_threads(each), \
                        _engine.stopping_on(stop):
                    out[k] = fit_one(plan)
            except BaseException as e:
                failed.append(e)   # the first to fail is raised
                stop.set()

        threads = []   # (k, thread): listed before its start, which Ctrl-C may cut short
        try:
            for k, plan in enumerate(group):
                threads.append((k, threading.Thread(target=member, args=(k, plan),
                                                    name=f"fastmlp-member-{first + k}")))
                try:
                    threads[-1][1].start()
                except RuntimeError:   # "can't start new thread", at shutdown
                    threads.pop()
                    member(k, plan)
            for _, thread in threads:
                thread.join()
        except BaseException:
            stop.set()
            # the members that began end within their epoch; one whose
            # thread begins after this sees stop and returns at once
            for k, thread in threads:
                if began[k].is_set():
                    thread.join()
            raise
        if failed:
            raise failed[0]
        fitted += out
    return fitted


def _epochs(max_iter, min_steps, max_steps, n_batches):
    """Epochs of a member with ``n_batches`` minibatches per epoch: max_iter,
    or more when fewer would take under ``min_steps`` steps, then fewer when
    more would take over ``max_steps`` (at least one)."""
    epochs = max(max_iter, -(-int(min_steps) // n_batches))
    if max_steps is None:
        return epochs
    return max(1, min(epochs, -(-int(max_steps) // n_batches)))


def _kept_epoch(scores):
    """The 1-based epoch whose weights the network kept: the latest of the
    tied best validation scores, NaN never the best; 0 (the initial
    weights) when no score is a number."""
    s = np.asarray(scores, dtype=np.float64)
    s = np.where(np.isnan(s), -np.inf, s)
    if not (s > -np.inf).any():
        return 0
    return len(s) - int(np.argmax(s[::-1]))


def _checked_finite():
    """Where y and sample_weight are checked: finite whatever
    ``assume_finite`` says. A NaN there reaches every network (a regressor
    fitted to predict NaN everywhere, a NaN weight trained as 0), where
    scikit-learn's MLPs fail after training; the check costs a pass over a
    column."""
    return config_context(assume_finite=False)


def _row_weights(sample_weight, X):
    """scikit-learn's checks of sample_weight (length, finite, not all 0),
    in float64 as HistGradientBoosting's (a float32 cast first made 1e39
    'infinity' and 1e-46 all zeros); None stays None."""
    if sample_weight is None:
        return None
    with _checked_finite():
        return _check_some_sample_weight(sample_weight, X, dtype=np.float64)


def _in_weight_range(weights):
    """Whether the largest row weight's magnitude is within WEIGHT_RANGE
    (the weights are kept as they are)."""
    return WEIGHT_RANGE[0] <= np.abs(weights).max() <= WEIGHT_RANGE[1]


def _network_weights(weights):
    """The row weights in the networks' float32: as they are when the
    largest magnitude is within WEIGHT_RANGE, else divided by it (the fit
    does not depend on their scale; a magnitude keeps negative weights
    negative); None stays None.  (All zero was refused by the checks.)"""
    if weights is None:
        return None
    if not _in_weight_range(weights):
        weights = weights / np.abs(weights).max()
    return weights.astype(np.float32)


def _predict_rows(row_bytes):
    """Rows predicted at a time when a row of the larger of the two arrays
    takes ``row_bytes``: PREDICT_ROWS, or fewer to keep a block within
    PREDICT_BLOCK_BYTES; a multiple of the engine's row blocks either way."""
    rows = PREDICT_BLOCK_BYTES // max(int(row_bytes), 1)
    return max(PREDICT_BLOCK_ROWS, min(PREDICT_ROWS, rows - rows % PREDICT_BLOCK_ROWS))


def _mean_std(Y):
    """Each column's mean and standard deviation, as NumPy's, computed on
    the column over its largest magnitude where that is beyond 1e150 or
    below 1e-150: the squares of |y| > 1e154 overflow (std inf, predictions
    inf) and those of |y| < 1e-162 underflow (std 0, nothing learnt).  Each
    column is summed as one contiguous run, whatever Y's memory order (NumPy
    sums a C-order Y's columns row by row, a 1-D or F-order one pairwise: the
    same targets gave other bits)."""
    Y = np.asfortranarray(Y)
    with np.errstate(over="ignore", invalid="ignore"):   # those columns are redone
        mean, std = Y.mean(axis=0), Y.std(axis=0)
    size = np.abs(Y).max(axis=0)
    odd = (size > 1e150) | ((size < 1e-150) & (size > 0))
    if odd.any():
        s = size[odd]
        mean[odd] = (Y[:, odd] / s).mean(axis=0) * s
        std[odd] = (Y[:, odd] / s).std(axis=0) * s
    return mean, std


def _standardized(Y, mean, scale):
    """``(Y - mean) / scale``, with ``Y - mean`` on halves where it
    overflows (a target whose range is past the largest float)."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = (Y - mean) / scale
        far = np.isinf(out)
        if far.any():
            out[far] = ((Y / 2 - mean / 2) / scale * 2)[far]
    return out


def _stops_on(event, net):
    """Make ``net`` end its training at an epoch's end once ``event`` is set
    (a callback after any it has); returns its callbacks as they were."""
    saved = net.callbacks
    callbacks = [] if saved is None else (
        list(saved) if isinstance(saved, (list, tuple)) else [saved])
    net.set_params(callbacks=callbacks + [lambda est, history: event.is_set()])
    return saved


class _BaseTabularMLP(BaseEstimator):
    """Shared fit: preprocess, hold out, train, record."""

    # what a model saved before these parameters existed did, where it is
    # not their default (_saved_state.with_defaults): no floor on the steps
    _SAVED_BEFORE = {"min_steps": 0}

    def __setstate__(self, state):
        # saved by an earlier fastmlp (_saved_state): parameters added since
        # at what it did, the models of before the ensembles refused
        state = with_defaults(type(self), state)
        refuse_unreadable(type(self), state, "preprocessor_", ("networks_",))
        super().__setstate__(state)

    def _fit_preprocessor(self, X, y, rng):
        """(fitted preprocessor, the networks' input for X: its float
        matrix, without the cosines the engine computes, in the engine's
        order, ``_network_input``), once y's length is checked against X's
        (scikit-learn's message, before any work).  The matrix is an array
        whatever ``transform_output`` the user's configuration sets: the
        networks index it by rows."""
        check_consistent_length(X, y)
        pre = self._make_preprocessor(rng.randint(_SEED_BOUND))
        cols = pre._fit_columns(X)
        spec = self._periodic_spec(pre)
        Xt = pre._transform_columns(cols, periodic=spec is None)
        del cols
        return pre, _network_input(pre, Xt, spec, int(self.embedding_dim))

    def _make_preprocessor(self, seed):
        return TabularPreprocessor(
            categorical_features=self.categorical_features,
            max_categories=self.max_categories, max_one_hot=self.max_one_hot,
            numeric_scaling=self.numeric_scaling,
            smooth_clip=self.smooth_clip,
            add_missing_indicator=self.add_missing_indicator, n_bins=self.n_bins,
            n_periodic=self.n_periodic, periodic_scale=self.periodic_scale,
            random_state=seed, dtype=np.float32)

    def _make_network(self, network_class, seed, label_smoothing=0.0):
        # the batch size and the epochs depend on the member's training rows:
        # _fit_network sets them
        net = network_class(
            hidden_layer_sizes=_hidden(self.hidden_layer_sizes), activation=self.activation,
            solver="adamw", alpha=0.0,
            learning_rate="constant", learning_rate_init=float(self.learning_rate_init),
            shuffle=True, random_state=seed,
            tol=0.0, verbose=self.verbose, beta_1=self.beta_1, beta_2=self.beta_2,
            weight_decay=self.weight_decay, dropout=float(self.dropout),
        )
        net._recipe = {
            "lr_schedule": self.lr_schedule,
            "n_lr_cycles": int(self.n_lr_cycles),
            "weight_decay_schedule": self.weight_decay_schedule,
            "dropout_schedule": self.dropout_schedule,
            "label_smoothing": float(label_smoothing),
        }
        return net

    def _split(self, n_samples, y, rng, stratify):
        """(train rows, validation rows) or (None, None)."""
        seed = rng.randint(_SEED_BOUND)
        if not self.best_epoch or n_samples < MIN_ROWS_FOR_VALIDATION:
            return None, None
        if stratify:
            _, counts = np.unique(y, return_counts=True)
            n_val = int(np.ceil(self.validation_fraction * n_samples))
            if counts.min() < 2 or n_val < counts.shape[0] \
                    or n_samples - n_val < counts.shape[0]:
                stratify = False
        rows = np.arange(n_samples)
        train, val = train_test_split(rows, test_size=self.validation_fraction,
                                      random_state=seed, stratify=y if stratify else None)
        if y is not None:
            # a class seen only in the held-out rows is trained on instead
            unseen = ~np.isin(y[val], y[train])
            if unseen.any():
                train = np.concatenate([train, val[unseen]])
                val = val[~unseen]
            if val.shape[0] < 2:
                return None, None
        return train, val

    def _periodic_spec(self, pre):
        """The engine's periodic layer for this fit: None (the preprocessor's
        cosines go in as they are), (n_numeric, n_periodic), or with
        periodic_dim (n_numeric, n_periodic, periodic_dim)."""
        if not (self.learn_periodic and pre.periodic_frequencies_.size):
            return None
        spec = pre.periodic_frequencies_.shape
        return spec + (int(self.periodic_dim),) if self.periodic_dim else spec

    def _fit_network(self, net, pre, Xt, target, train, val, spec, sample_weight=None):
        """Train one member on Xt[train] (all rows when train is None),
        keeping its best epoch on Xt[val] (none when val is None); Xt is the
        network's input (``_network_input``) for the periodic layer ``spec``."""
        n_train = Xt.shape[0] if train is None else train.shape[0]
        batch_size = min(int(self.batch_size), n_train)
        epochs = _epochs(int(self.max_iter), self.min_steps, self.max_steps,
                         -(-n_train // batch_size))
        net.set_params(batch_size=batch_size, max_iter=epochs, n_iter_no_change=epochs + 1)
        if spec is not None:
            # the engine learns the drawn frequencies and phases, and the
            # linear layers drawn from the network's seed (_tabular_network)
            net._periodic = spec
            net._periodic_init = (pre.periodic_frequencies_, pre.periodic_phases_,
                                  *periodic_linear_init(spec, net.random_state))
            net._periodic_lr = float(self.periodic_lr)
        cards = pre.embedding_cards_
        if cards.shape[0]:
            net._embedding = (tuple(int(c) for c in cards), int(self.embedding_dim))
            net._embedding_init = embedding_init(cards, self.embedding_dim, net.random_state)
            net._embedding_lr = float(self.embedding_lr)
        if self.input_scale:
            net._input_scale = True
            net._input_scale_lr = float(self.input_scale_lr)
        if self.parametric_activation:
            net._parametric = True
            net._parametric_lr = float(self.parametric_activation_lr)
        if self.data_init:
            # one training row per first-layer unit, from the network's seed
            # (its own stream: the network's draws are the drop-in's)
            pick = np.random.RandomState(net.random_state).randint(
                n_train, size=_hidden(self.hidden_layer_sizes)[0])
            net._init_rows = rows = Xt[pick if train is None else train[pick]]
            d = periodic_linear_dim(spec)
            if spec is not None and not d:
                # the cosines the engine computes, which Xt leaves out
                n_cos = pre.periodic_frequencies_.size
                rows[:, rows.shape[1] - n_cos:] = periodic_features(
                    rows[:, :spec[0]], pre.periodic_frequencies_, pre.periodic_phases_,
                    rows.dtype)
            if d:
                # the rows as the first layer sees them at the start
                rows[:, rows.shape[1] - spec[0] * d:] = periodic_linear_embed(
                    rows[:, :spec[0]], *net._periodic_init)
            if cards.shape[0]:
                net._init_rows = embed_codes(
                    rows, embedding_col(rows.shape[1], spec, cards.shape[0],
                                        int(self.embedding_dim)), net._embedding_init)
        sw = sample_weight
        if val is None:   # no held-out split: every row, or those of weight > 0
            net.set_params(early_stopping=False)
            rows = slice(None) if train is None else train
            net.fit(Xt[rows], target[rows], sample_weight=None if sw is None else sw[rows])
        else:
            # the member trains on rows `train` of Xt in place and holds out
            # `val` (_split_validation): a copy of Xt[train] took as much
            # memory as Xt, per member training at once
            net.set_params(early_stopping=True, scoring=self._validation_scoring)
            net._rows = (np.asarray(train, dtype=np.intp), np.asarray(val, dtype=np.intp))
            try:
                net.fit(Xt, target, sample_weight=sw)
            finally:
                del net._rows
        return net

    def _held_out_fitted(self, net, Xt, target, val, sample_weight):
        """What a trained member learns from its held-out rows ``val`` of
        Xt: nothing here (the classifier's temperature).  Called once every
        member has trained, one after the other: a member's predict while
        another trains would get a share of the threads that depends on
        timing."""

    def _fit_members(self, network_class, pre, Xt, target, split_y, rng, sample_weight,
                     label_smoothing=0.0):
        """The ensemble's networks, on Xt, the networks' input
        (``_fit_preprocessor``): member k draws its own validation split
        and network seed from rng, in that order (so one member is the
        estimator without an ensemble)."""
        plans = []
        spec = self._periodic_spec(pre)
        # a row of weight 0 is left out, as if removed (scikit-learn's
        # meaning): kept, it could fill a minibatch or the held-out rows with
        # weights that sum to 0
        rows = classes = None
        if sample_weight is not None and not sample_weight.all():
            rows = np.flatnonzero(sample_weight)
            if split_y is not None:   # also those left with no row
                classes = np.unique(split_y)
        for k in range(int(self.n_ensemble)):
            n = Xt.shape[0] if rows is None else rows.shape[0]
            y = split_y if rows is None or split_y is None else split_y[rows]
            train, val = self._split(n, y, rng, stratify=split_y is not None)
            if rows is not None:   # back to the table's rows
                train, val = rows if train is None else rows[train], \
                    None if val is None else rows[val]
            net = self._make_network(network_class, rng.randint(_SEED_BOUND),
                                     label_smoothing)
            if classes is not None:
                net._classes = classes
            if self.verbose and self.n_ensemble > 1:
                net._say_prefix = f"member {k + 1}: "   # their lines interleave
            plans.append((net, train, val))
        stop = threading.Event()  # a failed member ends the others early
        saved = [_stops_on(stop, net) for net, _, _ in plans]
        try:
            # no ConvergenceWarning at the epoch budget: _warns_at_max_iter
            fitted = _train_side_by_side(
                lambda plan: self._fit_network(plan[0], pre, Xt, target, *plan[1:], spec,
                                               sample_weight),
                plans, _engine.fit_threads(), stop)
        except BaseException:
            # members still running (a second Ctrl-C while they finished
            # their epoch) keep the stop callback and end at their epoch's end
            stop.set()
            raise
        # the fitted networks pickle: no event, no lambda left in them
        for (net, _, _), callbacks in zip(plans, saved):
            net.set_params(callbacks=callbacks)
            net.__dict__.pop("_classes", None)  # now classes_
            net.__dict__.pop("_say_prefix", None)
        for net, _, val in plans:
            if val is not None:
                self._held_out_fitted(net, Xt, target, val, sample_weight)
        return fitted

    def _fit_or_restore(self, X, y, sample_weight):
        """``_fit_table``, or on any error the fitted state as it was (fit
        builds new objects and never changes the old ones in place, so
        keeping references is enough)."""
        keep = set(self._get_param_names()) | NOT_FIT_STATE   # scikit-learn's own
        saved = {k: v for k, v in self.__dict__.items() if k not in keep}
        try:
            return self._fit_table(X, y, sample_weight)
        except BaseException:
            for key in [k for k in self.__dict__ if k not in keep]:
                del self.__dict__[key]
            self.__dict__.update(saved)
            raise

    def _set_fitted(self, pre, members):
        """Fitted attributes, set only once every member has trained, so a
        fit that fails leaves a fitted estimator as it was."""
        net = members[0]
        self.preprocessor_ = pre
        self.networks_ = members
        self.network_ = net
        self.n_iter_ = net.n_iter_
        self.loss_curve_ = list(net.loss_curve_)
        scores = net.validation_scores_
        self.validation_scores_ = None if scores is None else list(scores)
        self.best_epoch_ = _kept_epoch(scores) if scores else net.n_iter_
        diverged = [k for k, m in enumerate(members) if not np.isfinite(m.loss_curve_).all()]
        if diverged:
            # on a held-out split a member keeps its best epoch before the
            # loss became NaN (scikit-learn's early stopping); said, not silent
            first = int(np.argmin(np.isfinite(members[diverged[0]].loss_curve_))) + 1
            warnings.warn(
                f"Training diverged in {len(diverged)} of {len(members)} network(s): the "
                f"training loss became non-finite (the first from epoch {first}); each "
                "keeps its best epoch before that. Lower learning_rate_init "
                f"({self.learning_rate_init}) to train further.", ConvergenceWarning)

    def _member_output(self, k, method, Xt):
        """Member k's output, ``method`` of its network (the classifier
        tempers its probabilities)."""
        return getattr(self.networks_[k], method)(Xt)

    def _members_mean(self, method, Xt):
        """The members' outputs (``_member_output``), averaged."""
        outs = [self._member_output(k, method, Xt) for k in range(len(self.networks_))]
        if len(outs) == 1:
            return outs[0]
        total = outs[0].astype(np.float64)
        for out in outs[1:]:
            total += out
        return total / len(outs)

    def _check_table(self, X, reset):
        """n_features_in_ and feature names, after a non-DataFrame is made a
        2-D array (scikit-learn's errors for 1-D, empty, sparse, complex);
        another library's DataFrame is made pandas (``as_table``)."""
        X = as_table(X)
        if _is_dataframe(X):
            _check_frame_shape(X, type(self).__name__)
        else:
            X = check_array(X, dtype=None, ensure_all_finite=False, estimator=self)
            if X.dtype.kind == "c":
                raise ValueError("Complex data not supported.")
        validate_data(self, X, skip_check_array=True, reset=reset)
        return X

    def _check_y(self, y):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        return y

    def _columns(self, X):
        # names checked once, here (the preprocessor's are the same)
        return _read_columns(self._check_table(X, reset=False), self)[0]

    def _input_of(self, cols):
        """The network's input for the table's columns ``cols``, in float64:
        the network trains in float32, but predicts in float64 so that a
        row's prediction depends on the rows beside it by float64 rounding at
        most (~1e-16 relative; a lone row takes GEMV's path): float32 GEMM
        blocking rounds a row differently by its place in the batch, ~1e-7."""
        spec = self.network_.__dict__.get("_periodic")
        Xt = self.preprocessor_._transform_columns(cols, periodic=spec is None)
        emb = self.network_.__dict__.get("_embedding")
        return _network_input(self.preprocessor_, Xt, spec, 0 if emb is None else emb[1],
                              np.float64)

    def _output(self, X, method):
        """The members' ``method`` outputs for X, averaged (``method`` None:
        ones, after the same checks), ``_predict_rows`` rows at a time:
        the preprocessed table and the network's input are each (rows x
        columns), 1-2 GB for a million rows of a wide table, where a block
        bounds them, and being a multiple of the engine's row blocks keeps
        the whole X's bits."""
        check_is_fitted(self, "network_")
        cols = self._columns(X)
        n = cols[0].shape[0]
        pre = self.preprocessor_
        step = _predict_rows(max(8 * self.network_.coefs_[0].shape[0],   # float64
                                 np.dtype(pre.dtype).itemsize * pre.n_features_out_))
        blocks = []
        for r0 in range(0, n, step):
            Xt = self._input_of([c[r0:r0 + step] for c in cols])
            blocks.append(np.ones((Xt.shape[0], 1)) if method is None
                          else self._members_mean(method, Xt))
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.non_deterministic = False
        return tags


class TabularMLPClassifier(ClassifierMixin, _BaseTabularMLP):
    __doc__ = """An MLP classifier with defaults made for tables.

    A table (a pandas DataFrame, or an array, numeric or object) goes in as
    it is: numeric columns with missing values, and categorical columns
    (pandas category, object, string or bool), with categories unseen in
    fit accepted at predict.  ``TabularPreprocessor`` turns it into numbers,
    and a fastmlp network trained with parts of the RealMLP recipe
    (Holzmueller, Grinsztajn and Steinwart, 2024) classifies it: AdamW with
    ``beta_2 = 0.95``, a multi-cycle learning rate, a flat-then-cosine weight
    decay, dropout, label smoothing, and the best epoch on a held-out split.
    Each piece is a parameter, so a grid search can turn it off.

    Parameters
    ----------
""" + "\n".join("    " + line if line else "" for line in (
        _SHARED_PARAMS_DOC.format(lr="0.002", hidden=HIDDEN_LAYER_SIZES, max_iter=MAX_ITER,
                                  min_steps=MIN_STEPS, max_steps=MAX_STEPS, wd="0.02")
        + """\
label_smoothing : float in [0, 1), default=0.1
    Train on ``(1 - eps) * y + eps / n_classes`` instead of one-hot ``y``.
temperature_scaling : bool, default=True
    After training, divide each network's logits by the temperature that
    makes its probabilities on its held-out rows the most likely (in
    ``[0.1, 10]``; Guo et al., 2017). Label smoothing keeps probabilities
    away from 0 and 1; this undoes it for ``predict_proba`` (log loss,
    rare classes). A network's predicted classes do not change; the
    average of an ensemble's members can, where they disagree. Needs
    ``best_epoch`` (the held-out rows) with every class among a member's
    held-out rows; else that member's temperature is 1.
class_weight : dict, 'balanced' or None, default=None
    Weights of the classes, multiplying ``sample_weight``: a dict
    ``{class: weight}`` (a class not in it weighs 1), or 'balanced',
    ``n_samples / (n_classes * count of the class)``, as
    HistGradientBoostingClassifier's.
""" + _SPLIT_PARAMS_DOC).splitlines()) + """

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, in the order of ``predict_proba``'s columns.
    temperatures_ : ndarray of shape (n_ensemble,)
        Each network's temperature (``temperature_scaling``; 1: its own
        probabilities). ``predict_proba`` averages the networks'
        ``softmax(log(p) / T)``.
""" + "\n".join("    " + line if line else "" for line in _SHARED_ATTRS_DOC.splitlines()) + """

    See Also
    --------
    TabularMLPRegressor : The same recipe, for regression.
    MLPClassifier : The drop-in for scikit-learn's MLPClassifier.
    TabularPreprocessor : The preprocessing, on its own.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlp import TabularMLPClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.empty((200, 2), dtype=object)
    >>> X[:, 0] = rng.normal(size=200)
    >>> X[:, 1] = rng.choice(["red", "green", None], size=200)
    >>> y = (X[:, 0].astype(float) > 0) ^ (X[:, 1] == "red")
    >>> clf = TabularMLPClassifier(hidden_layer_sizes=(32,), max_iter=60,
    ...                            batch_size=32, learning_rate_init=0.01,
    ...                            random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    >>> clf.predict(np.array([[1.0, "purple"]], dtype=object)).shape
    (1,)
    """

    _parameter_constraints: dict = {
        **_COMMON_CONSTRAINTS,
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "temperature_scaling": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }
    _validation_scoring = None  # accuracy, as RealMLP selects on the error

    def __init__(self, hidden_layer_sizes=HIDDEN_LAYER_SIZES, activation="silu", *,
                 learning_rate_init=0.002, lr_schedule="multicycle", n_lr_cycles=4,
                 max_iter=MAX_ITER, min_steps=MIN_STEPS, max_steps=MAX_STEPS,
                 batch_size=256, beta_1=0.9, beta_2=0.95, weight_decay=0.02,
                 weight_decay_schedule="flat_cosine", dropout=0.15,
                 dropout_schedule="constant", data_init=True,
                 label_smoothing=0.1, temperature_scaling=True, class_weight=None,
                 best_epoch=True, validation_fraction=0.2, categorical_features="auto",
                 max_categories=32, max_one_hot=MAX_ONE_HOT, embedding_dim=8,
                 embedding_lr=EMBEDDING_LR, numeric_scaling="quantile", smooth_clip=True,
                 add_missing_indicator=True, n_bins=N_BINS,
                 n_periodic=8, periodic_scale=1.0, learn_periodic=True, periodic_lr=5.0,
                 periodic_dim=PERIODIC_DIM, input_scale=False, input_scale_lr=6.0,
                 parametric_activation=False,
                 parametric_activation_lr=1.0, n_ensemble=N_ENSEMBLE,
                 random_state=None, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate_init = learning_rate_init
        self.lr_schedule = lr_schedule
        self.n_lr_cycles = n_lr_cycles
        self.max_iter = max_iter
        self.min_steps = min_steps
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.weight_decay = weight_decay
        self.weight_decay_schedule = weight_decay_schedule
        self.dropout = dropout
        self.dropout_schedule = dropout_schedule
        self.data_init = data_init
        self.label_smoothing = label_smoothing
        self.temperature_scaling = temperature_scaling
        self.class_weight = class_weight
        self.best_epoch = best_epoch
        self.validation_fraction = validation_fraction
        self.categorical_features = categorical_features
        self.max_categories = max_categories
        self.max_one_hot = max_one_hot
        self.embedding_dim = embedding_dim
        self.embedding_lr = embedding_lr
        self.numeric_scaling = numeric_scaling
        self.smooth_clip = smooth_clip
        self.add_missing_indicator = add_missing_indicator
        self.n_bins = n_bins
        self.n_periodic = n_periodic
        self.periodic_scale = periodic_scale
        self.learn_periodic = learn_periodic
        self.periodic_lr = periodic_lr
        self.periodic_dim = periodic_dim
        self.input_scale = input_scale
        self.input_scale_lr = input_scale_lr
        self.parametric_activation = parametric_activation
        self.parametric_activation_lr = parametric_activation_lr
        self.n_ensemble = n_ensemble
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the preprocessing and the network.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The table.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the training loss and in the held-out
            score that picks the best epoch (None: all 1); a row of weight
            0 is left out of both, as if removed (a class whose rows all
            weigh 0 stays among ``classes_``, as HistGradientBoosting's,
            and the networks learn to give it a low probability). The preprocessing
            (quantiles, medians, categories) is unweighted.

        Returns
        -------
        self : TabularMLPClassifier
        """
        return self._fit_or_restore(X, y, sample_weight)

    def _fit_table(self, X, y, sample_weight):
        X = self._check_table(X, reset=True)
        # NaN among labels: scikit-learn's message (HistGradientBoosting's)
        with _checked_finite():
            y = check_array(column_or_1d(self._check_y(y), warn=True), ensure_2d=False,
                            dtype=None, input_name="y")
        check_classification_targets(y)
        rng = check_random_state(self.random_state)
        pre, Xt = self._fit_preprocessor(X, y, rng)
        weights = _network_weights(self._class_weighted(_row_weights(sample_weight, X), y))
        members = self._fit_members(TabularNetClassifier, pre, Xt, y, y, rng, weights,
                                    self.label_smoothing)
        self._set_fitted(pre, members)
        self.classes_ = members[0].classes_
        self.temperatures_ = np.array([net.__dict__.pop("_temperature", 1.0)
                                       for net in members])
        return self

    def _held_out_fitted(self, net, Xt, target, val, sample_weight):
        """The member's temperature (``_temperature``): the one that makes
        its probabilities on its held-out rows the most likely; in float64,
        as predict computes them."""
        if self.temperature_scaling:
            proba = net.predict_proba(Xt[val].astype(np.float64))
            net._temperature = fit_temperature(
                proba, np.searchsorted(net.classes_, target[val]),
                None if sample_weight is None else sample_weight[val])

    # and pickled before temperature scaling, its probabilities are its
    # networks' own, which the parameter False says
    _SAVED_BEFORE = {**_BaseTabularMLP._SAVED_BEFORE, "temperature_scaling": False}

    def _member_output(self, k, method, Xt):
        out = super()._member_output(k, method, Xt)
        temperatures = getattr(self, "temperatures_", None)   # None: pickled before them
        if method != "predict_proba" or temperatures is None:
            return out
        return temper(out, temperatures[k])

    def _class_weighted(self, sample_weight, y):
        """sample_weight (None: ones) times each row's class weight; as it
        is without class_weight."""
        if self.class_weight is None:
            return sample_weight
        classes, of_row = np.unique(y, return_inverse=True)
        per_row = _label.class_weights(self.class_weight, classes, y)[of_row]
        product = per_row if sample_weight is None else sample_weight * per_row
        if not product.any():
            raise ValueError("class_weight gives every sample a weight of 0: "
                             + ZERO_WEIGHTS_MESSAGE)
        if _in_weight_range(per_row) and _in_weight_range(product) and (
                sample_weight is None or _in_weight_range(sample_weight)):
            # the product of the float32 factors, as before weights were checked
            # in float64 (the same fits); past float32's range, the float64
            # product, which _network_weights scales (1e-50 was 0, 1e40 inf)
            per_row = per_row.astype(np.float32)
            return per_row if sample_weight is None else \
                sample_weight.astype(np.float32) * per_row
        return product

    def predict(self, X):
        """Predicted class of each row.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_proba(self, X):
        """Probability of each class, in ``classes_`` order.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "network_")
        # one class seen in fit: it is every row's, with probability 1 (the
        # members' two columns would not match classes_)
        return self._output(X, None if self.classes_.shape[0] == 1 else "predict_proba")

    def predict_log_proba(self, X):
        """Log of ``predict_proba``, as the drop-in's.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)


class TabularMLPRegressor(RegressorMixin, _BaseTabularMLP):
    __doc__ = """An MLP regressor with defaults made for tables.

    Takes the same tables as ``TabularMLPClassifier``, and trains with the
    same parts of the RealMLP recipe, on a standardized target whose
    predictions are clipped to the range seen in fit.

    Parameters
    ----------
""" + "\n".join("    " + line if line else "" for line in (
        _SHARED_PARAMS_DOC.format(lr="0.001", hidden=HIDDEN_LAYER_SIZES, max_iter=MAX_ITER,
                                  min_steps=MIN_STEPS, max_steps=MAX_STEPS, wd="0.02")
        + """\
standardize_target : bool, default=True
    Train on ``(y - mean) / std`` and map predictions back.
clip_output : bool, default=True
    Clip predictions to each target's range in fit.
""" + _SPLIT_PARAMS_DOC).splitlines()) + """

    Attributes
    ----------
    y_mean_, y_scale_ : ndarray of shape (n_outputs,)
        Mean and scale that standardized the target (0 and 1 when off).
    y_min_, y_max_ : ndarray of shape (n_outputs,)
        Range of each target in fit.
""" + "\n".join("    " + line if line else "" for line in _SHARED_ATTRS_DOC.splitlines()) + """

    See Also
    --------
    TabularMLPClassifier : The same recipe, for classification.
    MLPRegressor : The drop-in for scikit-learn's MLPRegressor.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlp import TabularMLPRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 3))
    >>> y = 100 + 10 * X[:, 0] + 5 * np.sin(X[:, 1])
    >>> reg = TabularMLPRegressor(hidden_layer_sizes=(64,), max_iter=40,
    ...                           batch_size=32, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **_COMMON_CONSTRAINTS,
        "standardize_target": ["boolean"],
        "clip_output": ["boolean"],
    }
    _validation_scoring = "loss"  # squared error of the standardized target

    def __init__(self, hidden_layer_sizes=HIDDEN_LAYER_SIZES, activation="silu", *,
                 learning_rate_init=0.001, lr_schedule="multicycle", n_lr_cycles=4,
                 max_iter=MAX_ITER, min_steps=MIN_STEPS, max_steps=MAX_STEPS,
                 batch_size=256, beta_1=0.9, beta_2=0.95, weight_decay=0.02,
                 weight_decay_schedule="flat_cosine", dropout=0.15,
                 dropout_schedule="constant", data_init=True,
                 standardize_target=True,
                 clip_output=True, best_epoch=True, validation_fraction=0.2,
                 categorical_features="auto", max_categories=32,
                 max_one_hot=MAX_ONE_HOT, embedding_dim=8, embedding_lr=EMBEDDING_LR,
                 numeric_scaling="quantile", smooth_clip=True,
                 add_missing_indicator=True, n_bins=N_BINS, n_periodic=8, periodic_scale=1.0,
                 learn_periodic=True, periodic_lr=5.0, periodic_dim=PERIODIC_DIM,
                 input_scale=False, input_scale_lr=6.0, parametric_activation=False,
                 parametric_activation_lr=1.0, n_ensemble=N_ENSEMBLE, random_state=None,
                 verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate_init = learning_rate_init
        self.lr_schedule = lr_schedule
        self.n_lr_cycles = n_lr_cycles
        self.max_iter = max_iter
        self.min_steps = min_steps
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.weight_decay = weight_decay
        self.weight_decay_schedule = weight_decay_schedule
        self.dropout = dropout
        self.dropout_schedule = dropout_schedule
        self.data_init = data_init
        self.standardize_target = standardize_target
        self.clip_output = clip_output
        self.best_epoch = best_epoch
        self.validation_fraction = validation_fraction
        self.categorical_features = categorical_features
        self.max_categories = max_categories
        self.max_one_hot = max_one_hot
        self.embedding_dim = embedding_dim
        self.embedding_lr = embedding_lr
        self.numeric_scaling = numeric_scaling
        self.smooth_clip = smooth_clip
        self.add_missing_indicator = add_missing_indicator
        self.n_bins = n_bins
        self.n_periodic = n_periodic
        self.periodic_scale = periodic_scale
        self.learn_periodic = learn_periodic
        self.periodic_lr = periodic_lr
        self.periodic_dim = periodic_dim
        self.input_scale = input_scale
        self.input_scale_lr = input_scale_lr
        self.parametric_activation = parametric_activation
        self.parametric_activation_lr = parametric_activation_lr
        self.n_ensemble = n_ensemble
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the preprocessing and the network.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The table.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Numeric targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the training loss and in the held-out
            score that picks the best epoch (None: all 1); a row of weight
            0 is left out of both, as if removed. The preprocessing
            (quantiles, medians, categories) is unweighted.

        Returns
        -------
        self : TabularMLPRegressor
        """
        return self._fit_or_restore(X, y, sample_weight)

    def _fit_table(self, X, y, sample_weight):
        X = self._check_table(X, reset=True)
        with _checked_finite():
            y = check_array(self._check_y(y), ensure_2d=False, dtype=np.float64,
                            input_name="y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        rng = check_random_state(self.random_state)
        pre, Xt = self._fit_preprocessor(X, y, rng)
        Y = y.reshape(y.shape[0], -1)
        weights = _row_weights(sample_weight, X)
        # the targets' scale and range, of the rows the fit keeps: a row of
        # weight 0 is left out, as if removed (its target a sentinel, 1e6,
        # took the test R^2 from 0.996 to -10,486)
        kept = Y if weights is None or weights.all() else Y[weights != 0]
        if self.standardize_target:
            y_mean, std = _mean_std(kept)
            y_scale = np.where(std > 0, std, 1.0)
        else:
            y_mean, y_scale = np.zeros(Y.shape[1]), np.ones(Y.shape[1])
        target = _standardized(Y, y_mean, y_scale)
        if kept is not Y:
            # never trained on: a sentinel target past float32 overflowed the
            # networks' cast (NumPy's RuntimeWarning)
            target[weights == 0] = 0.0
        largest = np.abs(target).max()
        if largest > np.finfo(np.float32).max:
            # only without standardization: the networks would train on inf
            # and end with a misleading "Training diverged"
            raise ValueError(
                f"y has values of magnitude up to {largest:g}, past float32's range, in "
                "which the networks train. Keep standardize_target=True (the default), "
                "or scale y.")
        target = target.reshape(y.shape)
        members = self._fit_members(TabularNetRegressor, pre, Xt, target, None, rng,
                                    _network_weights(weights))
        self._set_fitted(pre, members)
        self.y_min_, self.y_max_ = kept.min(axis=0), kept.max(axis=0)
        self.y_mean_, self.y_scale_ = y_mean, y_scale
        return self

    def predict(self, X):
        """Predicted target of each row.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        raw = np.asarray(self._output(X, "predict"), dtype=np.float64)
        shape = raw.shape
        with np.errstate(over="ignore"):   # past the largest float: clipped below
            pred = raw.reshape(shape[0], -1) * self.y_scale_ + self.y_mean_
        if self.clip_output:
            pred = np.clip(pred, self.y_min_, self.y_max_)
        return pred.reshape(shape)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y of shape (n_samples, n_outputs)
        return tags
