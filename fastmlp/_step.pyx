# Design: the one-region training step.  A batch with enough rows goes
# through all layers, forward and back to the hidden deltas, in ONE parallel
# region, each thread on its own rows (_rows_pass): one fork instead of one
# per layer, and a thread's rows stay in its cache from the forward pass to
# their deltas.  After one barrier each thread makes its share of every
# layer's gradient (fan_in rows of dW, columns of db) and, when it may
# (StepOpt), runs the optimizer on exactly those parameters.  Each row and
# each gradient entry is the same product as in the layer-by-layer step
# (_layers.pyx); each row's loss is kept and summed in order, so results do
# not depend on scheduling.
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.string cimport memcpy

from fastmlp._layers cimport (_bias_grad, _coef_abssum, _coef_sqnorm, _colsum,
                              _delta_block, _delta_copies_wt, _copy_wt, _forward_block,
                              _gemm_pieces, _weight_grad)
from fastmlp._net cimport (Csr, Net, _act_work, _at, _block_rows, _out_work, _part_hi,
                           _part_lo, _team)
from fastmlp._openmp cimport fastmlp_barrier, omp_get_num_threads, omp_get_thread_num
from fastmlp._optimizers cimport OptConsts, _update
from fastmlp._tuning cimport DELTA_WT_MAX, STEP_MAX_THREADS


cdef void _rows_pass(const Net* net, const floating* X, const Csr* csr,
                     const Py_ssize_t* rows, Py_ssize_t m, Py_ssize_t r0,
                     Py_ssize_t r1, const floating* params, floating* work,
                     double* row_loss, const floating* Y, const floating* sw,
                     bint dropout, Py_ssize_t row0,
                     const floating* Xsrc) noexcept nogil:
    """Batch rows r0:r1 through every layer and back: forward, loss and output
    delta, then the hidden deltas (see Tuning.rows_pass).  m is the whole batch.
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
