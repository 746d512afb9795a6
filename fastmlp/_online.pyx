# Design: online training (batch size 1) on two or more cores.
#
# A one-row step is far too small to split by rows, and its optimizer step
# alone (Adam: a sqrt and a divide per parameter) is half of it.  Splitting
# only the optimizer over the cores lost: each sample the other core then
# owns half of the freshly stepped weights that the next forward pass reads
# (9.2 against 4.3 us per sample, bench/README.md).  Here every thread owns
# a slice of every layer's fan_in for the whole epoch: rows lo:hi of W_l,
# the bias entries of the units lo:hi (b_{l-1}), their gradients and their
# optimizer state, and it is the only thread that reads or writes them.  It
# works on copies of them in memory of its own for the epoch (written back
# at the end): when the threads stepped their slices of the shared buffers,
# the thread owning the second half ran its Adam 1.5-2x slower, its stores
# waiting on lines that the other core had pulled in, most likely by
# prefetching past the end of its own slice.  Each thread's partial
# products go to two buffers used by layer parity, so that no thread
# overwrites them while another still sums them.  Per sample, each thread:
#   forward   P_t = a_l[lo:hi] @ W_l[lo:hi, :] into its own buffer; barrier;
#             then for its own units of the next layer z = sum of the P's in
#             thread order, + bias, activation.  At the output layer every
#             thread sums all of it and computes the loss and the output
#             delta in its own buffer: the same arithmetic on the same
#             numbers, so every thread holds the same delta;
#   backward  for l = last .. 0: dW_l[lo:hi] = a_l[lo:hi] (x) d_{l+1} (a
#             rank-one product), d_l[lo:hi] = (W_l[lo:hi] d_{l+1}) * act'(
#             a_l[lo:hi]) with the weights before the step, then the step of
#             W_l[lo:hi] and of b_{l-1}[lo:hi]; barrier (the layer below needs
#             all of d_l).  Thread 0 steps the output bias after the first
#             backward barrier, when no thread reads it any more.
# What crosses between cores per sample is the P's (fan_out values per
# thread and layer) and the hidden deltas; 2 L - 1 meetings per sample for L
# weight layers, on a spin barrier (_spin_barrier.h: ~34 ns, libgomp's
# barrier ~280 ns).  Thread 0 keeps the loss: the penalty uses the sums of
# squared coefs each thread left after the previous step, added in thread
# order.  Results are deterministic for a thread count and equal the
# one-thread step up to rounding (the forward sums are split in two).
#
# Used for dense input without dropout, clipping by the global norm or
# max_norm, when there are at least two threads and ONLINE_MIN_COEFS
# weights (the decision is _network._online_team's).  Ctrl-C: thread 0
# checks for signals every signal_every samples before the first meeting of
# a sample and raises a flag that every thread reads after it, so all stop
# before that sample's step.
from cython cimport floating
from cython.parallel cimport parallel
from libc.math cimport sqrt, pow
from libc.string cimport memcpy, memset

from fastmlp._activations cimport _act_backward, _bias_act_forward
from fastmlp._blas cimport gemm_rm
from fastmlp._losses cimport _bias_out_loss_delta
from fastmlp._network cimport _at
from fastmlp._openmp cimport fastmlp_barrier, omp_get_num_threads, omp_get_thread_num
from fastmlp._optimizers cimport SOLVER_ADAM, SOLVER_ADAMW, _update


cdef extern from "Python.h":
    int PyErr_CheckSignals()      # needs the GIL; -1 with KeyboardInterrupt set


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


cdef void _copy_own(const Net* net, int t, int nt, const floating* src,
                    floating* dst) noexcept nogil:
    """dst = src on thread t's own parameters: rows lo:hi of every W_l and
    the bias entries b_{l-1}[lo:hi] of its units (not the output bias)."""
    cdef int l
    cdef Py_ssize_t lo, hi, fo, off
    if src == NULL:
        return
    for l in range(net.n_layers - 1):
        fo = net.units[l + 1]
        _share(net.units[l], t, nt, &lo, &hi)
        off = net.coef_off[l] + lo * fo
        memcpy(dst + off, src + off, (hi - lo) * fo * sizeof(floating))
        if l > 0:
            off = net.int_off[l - 1] + lo
            memcpy(dst + off, src + off, (hi - lo) * sizeof(floating))


cdef void _thread_loop(const Net* net, const OnlineData* d, floating* params,
                       floating* grads, floating* s1, floating* s2, OptConsts c,
                       OnlineShared* sh, int t, int nt) noexcept nogil:
    """Thread t's part of every sample of the epoch (see the design note)."""
    cdef int L = net.n_layers - 1
    cdef int l, s, sense = 0, stopped = 0
    cdef Py_ssize_t k, j, r, lo, hi, fi, fo, off, par, lo2, hi2
    cdef Py_ssize_t nf = net.units[0]
    cdef Py_ssize_t n_out = net.units[L]
    cdef Py_ssize_t uoff[ONLINE_MAX_LAYERS + 1]
    cdef const floating* X = <const floating*> d.X
    cdef const floating* Y = <const floating*> d.Y
    cdef const floating* sw = <const floating*> d.sw
    # this thread's region (see _train_online): copies of its parameters,
    # gradients and optimizer state at the flat buffers' offsets, its
    # activations, pre-activations and gathered deltas (a vector per layer at
    # uoff[l]), the output and target, then what the others read: the
    # partial products (two buffers, by layer parity) and its delta slices
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
    cdef double row_loss = 0, sq, l1, part, w, scale
    cdef double sqnorm = sh.sqnorm0
    cdef double l1norm = sh.l1norm0
    cdef double total = 0          # thread 0's: shared only at the end
    cdef bint adam = d.solver == SOLVER_ADAM or d.solver == SOLVER_ADAMW
    cdef Py_ssize_t adam_t = d.adam_t0
    uoff[0] = 0
    for l in range(L):
        uoff[l + 1] = uoff[l] + (net.units[l] + 15) // 16 * 16
    _copy_own(net, t, nt, params, pm)
    _copy_own(net, t, nt, s1, s1m)
    _copy_own(net, t, nt, s2, s2m)
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
            c.lr = (d.lr_init * sqrt(1 - pow(c.beta_2, <double> adam_t))
                    / (1 - pow(c.beta_1, <double> adam_t)))
        if t == 0 and k > 0 and k % d.signal_every == 0:
            with gil:
                if PyErr_CheckSignals() < 0:
                    sh.stop = 1

        # ---- forward
        for l in range(L):
            fi = net.units[l]
            fo = net.units[l + 1]
            par = (l % 2) * d.max_fo
            a = x if l == 0 else Av + uoff[l]
            _share(fi, t, nt, &lo, &hi)
            if lo < hi:
                gemm_rm(False, False, 1, fo, hi - lo, 1, a + lo, fi,
                        pm + net.coef_off[l] + lo * fo, fo, 0, Pb + par, fo)
            else:
                memset(Pb + par, 0, fo * sizeof(floating))
            fastmlp_spin_wait(&sh.barrier, &sense)
            if l == 0:
                stopped = sh.stop    # every thread sees the flag after this meeting
                if stopped:
                    break
                if t == 0 and k > 0:
                    sqnorm = 0
                    l1norm = 0
                    for s in range(nt):
                        sqnorm += sh.sums[s * SLOT]
                        l1norm += sh.sums[s * SLOT + 1]
            if l < L - 1:
                # this thread's units of layer l + 1: the P's summed in thread order
                _share(fo, t, nt, &lo, &hi)
                for j in range(lo, hi):
                    Av[uoff[l + 1] + j] = _sum_partials(regions, d.region_stride,
                                                        p_at + par + j, nt)
                _bias_act_forward(Av + uoff[l + 1] + lo, pm + net.int_off[l] + lo, 1,
                                  hi - lo, net.acts[l + 1],
                                  NULL if net.pre_off[l + 1] < 0 else Zp + uoff[l + 1] + lo)
            else:
                for j in range(fo):
                    zout[j] = _sum_partials(regions, d.region_stride, p_at + par + j, nt)
                _bias_out_loss_delta(zout, params + net.int_off[l], y,
                                     NULL if sw == NULL else sw + r, 1, fo,
                                     net.out_kind, net.huber_delta, &row_loss)
                if t == 0:
                    total += (row_loss + 0.5 * d.alpha * sqnorm
                              + c.alpha1 * l1norm) / w

        if stopped:
            break

        # ---- backward, and the step of this thread's parameters
        sq = 0
        l1 = 0
        for l in range(L - 1, -1, -1):
            fi = net.units[l]
            fo = net.units[l + 1]
            _share(fi, t, nt, &lo, &hi)
            dn = zout if l == L - 1 else Df + uoff[l + 1]
            a = x if l == 0 else Av + uoff[l]
            if lo < hi:
                off = net.coef_off[l] + lo * fo
                # dW_l[lo:hi] = a_l[lo:hi] (x) d_{l+1}
                gemm_rm(True, False, hi - lo, fo, 1, 1, a + lo, fi, dn, fo, 0,
                        gm + off, fo)
                if l > 0:
                    # d_l[lo:hi] = (W_l[lo:hi] @ d_{l+1}) * act'(a_l[lo:hi]),
                    # with W_l before its step; published for the others
                    gemm_rm(False, True, 1, hi - lo, fo, 1, dn, fo, pm + off, fo, 0,
                            Df + uoff[l] + lo, fi)
                    _act_backward(Av + uoff[l] + lo,
                                  NULL if net.pre_off[l] < 0 else Zp + uoff[l] + lo,
                                  Df + uoff[l] + lo, hi - lo, net.acts[l])
                    memcpy(Ds + uoff[l] + lo, Df + uoff[l] + lo,
                           (hi - lo) * sizeof(floating))
                sq += _update(d.solver, pm + off, gm + off, s1m + off,
                              _at(s2m, off), (hi - lo) * fo, (hi - lo) * fo,
                              <floating> d.alpha, <floating> scale, &c, 1, &part)
                l1 += part
                if l > 0:
                    # b_{l-1}[lo:hi]: the biases of the units whose delta this is
                    off = net.int_off[l - 1] + lo
                    memcpy(gm + off, Df + uoff[l] + lo, (hi - lo) * sizeof(floating))
                    _update(d.solver, pm + off, gm + off, s1m + off,
                            _at(s2m, off), hi - lo, 0, <floating> d.alpha,
                            <floating> scale, &c, 1, &part)
            if l > 0:
                fastmlp_spin_wait(&sh.barrier, &sense)
                # gather the others' slices of d_l
                for s in range(nt):
                    if s != t:
                        _share(fi, s, nt, &lo2, &hi2)
                        Rs = regions + s * d.region_stride
                        memcpy(Df + uoff[l] + lo2, Rs + ds_at + uoff[l] + lo2,
                               (hi2 - lo2) * sizeof(floating))
            if l == L - 1 and t == 0:
                # the output bias: every thread has read it by now
                off = net.int_off[L - 1]
                memcpy(grads + off, zout, n_out * sizeof(floating))
                _update(d.solver, params + off, grads + off, s1 + off,
                        _at(s2, off), n_out, 0, <floating> d.alpha,
                        <floating> scale, &c, 1, &part)
        sh.sums[t * SLOT] = sq
        sh.sums[t * SLOT + 1] = l1
    _copy_own(net, t, nt, pm, params)
    _copy_own(net, t, nt, s1m, s1)
    _copy_own(net, t, nt, s2m, s2)
    if t == 0:
        sh.total = total
        sh.n_done = k if stopped else d.n


cdef Py_ssize_t online_epoch(const Net* net, const OnlineData* d,
                             floating* params, floating* grads, floating* s1,
                             floating* s2, const OptConsts* c, OnlineShared* sh,
                             int n_threads) noexcept nogil:
    """Train d.n samples one at a time on a team of n_threads (see the
    design note); returns how many were done (fewer when Ctrl-C set
    sh.stop, with KeyboardInterrupt pending).  The summed loss is left in
    sh.total; sh.sums must have SLOT * n_threads doubles."""
    cdef int t, team
    sh.stop = 0
    sh.total = 0
    sh.n_done = 0
    with parallel(num_threads=n_threads):
        t = omp_get_thread_num()
        team = omp_get_num_threads()
        if t == 0:
            fastmlp_spin_init(&sh.barrier, team)
        fastmlp_barrier()
        _thread_loop(net, d, params, grads, s1, s2, c[0], sh, t, team)
    return sh.n_done
