# Design: the network engine -- forward, backward, whole epochs -- without the GIL.
#
# Data: parameters and gradients are flat buffers laid out as scikit-learn's
# _pack (all coefs (fan_in, fan_out) row-major, then all intercepts); the
# batch's activations and deltas live in one flat `work` buffer (offsets in
# Net).  Gradients are left RAW (A^T delta and sum(delta)); the optimizer step
# finishes them (L2, 1/sum(sample_weight), clipping) inside its own loop.
#
# Forward, per layer: rows of the batch are cut into blocks; each block does
# its GEMM (through _blas.gemm_rm) and then, while the output block is still
# in cache, bias + activation (hidden) or bias + output activation + loss +
# delta (output layer, _losses).  Backward, per layer: the weight gradient
# A^T D is split over fan_in rows (each thread owns rows of dW, no
# reduction); the delta for the layer below, D W^T, is split over batch rows
# and fused with the activation derivative of that block.
#
# Threads: this module owns the cores while it runs.  Each parallel region
# gives each OpenMP thread whole GEMMs, so BLAS must be single-threaded
# meanwhile (the Python layer holds threadpoolctl's BLAS limit to 1 around
# training); a region runs only when the work is worth a fork (PAR_MIN_FLOPS)
# and otherwise runs serially on the calling thread, so batch size 1 pays no
# OpenMP overhead.  A training batch with enough rows takes ONE region
# (_step_rows_split, ROWS_PASS): each thread runs its rows forward and back
# to the hidden deltas, then after a barrier its share of the gradients.
# Results do not depend on scheduling: each row's loss is kept and the rows
# are summed in order, whatever blocks the threads took, and every gradient
# entry is one GEMM over all the batch's rows.  An epoch at batch size 1
# with two threads or more goes to _online.pyx instead (ONLINE_SPLIT): each
# thread owns a slice of every hidden layer's units for the whole epoch.
#
# Dropout (training only): inverted dropout, A *= mask with mask = 0 or 1/keep,
# drawn from a counter-based hash of (seed, layer, sample position in the
# epoch, unit), so masks do not depend on thread scheduling.  The input layer
# is dropped into a copy of the batch.
#
# Input: dense C-contiguous X (never copied when not shuffled; shuffled
# batches gather their rows into `work`), or CSR (first layer by CSR x dense).
from cython cimport floating
from cython.parallel cimport parallel, prange
from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport sqrt
from libc.string cimport memcpy, memset

import numpy as np

from fastmlp._activations cimport (ACT_IDENTITY, ACT_LEAKY_RELU, ACT_RELU,
                                   _act_backward, _act_backward_masked,
                                   _bias_act_forward)
from fastmlp._blas cimport gemm_rm, row_times_rm
from fastmlp._contract cimport check_csr, check_data, check_len, check_room
from fastmlp._tuning cimport DELTA_WT_MAX, STEP_MAX_THREADS, Tuning, tuning_from
from fastmlp._losses cimport (OUT_ABSOLUTE, OUT_HUBER, OUT_IDENTITY,
                              _bias_out_forward, _bias_out_loss_delta)
from fastmlp._openmp cimport fastmlp_barrier, omp_get_num_threads, omp_get_thread_num
from fastmlp._online cimport (ONLINE_MAX_LAYERS, ONLINE_MAX_THREADS, OnlineData,
                              OnlineShared, _pad16, online_epoch)
from fastmlp._optimizers cimport (OptConsts, SOLVER_ADAGRAD, SOLVER_ADAM,
                                  SOLVER_ADAMW, SOLVER_SGD, _grad_sqnorm, _update,
                                  adam_step_size)

cdef inline double _act_work(const Net* net, int act) noexcept nogil:
    """GEMM-flop equivalent of one hidden activation value (fwd + bwd)."""
    if act == ACT_IDENTITY or act == ACT_RELU or act == ACT_LEAKY_RELU:
        return 2
    return net.tun.transcendental_flops


cdef inline double _out_work(const Net* net, int kind) noexcept nogil:
    """GEMM-flop equivalent of one output value (activation, loss, delta)."""
    if kind == OUT_IDENTITY or kind == OUT_HUBER or kind == OUT_ABSOLUTE:
        return 4
    return 2 * net.tun.transcendental_flops    # exp (+ log) per value


# the thresholds of a call that passes none (_tuning.pyx's defaults)
cdef Tuning DEFAULT_TUNING = tuning_from(None)


cdef inline Tuning _tuning_for(dict overrides) except *:
    return DEFAULT_TUNING if overrides is None else tuning_from(overrides)


cdef struct Csr:
    const void* data              # floating*, NULL when X is dense
    const Py_ssize_t* indices
    const Py_ssize_t* indptr


cdef inline int _team(const Net* net, double flops, Py_ssize_t n_items) noexcept nogil:
    """Threads for one step: 1 when the step is too small to split."""
    if net.n_threads <= 1 or flops < net.tun.par_min_flops or n_items < 2:
        return 1
    return net.n_threads if net.n_threads < n_items else <int> n_items


cdef inline Py_ssize_t _block_rows(const Tuning* tun, Py_ssize_t m, Py_ssize_t width,
                                   int nt, Py_ssize_t itemsize) noexcept nogil:
    """Rows per block: tun.block_bytes of output, at least tun.min_block_rows."""
    cdef Py_ssize_t rb = tun.block_bytes // (width * itemsize + 1)
    if rb < tun.min_block_rows:
        rb = tun.min_block_rows
    if nt > 1 and rb * nt > m:
        rb = (m + nt - 1) // nt
    if rb < 1:
        rb = 1
    return rb


cdef inline Py_ssize_t _piece_rows(const Tuning* tun, Py_ssize_t rows,
                                   double mnk_per_row) noexcept nogil:
    """Rows per GEMM piece (see Tuning.small_gemm_mnk): all rows unless
    pieces of at most small_gemm_mnk keep small_gemm_min_rows rows or more;
    the rows are shared evenly, so no piece is a small leftover."""
    cdef Py_ssize_t pr, n_pieces, even, by_four
    if rows * mnk_per_row <= tun.small_gemm_mnk:
        return rows
    pr = <Py_ssize_t> (tun.small_gemm_mnk / mnk_per_row)
    if pr < tun.small_gemm_min_rows:
        return rows
    n_pieces = (rows + pr - 1) // pr
    even = (rows + n_pieces - 1) // n_pieces
    # a multiple of 4 rows runs ~10% faster in those kernels (115 vs 97-108
    # GFLOP/s at 8-15 rows, bench/README.md)
    by_four = (even + 3) // 4 * 4
    return by_four if by_four <= pr else even


cdef void _gemm_pieces(const Tuning* tun, bint trans_a, Py_ssize_t rows, Py_ssize_t n,
                       Py_ssize_t k, const floating* A, Py_ssize_t lda,
                       const floating* B, floating beta, floating* C) noexcept nogil:
    """C[rows, n] = op(A) @ B + beta * C in pieces of rows (_piece_rows);
    op(A) rows are A's rows (lda apart) or, transposed, its columns."""
    cdef Py_ssize_t pr = _piece_rows(tun, rows, <double> n * k)
    cdef Py_ssize_t r0 = 0, r1
    while r0 < rows:
        r1 = min(rows, r0 + pr)
        gemm_rm(trans_a, False, r1 - r0, n, k, 1,
                A + (r0 if trans_a else r0 * lda), lda, B, n, beta, C + r0 * n, n)
        r0 = r1


cdef void _csr_rows_dot(const floating* data, const Py_ssize_t* indices,
                        const Py_ssize_t* indptr, const Py_ssize_t* rows,
                        Py_ssize_t r0, Py_ssize_t r1, const floating* W,
                        Py_ssize_t fo, floating* Z) noexcept nogil:
    """Z[0:r1-r0] = X[rows[r0:r1]] @ W, X in CSR (rows NULL: rows r0:r1)."""
    cdef Py_ssize_t r, row, p, k
    cdef floating v
    cdef floating* z
    cdef const floating* w
    for r in range(r0, r1):
        z = Z + (r - r0) * fo
        row = r if rows == NULL else rows[r]
        memset(z, 0, fo * sizeof(floating))
        for p in range(indptr[row], indptr[row + 1]):
            v = data[p]
            w = W + indices[p] * fo
            for k in range(fo):
                z[k] = z[k] + v * w[k]


cdef void _csr_rows_tdot(const floating* data, const Py_ssize_t* indices,
                         const Py_ssize_t* indptr, const Py_ssize_t* rows,
                         Py_ssize_t m, const floating* D, Py_ssize_t fo,
                         Py_ssize_t c0, Py_ssize_t c1, floating* G) noexcept nogil:
    """G[:, c0:c1] += X[rows]^T @ D[:, c0:c1], X in CSR."""
    cdef Py_ssize_t r, p, k
    cdef floating v
    cdef floating* g
    cdef const floating* d
    for r in range(m):
        d = D + r * fo
        for p in range(indptr[rows[r]], indptr[rows[r] + 1]):
            v = data[p]
            g = G + indices[p] * fo
            for k in range(c0, c1):
                g[k] = g[k] + v * d[k]


cdef inline floating* _layer_buf(floating* work, Py_ssize_t off,
                                 Py_ssize_t shift) noexcept nogil:
    return NULL if off < 0 else work + off + shift


cdef inline double _uniform(unsigned long long seed, Py_ssize_t layer,
                            Py_ssize_t row, Py_ssize_t col,
                            Py_ssize_t width) noexcept nogil:
    """U[0, 1) from a hash of (seed, layer, row, col) (splitmix64 finalizer)."""
    cdef unsigned long long z = (seed + <unsigned long long> (layer + 1) * 0x9E3779B97F4A7C15ULL
                                 + <unsigned long long> (row * width + col) * 0xD1B54A32D192ED03ULL)
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    z = z ^ (z >> 31)
    return (z >> 11) * (1.0 / 9007199254740992.0)


cdef void _dropout(floating* A, floating* mask, Py_ssize_t n_rows,
                   Py_ssize_t n_cols, double keep, unsigned long long seed,
                   Py_ssize_t layer, Py_ssize_t row0) noexcept nogil:
    """A *= mask, mask = (u < keep) / keep (inverted dropout); mask may be NULL."""
    cdef Py_ssize_t i, j
    cdef floating scale = <floating> (1.0 / keep)
    cdef floating mij
    for i in range(n_rows):
        for j in range(n_cols):
            mij = scale if _uniform(seed, layer, row0 + i, j, n_cols) < keep else 0
            A[i * n_cols + j] = A[i * n_cols + j] * mij
            if mask != NULL:
                mask[i * n_cols + j] = mij


cdef void _forward_block(const Net* net, int l, const floating* Ain,
                           Py_ssize_t lda, const Csr* csr, const Py_ssize_t* rows,
                           Py_ssize_t r0, Py_ssize_t r1, const floating* params,
                           floating* work, floating* Z, const floating* Y,
                           const floating* sw, bint training, bint dropout,
                           Py_ssize_t row0, double* row_loss) noexcept nogil:
    """Rows r0:r1 of layer l: Z = act(Ain @ W + b); on the output layer in
    training, Z becomes the delta and each row's weighted loss goes to
    row_loss[r0:r1]."""
    cdef Py_ssize_t fi = net.units[l]
    cdef Py_ssize_t fo = net.units[l + 1]
    cdef const floating* W = params + net.coef_off[l]
    cdef const floating* b = params + net.int_off[l]
    cdef Py_ssize_t rows_n = r1 - r0
    if l == 0 and csr.data != NULL:
        _csr_rows_dot(<const floating*> csr.data, csr.indices, csr.indptr,
                      rows, r0, r1, W, fo, Z + r0 * fo)
    else:
        _gemm_pieces(&net.tun, False, rows_n, fo, fi, Ain + r0 * lda, lda, W, 0, Z + r0 * fo)
    if l < net.n_layers - 2:
        _bias_act_forward(Z + r0 * fo, b, rows_n, fo, net.acts[l + 1],
                          _layer_buf(work, net.pre_off[l + 1], r0 * fo))
        if dropout and net.keep[l + 1] < 1:
            _dropout(Z + r0 * fo, work + net.mask_off[l + 1] + r0 * fo, rows_n,
                     fo, net.keep[l + 1], net.seed, l + 1, row0 + r0)
        return
    if not training:
        _bias_out_forward(Z + r0 * fo, b, rows_n, fo, net.out_kind)
        return
    _bias_out_loss_delta(Z + r0 * fo, b, Y + r0 * fo,
                                NULL if sw == NULL else sw + r0,
                                rows_n, fo, net.out_kind, net.huber_delta,
                                row_loss + r0)


cdef double _forward(const Net* net, const floating* X, const Csr* csr,
                     const Py_ssize_t* rows, Py_ssize_t m,
                     const floating* params, floating* work, double* row_loss,
                     const floating* Y, const floating* sw,
                     bint training, bint dropout, Py_ssize_t row0) noexcept nogil:
    """Forward pass of a batch of m rows; returns its summed weighted loss.

    X must already be the dropped input when input dropout is on (see
    _drop_input); row0 is the batch's position in the epoch (dropout masks)."""
    cdef int l, nt
    cdef Py_ssize_t fi, fo, rb, nb, blk, r0, r1
    cdef const floating* Ain
    cdef floating* Z
    cdef double total = 0
    for l in range(net.n_layers - 1):
        fi = net.units[l]
        fo = net.units[l + 1]
        Ain = X if l == 0 else work + net.act_off[l]
        Z = work + net.act_off[l + 1]
        nt = _team(net, m * fo * (2.0 * fi + (_out_work(net, net.out_kind)
                                               if l == net.n_layers - 2
                                               else _act_work(net, net.acts[l + 1]))), m)
        rb = _block_rows(&net.tun, m, fo, nt, sizeof(floating))
        nb = (m + rb - 1) // rb
        if nt == 1:
            for blk in range(nb):
                r0 = blk * rb
                r1 = min(m, r0 + rb)
                _forward_block(net, l, Ain, fi, csr, rows, r0, r1, params, work,
                               Z, Y, sw, training, dropout, row0, row_loss)
        else:
            for blk in prange(nb, num_threads=nt, schedule="static"):
                r0 = blk * rb
                r1 = min(m, r0 + rb)
                _forward_block(net, l, Ain, fi, csr, rows, r0, r1, params, work,
                               Z, Y, sw, training, dropout, row0, row_loss)
    if training:
        # summed row by row, in order: the loss does not depend on how the
        # rows were cut into blocks (that is, on the thread count)
        for r0 in range(m):
            total += row_loss[r0]
    return total


cdef void _weight_grad(const Net* net, int l, const floating* Ain,
                       const Csr* csr, const Py_ssize_t* rows, Py_ssize_t m,
                       const floating* D, floating* gW, bint accumulate) noexcept nogil:
    """gW (+)= Ain^T @ D, split over fan_in rows (dense) or fan_out columns (CSR)."""
    cdef Py_ssize_t fi = net.units[l]
    cdef Py_ssize_t fo = net.units[l + 1]
    cdef int nt, t
    cdef Py_ssize_t lo, hi, nnz
    cdef bint sparse = l == 0 and csr.data != NULL
    if sparse:
        if not accumulate:
            memset(gW, 0, fi * fo * sizeof(floating))
        nnz = 0
        for lo in range(m):
            nnz = nnz + csr.indptr[rows[lo] + 1] - csr.indptr[rows[lo]]
        nt = _team(net, 2.0 * fo * nnz, fo)
    else:
        nt = _team(net, 2.0 * m * fi * fo, fi)
    if nt == 1:
        if sparse:
            _csr_rows_tdot(<const floating*> csr.data, csr.indices, csr.indptr,
                           rows, m, D, fo, 0, fo, gW)
        else:
            _gemm_pieces(&net.tun, True, fi, fo, m, Ain, fi, D,
                         1 if accumulate else 0, gW)
        return
    for t in prange(nt, num_threads=nt, schedule="static"):
        if sparse:
            lo = _part_lo(fo, t, nt)
            hi = _part_hi(fo, t, nt)
            if lo < hi:
                _csr_rows_tdot(<const floating*> csr.data, csr.indices,
                               csr.indptr, rows, m, D, fo, lo, hi, gW)
        else:
            lo = _part_lo(fi, t, nt)
            hi = _part_hi(fi, t, nt)
            if lo < hi:
                _gemm_pieces(&net.tun, True, hi - lo, fo, m, Ain + lo, fi, D,
                             1 if accumulate else 0, gW + lo * fo)


cdef inline void _delta_act(const Net* net, int l, const floating* An,
                            floating* work, floating* Dn, Py_ssize_t start,
                            Py_ssize_t n, bint dropout) noexcept nogil:
    """Dn[start:start+n] *= (mask *) act'(Z_l): the hidden layer l's derivative."""
    cdef const floating* Zpre = _layer_buf(work, net.pre_off[l], start)
    if dropout and net.keep[l] < 1:
        _act_backward_masked(An + start, Zpre, work + net.mask_off[l] + start,
                             <floating> net.keep[l], Dn + start, n, net.acts[l])
    else:
        _act_backward(An + start, Zpre, Dn + start, n, net.acts[l])


cdef inline bint _delta_copies_wt(const Net* net, int l, Py_ssize_t m) noexcept nogil:
    """Does the delta of layer l over an m-row batch take W^T copied
    contiguous (see DELTA_WT_MAX)?  Decided on the whole batch, so that every
    row takes the same kernel whatever the thread count."""
    cdef Py_ssize_t fi = net.units[l]
    cdef Py_ssize_t fo = net.units[l + 1]
    return (net.tun.delta_wt and m > 1 and fi * fo <= DELTA_WT_MAX
            and <double> m * fi * fo <= net.tun.small_gemm_mnk)


cdef inline void _copy_wt(const Net* net, int l, const floating* params,
                          floating* wt) noexcept nogil:
    """wt = W_l^T, (fo, fi) row-major."""
    cdef Py_ssize_t fi = net.units[l]
    cdef Py_ssize_t fo = net.units[l + 1]
    cdef const floating* W = params + net.coef_off[l]
    cdef Py_ssize_t i, j
    for j in range(fo):
        for i in range(fi):
            wt[j * fi + i] = W[i * fo + j]


cdef void _delta_block(const Net* net, int l, Py_ssize_t r0, Py_ssize_t r1,
                       const floating* params, const floating* wt,
                       floating* work, bint dropout) noexcept nogil:
    """Rows r0:r1 of D_l = (D_{l+1} @ W_l^T) * act'(A_l); wt is W_l^T
    (_copy_wt) or NULL to pass W_l transposed to BLAS."""
    cdef Py_ssize_t fi = net.units[l]
    cdef Py_ssize_t fo = net.units[l + 1]
    cdef const floating* Dup = work + (net.act_off[l + 1] if l + 1 == net.n_layers - 1
                                       else net.delta_off[l + 1])
    cdef floating* Dn = work + net.delta_off[l]
    if wt != NULL:
        gemm_rm(False, False, r1 - r0, fi, fo, 1, Dup + r0 * fo, fo, wt, fi,
                0, Dn + r0 * fi, fi)
    else:
        gemm_rm(False, True, r1 - r0, fi, fo, 1, Dup + r0 * fo, fo,
                params + net.coef_off[l], fo, 0, Dn + r0 * fi, fi)
    _delta_act(net, l, work + net.act_off[l], work, Dn, r0 * fi, (r1 - r0) * fi,
               dropout)


cdef void _delta_below(const Net* net, int l, Py_ssize_t m,
                       const floating* params, floating* work,
                       bint dropout) noexcept nogil:
    """D_l = (D_{l+1} @ W_l^T) * act'(A_l), split over batch rows."""
    cdef Py_ssize_t fi = net.units[l]
    cdef Py_ssize_t fo = net.units[l + 1]
    cdef int nt = _team(net, m * fi * (2.0 * fo + _act_work(net, net.acts[l])), m)
    cdef Py_ssize_t rb = _block_rows(&net.tun, m, fi, nt, sizeof(floating))
    cdef Py_ssize_t nb = (m + rb - 1) // rb
    cdef Py_ssize_t blk, r0, r1
    cdef floating wt[DELTA_WT_MAX]
    cdef floating* wtp = NULL
    if _delta_copies_wt(net, l, m):
        _copy_wt(net, l, params, wt)
        wtp = wt
    if nt == 1:
        for blk in range(nb):
            r0 = blk * rb
            r1 = min(m, r0 + rb)
            _delta_block(net, l, r0, r1, params, wtp, work, dropout)
        return
    for blk in prange(nb, num_threads=nt, schedule="static"):
        r0 = blk * rb
        r1 = min(m, r0 + rb)
        _delta_block(net, l, r0, r1, params, wtp, work, dropout)


cdef void _colsum(const floating* D, Py_ssize_t m, Py_ssize_t fo,
                  Py_ssize_t c0, Py_ssize_t c1, floating* gb,
                  bint accumulate) noexcept nogil:
    """gb[c0:c1] (+)= sum over rows of D[:, c0:c1]."""
    cdef Py_ssize_t i, k
    if not accumulate:
        for k in range(c0, c1):
            gb[k] = 0
    for i in range(m):
        for k in range(c0, c1):
            gb[k] = gb[k] + D[i * fo + k]


cdef void _bias_grad(const Net* net, const floating* D, Py_ssize_t m,
                     Py_ssize_t fo, floating* gb, bint accumulate) noexcept nogil:
    """db (+)= sum(D, axis=0), split over columns when it is worth a fork."""
    cdef int nt = _team(net, 4.0 * m * fo, fo // 16)
    cdef int t
    if nt == 1:
        _colsum(D, m, fo, 0, fo, gb, accumulate)
        return
    for t in prange(nt, num_threads=nt, schedule="static"):
        _colsum(D, m, fo, _part_lo(fo, t, nt), _part_hi(fo, t, nt), gb, accumulate)


cdef void _backward(const Net* net, const floating* X, const Csr* csr,
                    const Py_ssize_t* rows, Py_ssize_t m,
                    const floating* params, floating* grads, floating* work,
                    bint accumulate, bint dropout) noexcept nogil:
    """Raw gradients of the batch: dW_l (+)= A_l^T D_{l+1}, db_l (+)= sum D_{l+1}."""
    cdef int l
    cdef Py_ssize_t fo, i, k
    cdef const floating* D
    cdef const floating* Ain
    cdef floating* gb
    cdef int last = net.n_layers - 2
    for l in range(last, -1, -1):
        fo = net.units[l + 1]
        D = work + (net.act_off[l + 1] if l == last else net.delta_off[l + 1])
        Ain = X if l == 0 else work + net.act_off[l]
        _weight_grad(net, l, Ain, csr, rows, m, D, grads + net.coef_off[l],
                     accumulate)
        _bias_grad(net, D, m, fo, grads + net.int_off[l], accumulate)
        if l > 0:
            _delta_below(net, l, m, params, work, dropout)


cdef struct StepOpt:
    # the optimizer step each thread takes in _step_rows_split (ROWS_PASS_STEP)
    int solver
    void* params        # floating*: the flat parameters and optimizer state
    void* s1
    void* s2            # NULL unless adam
    double alpha
    double scale
    const OptConsts* c


cdef void _rows_pass(const Net* net, const floating* X, const Csr* csr,
                     const Py_ssize_t* rows, Py_ssize_t m, Py_ssize_t r0,
                     Py_ssize_t r1, const floating* params, floating* work,
                     double* row_loss, const floating* Y, const floating* sw,
                     bint dropout, Py_ssize_t row0,
                     const floating* Xsrc) noexcept nogil:
    """Batch rows r0:r1 through every layer and back: forward, loss and output
    delta, then the hidden deltas (see ROWS_PASS).  m is the whole batch.
    With Xsrc, the rows are first gathered from Xsrc's rows `rows` into X
    (the batch buffer), by the thread that then uses them."""
    cdef int l
    cdef int last = net.n_layers - 2
    cdef Py_ssize_t fo, rb, b0, b1
    cdef Py_ssize_t nf = net.units[0]
    cdef floating wt[DELTA_WT_MAX]
    cdef floating* wtp
    if Xsrc != NULL:
        for b0 in range(r0, r1):
            memcpy(<floating*> X + b0 * nf, Xsrc + rows[b0] * nf, nf * sizeof(floating))
    for l in range(last + 1):
        fo = net.units[l + 1]
        rb = _block_rows(&net.tun, m, fo, 1, sizeof(floating))
        b0 = r0
        while b0 < r1:
            b1 = min(r1, b0 + rb)
            _forward_block(net, l, X if l == 0 else work + net.act_off[l],
                           net.units[l], csr, rows, b0, b1, params, work,
                           work + net.act_off[l + 1], Y, sw, True, dropout,
                           row0, row_loss)
            b0 = b1
    for l in range(last, 0, -1):
        wtp = NULL
        if _delta_copies_wt(net, l, m):
            _copy_wt(net, l, params, wt)
            wtp = wt
        rb = _block_rows(&net.tun, m, net.units[l], 1, sizeof(floating))
        b0 = r0
        while b0 < r1:
            b1 = min(r1, b0 + rb)
            _delta_block(net, l, b0, b1, params, wtp, work, dropout)
            b0 = b1


cdef int _rows_team(const Net* net, Py_ssize_t m, bint dense) noexcept nogil:
    """Threads for _rows_pass: 1 (use _forward and _backward) unless the
    input is dense, the forward and delta work is worth a fork and each
    thread gets ROWS_PASS_MIN_ROWS rows.  (CSR input keeps the layer-by-layer
    step: its first-layer gradient is split by columns, every thread reading
    all the batch's nonzeros, and in one region the tf-idf workload ran at
    20.1 against 16.7 ms/epoch, best of 5 in one process.)"""
    cdef double work = 0
    cdef int l
    cdef int last = net.n_layers - 2
    if not net.tun.rows_pass or not dense:
        return 1
    for l in range(last + 1):
        work += m * net.units[l + 1] * (2.0 * net.units[l] + (
            _out_work(net, net.out_kind) if l == last else _act_work(net, net.acts[l + 1])))
        if l > 0:
            work += m * net.units[l] * (2.0 * net.units[l + 1] + _act_work(net, net.acts[l]))
    return _team(net, work, m // net.tun.rows_pass_min_rows)


cdef void _grads_share(const Net* net, const floating* X, Py_ssize_t m, int t,
                       int nt, floating* grads, floating* work,
                       const StepOpt* opt, double* sums) noexcept nogil:
    """Thread t's share of every layer's raw gradients (dense input), as
    _weight_grad and _bias_grad split them: dW rows of fan_in, db columns.
    With opt, the thread then steps the parameters of its own shares (see
    StepOpt) and stores sum(coefs**2) and sum|coefs| of them in sums[0],
    sums[1]."""
    cdef int l
    cdef int last = net.n_layers - 2
    cdef Py_ssize_t fi, fo, lo, hi, off
    cdef const floating* D
    cdef const floating* Ain
    cdef floating* gW
    cdef double sq = 0, l1 = 0, part
    cdef floating* P = NULL
    cdef floating* S1 = NULL
    cdef floating* S2 = NULL
    if opt != NULL:
        P = <floating*> opt.params
        S1 = <floating*> opt.s1
        S2 = <floating*> opt.s2
    for l in range(last, -1, -1):
        fi = net.units[l]
        fo = net.units[l + 1]
        D = work + (net.act_off[l + 1] if l == last else net.delta_off[l + 1])
        Ain = X if l == 0 else work + net.act_off[l]
        gW = grads + net.coef_off[l]
        lo = _part_lo(fi, t, nt)
        hi = _part_hi(fi, t, nt)
        if lo < hi:
            _gemm_pieces(&net.tun, True, hi - lo, fo, m, Ain + lo, fi, D, 0, gW + lo * fo)
            if opt != NULL:
                off = net.coef_off[l] + lo * fo
                sq += _update(opt.solver, P + off, grads + off,
                              S1 + off, _at(S2, off), (hi - lo) * fo,
                              (hi - lo) * fo, <floating> opt.alpha,
                              <floating> opt.scale, opt.c, 1, &part)
                l1 += part
        lo = _part_lo(fo, t, nt)
        hi = _part_hi(fo, t, nt)
        if lo < hi:
            _colsum(D, m, fo, lo, hi, grads + net.int_off[l], False)
            if opt != NULL:
                off = net.int_off[l] + lo
                _update(opt.solver, P + off, grads + off, S1 + off,
                        _at(S2, off), hi - lo, 0, <floating> opt.alpha,
                        <floating> opt.scale, opt.c, 1, &part)
    if opt != NULL:
        sums[0] = sq
        sums[1] = l1


cdef double _step_rows_split(const Net* net, const floating* X,
                             const Csr* csr, const Py_ssize_t* rows,
                             Py_ssize_t m, int nt, floating* params,
                             floating* grads, floating* work, double* row_loss,
                             const floating* Y, const floating* sw,
                             bint dropout, Py_ssize_t row0,
                             const StepOpt* opt, double* sums,
                             const floating* Xsrc) noexcept nogil:
    """Forward, loss, deltas and raw gradients of a batch in one parallel
    region: _rows_pass on each thread's rows, a barrier, then each thread's
    share of the gradients (and with opt, its step); with Xsrc, each thread
    first gathers its rows of X (see _rows_pass).  Returns the summed
    weighted loss (row by row, in order); with opt, sums gets
    sum(coefs**2) and sum|coefs| after the step (per thread, added in
    thread order)."""
    cdef int t, team
    cdef Py_ssize_t i
    cdef double total = 0
    cdef double parts[2 * STEP_MAX_THREADS]
    cdef double* partp = parts
    cdef int used = 0
    cdef int* usedp = &used        # written in the region, read after it
    with parallel(num_threads=nt):
        t = omp_get_thread_num()
        team = omp_get_num_threads()
        if t == 0:
            usedp[0] = team
        if _part_lo(m, t, team) < m:
            _rows_pass(net, X, csr, rows, m, _part_lo(m, t, team), _part_hi(m, t, team),
                       params, work, row_loss, Y, sw, dropout, row0, Xsrc)
        fastmlp_barrier()
        _grads_share(net, X, m, t, team, grads, work, opt, partp + 2 * t)
    for i in range(m):
        total += row_loss[i]
    if opt != NULL:
        sums[0] = 0
        sums[1] = 0
        for t in range(used):
            sums[0] += parts[2 * t]
            sums[1] += parts[2 * t + 1]
    return total


cdef double _coef_sqnorm(const floating* params, Py_ssize_t n_coef) noexcept nogil:
    cdef Py_ssize_t j
    cdef double total = 0
    for j in range(n_coef):
        total += params[j] * params[j]
    return total


cdef void _forward_rows(const Tuning* tun, const Py_ssize_t* units,
                        const Py_ssize_t* coef_off,
                        const Py_ssize_t* int_off, int n_layers, const int* acts,
                        int out_kind, const floating* params, const floating* X,
                        const Csr* csr, Py_ssize_t r0, Py_ssize_t r1,
                        floating* scratch, Py_ssize_t half,
                        floating* out) noexcept nogil:
    """out[r0:r1] = the network's output for X rows r0:r1 (prediction).

    The block ping-pongs between two scratch halves, layer after layer."""
    cdef Py_ssize_t m = r1 - r0
    cdef Py_ssize_t fi, fo
    cdef int l
    cdef const floating* src
    cdef floating* dst
    for l in range(n_layers - 1):
        fi = units[l]
        fo = units[l + 1]
        if l == n_layers - 2:
            dst = out + r0 * fo
        else:
            dst = scratch + (l % 2) * half
        if l == 0 and csr.data != NULL:
            _csr_rows_dot(<const floating*> csr.data, csr.indices, csr.indptr,
                          NULL, r0, r1, params + coef_off[0], fo, dst)
        else:
            src = X + r0 * fi if l == 0 else scratch + ((l - 1) % 2) * half
            if m == 1:
                row_times_rm(fo, fi, src, params + coef_off[l], dst)
            else:
                _gemm_pieces(tun, False, m, fo, fi, src, fi, params + coef_off[l], 0, dst)
        if l == n_layers - 2:
            _bias_out_forward(dst, params + int_off[l], m, fo, out_kind)
        else:
            _bias_act_forward(dst, params + int_off[l], m, fo, acts[l + 1], NULL)


cdef double _coef_abssum(const floating* params, Py_ssize_t n_coef) noexcept nogil:
    cdef Py_ssize_t j
    cdef double total = 0
    for j in range(n_coef):
        total += params[j] if params[j] >= 0 else -params[j]
    return total


cdef void _max_norm(const Net* net, floating* params, double* norms) noexcept nogil:
    """Scale each unit's incoming weights W[:, j] to L2 norm <= max_norm."""
    cdef int l
    cdef Py_ssize_t i, j, fi, fo
    cdef floating* W
    cdef double c = net.max_norm
    for l in range(net.n_layers - 1):
        fi = net.units[l]
        fo = net.units[l + 1]
        W = params + net.coef_off[l]
        for j in range(fo):
            norms[j] = 0
        for i in range(fi):
            for j in range(fo):
                norms[j] += W[i * fo + j] * W[i * fo + j]
        for j in range(fo):
            norms[j] = c / sqrt(norms[j]) if norms[j] > c * c else 1
        for i in range(fi):
            for j in range(fo):
                W[i * fo + j] = W[i * fo + j] * <floating> norms[j]


cdef class _Views:
    """Typed views of the layout arrays, made once per Layout (a Layout is
    read-only once built) and kept on it: acquiring the nine views costs
    more than a one-row predict's arithmetic."""
    cdef const Py_ssize_t[::1] units, coef_off, int_off, act_off, delta_off
    cdef const Py_ssize_t[::1] pre_off, mask_off
    cdef const int[::1] acts
    cdef const double[::1] keep


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
    layout.typed_views = v
    return v


cdef Net _make_net(_Views v, layout, Py_ssize_t n_params, int n_threads,
                   unsigned long long seed, dict tuning) except *:
    cdef Net net
    net.tun = _tuning_for(tuning)
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
    net.n_params = n_params
    net.out_kind = layout.out_kind
    net.huber_delta = layout.huber_delta
    net.max_norm = layout.max_norm
    net.seed = seed
    net.n_threads = n_threads
    return net


cdef int _online_team(const Net* net, Py_ssize_t batch_size, Py_ssize_t n,
                      bint dense, double clip_norm) noexcept nogil:
    """Threads for online_epoch: 1 (the usual step) unless batch size 1,
    ONLINE_MIN_SAMPLES samples, dense X, no dropout, no clipping by the
    global norm, no max_norm, a hidden layer, ONLINE_MIN_COEFS weights and
    two threads."""
    cdef int l
    if (not net.tun.online_split or batch_size != 1 or n < net.tun.online_min_samples
            or not dense or clip_norm > 0
            or net.max_norm > 0 or net.n_layers < 3
            or net.n_layers > ONLINE_MAX_LAYERS
            or net.n_coef < net.tun.online_min_coefs or net.n_threads < 2):
        return 1
    for l in range(net.n_layers):
        if net.keep[l] < 1:
            return 1
    return min(net.n_threads, <int> ONLINE_MAX_THREADS)


def online_threads(layout, Py_ssize_t batch_size, Py_ssize_t n_samples,
                   bint dense, double clip_norm, int n_threads, dict tuning=None):
    """The team train_epoch would give the online step (1: the usual step)."""
    cdef _Views v = _views(layout)
    cdef Net net = _make_net(v, layout, layout.n_params, n_threads, 0, tuning)
    return _online_team(&net, batch_size, n_samples, dense, clip_norm)


cdef int _raise_pending() except -1:
    """Propagate the exception already set (KeyboardInterrupt)."""
    return -1


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


cdef const floating* _bind_x(const floating[:, ::1] X,
                             const floating[::1] X_data,
                             const Py_ssize_t[::1] X_indices,
                             const Py_ssize_t[::1] X_indptr, Csr* csr,
                             const void* placeholder):
    """X's data pointer when X is dense (csr.data stays NULL); NULL when X is
    CSR, with csr pointing at its arrays.  An all-zero CSR matrix has no data
    pointer, so any non-NULL placeholder marks it sparse."""
    csr.data = NULL
    if X is not None:
        return &X[0, 0]
    csr.data = &X_data[0] if X_data.shape[0] else placeholder
    csr.indices = &X_indices[0] if X_indices.shape[0] else NULL
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
                floating[::1] work,                # OUT: scratch (layout.work_size)
                double[::1] scratch,               # OUT: layout.scratch_size
                const floating[:, ::1] X,          # IN: dense X, or None
                const floating[::1] X_data,        # IN: CSR X, or None
                const Py_ssize_t[::1] X_indices,
                const Py_ssize_t[::1] X_indptr,
                const floating[:, ::1] Y,          # IN: float targets, or None
                const unsigned char[:, ::1] Y_bool,  # IN: 0/1 targets, or None
                const floating[::1] sample_weight,   # IN, or None
                const Py_ssize_t[::1] sample_idx,    # IN: the epoch's order
                bint shuffled,
                Py_ssize_t batch_size,
                layout, int solver, dict opt, Py_ssize_t adam_t,
                double alpha, double clip_norm, int n_threads,
                unsigned long long seed=0, dict tuning=None):
    """One epoch of minibatch training, all in C; returns (loss_sum, adam_t).

    loss_sum is sum over batches of batch_loss * batch_n (scikit-learn's
    accumulation).  Raises KeyboardInterrupt (weights are those after the last
    complete batch) when Ctrl-C arrives.  `opt` holds the optimizer constants
    (lr, momentum, nesterov, beta_1, beta_2, epsilon, rho, weight_decay,
    alpha1, clip_value); `seed` drives the dropout masks.
    """
    cdef _Views v = _views(layout)
    cdef Net net = _make_net(v, layout, params.shape[0], n_threads, seed, tuning)
    cdef Csr csr
    cdef OptConsts c
    cdef Py_ssize_t n = sample_idx.shape[0]
    cdef Py_ssize_t n_features = v.units[0]
    cdef Py_ssize_t n_out = v.units[net.n_layers - 1]
    cdef Py_ssize_t start, m, i, since_check = 0
    cdef floating* wp = &work[0]
    cdef floating* xbuf = wp + <Py_ssize_t> layout.xbuf_off
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
    cdef int rows_nt
    cdef bint stepped, gather_in_region
    cdef floating* s2 = &state2[0] if state2.shape[0] else NULL
    cdef StepOpt step
    cdef double sums[2]
    cdef int online_nt

    check_len(params.shape[0], layout.n_params, "params")
    check_len(grads.shape[0], layout.n_params, "grads")
    check_len(state1.shape[0], layout.n_params, "state1")
    if solver < SOLVER_SGD or solver > SOLVER_ADAMW:
        raise ValueError(f"Unknown solver code {solver}.")
    if adam:
        check_len(state2.shape[0], layout.n_params, "state2 (Adam's second moment)")
    check_room(work.shape[0], layout.work_size, "work")
    check_room(scratch.shape[0], layout.scratch_size, "scratch")
    if batch_size < 1 or batch_size > layout.batch_size:
        raise ValueError(f"batch_size={batch_size} is outside the layout's "
                         f"[1, {layout.batch_size}].")
    check_data(layout, X, X_data, X_indices, X_indptr, Y, Y_bool, sample_weight,
               sample_idx)
    if n == 0:
        return 0.0, adam_t
    if drop_input and not dense:
        raise ValueError("input_dropout needs dense X")
    Xp = _bind_x(X, X_data, X_indices, X_indptr, &csr, &params[0])
    _bind_targets(Y, Y_bool, sample_weight, &Yp, &Yb8, &swp)
    if drop_input:
        xdrop = wp + v.mask_off[0]
    online_nt = _online_team(&net, batch_size, n, dense, clip_norm)
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
    step.solver = solver
    step.params = &params[0]
    step.s1 = &state1[0]
    step.s2 = s2
    step.alpha = alpha
    if online_nt > 1:
        return _train_online(&net, online_nt, Xp, Yp, Yb8, swp, &sample_idx[0],
                             n, &params[0], &state1[0], s2, &c,
                             solver, lr_init, adam_t, alpha)

    with nogil:
        sqnorm = _coef_sqnorm(&params[0], net.n_coef)
        l1norm = _coef_abssum(&params[0], net.n_coef) if c.alpha1 > 0 else 0
        start = 0
        while start < n:
            m = min(batch_size, n - start)
            # batch rows: contiguous slices when not shuffled, else gathered
            # (X's rows inside the one-region step, by the threads that use
            # them, when that step runs and the input is not dropped)
            rows_nt = _rows_team(&net, m, dense)
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
                c.lr = adam_step_size(lr_init, c.beta_1, c.beta_2, adam_t)
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
                                 net.n_params, net.n_coef, <floating> alpha,
                                 <floating> scale, &c, n_threads, &l1norm)
            if net.max_norm > 0:
                _max_norm(&net, &params[0], norms)
                sqnorm = _coef_sqnorm(&params[0], net.n_coef)
                l1norm = _coef_abssum(&params[0], net.n_coef)
            total += batch_loss * m
            start += m
            since_check += m
            if since_check >= net.tun.signal_check_samples and start < n:
                since_check = 0
                with gil:
                    PyErr_CheckSignals()
    return total, adam_t


cdef inline void* _aligned(void* p, size_t to) noexcept nogil:
    """p rounded up to a multiple of `to` bytes."""
    return <void*> ((<size_t> p + to - 1) // to * to)


cdef tuple _train_online(const Net* net, int nt, const floating* Xp,
                         const floating* Yp, const unsigned char* Yb8,
                         const floating* swp, const Py_ssize_t* idx,
                         Py_ssize_t n, floating* params,
                         floating* s1, floating* s2, const OptConsts* c,
                         int solver, double lr_init, Py_ssize_t adam_t,
                         double alpha):
    """train_epoch at batch size 1 on nt threads (_online.pyx)."""
    cdef OnlineData d
    cdef OnlineShared sh
    cdef Py_ssize_t l, done, region_len
    cdef Py_ssize_t n_out = net.units[net.n_layers - 1]
    cdef Py_ssize_t page = 4096 // sizeof(floating)
    cdef floating[::1] regions
    d.max_fo = 0
    d.u_total = 0
    for l in range(net.n_layers):
        d.u_total += _pad16(net.units[l])
        if l > 0:
            d.max_fo = max(d.max_fo, _pad16(net.units[l]))
    d.out_len = _pad16(n_out)
    # a thread's own parameters, each part padded to 16 values (_online._own_layout)
    d.mirror_len = _pad16(net.n_params + 32 * net.n_layers)
    # each thread's region (laid out in _online._thread_loop), whole pages
    # and a page apart: the threads' stores waited on lines the other core
    # had pulled in when their data sat side by side (bench/README.md)
    region_len = 4 * d.mirror_len + 4 * d.u_total + 2 * d.out_len + 2 * d.max_fo
    d.region_stride = (region_len + page - 1) // page * page + page
    regions = np.empty(nt * d.region_stride + page,
                       dtype=np.float32 if floating is float else np.float64)
    d.regions = _aligned(&regions[0], 4096)
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
    with nogil:
        sh.sqnorm0 = _coef_sqnorm(params, net.n_coef)
        sh.l1norm0 = _coef_abssum(params, net.n_coef) if c.alpha1 > 0 else 0
        done = online_epoch(net, &d, params, s1, s2, c, &sh, nt)
    if sh.stop:
        _raise_pending()
    if solver == SOLVER_ADAM or solver == SOLVER_ADAMW:
        adam_t += done
    return sh.total, adam_t


def loss_grad(floating[::1] params,               # IN: flat coefs + intercepts
              floating[::1] grads,                # OUT: finished gradient
              floating[::1] work,                 # OUT: scratch (layout.work_size)
              double[::1] scratch,                # OUT: layout.scratch_size
              const floating[:, ::1] X,           # IN: dense X, or None
              const floating[::1] X_data,         # IN: CSR X, or None
              const Py_ssize_t[::1] X_indices,
              const Py_ssize_t[::1] X_indptr,
              const floating[:, ::1] Y,           # IN: float targets, or None
              const unsigned char[:, ::1] Y_bool,  # IN: 0/1 targets, or None
              const floating[::1] sample_weight,   # IN, or None
              const Py_ssize_t[::1] sample_idx,    # IN: arange(n_samples)
              Py_ssize_t chunk, layout, double alpha, int n_threads,
              double alpha1=0.0, bint with_grad=True, dict tuning=None):
    """Loss and gradient over all samples (L-BFGS), as scikit-learn's _backprop.

    Samples are processed in chunks of `chunk` rows whose raw gradients
    accumulate, so memory does not grow with n_samples.  No dropout.  With
    with_grad=False only the loss is computed (validation loss).
    """
    cdef _Views v = _views(layout)
    cdef Net net = _make_net(v, layout, params.shape[0], n_threads, 0, tuning)
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
    cdef double sw_sum = 0, loss_sum = 0, sqnorm, l1norm, scale
    cdef bint dense = X is not None
    cdef floating fscale, falpha = <floating> alpha, falpha1 = <floating> alpha1

    check_len(params.shape[0], layout.n_params, "params")
    if with_grad:
        check_len(grads.shape[0], layout.n_params, "grads")
    check_room(work.shape[0], layout.work_size, "work")
    check_room(scratch.shape[0], layout.scratch_size, "scratch")
    if chunk < 1 or chunk > layout.batch_size:
        raise ValueError(f"chunk={chunk} is outside the layout's [1, {layout.batch_size}].")
    check_data(layout, X, X_data, X_indices, X_indptr, Y, Y_bool, sample_weight,
               sample_idx)
    Xp = _bind_x(X, X_data, X_indices, X_indptr, &csr, &params[0])
    _bind_targets(Y, Y_bool, sample_weight, &Yp, &Yb8, &swp)
    with nogil:
        start = 0
        while start < n:
            m = min(chunk, n - start)
            if Yp == NULL:
                _gather_batch(&net, Xp, n_features, Yp, Yb8, n_out, NULL,
                              &sample_idx[start], m, NULL, ybuf, NULL)
                Yb = ybuf
            else:
                Yb = Yp + start * n_out
            loss_sum += _forward(&net, Xp + start * n_features if dense else NULL,
                                 &csr, &sample_idx[start], m, &params[0], wp,
                                 &scratch[0], Yb,
                                 NULL if swp == NULL else swp + start, True,
                                 False, start)
            if with_grad:
                _backward(&net, Xp + start * n_features if dense else NULL, &csr,
                          &sample_idx[start], m, &params[0], &grads[0], wp,
                          start > 0, False)
            start += m
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


def forward(const floating[::1] params,       # IN: flat coefs + intercepts
            floating[:, ::1] out,             # OUT: (n_samples, n_outputs)
            const floating[:, ::1] X,         # IN: dense X, or None
            const floating[::1] X_data,       # IN: CSR X, or None
            const Py_ssize_t[::1] X_indices,
            const Py_ssize_t[::1] X_indptr,
            layout, int n_threads, Py_ssize_t block=256, dict tuning=None):
    """Predict: stream row blocks through every layer into `out`.

    Each thread takes whole blocks of `block` rows and keeps them in its own
    scratch through all layers, so memory is O(threads * block * width) and
    the activations of a block stay in cache between layers.  No dropout.
    """
    cdef _Views v = _views(layout)
    cdef int n_layers = v.units.shape[0]
    cdef Py_ssize_t n = out.shape[0]
    cdef Py_ssize_t width = 0, nb, blk, l
    cdef int nt
    cdef int out_kind = layout.out_kind
    cdef Csr csr
    cdef const floating* Xp = NULL
    cdef floating[::1] scratch
    cdef Tuning tun = _tuning_for(tuning)
    check_len(params.shape[0], layout.n_params, "params")
    check_len(out.shape[1], layout.n_outputs, "Each row of out")
    if X is not None:
        check_len(X.shape[0], n, "X's rows (one per row of out)")
        check_len(X.shape[1], v.units[0], "Each row of X")
    elif X_data is not None:
        check_csr(X_indptr, X_indices, X_data.shape[0], n, v.units[0])
    else:
        raise ValueError("The engine needs X: dense or CSR.")
    if block < 1:
        raise ValueError(f"block={block} must be at least 1.")
    for l in range(1, n_layers):
        width = max(width, v.units[l])
    if n == 0:
        return
    block = min(block, n)  # scratch for the rows there are, not a whole block
    nb = (n + block - 1) // block
    nt = 1 if (n_threads <= 1 or nb < 2) else min(n_threads, <int> nb)
    scratch = np.empty(nt * 2 * block * width,
                       dtype=np.float32 if floating is float else np.float64)
    Xp = _bind_x(X, X_data, X_indices, X_indptr, &csr, &params[0])
    with nogil:
        if nt == 1:
            for blk in range(nb):
                _forward_rows(&tun, &v.units[0], &v.coef_off[0], &v.int_off[0],
                              n_layers, &v.acts[0], out_kind, &params[0],
                              Xp, &csr, blk * block, min(n, (blk + 1) * block),
                              &scratch[0], block * width, &out[0, 0])
        else:
            for blk in prange(nb, num_threads=nt, schedule="static"):
                _forward_rows(&tun, &v.units[0], &v.coef_off[0], &v.int_off[0],
                              n_layers, &v.acts[0], out_kind, &params[0],
                              Xp, &csr, blk * block, min(n, (blk + 1) * block),
                              &scratch[0] + omp_get_thread_num() * 2 * block * width,
                              block * width, &out[0, 0])
