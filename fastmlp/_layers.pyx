# Design: one training step, layer by layer, on one batch: the forward pass
# (GEMM per row block, then bias + activation, or the output fused with its
# loss and delta, on the block while it is in cache), and the backward pass
# (weight gradients split over fan_in rows, so no thread reduces another's;
# deltas split over batch rows, fused with the activation derivative).
# Gradients are left RAW (A^T delta and sum(delta)): the optimizer step
# finishes them.  Parametric activations (one alpha per hidden unit) mix
# after the activation and, in the backward pass, leave dL/dalpha's terms in
# Z_l, summed per unit over the rows in order like the biases' gradients.
# Also the sums over the coefficients (L2, L1) and the max-norm constraint.
# _network.pyx drives these per batch; _step.pyx runs the same pieces in one
# parallel region (never with parametric activations).
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport sqrt
from libc.string cimport memcpy, memset

from fastmlp._activations cimport (_act_backward, _act_backward_masked, _bias_act_forward,
                                   _param_act_backward, _param_mix)
from fastmlp._blas cimport gemm_rm, row_times_w
from fastmlp._csr cimport _csr_rows_dot, _csr_rows_tdot
from fastmlp._dropout cimport _dropout
from fastmlp._losses cimport _bias_out_forward, _bias_out_loss_delta
from fastmlp._net cimport (Csr, Net, _act_work, _alpha_off, _assert_rows, _block_rows,
                           _has_param_act, _layer_buf, _out_work, _part_hi, _part_lo,
                           _piece_rows, _team)
from fastmlp._openmp cimport omp_get_num_threads, omp_get_thread_num
from fastmlp._tuning cimport DELTA_WT_MAX, Tuning


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
    _assert_rows(net, r0, r1)
    if l == 0 and csr.data != NULL:
        _csr_rows_dot(<const floating*> csr.data, csr.indices, csr.indices32, csr.indptr,
                      rows, r0, r1, W, fo, Z + r0 * fo)
    elif net.batch_size == 1 and net.tun.one_row_loop:
        # batches of one row (every batch of this layout): fastmlp's loop,
        # where the GEMM would pack W for each row (_tuning.pxd)
        row_times_w(fo, fi, Ain + r0 * lda, W, fo, Z + r0 * fo)
    else:
        _gemm_pieces(&net.tun, False, rows_n, fo, fi, Ain + r0 * lda, lda, W, 0, Z + r0 * fo)
    if l < net.n_layers - 2:
        _bias_act_forward(Z + r0 * fo, b, rows_n, fo, net.acts[l + 1],
                          _layer_buf(work, net.pre_off[l + 1], r0 * fo))
        if _has_param_act(net):
            _param_mix(Z + r0 * fo, _layer_buf(work, net.pre_off[l + 1], r0 * fo),
                       params + _alpha_off(net, l + 1), rows_n, fo)
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
            _csr_rows_tdot(<const floating*> csr.data, csr.indices, csr.indices32,
                           csr.indptr, rows, m, D, fo, 0, fo, gW)
        else:
            _gemm_pieces(&net.tun, True, fi, fo, m, Ain, fi, D,
                         1 if accumulate else 0, gW)
        return
    for t in prange(nt, num_threads=nt, schedule="static"):
        if sparse:
            lo = _part_lo(fo, t, nt)
            hi = _part_hi(fo, t, nt)
            if lo < hi:
                _csr_rows_tdot(<const floating*> csr.data, csr.indices, csr.indices32,
                               csr.indptr, rows, m, D, fo, lo, hi, gW)
        else:
            lo = _part_lo(fi, t, nt)
            hi = _part_hi(fi, t, nt)
            if lo < hi:
                _gemm_pieces(&net.tun, True, hi - lo, fo, m, Ain + lo, fi, D,
                             1 if accumulate else 0, gW + lo * fo)


cdef void _delta_act(const Net* net, int l, const floating* An, const floating* params,
                            floating* work, floating* Dn, Py_ssize_t start,
                            Py_ssize_t n, bint dropout) noexcept nogil:
    """Dn[start:start+n] *= (mask *) act'(Z_l): the hidden layer l's derivative
    (parametric: see _param_act_backward, which leaves dL/dalpha's terms in Z_l)."""
    cdef floating* Zpre = _layer_buf(work, net.pre_off[l], start)
    cdef bint masked = dropout and net.keep[l] < 1
    if _has_param_act(net):
        _param_act_backward(Zpre, work + net.mask_off[l] + start if masked else NULL,
                            params + _alpha_off(net, l), Dn + start, n // net.units[l],
                            net.units[l], net.acts[l])
        return
    if masked:
        _act_backward_masked(An + start, Zpre, work + net.mask_off[l] + start,
                             <floating> net.keep[l], Dn + start, n, net.acts[l])
    else:
        _act_backward(An + start, Zpre, Dn + start, n, net.acts[l])


cdef bint _delta_copies_wt(const Net* net, int l, Py_ssize_t m) noexcept nogil:
    """Does the delta of layer l over an m-row batch take W^T copied
    contiguous (see DELTA_WT_MAX)?  Decided on the whole batch, so that every
    row takes the same kernel whatever the thread count."""
    cdef Py_ssize_t fi = net.units[l]
    cdef Py_ssize_t fo = net.units[l + 1]
    return (net.tun.delta_wt and m > 1 and fi * fo <= DELTA_WT_MAX
            and <double> m * fi * fo <= net.tun.small_gemm_mnk)


cdef void _copy_wt(const Net* net, int l, const floating* params,
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
    _delta_act(net, l, work + net.act_off[l], params, work, Dn, r0 * fi, (r1 - r0) * fi,
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
    """Raw gradients of the batch: dW_l (+)= A_l^T D_{l+1}, db_l (+)= sum D_{l+1}
    (and dalpha_l with parametric activations)."""
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
            if _has_param_act(net):
                # dL/dalpha_l: the terms _delta_below left in Z_l, summed over
                # the rows in order (split by unit: no thread-count dependence)
                _bias_grad(net, work + net.pre_off[l], m, net.units[l],
                           grads + _alpha_off(net, l), accumulate)


cdef double _coef_sqnorm(const floating* params, Py_ssize_t n_coef) noexcept nogil:
    cdef Py_ssize_t j
    cdef double total = 0
    for j in range(n_coef):
        total += params[j] * params[j]
    return total


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
