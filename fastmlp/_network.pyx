# Design: the network engine's entry points -- whole epochs (train_epoch) and
# loss + gradient over all rows (loss_grad) -- run without the GIL.  This
# module builds the call's Net (layout views, thresholds), checks every
# buffer against the layout (_contract.pxd), gathers each batch's rows, and
# drives the steps; the steps themselves live in their own modules:
#
#   _layers.pyx   one step layer by layer: forward (GEMM per row block, then
#                 bias + activation, or output + loss + delta, in cache) and
#                 backward (dW split over fan_in rows, deltas over batch rows)
#   _step.pyx     the same step in ONE parallel region per batch (each
#                 thread its rows, then its share of the gradients and of
#                 the optimizer step)
#   _online.pyx   batch size 1 on two threads or more: each thread owns a
#                 slice of every hidden layer for the whole epoch
#   _csr.pyx, _dropout.pyx   sparse first layers; counter-based masks
#   _predict.pyx  prediction (row blocks through every layer)
#
# Data: parameters and gradients are flat buffers laid out as scikit-learn's
# _pack (all coefs (fan_in, fan_out) row-major, then all intercepts); the
# batch's activations and deltas live in one flat `work` buffer (offsets in
# Net).  Gradients are left RAW (A^T delta and sum(delta)); the optimizer step
# finishes them (L2, 1/sum(sample_weight), clipping) inside its own loop.
#
# Threads: the engine owns the cores while it runs.  Each parallel region
# gives each OpenMP thread whole GEMMs, so BLAS must be single-threaded
# meanwhile (the Python layer holds threadpoolctl's BLAS limit to 1 around
# training); a region runs only when the work is worth a fork
# (Tuning.par_min_flops) and otherwise runs serially on the calling thread.
# Results do not depend on scheduling: each row's loss is kept and the rows
# are summed in order, and every gradient entry is one GEMM over all the
# batch's rows.
#
# Input: dense C-contiguous X (never copied when not shuffled; shuffled
# batches gather their rows into `work`), or CSR (first layer by CSR x dense).
#
# Schedules within an epoch: train_epoch may take one row of factors per
# batch (columns STEP_FACTORS: the learning rate, the weight decay and every
# dropout rate, each times its factor for that batch), so a schedule runs
# per iteration without returning to Python; they force the usual step at
# batch size 1 (the online step keeps one rate for its whole segment).
from cython cimport floating
from cython.parallel cimport prange
from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport INFINITY, sqrt
from libc.string cimport memcpy, memset

import numpy as np

from fastmlp._contract cimport (check_codes, check_data, check_in_order, check_len,
                                check_room, check_weight_sums, indices_are_int32)
from fastmlp._dropout cimport _dropout
from fastmlp._layers cimport (_backward, _coef_abssum, _coef_sqnorm, _forward,
                              _max_norm)
from fastmlp._net cimport (FASTMLP_DEBUG_BUILD, Csr, Net, _assert_layout, _at,
                           _has_input_layer, _has_param_act, _n_alpha, _part_hi, _part_lo,
                           _team)
from fastmlp._online cimport (ONLINE_MAX_LAYERS, ONLINE_MAX_THREADS, OnlineMirrors,
                              online_copy_back, online_regions_len, train_online)
from fastmlp._optimizers cimport (OptConsts, SOLVER_ADAM, SOLVER_ADAMW, SOLVER_SGD,
                                  _grad_sqnorm, _update, adam_step_size)
from fastmlp._pacing cimport PACE_LEN, Pacer, pace_choose, pace_clock, pace_record
from fastmlp._input_layer cimport _input_backward, _input_forward
from fastmlp._step cimport StepOpt, _rows_team, _step_rows_split
from fastmlp._tuning cimport STEP_MAX_THREADS, Tuning, tuning_for

# The columns of train_epoch's step_factors, in order (one row per batch)
STEP_FACTORS = ("learning_rate", "weight_decay", "dropout")
cdef enum:
    SF_LR = 0
    SF_WD = 1
    SF_DROP = 2
    SF_COLS = 3


# Whether the C compiler saw FASTMLP_DEBUG=1 (setup.py's bounds-checked
# build): the layout invariants are then asserted (_net.pxd, _debug.h).
DEBUG_BUILD = bool(FASTMLP_DEBUG_BUILD)

cdef class _Views:
    """Typed views of the layout arrays, made once per Layout (a Layout is
    read-only once built) and kept on it: acquiring the nine views costs
    more than a one-row predict's arithmetic (attributes: _network.pxd)."""


cdef _Views _views(layout):
    cdef _Views v = layout.typed_views
    if v is not None:
        return v
    v = _Views()
    v.units = layout.units
    v.coef_off = layout.coef_off
    v.int_off = layout.int_off
    v.act_off = layout.act_off
    v.delta_off = layout.delta_off
    v.pre_off = layout.pre_off
    v.mask_off = layout.mask_off
    v.acts = layout.acts
    v.keep = layout.keep
    v.n_params = layout.n_params
    v.n_outputs = layout.n_outputs
    v.per_n, v.per_k, v.per_d = layout.periodic
    v.per_off = layout.periodic_off
    v.cat_rows = layout.embedding_rows
    v.cat_n = len(layout.embedding[0])
    v.cat_d = layout.embedding[1]
    v.cat_off = layout.embedding_off
    v.sc_off = layout.input_scale_off if layout.input_scale else -1
    layout.typed_views = v
    return v


cdef InLayer _in_layer(_Views v) noexcept:
    """What prediction reads of the input layer."""
    cdef InLayer il
    il.per_n = v.per_n
    il.per_k = v.per_k
    il.per_d = v.per_d
    il.per_off = v.per_off
    il.cat_n = v.cat_n
    il.cat_d = v.cat_d
    il.cat_off = v.cat_off
    il.cat_rows = &v.cat_rows[0]
    il.sc_off = v.sc_off
    return il


cdef Net _make_net(_Views v, layout, int n_threads, unsigned long long seed,
                   dict tuning) except *:
    cdef Net net
    net.tun = tuning_for(tuning)
    net.batch_size = layout.batch_size
    net.work_size = layout.work_size
    net.n_layers = v.units.shape[0]
    net.units = &v.units[0]
    net.coef_off = &v.coef_off[0]
    net.int_off = &v.int_off[0]
    net.act_off = &v.act_off[0]
    net.delta_off = &v.delta_off[0]
    net.pre_off = &v.pre_off[0]
    net.mask_off = &v.mask_off[0]
    net.acts = &v.acts[0]
    net.keep = &v.keep[0]
    net.n_coef = layout.n_coef
    net.n_params = layout.n_params
    net.out_kind = layout.out_kind
    net.huber_delta = layout.huber_delta
    net.max_norm = layout.max_norm
    net.seed = seed
    net.n_threads = n_threads
    net.per_n = v.per_n
    net.per_k = v.per_k
    net.per_d = v.per_d
    net.per_size = layout.periodic_size
    net.per_off = v.per_off
    net.per_lr = layout.periodic_lr
    net.cat_n = v.cat_n
    net.cat_d = v.cat_d
    net.cat_rows = &v.cat_rows[0]
    net.cat_off = v.cat_off
    net.cat_lr = layout.embedding_lr
    net.ecode_off = layout.ecode_off
    net.sc_off = v.sc_off
    net.sc_lr = layout.input_scale_lr
    net.xs_off = layout.xs_off
    net.emb_off = layout.emb_off
    net.esin_off = layout.esin_off
    net.ecos_off = layout.ecos_off
    net.egrad_off = layout.egrad_off
    net.pa_off = layout.parametric_off if layout.parametric else -1
    net.pa_lr = layout.parametric_lr
    _assert_layout(&net)
    return net


cdef int _online_team(const Net* net, Py_ssize_t batch_size, Py_ssize_t n,
                      bint dense, double clip_norm) noexcept nogil:
    """Threads for online_epoch: 1 (the usual step) unless batch size 1,
    ONLINE_MIN_SAMPLES samples, dense X, no dropout, no clipping by the
    global norm, no max_norm, no input layer, a hidden layer,
    Tuning.online_min_coefs weights and two threads."""
    cdef int l
    if (not net.tun.online_split or batch_size != 1 or n < net.tun.online_min_samples
            or not dense or clip_norm > 0
            or net.max_norm > 0 or net.n_layers < 3
            or net.n_layers > ONLINE_MAX_LAYERS
            or net.n_coef < net.tun.online_min_coefs or net.n_threads < 2
            or _has_input_layer(net) or _has_param_act(net)):
        return 1
    for l in range(net.n_layers):
        if net.keep[l] < 1:
            return 1
    return min(net.n_threads, <int> ONLINE_MAX_THREADS)


def online_threads(layout, Py_ssize_t batch_size, Py_ssize_t n_samples,
                   bint dense, double clip_norm, int n_threads, dict tuning=None):
    """The team train_epoch would give the online step (1: the usual step)."""
    cdef _Views v = _views(layout)
    cdef Net net = _make_net(v, layout, n_threads, 0, tuning)
    return _online_team(&net, batch_size, n_samples, dense, clip_norm)


cdef void _update_part(int solver, floating* params, const floating* grads,
                       floating* s1, floating* s2, Py_ssize_t off, Py_ssize_t n,
                       double lr_factor, double scale, const OptConsts* c,
                       int n_threads) noexcept nogil:
    """The solver's step over params[off:off + n], none of them coefs, at
    lr_factor times the rate (the input layer's parameters)."""
    cdef OptConsts cp = c[0]
    cdef double unused = 0
    if n == 0:
        return
    cp.lr = c.lr * lr_factor
    cp.lr_base = c.lr_base * lr_factor
    _update(solver, params + off, grads + off, s1 + off, _at(s2, off), n, 0,
            <floating> 0, <floating> scale, &cp, n_threads, &unused)


cdef int _check_step_factors(const double[:, ::1] f, Py_ssize_t n_batches) except -1:
    """step_factors: (n_batches, SF_COLS), finite, >= 0, dropout's <= 1."""
    cdef Py_ssize_t b, j
    cdef double x
    if f.shape[0] != n_batches or f.shape[1] != SF_COLS:
        raise ValueError(f"step_factors has shape ({f.shape[0]}, {f.shape[1]}); this epoch "
                         f"needs ({n_batches}, {SF_COLS}): one row per batch, columns "
                         f"{STEP_FACTORS}.")
    for b in range(n_batches):
        for j in range(SF_COLS):
            x = f[b, j]
            if not (0 <= x < INFINITY) or (j == SF_DROP and x > 1):
                raise ValueError(f"step_factors[{b}, {j}] ({STEP_FACTORS[j]}) is {x!r}; "
                                 f"factors are finite and >= 0"
                                 + (", and at most 1 for dropout." if j == SF_DROP
                                    else "."))
    return 0


cdef Pacer* _bind_pacer(double[::1] pace, Pacer* fresh) except NULL:
    """The pacer's state: the caller's buffer (checked: PACE_LEN doubles,
    lasting from call to call), or `fresh` zeroed when there is none."""
    if pace is None:
        memset(fresh, 0, sizeof(Pacer))
        return fresh
    check_len(pace.shape[0], PACE_LEN, "pace")
    return <Pacer*> &pace[0]


cdef void _gather_rows(const floating* X, Py_ssize_t n_features,
                       const floating* Y, const unsigned char* Yb8,
                       Py_ssize_t n_out, const floating* sw,
                       const Py_ssize_t* idx, Py_ssize_t r0, Py_ssize_t r1,
                       floating* xbuf, floating* ybuf,
                       floating* swbuf) noexcept nogil:
    """Copy rows r0:r1 of the batch (X when xbuf, Y or boolean Y, weights)."""
    cdef Py_ssize_t i, k
    for i in range(r0, r1):
        if xbuf != NULL:
            memcpy(xbuf + i * n_features, X + idx[i] * n_features,
                   n_features * sizeof(floating))
        if Y != NULL:
            memcpy(ybuf + i * n_out, Y + idx[i] * n_out, n_out * sizeof(floating))
        else:
            for k in range(n_out):
                ybuf[i * n_out + k] = Yb8[idx[i] * n_out + k]
        if sw != NULL:
            swbuf[i] = sw[idx[i]]


cdef void _gather_batch(const Net* net, const floating* X,
                        Py_ssize_t n_features, const floating* Y,
                        const unsigned char* Yb8, Py_ssize_t n_out,
                        const floating* sw, const Py_ssize_t* idx, Py_ssize_t m,
                        floating* xbuf, floating* ybuf,
                        floating* swbuf) noexcept nogil:
    """Copy the batch's rows, split over the team when there are enough of
    them: rows of a shuffled X are scattered in memory, so the copy waits on
    cache misses (about 45 us for 256 rows of 100 float32 on this machine,
    estimated from perf's sample share)."""
    cdef int nt = 1
    cdef int t
    if xbuf != NULL and m * n_features >= net.tun.par_min_gather:
        nt = _team(net, net.tun.par_min_flops, m)   # past the flops gate: the team, capped at m
    if nt == 1:
        _gather_rows(X, n_features, Y, Yb8, n_out, sw, idx, 0, m, xbuf, ybuf,
                     swbuf)
        return
    for t in prange(nt, num_threads=nt, schedule="static"):
        _gather_rows(X, n_features, Y, Yb8, n_out, sw, idx, _part_lo(m, t, nt),
                     _part_hi(m, t, nt), xbuf, ybuf, swbuf)


cdef int _check_stop(object stop) except -1:
    """KeyboardInterrupt on Ctrl-C (signals reach the main thread) or once
    `stop`, the caller's event (None: none), is set; called with the GIL
    between an engine call's steps, chunks or spans."""
    PyErr_CheckSignals()
    if stop is not None and stop.is_set():
        raise KeyboardInterrupt
    return 0


cdef const floating* _bind_x(const floating[:, ::1] X,
                             const floating[::1] X_data,
                             object X_indices,
                             const Py_ssize_t[::1] X_indptr, Csr* csr,
                             const void* placeholder):
    """X's data pointer when X is dense (csr.data stays NULL); NULL when X is
    CSR, with csr pointing at its arrays.  An all-zero CSR matrix has no data
    pointer, so any non-NULL placeholder marks it sparse.  X_indices (int32
    or intp) was checked (check_x) and outlives the call: the pointers are
    into the caller's arrays."""
    cdef const int[::1] i32
    cdef const Py_ssize_t[::1] i64
    csr.data = NULL
    if X is not None:
        return &X[0, 0]
    csr.data = &X_data[0] if X_data.shape[0] else placeholder
    csr.indices = NULL
    csr.indices32 = NULL
    if X_indices.shape[0] and indices_are_int32(X_indices):
        i32 = X_indices
        csr.indices32 = &i32[0]
    elif X_indices.shape[0]:
        i64 = X_indices
        csr.indices = &i64[0]
    csr.indptr = &X_indptr[0]
    return NULL


cdef void _bind_targets(const floating[:, ::1] Y,
                        const unsigned char[:, ::1] Y_bool,
                        const floating[::1] sample_weight,
                        const floating** Yp, const unsigned char** Yb8,
                        const floating** swp):
    """Pointers to the float or the 0/1 targets (the other stays NULL) and to
    the sample weights (NULL when there are none)."""
    Yp[0] = NULL
    Yb8[0] = NULL
    swp[0] = NULL
    if Y is not None:
        Yp[0] = &Y[0, 0]
    else:
        Yb8[0] = &Y_bool[0, 0]
    if sample_weight is not None:
        swp[0] = &sample_weight[0]


def train_epoch(floating[::1] params,              # INOUT: flat coefs + intercepts
                floating[::1] grads,               # OUT: scratch, raw gradients
                floating[::1] state1,              # INOUT: velocity / m / square avg
                floating[::1] state2,              # INOUT: adam v
                floating[::1] work,                # OUT: scratch (layout.work_size; sparse X:
                                                   #   work_size_in_place)
                double[::1] scratch,               # OUT: layout.scratch_size
                const floating[:, ::1] X,          # IN: dense X, or None
                const floating[::1] X_data,        # IN: CSR X, or None
                object X_indices,
                const Py_ssize_t[::1] X_indptr,
                const floating[:, ::1] Y,          # IN: float targets, or None
                const unsigned char[:, ::1] Y_bool,  # IN: 0/1 targets, or None
                const floating[::1] sample_weight,   # IN, or None
                const Py_ssize_t[::1] sample_idx,    # IN: the epoch's order
                bint shuffled,
                Py_ssize_t batch_size,
                layout, int solver, dict opt, Py_ssize_t adam_t,
                double alpha, double clip_norm, int n_threads,
                unsigned long long seed=0, dict tuning=None,
                double[::1] pace=None,             # INOUT: the pacer's state, or None
                const double[:, ::1] step_factors=None,  # IN: per batch, or None
                object stop=None):                 # IN: an event (is_set()), or None
    """One epoch of minibatch training, all in C; returns (loss_sum, adam_t).

    loss_sum is sum over batches of batch_loss * batch_n (scikit-learn's
    accumulation).  Raises KeyboardInterrupt (weights are those after the last
    complete batch, opt["t_done"] Adam's step count then) when Ctrl-C arrives
    or `stop` is set, within about Tuning.signal_check_seconds (signals
    reach only the main thread: a fit on another thread stops on `stop`).
    `opt` holds the optimizer constants (lr, momentum, nesterov, beta_1,
    beta_2, epsilon, rho, weight_decay, alpha1, clip_value); `seed` drives
    the dropout masks.  `pace` carries
    the team-or-one-thread choices from epoch to epoch (_pacing.pxd); None
    starts afresh.  `step_factors` (columns STEP_FACTORS, one row per batch
    of batch_size positions of sample_idx) scales, for each batch, the rate
    (lr, and Adam's bias-corrected rate from it), the weight decay and every
    layer's dropout rate; None keeps them constant.
    """
    cdef _Views v = _views(layout)
    cdef Net net = _make_net(v, layout, n_threads, seed, tuning)
    cdef Csr csr
    cdef OptConsts c
    cdef Py_ssize_t n = sample_idx.shape[0]
    cdef Py_ssize_t n_features = v.units[0]
    cdef Py_ssize_t n_out = v.units[net.n_layers - 1]
    cdef Py_ssize_t start, m, i, since_check = 0
    cdef Py_ssize_t t_stop = 0
    cdef double last_check = pace_clock(), now
    cdef floating* wp = &work[0]
    cdef floating* xbuf = NULL                      # dense X's gathered rows
    cdef floating* ybuf = wp + <Py_ssize_t> layout.ybuf_off
    cdef floating* swbuf = wp + <Py_ssize_t> layout.swbuf_off
    cdef floating* xdrop = NULL
    cdef double* row_loss = &scratch[0]
    cdef double* norms = &scratch[0] + <Py_ssize_t> layout.norms_off
    cdef const floating* Xp = NULL
    cdef const floating* Yp = NULL
    cdef const unsigned char* Yb8 = NULL
    cdef const floating* swp = NULL
    cdef const floating* Xb
    cdef const floating* Yb
    cdef const floating* swb
    cdef double sw_sum, loss_sum, batch_loss, scale, gnorm
    cdef double total = 0, sqnorm, l1norm
    cdef double lr_init = opt["lr"]
    cdef bint dense = X is not None
    cdef bint drop_input = net.keep[0] < 1
    cdef bint adam = solver == SOLVER_ADAM or solver == SOLVER_ADAMW
    cdef bint inlayer = _has_input_layer(&net)
    cdef bint pact = _has_param_act(&net)
    cdef floating* Xe = wp + net.emb_off
    cdef int rows_nt
    cdef bint stepped, gather_in_region
    cdef floating* s2 = &state2[0] if state2.shape[0] else NULL
    cdef StepOpt step
    cdef double sums[2]
    cdef int online_nt
    cdef floating[::1] regions = None
    cdef OnlineMirrors mir
    cdef int team = n_threads, seg_nt = n_threads
    cdef Py_ssize_t seg_start = 0, seg_end = 0
    cdef double seg_t0 = 0
    cdef Pacer fresh
    cdef Pacer* pacer
    cdef bint scheduled = step_factors is not None
    cdef double[::1] keep_now
    cdef double lr_now = lr_init, wd_base
    cdef Py_ssize_t batch_no, l

    check_len(params.shape[0], layout.n_params, "params")
    check_len(grads.shape[0], layout.n_params, "grads")
    check_len(state1.shape[0], layout.n_params, "state1")
    if solver < SOLVER_SGD or solver > SOLVER_ADAMW:
        raise ValueError(f"Unknown solver code {solver}.")
    if adam:
        check_len(state2.shape[0], layout.n_params, "state2 (Adam's second moment)")
    # sparse X's rows are read in place: no room for a gathered copy
    net.work_size = layout.work_size if dense else layout.work_size_in_place
    check_room(work.shape[0], net.work_size, "work")
    check_room(scratch.shape[0], layout.scratch_size, "scratch")
    if dense:
        xbuf = wp + <Py_ssize_t> layout.xbuf_off
    if batch_size < 1 or batch_size > layout.batch_size:
        raise ValueError(f"batch_size={batch_size} is outside the layout's "
                         f"[1, {layout.batch_size}].")
    check_data(layout, X, X_data, X_indices, X_indptr, Y, Y_bool, sample_weight,
               sample_idx)
    if v.cat_n:
        check_codes(layout, X)
    if not shuffled and n:
        check_in_order(&sample_idx[0], n)
    if scheduled:
        _check_step_factors(step_factors, (n + batch_size - 1) // batch_size)
    if n == 0:
        opt["t_done"] = adam_t
        return 0.0, adam_t
    if sample_weight is not None:
        check_weight_sums(&sample_weight[0], &sample_idx[0], n, batch_size)
    if drop_input and not dense:
        raise ValueError("input_dropout needs dense X")
    if inlayer and not dense:
        raise ValueError("the input layer (periodic columns, embeddings, input scale) "
                         "needs dense X")
    pacer = _bind_pacer(pace, &fresh)
    Xp = _bind_x(X, X_data, X_indices, X_indptr, &csr, &params[0])
    _bind_targets(Y, Y_bool, sample_weight, &Yp, &Yb8, &swp)
    if drop_input:
        xdrop = wp + v.mask_off[0]
    online_nt = 1 if scheduled else _online_team(&net, batch_size, n, dense, clip_norm)
    mir.team = 0
    if online_nt > 1:
        # the team's regions, for all of this epoch's team segments
        regions = np.empty(online_regions_len(&net, online_nt, sizeof(floating)),
                           dtype=np.float32 if floating is float else np.float64)
        mir.buf = &regions[0]
        mir.len = regions.shape[0]
    if scheduled:
        # this call's dropout rates, rescaled per batch (the layout's stay)
        keep_now = np.array(v.keep, dtype=np.float64)
        net.keep = &keep_now[0]
    c.lr = lr_init
    c.lr_base = lr_init
    c.momentum = opt["momentum"]
    c.nesterov = opt["nesterov"]
    c.beta_1 = opt["beta_1"]
    c.beta_2 = opt["beta_2"]
    c.epsilon = opt["epsilon"]
    c.rho = opt["rho"]
    c.weight_decay = opt.get("weight_decay", 0.0)
    c.alpha1 = opt.get("alpha1", 0.0)
    c.clip_value = opt.get("clip_value", 0.0)
    wd_base = c.weight_decay
    step.solver = solver
    step.params = &params[0]
    step.s1 = &state1[0]
    step.s2 = s2
    step.alpha = alpha
    with nogil:
        sqnorm = _coef_sqnorm(&params[0], net.n_coef)
        l1norm = _coef_abssum(&params[0], net.n_coef) if c.alpha1 > 0 else 0
        start = 0
        while start < n:
            if start >= seg_end:
                # a new segment, on the team or on one thread (_pacing.pxd)
                seg_nt = pace_choose(pacer, &net.tun, team)
                net.n_threads = seg_nt
                seg_start = start
                seg_t0 = pace_clock()
                if online_nt > 1 and seg_nt > 1:
                    seg_end = n if not net.tun.pace else min(n, start + <Py_ssize_t> pacer.chunk)
                    with gil:
                        try:
                            total, adam_t = train_online(
                                &net, online_nt, Xp, Yp, Yb8, swp, &sample_idx[start],
                                seg_end - start, &params[0], &state1[0], s2, &c, solver,
                                lr_init, adam_t, alpha, &mir, &sqnorm, &l1norm, total,
                                stop, &t_stop)
                        except KeyboardInterrupt:
                            opt["t_done"] = t_stop
                            raise
                    pace_record(pacer, &net.tun, seg_nt, team, pace_clock() - seg_t0,
                                seg_end - start)
                    start = seg_end
                    continue
                # the team's own copies back, if a team segment left them live
                online_copy_back(&net, &mir, &params[0], &state1[0], s2)
                seg_end = min(n, start + (net.tun.pace_solo_chunk if online_nt > 1
                                          else batch_size))
            m = min(batch_size, n - start)
            if scheduled:
                batch_no = start // batch_size
                lr_now = lr_init * step_factors[batch_no, SF_LR]
                c.lr = lr_now
                c.lr_base = lr_now
                c.weight_decay = wd_base * step_factors[batch_no, SF_WD]
                for l in range(net.n_layers):
                    keep_now[l] = 1 - (1 - v.keep[l]) * step_factors[batch_no, SF_DROP]
            # batch rows: contiguous slices when not shuffled, else gathered
            # (X's rows inside the one-region step, by the threads that use
            # them, when that step runs and the input is not dropped)
            # (the input layer and parametric activations run layer by layer:
            # their backward needs D_1, their alphas' sums the whole batch)
            rows_nt = 1 if (inlayer or pact) else _rows_team(&net, m, dense)
            gather_in_region = rows_nt > 1 and dense and shuffled and not drop_input
            if shuffled or Yp == NULL or swp != NULL:
                _gather_batch(&net, Xp, n_features, Yp, Yb8, n_out, swp,
                              &sample_idx[start], m,
                              xbuf if (dense and shuffled and not gather_in_region)
                              else NULL, ybuf, swbuf)
            Xb = (xbuf if shuffled else Xp + start * n_features) if dense else NULL
            if drop_input:
                # input dropout: drop into a copy, X itself is read-only
                memcpy(xdrop, Xb, m * n_features * sizeof(floating))
                _dropout(xdrop, <floating*> NULL, m, n_features, net.keep[0],
                         net.seed, 0, start)
                Xb = xdrop
            if inlayer:
                _input_forward(&net, Xb, m, &params[0], wp)
                Xb = Xe
            Yb = ybuf if (shuffled or Yp == NULL) else Yp + start * n_out
            swb = NULL if swp == NULL else swbuf
            if swp == NULL:
                sw_sum = m
            else:
                sw_sum = 0
                for i in range(m):
                    sw_sum += swbuf[i]

            scale = 1.0 / sw_sum
            if adam:
                adam_t = adam_t + 1
                c.lr = adam_step_size(lr_now, c.beta_1, c.beta_2, adam_t)
            stepped = (rows_nt > 1 and net.tun.rows_pass_step and clip_norm <= 0
                       and rows_nt <= STEP_MAX_THREADS)
            if stepped:
                step.scale = scale
                step.c = &c
            if rows_nt > 1:
                loss_sum = _step_rows_split(&net, Xb, &csr, &sample_idx[start],
                                            m, rows_nt, &params[0], &grads[0],
                                            wp, row_loss, Yb, swb, True, start,
                                            &step if stepped else NULL, sums,
                                            Xp if gather_in_region else NULL)
            else:
                loss_sum = _forward(&net, Xb, &csr, &sample_idx[start], m,
                                    &params[0], wp, row_loss, Yb, swb, True, True,
                                    start)
                _backward(&net, Xb, &csr, &sample_idx[start], m, &params[0],
                          &grads[0], wp, False, True)
                if inlayer:
                    _input_backward(&net, m, &params[0], wp, &grads[0], False)

            batch_loss = (loss_sum + 0.5 * alpha * sqnorm + c.alpha1 * l1norm) / sw_sum
            if stepped:
                sqnorm = sums[0]
                l1norm = sums[1]
            else:
                if clip_norm > 0:
                    gnorm = sqrt(_grad_sqnorm(&params[0], &grads[0], net.n_params,
                                              net.n_coef, <floating> alpha,
                                              <floating> c.alpha1, <floating> scale))
                    if gnorm > clip_norm:
                        scale = scale * (clip_norm / gnorm)
                sqnorm = _update(solver, &params[0], &grads[0], &state1[0], s2,
                                 net.per_off if (inlayer or pact) else net.n_params,
                                 net.n_coef,
                                 <floating> alpha, <floating> scale, &c, net.n_threads,
                                 &l1norm)
                if inlayer:
                    # f, ph (A, b), then s: the same step at their factors of the rate
                    _update_part(solver, &params[0], &grads[0], &state1[0], s2, net.per_off,
                                 net.per_size, net.per_lr, scale, &c,
                                 net.n_threads)
                    if net.cat_n > 0:
                        _update_part(solver, &params[0], &grads[0], &state1[0], s2,
                                     net.cat_off, net.cat_rows[net.cat_n] * net.cat_d,
                                     net.cat_lr, scale, &c, net.n_threads)
                    if net.sc_off >= 0:
                        _update_part(solver, &params[0], &grads[0], &state1[0], s2,
                                     net.sc_off, net.units[0], net.sc_lr, scale, &c,
                                     net.n_threads)
                if pact:
                    _update_part(solver, &params[0], &grads[0], &state1[0], s2, net.pa_off,
                                 _n_alpha(&net), net.pa_lr, scale, &c, net.n_threads)
            if net.max_norm > 0:
                _max_norm(&net, &params[0], norms)
                sqnorm = _coef_sqnorm(&params[0], net.n_coef)
                l1norm = _coef_abssum(&params[0], net.n_coef)
            total += batch_loss * m
            start += m
            if start >= seg_end:
                pace_record(pacer, &net.tun, seg_nt, team, pace_clock() - seg_t0,
                            seg_end - seg_start)
            since_check += m
            if since_check >= net.tun.signal_check_samples and start < n:
                since_check = 0
                now = pace_clock()
                if now - last_check >= net.tun.signal_check_seconds:
                    last_check = now
                    with gil:
                        opt["t_done"] = adam_t
                        _check_stop(stop)
        online_copy_back(&net, &mir, &params[0], &state1[0], s2)
    # a Ctrl-C that arrives after the last check surfaces as this returns
    opt["t_done"] = adam_t
    return total, adam_t


def loss_grad(floating[::1] params,               # IN: flat coefs + intercepts
              floating[::1] grads,                # OUT: finished gradient
              floating[::1] work,                 # OUT: scratch (layout.work_size_in_place)
              double[::1] scratch,                # OUT: layout.scratch_size
              const floating[:, ::1] X,           # IN: dense X, or None
              const floating[::1] X_data,         # IN: CSR X, or None
              object X_indices,
              const Py_ssize_t[::1] X_indptr,
              const floating[:, ::1] Y,           # IN: float targets, or None
              const unsigned char[:, ::1] Y_bool,  # IN: 0/1 targets, or None
              const floating[::1] sample_weight,   # IN, or None
              const Py_ssize_t[::1] sample_idx,    # IN: arange(n_samples)
              Py_ssize_t chunk, layout, double alpha, int n_threads,
              double alpha1=0.0, bint with_grad=True, dict tuning=None,
              double[::1] pace=None,               # INOUT: the pacer's state, or None
              bint interruptible=False, object stop=None):
    """Loss and gradient over all samples (L-BFGS), as scikit-learn's _backprop.

    Samples are processed in chunks of `chunk` rows whose raw gradients
    accumulate, so memory does not grow with n_samples.  No dropout.  With
    with_grad=False only the loss is computed (validation loss).  Each chunk
    runs on the team or on one thread (`pace`, as train_epoch's).
    `interruptible`: between chunks, once Tuning.signal_check_seconds have
    passed since the last check, Ctrl-C (or `stop`, an event, set) raises
    KeyboardInterrupt, grads then partly summed (an L-BFGS fit raises it
    within about that long, as scikit-learn's, not once the pass is done).
    """
    cdef _Views v = _views(layout)
    cdef Net net = _make_net(v, layout, n_threads, 0, tuning)
    cdef Csr csr
    cdef Py_ssize_t n = sample_idx.shape[0]
    cdef Py_ssize_t n_features = v.units[0]
    cdef Py_ssize_t n_out = v.units[net.n_layers - 1]
    cdef Py_ssize_t start, m, j
    cdef floating* wp = &work[0]
    cdef floating* ybuf = wp + <Py_ssize_t> layout.ybuf_off
    cdef const floating* Xp = NULL
    cdef const floating* Yp = NULL
    cdef const unsigned char* Yb8 = NULL
    cdef const floating* swp = NULL
    cdef const floating* Yb
    cdef const floating* Xb
    cdef bint inlayer = _has_input_layer(&net)
    cdef double sw_sum = 0, loss_sum = 0, sqnorm, l1norm, scale
    cdef bint dense = X is not None
    cdef floating fscale, falpha = <floating> alpha, falpha1 = <floating> alpha1
    cdef int team = n_threads, seg_nt
    cdef double seg_t0, last_check
    cdef Pacer fresh
    cdef Pacer* pacer

    check_len(params.shape[0], layout.n_params, "params")
    pacer = _bind_pacer(pace, &fresh)
    if with_grad:
        check_len(grads.shape[0], layout.n_params, "grads")
    # contiguous chunks of X, read in place: no gathered copy of rows
    net.work_size = layout.work_size_in_place
    check_room(work.shape[0], net.work_size, "work")
    check_room(scratch.shape[0], layout.scratch_size, "scratch")
    if chunk < 1 or chunk > layout.batch_size:
        raise ValueError(f"chunk={chunk} is outside the layout's [1, {layout.batch_size}].")
    check_data(layout, X, X_data, X_indices, X_indptr, Y, Y_bool, sample_weight,
               sample_idx)
    if sample_weight is not None and n:
        check_weight_sums(&sample_weight[0], NULL, n, n)   # the rows summed below
    if v.cat_n:
        check_codes(layout, X)
    if inlayer and X is None:
        raise ValueError("the input layer (periodic columns, embeddings, input scale) "
                         "needs dense X")
    Xp = _bind_x(X, X_data, X_indices, X_indptr, &csr, &params[0])
    _bind_targets(Y, Y_bool, sample_weight, &Yp, &Yb8, &swp)
    with nogil:
        start = 0
        last_check = pace_clock()
        while start < n:
            m = min(chunk, n - start)
            seg_nt = pace_choose(pacer, &net.tun, team)
            net.n_threads = seg_nt
            seg_t0 = pace_clock()
            if Yp == NULL:
                _gather_batch(&net, Xp, n_features, Yp, Yb8, n_out, NULL,
                              &sample_idx[start], m, NULL, ybuf, NULL)
                Yb = ybuf
            else:
                Yb = Yp + start * n_out
            Xb = Xp + start * n_features if dense else NULL
            if inlayer:
                _input_forward(&net, Xb, m, &params[0], wp)
                Xb = wp + net.emb_off
            loss_sum += _forward(&net, Xb, &csr, &sample_idx[start], m, &params[0], wp,
                                 &scratch[0], Yb,
                                 NULL if swp == NULL else swp + start, True,
                                 False, start)
            if with_grad:
                _backward(&net, Xb, &csr, &sample_idx[start], m, &params[0], &grads[0],
                          wp, start > 0, False)
                if inlayer:
                    _input_backward(&net, m, &params[0], wp, &grads[0], start > 0)
            pace_record(pacer, &net.tun, seg_nt, team, pace_clock() - seg_t0, m)
            start += m
            if (interruptible and start < n
                    and pace_clock() - last_check >= net.tun.signal_check_seconds):
                last_check = pace_clock()
                with gil:
                    _check_stop(stop)
        if swp == NULL:
            sw_sum = n
        else:
            for j in range(n):
                sw_sum += swp[j]
        sqnorm = _coef_sqnorm(&params[0], net.n_coef)
        l1norm = _coef_abssum(&params[0], net.n_coef) if alpha1 > 0 else 0
        scale = 1.0 / sw_sum
        fscale = <floating> scale
        if with_grad:
            for j in range(net.n_params):
                if j < net.n_coef:
                    grads[j] = (grads[j] + falpha * params[j]
                                + falpha1 * ((params[j] > 0) - (params[j] < 0))) * fscale
                else:
                    grads[j] = grads[j] * fscale
    return (loss_sum + 0.5 * alpha * sqnorm + alpha1 * l1norm) / sw_sum
