# Design: online training (batch size 1) on two or more cores.
#
# A one-row step is far too small to split by rows, and its optimizer step
# alone (Adam: a sqrt and a divide per parameter) is half of it.  Splitting
# only the optimizer over the cores lost: each sample the other core then
# owns half of the freshly stepped weights that the next forward pass reads
# (9.2 against 4.3 us per sample, bench/README.md).  Here every thread owns
# a slice lo:hi of every hidden layer's units for the whole epoch: their
# columns of W_0 (the weights into them), their rows of the next W (the
# weights out of them), their biases, the gradients and optimizer state of
# all these, and the output bias (each thread a copy, stepped the same
# way).  It is the only thread that reads or writes them, and it works on
# copies in one block of memory of its own (_own_layout).  The copies
# stay live from one team segment of the epoch to the next (the pacer cuts
# an epoch into segments, _pacing.pxd) and go back to the flat buffers
# before a one-thread segment and at the end of the epoch (online_copy_back;
# with the copies in and back out, ~24 us, a segment cost ~35 us, so that
# the pacer's 16-sample team probes cost 4 us a sample against 1.6-2.1 and
# lost to one thread).  When the threads stepped their slices of shared
# buffers, the thread owning the second half ran its Adam 1.5-2x slower,
# its stores waiting on lines the other core had pulled in.  Per sample,
# each thread:
#   forward   layer 0: its units of layer 1 from its columns of W_0 and the
#             whole row of X, bias, activation: nothing to wait for.  Each
#             later layer: P_t = a_l[lo:hi] @ W_l[lo:hi, :] into a buffer
#             the others read; barrier; then for its own units of the next
#             layer z = sum of the P's in thread order, + bias, activation.
#             At the output layer every thread sums all of it and computes
#             the loss and the output delta: the same arithmetic on the same
#             numbers, so every thread holds the same delta;
#   backward  for l = last .. 1: dW_l[lo:hi] = a_l[lo:hi] (x) d_{l+1} (rank
#             one), d_l[lo:hi] = (W_l[lo:hi] d_{l+1}) * act'(a_l[lo:hi]);
#             for l > 1 a barrier, then it gathers the others' slices of d_l
#             (layer l - 1 needs all of it).  Layer 0 needs only d_1[lo:hi]:
#             dW_0[:, lo:hi] = x (x) d_1[lo:hi].  Then one optimizer call
#             steps all its parameters.
# So 2 L - 3 meetings per sample for L weight layers (one for a single
# hidden layer), on a spin barrier (_spin_barrier.h: ~34 ns, libgomp's ~280
# ns; a build without C11 atomics meets on OpenMP's barrier instead).  What
# a thread publishes before a meeting, the others read before the next one;
# as a thread may run from one meeting to the one after next
# in the meantime, published partial products alternate between two
# buffers by the meetings' parity, the penalty sums between two slots by
# the sample's parity, and the Ctrl-C flag names its sample.  Thread 0
# keeps the loss: the penalty uses the sums of squared coefs each thread
# left after the previous step, added in thread order.  Results are
# deterministic for a thread count and equal the one-thread step up to
# rounding (the later layers' forward sums are split).
#
# Used for dense input without dropout, clipping by the global norm or
# max_norm, when there are at least two threads and Tuning.online_min_coefs
# weights (the decision is _network._online_team's).  Ctrl-C (or the
# caller's stop event): thread 0 reads the clock every signal_every samples
# and, signal_seconds after its last check, checks before the first meeting
# of a sample; it raises a flag that every thread reads after that meeting,
# so all stop before that sample's step.
from cython cimport floating
from cython.parallel cimport parallel
from libc.math cimport sqrt
from libc.string cimport memcpy, memset

import numpy as np

from fastmlp._activations cimport _act_backward, _bias_act_forward
from fastmlp._blas cimport gemm_rm, row_product
from fastmlp._losses cimport _bias_out_loss_delta
from fastmlp._openmp cimport fastmlp_barrier, omp_get_num_threads, omp_get_thread_num
from fastmlp._optimizers cimport SOLVER_ADAM, SOLVER_ADAMW, _update, adam_step_size
from fastmlp._pacing cimport pace_clock


cdef extern from "Python.h":
    int PyErr_CheckSignals()      # needs the GIL; -1 with KeyboardInterrupt set
    void PyErr_SetNone(object type)


cdef extern from "_spin_barrier.h" nogil:
    void fastmlp_spin_init(fastmlp_spin_barrier* b, int n)
    void fastmlp_spin_wait(fastmlp_spin_barrier* b, int* local)


cdef inline Py_ssize_t _cut(Py_ssize_t n, int t, int nt) noexcept nogil:
    """Where thread t's slice of n units starts: t * n / nt, on a multiple
    of 16 units when every slice still gets 16 or more (so that the slices
    of a vector of units, and of the weight rows they own, start on cache
    lines of their own)."""
    cdef Py_ssize_t cut = t * n // nt
    if n >= 32 * nt and 0 < t < nt:
        cut = (cut + 8) // 16 * 16
    return cut


cdef inline void _share(Py_ssize_t n, int t, int nt, Py_ssize_t* lo,
                        Py_ssize_t* hi) noexcept nogil:
    """Thread t's slice lo:hi of n units (see _cut)."""
    lo[0] = _cut(n, t, nt)
    hi[0] = _cut(n, t + 1, nt)


cdef inline floating _sum_partials(const floating* regions, Py_ssize_t stride,
                                   Py_ssize_t at, int nt) noexcept nogil:
    """The value at offset `at` of every thread's region (`stride` values
    apart), summed in thread order: a unit's partial products."""
    cdef floating z = regions[at]
    cdef int s
    for s in range(1, nt):
        z = z + regions[s * stride + at]
    return z


cdef Py_ssize_t _own_layout(const Net* net, int t, int nt, Py_ssize_t* o_w,
                            Py_ssize_t* o_b, Py_ssize_t* n_reg) noexcept nogil:
    """Where thread t's own parameters sit in its region (one block, so that
    one optimizer call steps them all): the columns lo:hi of W_0 packed as
    a fan_in x (hi - lo) matrix at o_w[0], rows lo:hi of every other W_l at
    o_w[l], then the bias entries b_{l-1}[lo:hi] of its units at o_b[l-1]
    and the output bias at o_b[L-1].  Every part starts on 16 values; the
    gaps stay zero in parameters, gradients and state, so stepping them
    changes nothing.  n_reg: the weights' part (penalized); returns the
    block's length."""
    cdef int l, L = net.n_layers - 1
    cdef Py_ssize_t lo, hi, at = 0
    _share(net.units[1], t, nt, &lo, &hi)
    o_w[0] = 0
    at = _pad16(net.units[0] * (hi - lo))
    for l in range(1, L):
        _share(net.units[l], t, nt, &lo, &hi)
        o_w[l] = at
        at += _pad16((hi - lo) * net.units[l + 1])
    n_reg[0] = at
    for l in range(1, L):
        _share(net.units[l], t, nt, &lo, &hi)
        o_b[l - 1] = at
        at += _pad16(hi - lo)
    o_b[L - 1] = at
    return at + _pad16(net.units[L])


cdef inline void _move(floating* flat, floating* own, Py_ssize_t n,
                       bint back) noexcept nogil:
    if back:
        memcpy(flat, own, n * sizeof(floating))
    else:
        memcpy(own, flat, n * sizeof(floating))


cdef void _copy_own(const Net* net, int t, int nt, const Py_ssize_t* o_w,
                    const Py_ssize_t* o_b, floating* flat, floating* own,
                    bint back) noexcept nogil:
    """Copy thread t's own parameters (see _own_layout) from a flat buffer
    to its block (back=False), or back (back=True; the output bias by
    thread 0 only: every thread steps its own copy the same way)."""
    cdef int l, L = net.n_layers - 1
    cdef Py_ssize_t i, lo, hi, n
    cdef Py_ssize_t nf = net.units[0]
    cdef Py_ssize_t fo0 = net.units[1]
    if flat == NULL:
        return
    _share(fo0, t, nt, &lo, &hi)
    for i in range(nf if hi > lo else 0):
        _move(flat + net.coef_off[0] + i * fo0 + lo, own + o_w[0] + i * (hi - lo),
              hi - lo, back)
    for l in range(1, L):
        _share(net.units[l], t, nt, &lo, &hi)
        n = net.units[l + 1]
        _move(flat + net.coef_off[l] + lo * n, own + o_w[l], (hi - lo) * n, back)
        _move(flat + net.int_off[l - 1] + lo, own + o_b[l - 1], hi - lo, back)
    if t == 0 or not back:
        _move(flat + net.int_off[L - 1], own + o_b[L - 1], net.units[L], back)


cdef void _mirror_copy(const Net* net, const OnlineData* d, int s, int team,
                       floating* params, floating* s1, floating* s2,
                       bint back) noexcept nogil:
    """Copy thread s's own parameters and optimizer state (of a team of
    `team`) from the flat buffers into its region (back=False), or back."""
    cdef Py_ssize_t o_w[ONLINE_MAX_LAYERS]
    cdef Py_ssize_t o_b[ONLINE_MAX_LAYERS]
    cdef Py_ssize_t n_reg
    cdef floating* R = <floating*> d.regions + s * d.region_stride
    _own_layout(net, s, team, o_w, o_b, &n_reg)
    _copy_own(net, s, team, o_w, o_b, params, R, back)
    _copy_own(net, s, team, o_w, o_b, s1, R + 2 * d.mirror_len, back)
    _copy_own(net, s, team, o_w, o_b, s2, R + 3 * d.mirror_len, back)


cdef void _thread_loop(const Net* net, const OnlineData* d, floating* params,
                       floating* s1, floating* s2, OptConsts c,
                       OnlineShared* sh, int t, int nt) noexcept nogil:
    """Thread t's part of every sample of the segment (see the design note).
    Its own copies are made from the flat buffers first unless a team of
    this size left them live (d.live_team)."""
    cdef int L = net.n_layers - 1
    cdef int l, s, sense = 0, stopped = 0
    cdef Py_ssize_t meet = 0       # meetings so far (their parity picks the buffer)
    cdef Py_ssize_t k, j, r, lo, hi, fi, fo, par, lo2, hi2, w0, n_own, n_reg
    cdef Py_ssize_t o_w[ONLINE_MAX_LAYERS]
    cdef Py_ssize_t o_b[ONLINE_MAX_LAYERS]
    cdef Py_ssize_t nf = net.units[0]
    cdef Py_ssize_t n_out = net.units[L]
    cdef Py_ssize_t uoff[ONLINE_MAX_LAYERS + 1]
    cdef const floating* X = <const floating*> d.X
    cdef const floating* Y = <const floating*> d.Y
    cdef const floating* sw = <const floating*> d.sw
    # this thread's region (see train_online): its parameters, gradients
    # and optimizer state (a block each, see _own_layout), its activations,
    # pre-activations and gathered deltas (a vector per layer at uoff[l]),
    # the output and target, then what the others read: the partial
    # products (two buffers, by the parity of the meeting they are for) and
    # its delta slices
    cdef floating* regions = <floating*> d.regions
    cdef floating* R = regions + t * d.region_stride
    cdef floating* pm = R
    cdef floating* gm = R + d.mirror_len
    cdef floating* s1m = R + 2 * d.mirror_len
    cdef floating* s2m = NULL if s2 == NULL else R + 3 * d.mirror_len
    cdef floating* Av = R + 4 * d.mirror_len
    cdef floating* Zp = Av + d.u_total
    cdef floating* Df = Zp + d.u_total
    cdef floating* zout = Df + d.u_total
    cdef floating* ybuf = zout + d.out_len
    cdef floating* Pb = ybuf + d.out_len
    cdef floating* Ds = Pb + 2 * d.max_fo
    cdef Py_ssize_t p_at = Pb - R
    cdef Py_ssize_t ds_at = Ds - R
    cdef const floating* x
    cdef const floating* y
    cdef const floating* a
    cdef const floating* dn
    cdef const floating* Rs
    cdef double row_loss = 0, sq, l1, w, scale
    cdef double sqnorm = sh.sqnorm0
    cdef double l1norm = sh.l1norm0
    cdef double total = sh.total   # thread 0's: shared only at the end
    cdef bint adam = d.solver == SOLVER_ADAM or d.solver == SOLVER_ADAMW
    cdef Py_ssize_t adam_t = d.adam_t0
    cdef double last_check = pace_clock(), now
    uoff[0] = 0
    for l in range(L):
        uoff[l + 1] = uoff[l] + _pad16(net.units[l])
    n_own = _own_layout(net, t, nt, o_w, o_b, &n_reg)
    if d.live_team != nt:
        memset(R, 0, (4 if s2 != NULL else 3) * d.mirror_len * sizeof(floating))
        _mirror_copy(net, d, t, nt, params, s1, s2, False)
    for k in range(d.n):
        r = d.idx[k]
        x = X + r * nf
        if Y != NULL:
            y = Y + r * n_out
        else:
            for j in range(n_out):
                ybuf[j] = d.Yb8[r * n_out + j]
            y = ybuf
        w = 1 if sw == NULL else sw[r]
        scale = 1.0 / w
        if adam:
            adam_t = adam_t + 1
            c.lr = adam_step_size(d.lr_init, c.beta_1, c.beta_2, adam_t)
        if t == 0 and k > 0 and k % d.signal_every == 0:
            now = pace_clock()
            if now - last_check >= d.signal_seconds:
                last_check = now
                with gil:
                    if PyErr_CheckSignals() < 0 or _stop_set(d.stop):
                        sh.stop = k + 1

        # ---- forward.  Layer 0: this thread's units of layer 1 from its
        # own columns of W_0 and the whole row of X, without meeting
        _share(net.units[1], t, nt, &lo, &hi)
        w0 = hi - lo
        if w0 > 0:
            row_product(w0, nf, x, pm + o_w[0], w0, Av + uoff[1] + lo, net.tun.one_row_loop)
            _bias_act_forward(Av + uoff[1] + lo, pm + o_b[0], 1, w0,
                              net.acts[1],
                              NULL if net.pre_off[1] < 0 else Zp + uoff[1] + lo)
        for l in range(1, L):
            fi = net.units[l]
            fo = net.units[l + 1]
            par = (meet % 2) * d.max_fo
            a = Av + uoff[l]
            _share(fi, t, nt, &lo, &hi)
            if lo < hi:
                row_product(fo, hi - lo, a + lo, pm + o_w[l], fo, Pb + par,
                            net.tun.one_row_loop)
            else:
                memset(Pb + par, 0, fo * sizeof(floating))
            fastmlp_spin_wait(&sh.barrier, &sense)
            meet += 1
            if l == 1:
                # every thread reads the flag after this meeting; it names the
                # sample, for a thread may still be here at sample k when
                # thread 0 has set it at sample k + 1
                stopped = sh.stop == k + 1
                if stopped:
                    break
                if t == 0 and k > 0:
                    # the penalty's sums that the threads left after the
                    # previous sample (two slots, by the sample's parity)
                    sqnorm = 0
                    l1norm = 0
                    for s in range(nt):
                        sqnorm += sh.sums[s * SLOT + 2 * ((k - 1) % 2)]
                        l1norm += sh.sums[s * SLOT + 2 * ((k - 1) % 2) + 1]
            if l < L - 1:
                # this thread's units of layer l + 1: the P's summed in thread order
                _share(fo, t, nt, &lo, &hi)
                for j in range(lo, hi):
                    Av[uoff[l + 1] + j] = _sum_partials(regions, d.region_stride,
                                                        p_at + par + j, nt)
                _bias_act_forward(Av + uoff[l + 1] + lo, pm + o_b[l], 1,
                                  hi - lo, net.acts[l + 1],
                                  NULL if net.pre_off[l + 1] < 0 else Zp + uoff[l + 1] + lo)
            else:
                for j in range(fo):
                    zout[j] = _sum_partials(regions, d.region_stride, p_at + par + j, nt)
                _bias_out_loss_delta(zout, pm + o_b[L - 1], y,
                                     NULL if sw == NULL else sw + r, 1, fo,
                                     net.out_kind, net.huber_delta, &row_loss)
                if t == 0:
                    total += (row_loss + 0.5 * d.alpha * sqnorm
                              + c.alpha1 * l1norm) / w

        if stopped:
            break

        # ---- backward: this thread's gradients, then one step of all its
        # parameters (no other thread reads them)
        memcpy(gm + o_b[L - 1], zout, n_out * sizeof(floating))
        for l in range(L - 1, 0, -1):
            fi = net.units[l]
            fo = net.units[l + 1]
            _share(fi, t, nt, &lo, &hi)
            dn = zout if l == L - 1 else Df + uoff[l + 1]
            a = Av + uoff[l]
            if lo < hi:
                # dW_l[lo:hi] = a_l[lo:hi] (x) d_{l+1}
                gemm_rm(True, False, hi - lo, fo, 1, 1, a + lo, fi, dn, fo, 0,
                        gm + o_w[l], fo)
                # d_l[lo:hi] = (W_l[lo:hi] @ d_{l+1}) * act'(a_l[lo:hi]), the
                # gradient of b_{l-1}[lo:hi]
                gemm_rm(False, True, 1, hi - lo, fo, 1, dn, fo, pm + o_w[l], fo, 0,
                        Df + uoff[l] + lo, fi)
                _act_backward(Av + uoff[l] + lo,
                              NULL if net.pre_off[l] < 0 else Zp + uoff[l] + lo,
                              Df + uoff[l] + lo, hi - lo, net.acts[l])
                memcpy(gm + o_b[l - 1], Df + uoff[l] + lo, (hi - lo) * sizeof(floating))
                if l > 1:
                    # published for the others (layer 0 needs only this
                    # thread's slice of d_1)
                    memcpy(Ds + uoff[l] + lo, Df + uoff[l] + lo,
                           (hi - lo) * sizeof(floating))
            if l > 1:
                fastmlp_spin_wait(&sh.barrier, &sense)
                meet += 1
                # gather the others' slices of d_l
                for s in range(nt):
                    if s != t:
                        _share(fi, s, nt, &lo2, &hi2)
                        Rs = regions + s * d.region_stride
                        memcpy(Df + uoff[l] + lo2, Rs + ds_at + uoff[l] + lo2,
                               (hi2 - lo2) * sizeof(floating))
        # dW_0[:, lo:hi] = x (x) d_1[lo:hi], on the packed columns
        _share(net.units[1], t, nt, &lo, &hi)
        if w0 > 0:
            gemm_rm(True, False, nf, w0, 1, 1, x, nf, Df + uoff[1] + lo, w0, 0,
                    gm + o_w[0], w0)
        sq = _update(d.solver, pm, gm, s1m, s2m, n_own, n_reg, <floating> d.alpha,
                     <floating> scale, &c, 1, &l1)
        sh.sums[t * SLOT + 2 * (k % 2)] = sq
        sh.sums[t * SLOT + 2 * (k % 2) + 1] = l1
    if stopped:
        # Ctrl-C: the flat buffers are the caller's to keep
        _mirror_copy(net, d, t, nt, params, s1, s2, True)
    if t == 0:
        sh.total = total
        sh.n_done = k if stopped else d.n


cdef Py_ssize_t online_epoch(const Net* net, const OnlineData* d,
                             floating* params, floating* s1, floating* s2,
                             const OptConsts* c, OnlineShared* sh,
                             int n_threads) noexcept nogil:
    """Train d.n samples one at a time on a team of n_threads (see the
    design note); returns how many were done (fewer when Ctrl-C set
    sh.stop, with KeyboardInterrupt pending).  The summed loss is left in
    sh.total (which holds the loss summed before them); sh.sums must have
    SLOT * n_threads doubles."""
    cdef int t, team, s
    sh.stop = 0
    sh.n_done = 0
    with parallel(num_threads=n_threads):
        t = omp_get_thread_num()
        team = omp_get_num_threads()
        if t == 0:
            fastmlp_spin_init(&sh.barrier, team)
            sh.team = team
            if d.live_team > 0 and d.live_team != team:
                # live copies laid out for another team size: back first
                for s in range(d.live_team):
                    _mirror_copy(net, d, s, d.live_team, params, s1, s2, True)
        fastmlp_barrier()
        _thread_loop(net, d, params, s1, s2, c[0], sh, t, team)
    return sh.n_done


cdef int raise_pending() except -1:
    """Propagate the exception already set (KeyboardInterrupt)."""
    return -1


cdef bint _stop_set(void* stop) noexcept:
    """Is the caller's stop event (NULL: none) set?  Then KeyboardInterrupt
    is pending, as after Ctrl-C."""
    if stop == NULL or not (<object> stop).is_set():
        return False
    PyErr_SetNone(KeyboardInterrupt)
    return True


cdef inline void* _aligned(void* p, size_t to) noexcept nogil:
    """p rounded up to a multiple of `to` bytes."""
    return <void*> ((<size_t> p + to - 1) // to * to)


cdef Py_ssize_t _size_regions(const Net* net, Py_ssize_t itemsize,
                              OnlineData* d) noexcept nogil:
    """The sizes of each thread's region (laid out in _thread_loop), in
    values of `itemsize` bytes; returns the values a page holds."""
    cdef Py_ssize_t l, region_len
    cdef Py_ssize_t n_out = net.units[net.n_layers - 1]
    cdef Py_ssize_t page = 4096 // itemsize
    d.max_fo = 0
    d.u_total = 0
    for l in range(net.n_layers):
        d.u_total += _pad16(net.units[l])
        if l > 0:
            d.max_fo = max(d.max_fo, _pad16(net.units[l]))
    d.out_len = _pad16(n_out)
    # a thread's own parameters, each part padded to 16 values (_online._own_layout)
    d.mirror_len = _pad16(net.n_params + 32 * net.n_layers)
    # each thread's region, whole pages and a page apart: the threads'
    # stores waited on lines the other core had pulled in when their data
    # sat side by side (bench/README.md)
    region_len = 4 * d.mirror_len + 4 * d.u_total + 2 * d.out_len + 2 * d.max_fo
    d.region_stride = (region_len + page - 1) // page * page + page
    return page


cdef Py_ssize_t online_regions_len(const Net* net, int nt,
                                   Py_ssize_t itemsize) noexcept nogil:
    cdef OnlineData d
    cdef Py_ssize_t page = _size_regions(net, itemsize, &d)
    return nt * d.region_stride + page    # and a page to align the first to one


cdef tuple train_online(const Net* net, int nt, const floating* Xp,
                         const floating* Yp, const unsigned char* Yb8,
                         const floating* swp, const Py_ssize_t* idx,
                         Py_ssize_t n, floating* params,
                         floating* s1, floating* s2, const OptConsts* c,
                         int solver, double lr_init, Py_ssize_t adam_t,
                         double alpha, OnlineMirrors* mir, double* sqnorm,
                         double* l1norm, double total, object stop,
                         Py_ssize_t* t_stop):
    """train_epoch at batch size 1 on nt threads (_online.pyx).  Ctrl-C or
    `stop` set (an event, or None): KeyboardInterrupt, with t_stop Adam's
    step count after the samples done."""
    cdef OnlineData d
    cdef OnlineShared sh
    cdef Py_ssize_t done
    cdef int s, slot
    cdef Py_ssize_t need = online_regions_len(net, max(nt, mir.team), sizeof(floating))
    if mir.len < need:
        raise ValueError(f"the online regions hold {mir.len} values, "
                         f"fewer than the {need} needed")
    _size_regions(net, sizeof(floating), &d)
    d.regions = _aligned(mir.buf, 4096)
    d.live_team = mir.team
    d.X = Xp
    d.Y = Yp
    d.Yb8 = Yb8
    d.sw = swp
    d.idx = idx
    d.n = n
    d.solver = solver
    d.lr_init = lr_init
    d.adam_t0 = adam_t
    d.alpha = alpha
    d.signal_every = net.tun.signal_check_samples
    d.signal_seconds = net.tun.signal_check_seconds
    d.stop = NULL if stop is None else <void*> stop
    sh.sqnorm0 = sqnorm[0]
    sh.l1norm0 = l1norm[0]
    sh.total = total
    with nogil:
        done = online_epoch(net, &d, params, s1, s2, c, &sh, nt)
    mir.team = 0 if sh.stop else sh.team
    if sh.stop:
        t_stop[0] = adam_t + done if solver == SOLVER_ADAM or solver == SOLVER_ADAMW else adam_t
        raise_pending()
    if done > 0:
        # the sums the last step left, added as the next sample would add them
        slot = 2 * ((done - 1) % 2)
        sqnorm[0] = 0
        l1norm[0] = 0
        for s in range(sh.team):
            sqnorm[0] += sh.sums[s * SLOT + slot]
            l1norm[0] += sh.sums[s * SLOT + slot + 1]
    if solver == SOLVER_ADAM or solver == SOLVER_ADAMW:
        adam_t += done
    return sh.total, adam_t


cdef void online_copy_back(const Net* net, OnlineMirrors* mir, floating* params,
                           floating* s1, floating* s2) noexcept nogil:
    cdef OnlineData d
    cdef int t, got, s, team = mir.team
    if team <= 0:
        return
    _size_regions(net, sizeof(floating), &d)
    d.regions = _aligned(mir.buf, 4096)
    # each thread its own (the lines stay in its cache); any the runtime
    # gave no thread for, thread 0
    with parallel(num_threads=team):
        t = omp_get_thread_num()
        got = omp_get_num_threads()
        _mirror_copy(net, &d, t, team, params, s1, s2, True)
        if t == 0:
            for s in range(got, team):
                _mirror_copy(net, &d, s, team, params, s1, s2, True)
    mir.team = 0
