"""Glue between the estimators and the compiled engine.

Owns the memory plan (``Layout``: where each layer's weights sit in the flat
parameter buffer and where each layer's activations and deltas sit in the
work buffer), the conversion of X into what the kernels take (dense
C-contiguous or CSR with int32 or intp indices), and the thread policy: OpenMP owns the
cores inside the engine, BLAS is held to one thread meanwhile (each OpenMP
thread issues its own GEMMs; see bench/README.md, "Threading design").
"""
import operator
import os
import threading
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from fastmlp import _activations, _losses, _network, _omp_host, _optimizers, _pacing, _predict
from fastmlp._openmp import effective_n_threads
from fastmlp._tuning import PREDICT_BLOCK_ROWS

# the columns of Problem.epoch's step_factors
STEP_FACTORS = _network.STEP_FACTORS

# the codes of the kernels' enums (.pxd), by name
HIDDEN_ACTIVATIONS = _activations.ACTIVATIONS
NEEDS_PREACTIVATION = _activations.NEEDS_PREACTIVATION
OUTPUT_KINDS = _losses.OUTPUTS
LOSS_KINDS = _losses.IDENTITY_LOSSES  # identity output, other losses
SOLVER_CODES = _optimizers.SOLVERS

_blas_libs = None
_session_lock = threading.Lock()
_active_sessions = 0
_blas_saved = None
_thread_sessions = threading.local()  # .n: the sessions this thread has open
_pinned = threading.local()  # pinned_threads' count, per Python thread
_stops = threading.local()   # stopping_on's event, per Python thread


def _blas_lib_controllers():
    """threadpoolctl's controllers of the BLAS libraries loaded at the first
    fit (scanning the process for them costs milliseconds, so once)."""
    global _blas_libs
    if _blas_libs is None:
        _blas_libs = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas_libs


def _set_blas_threads(lib, n):
    """Set one BLAS library's thread count for the whole process, from
    whichever thread opens or closes the first session.

    threadpoolctl 3.8 lets only one thread (the first to set a limit: here
    the thread of the first fit, for good) change an OpenBLAS with its own
    pthreads pool, and ignores every other thread without a word.  A fit in
    a worker thread (joblib's threading backend, Dask's threaded workers)
    then ran its GEMMs on OpenBLAS's threads inside the engine's own: two
    such fits side by side took 1.8-2.6x as long as one after the other.  The
    sessions are counted process-wide here already, so the library's own
    setter is called, as threadpoolctl before 3.8 did; older versions have
    only the public one, which is that setter."""
    setter = getattr(lib, "_real_set_num_threads", None)
    (lib.set_num_threads if setter is None else setter)(n)


@contextmanager
def engine_session():
    """Hold BLAS to one thread while any fit (or large predict) runs.

    The engine's OpenMP threads each issue their own GEMMs, so BLAS must not
    thread underneath them -- also when OpenMP itself is limited to one
    thread, where a threaded BLAS would only add overhead to small GEMMs.
    threadpoolctl's limit is process-wide, so concurrent fits share one
    reference-counted limit: the first to start sets it, the last to finish
    restores what was there before.
    """
    global _active_sessions, _blas_saved
    with _session_lock:
        _active_sessions += 1
        if _active_sessions == 1:
            # what threadpoolctl's limit() sets and restores, less the info()
            # it reads from every library (~25 us warm, ~150 cold per fit)
            _blas_saved = [(lib, lib.num_threads) for lib in _blas_lib_controllers()]
            for lib, _ in _blas_saved:
                _set_blas_threads(lib, 1)
    _thread_sessions.n = getattr(_thread_sessions, "n", 0) + 1
    try:
        yield
    finally:
        _thread_sessions.n -= 1
        with _session_lock:
            _active_sessions -= 1
            if _active_sessions == 0:
                for lib, n in _blas_saved:
                    _set_blas_threads(lib, n)
                _blas_saved = None


def hold_blas_to_one():
    """Within a session, before each engine call: BLAS back at one thread if
    another thread took it off.  threadpoolctl's limit is process-wide, and
    a ``threadpool_limits`` block ending in another thread (README's one per
    fitting thread, or scikit-learn's own around KMeans) restores the count
    it found, whatever fits still run here: their epochs then ran threaded
    GEMMs inside the engine's threads (3.3 ms epochs took 340-430 ms, and
    the weights differed by rounding from a lone fit's).  A count of 1 saved
    when the first session began was a block's, most likely, which has
    ended since, restoring the count it found: the first count found then
    is the one to restore when the last session ends (restoring the 1 left
    BLAS at one thread for good).  Any other saved count stays: a block
    opened and closed meanwhile (4) found the sessions' 1 and restored it,
    and restoring its 4 would leak it.  Reading the count is one call into
    the library (~1 us)."""
    saved = _blas_saved
    if saved is not None:
        for k, (lib, n_saved) in enumerate(saved):
            n = lib.num_threads
            if n != 1:
                if n_saved == 1:
                    saved[k] = (lib, n)
                _set_blas_threads(lib, 1)


def _after_fork_in_child():
    """A forked child runs only the thread that forked: the sessions of the
    parent's other threads (fits running beside it) never end here.  So the
    child counts only the forking thread's own (it forked inside a fit, from
    a callback: that fit goes on here, BLAS still at one thread, and its end
    closes the count), takes a fresh lock (another thread may have held the
    parent's at the fork: it would never be released here), and with no
    session of its own gives BLAS back the threads it had before the
    parent's sessions held it to one."""
    global _session_lock, _active_sessions, _blas_saved
    _session_lock = threading.Lock()
    _active_sessions = getattr(_thread_sessions, "n", 0)
    if _blas_saved is not None and _active_sessions == 0:
        for lib, n in _blas_saved:
            _set_blas_threads(lib, n)
        _blas_saved = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def pinned_threads(n_threads):
    """Every fit and prediction in this thread uses exactly ``n_threads``
    OpenMP threads meanwhile, not a share re-counted each epoch from the fits
    running beside it: for fits run side by side on purpose (a tabular
    ensemble's members), so that each result depends on ``n_threads`` only
    and not on which fits happened to overlap."""
    saved = getattr(_pinned, "n_threads", None)
    _pinned.n_threads = int(n_threads)
    try:
        yield
    finally:
        _pinned.n_threads = saved


@contextmanager
def stopping_on(event):
    """Every epoch in this thread meanwhile ends, raising KeyboardInterrupt,
    within about ``Tuning.signal_check_seconds`` of ``event`` being set: as
    Ctrl-C ends one on the main thread, for fits on other threads (a tabular
    ensemble's members), which never see signals."""
    saved = getattr(_stops, "event", None)
    _stops.event = event
    try:
        yield
    finally:
        _stops.event = saved


def _stop_event(n_threads):
    """The event an interruptible engine call stops on: ``stopping_on``'s,
    else on fastmlp's OpenMP host (which sees no signal) one that Ctrl-C
    reaching the caller sets (``_omp_host.run``'s ``on_interrupt``), else
    None (the call checks for signals itself)."""
    stop = getattr(_stops, "event", None)
    if stop is None and n_threads > 1 and _omp_host.needs_host():
        stop = threading.Event()
    return stop


def fit_threads():
    """The OpenMP threads a fit starts with: the pinned count, else
    ``effective_n_threads()``."""
    pinned = getattr(_pinned, "n_threads", None)
    return effective_n_threads() if pinned is None else pinned


def thread_share(n_threads):
    """This fit's share of the OpenMP threads while other fits run beside it
    (joblib's threading backend): re-read once per epoch.  A pinned count
    (``pinned_threads``) is used as it is."""
    pinned = getattr(_pinned, "n_threads", None)
    if pinned is not None:
        return pinned
    return max(1, n_threads // max(1, _active_sessions))


class Layout:
    """Offsets of every array inside the flat parameter and work buffers.

    Parameters are laid out as scikit-learn's ``_pack``: ``coefs_[0..L-1]``
    (each ``(fan_in, fan_out)`` C-order) then ``intercepts_[0..L-1]``.
    ``activation`` is one name or one name per hidden layer; ``dropout`` one
    rate per hidden layer (or None); ``loss`` picks Huber / absolute error
    for an identity output.  ``periodic`` is the input layer's periodic
    columns, ``(n_numeric, n_periodic)`` or ``(n_numeric, n_periodic, d)``
    with a per-column linear layer of d outputs (``check_periodic``,
    ``_input_layer.pyx``).  ``parametric`` makes every hidden activation
    ``Z + alpha * (act(Z) - Z)`` with one learned alpha per unit (gelu and
    silu only), the alphas last in the parameters, trained at
    ``parametric_lr`` times the rate.  ``embedding`` is the input layer's
    categorical embeddings, ``(cards, d)``: one learned table of
    ``cards[c]`` rows of d values per categorical column, whose codes X
    holds just before the periodic output columns (``check_embedding``).
    """

    def __init__(self, units, batch_size, activation, out_activation, *,
                 loss=None, dropout=None, input_dropout=0.0, huber_delta=1.0,
                 max_norm=0.0, periodic=None, periodic_lr=1.0, input_scale=False,
                 input_scale_lr=1.0, parametric=False, parametric_lr=1.0,
                 embedding=None, embedding_lr=1.0):
        units = np.asarray(units, dtype=np.intp)
        self.units = units
        n_layers = len(units)
        n_hidden = n_layers - 2
        coef_sizes = units[:-1] * units[1:]
        self.coef_off = np.concatenate([[0], np.cumsum(coef_sizes)[:-1]]).astype(np.intp)
        self.n_coef = int(coef_sizes.sum())
        self.int_off = (self.n_coef + np.concatenate([[0], np.cumsum(units[1:])[:-1]])).astype(np.intp)
        self.n_params = self.n_coef + int(units[1:].sum())
        self.n_outputs = int(units[-1])
        # the input layer's periodic columns (_input_layer.pyx), after the intercepts
        self.periodic = check_periodic(periodic, int(units[0]), input_dropout)
        n_num, n_freq, n_lin = self.periodic
        n_per = n_num * n_freq
        self.periodic_off = self.n_params
        # f, ph, then with n_out > 0 the per-column linear layer's A and b
        self.periodic_size = 2 * n_per + (n_per + n_num) * n_lin
        self.n_params += self.periodic_size
        self.periodic_lr = check_input_lr(periodic_lr, "periodic_lr")
        # the input layer's categorical embeddings (_input_layer.pyx): E, after b
        n_out_cols = n_num * (n_lin or n_freq) if n_per else 0
        self.embedding = check_embedding(embedding, int(units[0]), n_num if n_per else 0,
                                         n_out_cols, input_dropout)
        cards, n_emb_dim = self.embedding
        # table c's first row in E, for c = 0 .. len(cards)
        self.embedding_rows = np.concatenate([[0], np.cumsum(cards, dtype=np.intp)]).astype(
            np.intp)
        # X's first column of the embeddings' (table c's code: column + c * d)
        self.embedding_col = int(units[0]) - n_out_cols - len(cards) * n_emb_dim
        self.embedding_off = self.n_params
        self.embedding_size = int(self.embedding_rows[-1]) * n_emb_dim
        self.n_params += self.embedding_size
        self.embedding_lr = check_input_lr(embedding_lr, "embedding_lr")
        # the input layer's diagonal scale (_input_layer.pyx): s, after ph
        self.input_scale = bool(input_scale)
        if self.input_scale and input_dropout:
            raise ValueError("input_scale and input_dropout cannot be combined.")
        self.input_scale_off = self.n_params
        self.n_params += int(units[0]) if self.input_scale else 0
        self.input_scale_lr = check_input_lr(input_scale_lr, "input_scale_lr")

        names = [activation] * n_hidden if isinstance(activation, str) else list(activation)
        # parametric activations (_activations.pyx): alpha_l per hidden layer, last
        self.parametric = bool(parametric)
        if self.parametric:
            for name in names:
                if name not in NEEDS_PREACTIVATION:
                    raise ValueError(f"parametric activations need 'silu' or 'gelu' hidden "
                                     f"activations, got {name!r}.")
        self.parametric_off = self.n_params
        self.n_params += int(units[1:-1].sum()) if self.parametric else 0
        self.parametric_lr = check_input_lr(parametric_lr, "parametric_lr")
        self.acts = np.zeros(n_layers, dtype=np.intc)
        self.acts[1 : n_layers - 1] = [HIDDEN_ACTIVATIONS[a] for a in names]
        self.out_kind = LOSS_KINDS.get(loss, OUTPUT_KINDS[out_activation])
        self.huber_delta = float(huber_delta)
        self.max_norm = float(max_norm or 0.0)
        rates = [0.0] * n_hidden if dropout is None else list(dropout)
        self.keep = np.ones(n_layers, dtype=np.float64)
        self.keep[0] = 1.0 - float(input_dropout or 0.0)
        self.keep[1 : n_layers - 1] = [1.0 - float(r) for r in rates]
        self.uses_dropout = bool((self.keep < 1).any())

        # work buffer: A_l for l >= 1, D_l, Z_l, masks for hidden l, then gathers
        self.batch_size = batch_size = int(batch_size)
        self.act_off = np.zeros(n_layers, dtype=np.intp)
        self.delta_off = np.zeros(n_layers, dtype=np.intp)
        self.pre_off = np.full(n_layers, -1, dtype=np.intp)
        self.mask_off = np.full(n_layers, -1, dtype=np.intp)
        off = 0
        for layer in range(1, n_layers):
            self.act_off[layer] = off
            off += batch_size * units[layer]
        for layer in range(1, n_layers - 1):
            self.delta_off[layer] = off
            off += batch_size * units[layer]
            if names[layer - 1] in NEEDS_PREACTIVATION:
                self.pre_off[layer] = off
                off += batch_size * units[layer]
        for layer in range(0, n_layers - 1):
            if self.keep[layer] < 1:  # layer 0: the dropped copy of the input
                self.mask_off[layer] = off
                off += batch_size * units[layer]
        # the input layer's Xe, sines, cosines (with the linear layer), codes
        # (with embeddings), G (its output columns, or all with a scale) and
        # unscaled Xe (offset 0 and unused without them)
        n_cat = len(cards)
        self.emb_off = self.esin_off = self.ecos_off = self.egrad_off = self.xs_off = 0
        self.ecode_off = 0
        if n_per or self.input_scale or n_cat:
            self.emb_off = off
            off += batch_size * units[0]
            self.esin_off = off
            off += batch_size * n_per
            self.ecos_off = off
            off += batch_size * n_per if n_lin else 0
            self.ecode_off = off
            off += batch_size * n_cat
            self.egrad_off = off
            off += batch_size * (int(units[0]) if self.input_scale
                                 else n_out_cols + n_cat * n_emb_dim)
        if self.input_scale:
            self.xs_off = off
            off += batch_size * units[0]
        self.ybuf_off = off
        off += batch_size * units[-1]
        self.swbuf_off = off
        off += batch_size
        # last, the gathered copy of a dense X's batch rows: calls that read
        # X's rows in place (sparse X; loss_grad's contiguous chunks) need the
        # buffer only up to it, work_size_in_place (a sparse X of 2**22
        # columns asked 64 GiB for a copy it never makes)
        self.xbuf_off = off
        self.work_size_in_place = int(off) + 1
        off += batch_size * units[0]
        self.work_size = int(off) + 1
        # double scratch: per-row losses, then per-unit norms (max_norm)
        self.norms_off = batch_size + 1
        self.scratch_size = self.norms_off + int(units.max()) + 1
        self.typed_views = None  # the engine's typed views of the arrays above

    def __getstate__(self):
        # the typed views are remade on first use; they do not pickle
        return {**self.__dict__, "typed_views": None}

    def coef_views(self, params):
        """coefs_ and intercepts_ as views into the flat buffer."""
        units = self.units
        coefs = [
            params[o : o + a * b].reshape(a, b)
            for o, a, b in zip(self.coef_off, units[:-1], units[1:])
        ]
        intercepts = [params[o : o + b] for o, b in zip(self.int_off, units[1:])]
        return coefs, intercepts


@lru_cache(maxsize=64)
def layout_for(units, batch_size, activation, out_activation, loss=None, *,
               dropout=None, input_dropout=0.0, huber_delta=1.0, max_norm=0.0,
               periodic=None, periodic_lr=1.0, input_scale=False, input_scale_lr=1.0,
               parametric=False, parametric_lr=1.0, embedding=None, embedding_lr=1.0):
    """A shared, cached Layout (read-only): building one costs ~45 us, a
    visible share of fitting a small network.  units is a tuple, activation
    a name or a tuple of names, dropout None or a tuple of rates, periodic
    None or a tuple, input_scale a bool, embedding None or (tuple of cards,
    d); the *_lr are their learning rates' factors."""
    return Layout(units, batch_size, activation, out_activation, loss=loss,
                  dropout=dropout, input_dropout=input_dropout,
                  huber_delta=huber_delta, max_norm=max_norm, periodic=periodic,
                  periodic_lr=periodic_lr, input_scale=input_scale,
                  input_scale_lr=input_scale_lr, parametric=parametric,
                  parametric_lr=parametric_lr, embedding=embedding,
                  embedding_lr=embedding_lr)


def check_input_lr(value, name):
    """A learning-rate factor of the input layer's parameters: a float > 0
    (the solver's step for them is taken at that factor times the rate)."""
    factor = float(value)
    if not factor > 0 or factor == float("inf"):
        raise ValueError(f"{name} must be a finite float > 0, got {value!r}.")
    return factor


def check_periodic(periodic, n_inputs, input_dropout=0.0):
    """(n_numeric, n_periodic, n_out) of the periodic input layer, checked
    against the input width.  ``periodic`` is None (no layer: (0, 0, 0)), a
    pair (n_out = 0) or a triple.  X's first n_numeric columns feed it; its
    output is X's last n_numeric * n_periodic columns (n_out = 0: the cosines
    themselves) or n_numeric * n_out (each numeric column's cosines mixed by
    its own linear layer into n_out columns: PBLD)."""
    if periodic is None:
        return (0, 0, 0)
    try:
        values = tuple(operator.index(v) for v in periodic)
    except (TypeError, ValueError):
        values = ()
    if len(values) not in (2, 3):
        raise ValueError(f"periodic must be None, a pair (n_numeric, n_periodic) or a triple "
                         f"(n_numeric, n_periodic, n_out) of ints, got {periodic!r}.")
    n_num, n_per, n_out = (values + (0,))[:3]
    if n_num < 0 or n_per < 0 or n_out < 0:
        raise ValueError(f"periodic must hold ints >= 0, got {periodic!r}.")
    if n_out and not n_num * n_per:
        raise ValueError(f"periodic={periodic!r}: n_out > 0 mixes periodic columns, and "
                         f"there are none.")
    n_cols = n_num * (n_out or n_per)
    if n_num * n_per and n_num + n_cols > n_inputs:
        raise ValueError(
            f"periodic={periodic!r} needs {n_num} numeric and {n_cols} output "
            f"columns, more than the input's {n_inputs}.")
    if n_num * n_per and input_dropout:
        raise ValueError("periodic and input_dropout cannot be combined: input dropout "
                         "would drop the numeric columns the periodic layer reads.")
    return (int(n_num), int(n_per), int(n_out))


def check_embedding(embedding, n_inputs, n_numeric=0, n_periodic_out=0, input_dropout=0.0):
    """(cards, d) of the input layer's categorical embeddings, checked
    against the input width: ``((), 0)`` for None.  ``embedding`` is a pair
    (cards, d): categorical column c has a learned table of cards[c] rows of
    d values.  X's columns [c0, c0 + len(cards) * d), c0 = n_inputs -
    n_periodic_out - len(cards) * d (just before the periodic layer's output
    columns, after its n_numeric input columns), are the embeddings' output;
    the first of column c's d holds its code in X, an integer in [0,
    cards[c]) (the others are placeholders)."""
    if embedding is None:
        return ((), 0)
    try:
        cards, d = embedding
        cards = tuple(operator.index(v) for v in cards)
        d = operator.index(d)
    except (TypeError, ValueError):
        cards, d = (), 0
    if not cards or d < 1 or min(cards) < 1:
        raise ValueError(f"embedding must be None or a pair (cards, d): a non-empty sequence "
                         f"of table sizes >= 1 and an int d >= 1, got {embedding!r}.")
    n_cols = len(cards) * d
    if n_numeric + n_cols + n_periodic_out > n_inputs:
        raise ValueError(
            f"embedding with {len(cards)} categorical columns of d={d} needs {n_cols} "
            f"columns besides the periodic layer's {n_numeric + n_periodic_out}, more than "
            f"the input's {n_inputs}.")
    if input_dropout:
        raise ValueError("embedding and input_dropout cannot be combined: input dropout "
                         "would drop the codes the embeddings read.")
    return (tuple(int(v) for v in cards), int(d))


def check_csc(X):
    """ValueError for a CSC X whose index arrays do not describe its shape:
    SciPy's tocsr reads and writes through them unchecked (row index 10**6:
    a crash; -5: a write outside the arrays), where the engine checks a CSR
    X's own (_contract.check_csr) with the messages mirrored here."""
    n_rows, n_cols = X.shape
    ptr, ind = X.indptr, X.indices
    steps = np.diff(ptr)
    if (ptr.ndim != 1 or ptr.shape[0] != n_cols + 1 or ptr[0] != 0 or (steps < 0).any()
            or ptr[-1] > min(ind.shape[0], X.data.shape[0])):
        raise ValueError(f"X.indptr is not a CSC column index of {n_cols + 1} values.")
    used = ind[: ptr[-1]]
    outside = np.flatnonzero((used < 0) | (used >= n_rows))
    if outside.size:
        k = int(outside[0])
        raise ValueError(f"X.indices[{k}] = {int(used[k])} is outside [0, {n_rows}).")


def csr_parts(X):
    """(dense, data, indices, indptr) as the kernels take them.  A CSR
    matrix's own data and indices, in their stored order (the kernels sum
    each row in that order, as SciPy's product does; a copy of an unsorted
    matrix doubled a large one's memory for nothing): int32 indices as they
    are, others as intp (a widened copy of SciPy's int32 ones took half the
    size of a float64 matrix); indptr, one value per row, as intp."""
    if type(X) is np.ndarray and X.flags.c_contiguous:
        return X, None, None, None  # the common case, first (one-row predict)
    if sp.issparse(X):
        if X.format == "csc":
            check_csc(X)
        X = X.tocsr()
        return (
            None,
            np.ascontiguousarray(X.data),
            np.ascontiguousarray(X.indices, dtype=np.int32 if X.indices.dtype == np.int32
                                 else np.intp),
            np.ascontiguousarray(X.indptr, dtype=np.intp),
        )
    return np.ascontiguousarray(X), None, None, None


def _targets(Y, dtype):
    """The engine's targets: (float Y, None), or (None, 0/1 uint8 Y) for bool Y."""
    if Y.dtype == bool:
        return None, np.ascontiguousarray(Y).view(np.uint8)
    return np.ascontiguousarray(Y, dtype=dtype), None


class Problem:
    """One call's data and every buffer the engine writes, checked once.

    Built once per ``fit``/``partial_fit`` (training data), L-BFGS run,
    validation set or ``predict``, from the layout, X (dense or CSR), the 2-D
    targets and the sample weights.  A prediction has no targets (``Y=None``)
    and owns no buffer but its output: it can only :meth:`forward`.  It holds the parameters (the estimator's flat
    buffer, of which ``coefs_``/``intercepts_`` are views) and owns the
    gradient, work and scratch buffers; the optimizer's state is held by the
    ``optimizer`` passed to :meth:`epoch` (it outlives the call).  The
    compiled entry points check every buffer against the layout again
    (``_contract.pxd``): this class is where they are made to fit.

    Parameters
    ----------
    layout : Layout
        Its ``batch_size`` is the most rows one engine step takes.
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs) or None
        Float targets, or bool (0/1, classification) kept as uint8; None for
        a prediction.
    sample_weight : ndarray of shape (n_samples,) or None
    params : ndarray of shape (layout.n_params,)
        The flat parameters, C-contiguous, in the dtype the engine runs in.
    with_grad : bool, default=True
        Whether gradients are wanted (no gradient buffer for a validation set).
    tuning : dict or None, default=None
        Thresholds other than the engine's defaults (keys of
        ``fastmlp._tuning.DEFAULTS``), for tests and bench/.
    """

    def __init__(self, layout, X, Y, sample_weight, params, *, with_grad=True,
                 tuning=None):
        dtype = params.dtype
        if params.ndim != 1 or params.shape[0] != layout.n_params:
            raise ValueError(
                f"params has shape {params.shape}; the layout needs ({layout.n_params},)."
            )
        y_shape = (X.shape[0], layout.n_outputs) if Y is None else Y.shape
        if X.ndim != 2 or X.shape[1] != layout.units[0] or y_shape != (
            X.shape[0], layout.n_outputs
        ):
            raise ValueError(
                f"X {X.shape} and Y {y_shape} do not fit a network of layer sizes "
                f"{tuple(int(u) for u in layout.units)}."
            )
        if sample_weight is not None and sample_weight.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight has shape {sample_weight.shape}; X has {X.shape[0]} rows."
            )
        self.layout = layout
        self.params = params
        self.n_samples = X.shape[0]
        self.X = csr_parts(X)
        if self.X[0] is not None:
            if self.X[0].dtype != dtype:
                self.X = (self.X[0].astype(dtype), None, None, None)
        elif self.X[1].dtype != dtype:
            self.X = (None, self.X[1].astype(dtype), *self.X[2:])
        self.tuning = tuning
        if Y is None:  # a prediction: forward only
            self.Y = self.sample_weight = self.grads = self.work = self.scratch = None
            self.all_rows = self.pace = self.epoch_team = None
            return
        self.Y = _targets(Y, dtype)
        self.sample_weight = (
            None if sample_weight is None
            else np.ascontiguousarray(sample_weight, dtype=dtype)
        )
        self.grads = np.empty(layout.n_params if with_grad else 0, dtype=dtype)
        # up to the gathered copy of dense rows, which only epochs make (the
        # first one adds it): loss_grad and sparse X read rows in place
        self.work = np.empty(layout.work_size_in_place, dtype=dtype)
        self.scratch = np.empty(layout.scratch_size)
        self.all_rows = np.arange(self.n_samples, dtype=np.intp)
        # the pacer's state: the team or one thread, from epoch to epoch
        # (and one thread from the start if the last epoch before it ended so)
        self.pace = np.zeros(_pacing.LENGTH)
        # the threads each epoch starts with, as the load allows (_pacing)
        self.epoch_team = _pacing.EpochTeam(tuning)
        _pacing.start(self.pace, tuning)

    def pace_report(self):
        """The pacer's state after the epochs so far (_pacing.FIELDS: which
        choice holds, the costs it measured, segments and switches)."""
        return dict(zip(_pacing.FIELDS, (float(v) for v in self.pace)))

    @property
    def dense(self):
        return self.X[0] is not None

    def epoch(self, optimizer, order, *, shuffled, batch_size, lr, alpha, clip_norm,
              n_threads, seed=0, step_factors=None):
        """One epoch of minibatch training over the rows ``order``, stepping
        ``params`` and ``optimizer``'s state in place; returns the sum over
        batches of batch loss times batch rows (scikit-learn's accumulation).

        ``step_factors``, an array of shape (n_batches, 3) or None, scales
        per batch the rate ``lr``, the weight decay and the dropout rates
        (columns ``STEP_FACTORS``; a schedule within the epoch)."""
        n_threads = _omp_host.threads_for(self.epoch_team.threads(n_threads))
        stop = _stop_event(n_threads)
        consts = optimizer.epoch_constants(lr)
        if self.X[0] is not None and self.work.shape[0] < self.layout.work_size:
            self.work = np.empty(self.layout.work_size, dtype=self.work.dtype)
        hold_blas_to_one()
        try:
            loss_sum, optimizer.t = _omp_host.run(
                n_threads, _network.train_epoch, self.params, self.grads, optimizer.state1,
                optimizer.state2, self.work, self.scratch, *self.X, *self.Y,
                self.sample_weight, np.ascontiguousarray(order, dtype=np.intp),
                bool(shuffled), batch_size, self.layout, optimizer.code, consts,
                optimizer.t, float(alpha), float(clip_norm), n_threads, seed, self.tuning,
                self.pace,
                None if step_factors is None
                else np.ascontiguousarray(step_factors, dtype=np.float64),
                stop, on_interrupt=None if stop is None else stop.set,
            )
        except KeyboardInterrupt:
            # the steps taken before it: the weights and moments have them
            optimizer.t = consts.get("t_done", optimizer.t)
            raise
        _pacing.remember(self.pace, self.epoch_team.solo_for_load)
        return loss_sum

    def loss_grad(self, *, alpha, alpha1=0.0, n_threads, interruptible=False):
        """Loss (with the L2 and L1 terms) at ``params`` over every row; the
        finished gradient is left in ``self.grads`` (scikit-learn's
        ``_loss_grad_lbfgs``), unless the problem was built without one.
        ``interruptible``: Ctrl-C raises KeyboardInterrupt between row
        chunks (``_network.loss_grad``), as ``forward``'s."""
        n_threads = _omp_host.threads_for(self.epoch_team.threads(n_threads))
        hold_blas_to_one()
        stop = _stop_event(n_threads) if interruptible else None
        loss = _omp_host.run(
            n_threads, _network.loss_grad, self.params, self.grads, self.work,
            self.scratch, *self.X, *self.Y, self.sample_weight, self.all_rows,
            self.layout.batch_size, self.layout, float(alpha), n_threads, float(alpha1),
            self.grads.shape[0] > 0, self.tuning, self.pace, interruptible, stop,
            on_interrupt=None if stop is None else stop.set,
        )
        _pacing.remember(self.pace, self.epoch_team.solo_for_load)
        return loss

    def forward(self, *, n_threads=None, interruptible=False):
        """The network's output at ``params`` for every row of X (as predict
        computes it: no dropout, no loss), of shape (n_samples, n_outputs).

        Up to one row block runs serially (BLAS does not thread GEMMs that
        small either); beyond, ``n_threads`` (None: the estimator's policy,
        ``effective_n_threads``) share the blocks.  ``interruptible``: Ctrl-C
        raises KeyboardInterrupt within about ``signal_check_seconds``
        (``_predict.forward``), not once every row is done."""
        out = np.empty((self.n_samples, self.layout.n_outputs), dtype=self.params.dtype)
        block = PREDICT_BLOCK_ROWS
        if self.n_samples <= block:
            _predict.forward(self.params, out, *self.X, self.layout, 1, block, self.tuning)
            return out
        # a team would wait for cores other tasks hold (_pacing)
        n_threads = _omp_host.threads_for(_pacing.team_for_load(
            thread_share(effective_n_threads(n_threads)), self.tuning))
        stop = _stop_event(n_threads) if interruptible else None
        with engine_session():
            hold_blas_to_one()
            _omp_host.run(n_threads, _predict.forward, self.params, out, *self.X,
                          self.layout, n_threads, block, self.tuning, interruptible, stop,
                          on_interrupt=None if stop is None else stop.set)
        return out
