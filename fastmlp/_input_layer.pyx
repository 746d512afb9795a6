# Design: the input layer of the tabular networks, ahead of the first dense
# layer, with two optional parts.
#
# 1. Periodic columns (learnable periodic numeric embeddings: Gorishniy et
#    al. 2022; RealMLP's PBLD, Holzmueller et al. 2024).  X's first n_num
#    columns are numeric values z; its last P = n_num * K columns are
#    overwritten, per batch, by
#        cos(f[k, q] * z_k + ph[k, q])        k < n_num, q < K
#    The first dense layer mixes them: the "linear" part of PBLD.
# 2. A diagonal scale (RealMLP's "scaling layer"): Xe[:, j] *= s[j], every
#    column, after the periodic ones are computed; s starts at 1.
#
# f, ph and s sit in the flat parameter buffer after the intercepts
# (Net.per_off: f, then ph; Net.sc_off: s).  They are not coefs (no L2, no
# weight decay); the optimizer steps them with everything else, at their
# own rate factors (Net.per_lr, Net.sc_lr; _network.train_epoch).
#
# Forward (_input_forward): the batch's rows are copied into the work
# buffer's Xe region with the periodic columns computed and their sines
# kept, then scaled (the unscaled copy kept).  Backward (_input_backward),
# after the layers' own: G = D_1 @ W_0^T, the loss's gradient at Xe (only
# at the periodic columns without the scale), then
#     grad s[j]     = sum_i Xs[i, j] * G[i, j]          (Xs: unscaled Xe)
#     G'[:, c]      = s[c] * G[:, c]                    (through the scale)
#     grad f[k, q]  = sum_i -sin(theta_ikq) * z_ik * G'[i, c(k, q)]
#     grad ph[k, q] = sum_i -sin(theta_ikq) * G'[i, c(k, q)]
# raw, as every other gradient (the optimizer step scales them).
#
# Threads: the forward and the GEMM of G split rows; the sums split
# columns, each column's sum running over the rows in order, so the
# gradients do not depend on the thread count.  The periodic loops are C
# (_vperiodic.h), vectorized with _vtrig.h's sin and cos.
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy, memset

import numpy as np

from fastmlp._blas cimport gemm_rm
from fastmlp._net cimport Net, _part_hi, _part_lo, _team


cdef extern from "_vperiodic.h" nogil:
    void fastmlp_periodic_fwd_f(const float* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t p,
                                Py_ssize_t n_num, Py_ssize_t K, const float* f,
                                const float* ph, float* Xe, float* S)
    void fastmlp_periodic_fwd_d(const double* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t p,
                                Py_ssize_t n_num, Py_ssize_t K, const double* f,
                                const double* ph, double* Xe, double* S)
    void fastmlp_periodic_bwd_f(const float* Xe, Py_ssize_t m, Py_ssize_t p, Py_ssize_t n_num,
                                Py_ssize_t K, const float* S, const float* G, Py_ssize_t ldg,
                                Py_ssize_t k0, Py_ssize_t k1, float* gf, float* gph)
    void fastmlp_periodic_bwd_d(const double* Xe, Py_ssize_t m, Py_ssize_t p, Py_ssize_t n_num,
                                Py_ssize_t K, const double* S, const double* G, Py_ssize_t ldg,
                                Py_ssize_t k0, Py_ssize_t k1, double* gf, double* gph)
    void fastmlp_sincos1_f(float x, float* s, float* c)
    void fastmlp_sincos1_d(double x, double* s, double* c)


# GEMM-flop equivalent of one sin + cos (the polynomial and the reduction)
cdef double SINCOS_FLOPS = 40


cdef void _fwd_rows(const floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t p,
                    Py_ssize_t n_num, Py_ssize_t K, const floating* f,
                    const floating* ph, floating* Xe, floating* S) noexcept nogil:
    if floating is float:
        fastmlp_periodic_fwd_f(X, r0, r1, p, n_num, K, f, ph, Xe, S)
    else:
        fastmlp_periodic_fwd_d(X, r0, r1, p, n_num, K, f, ph, Xe, S)


cdef void _scale_rows(floating* Xe, const floating* Xs, Py_ssize_t r0, Py_ssize_t r1,
                      Py_ssize_t p, const floating* sc) noexcept nogil:
    """Xe[r0:r1, j] = Xs[r0:r1, j] * sc[j] (Xs may be Xe)."""
    cdef Py_ssize_t i, j
    for i in range(r0, r1):
        for j in range(p):
            Xe[i * p + j] = Xs[i * p + j] * sc[j]


cdef void _input_rows(const floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t p,
                      Py_ssize_t n_num, Py_ssize_t K, const floating* params,
                      Py_ssize_t per_off, Py_ssize_t sc_off, floating* Xe) noexcept nogil:
    """Rows r0:r1 of X through the input layer into rows 0:r1-r0 of Xe
    (prediction: no sines, no unscaled copy kept)."""
    cdef Py_ssize_t P = n_num * K
    if P > 0:
        _fwd_rows(X + r0 * p, 0, r1 - r0, p, n_num, K, params + per_off,
                  params + per_off + P, Xe, <floating*> NULL)
    else:
        memcpy(Xe, X + r0 * p, (r1 - r0) * p * sizeof(floating))
    if sc_off >= 0:
        _scale_rows(Xe, Xe, 0, r1 - r0, p, params + sc_off)


cdef void _forward_part(const Net* net, const floating* X, Py_ssize_t r0, Py_ssize_t r1,
                        const floating* params, floating* work) noexcept nogil:
    cdef Py_ssize_t p = net.units[0]
    cdef Py_ssize_t P = net.per_n * net.per_k
    cdef floating* Xe = work + net.emb_off
    cdef floating* dst = work + (net.xs_off if net.sc_off >= 0 else net.emb_off)
    if r0 >= r1:
        return
    if P > 0:
        _fwd_rows(X, r0, r1, p, net.per_n, net.per_k, params + net.per_off,
                  params + net.per_off + P, dst, work + net.esin_off)
    else:
        memcpy(dst + r0 * p, X + r0 * p, (r1 - r0) * p * sizeof(floating))
    if net.sc_off >= 0:
        _scale_rows(Xe, dst, r0, r1, p, params + net.sc_off)


cdef void _input_forward(const Net* net, const floating* X, Py_ssize_t m,
                         const floating* params, floating* work) noexcept nogil:
    """work's Xe = X through the input layer (m rows), with the periodic
    columns' sines and the unscaled Xe kept for the backward pass."""
    cdef Py_ssize_t p = net.units[0]
    cdef Py_ssize_t P = net.per_n * net.per_k
    cdef int nt = _team(net, m * (P * SINCOS_FLOPS + 2 * p), m)
    cdef int t
    if nt == 1:
        _forward_part(net, X, 0, m, params, work)
        return
    for t in prange(nt, num_threads=nt, schedule="static"):
        _forward_part(net, X, _part_lo(m, t, nt), _part_hi(m, t, nt), params, work)


cdef void _bwd_cols(const floating* Xe, Py_ssize_t m, Py_ssize_t p, Py_ssize_t n_num,
                    Py_ssize_t K, const floating* S, const floating* G, Py_ssize_t ldg,
                    Py_ssize_t k0, Py_ssize_t k1, floating* gf, floating* gph,
                    bint accumulate) noexcept nogil:
    if k0 >= k1:
        return
    if not accumulate:
        memset(gf + k0 * K, 0, (k1 - k0) * K * sizeof(floating))
        memset(gph + k0 * K, 0, (k1 - k0) * K * sizeof(floating))
    if floating is float:
        fastmlp_periodic_bwd_f(Xe, m, p, n_num, K, S, G, ldg, k0, k1, gf, gph)
    else:
        fastmlp_periodic_bwd_d(Xe, m, p, n_num, K, S, G, ldg, k0, k1, gf, gph)


cdef void _scale_cols(const floating* Xs, floating* G, Py_ssize_t m, Py_ssize_t p,
                      Py_ssize_t tail, Py_ssize_t c0, Py_ssize_t c1, const floating* sc,
                      floating* gs, bint accumulate) noexcept nogil:
    """gs[c0:c1] (+)= sum over rows of Xs * G; then G's periodic columns
    (tail and after) among c0:c1 times sc: the gradient through the scale."""
    cdef Py_ssize_t i, j
    if c0 >= c1:
        return
    if not accumulate:
        memset(gs + c0, 0, (c1 - c0) * sizeof(floating))
    for i in range(m):
        for j in range(c0, c1):
            gs[j] = gs[j] + Xs[i * p + j] * G[i * p + j]
    for i in range(m):
        for j in range(max(c0, tail), c1):
            G[i * p + j] = G[i * p + j] * sc[j]


cdef void _input_backward(const Net* net, Py_ssize_t m, const floating* params,
                          floating* work, floating* grads, bint accumulate) noexcept nogil:
    """grads[per_off:] and grads[sc_off:] (+)= the raw gradients of f, ph
    and s, from the first layer's delta D_1 (left in `work` by
    _layers._backward) and the forward pass's Xe, sines and unscaled Xe."""
    cdef Py_ssize_t p = net.units[0]
    cdef Py_ssize_t h = net.units[1]
    cdef Py_ssize_t n_num = net.per_n, K = net.per_k
    cdef Py_ssize_t P = n_num * K
    cdef bint scaled = net.sc_off >= 0
    cdef Py_ssize_t cols = p if scaled else P       # G's columns: all, or the periodic ones
    cdef const floating* D1 = work + (net.act_off[1] if net.n_layers == 2 else net.delta_off[1])
    cdef const floating* W = params + net.coef_off[0] + (p - cols) * h
    cdef floating* G = work + net.egrad_off
    cdef const floating* Xz = work + (net.xs_off if scaled else net.emb_off)
    cdef floating* gf = grads + net.per_off
    cdef int nt = _team(net, 2.0 * m * cols * h, m)
    cdef int t
    cdef Py_ssize_t r0, r1
    # G = D_1 @ W_0[last cols rows]^T: the loss's gradient at those columns of Xe
    if nt == 1:
        gemm_rm(False, True, m, cols, h, 1, D1, h, W, h, 0, G, cols)
    else:
        for t in prange(nt, num_threads=nt, schedule="static"):
            r0 = _part_lo(m, t, nt)
            r1 = _part_hi(m, t, nt)
            if r0 < r1:
                gemm_rm(False, True, r1 - r0, cols, h, 1, D1 + r0 * h, h, W, h, 0,
                        G + r0 * cols, cols)
    if scaled:
        nt = _team(net, 4.0 * m * p, p)
        if nt == 1:
            _scale_cols(Xz, G, m, p, p - P, 0, p, params + net.sc_off, grads + net.sc_off,
                        accumulate)
        else:
            for t in prange(nt, num_threads=nt, schedule="static"):
                _scale_cols(Xz, G, m, p, p - P, _part_lo(p, t, nt), _part_hi(p, t, nt),
                            params + net.sc_off, grads + net.sc_off, accumulate)
    if P == 0:
        return
    # the periodic columns' part of G: from column cols - P, rows cols apart
    nt = _team(net, 4.0 * m * P, n_num)
    if nt == 1:
        _bwd_cols(Xz, m, p, n_num, K, work + net.esin_off, G + cols - P, cols, 0, n_num,
                  gf, gf + P, accumulate)
        return
    for t in prange(nt, num_threads=nt, schedule="static"):
        _bwd_cols(Xz, m, p, n_num, K, work + net.esin_off, G + cols - P, cols,
                  _part_lo(n_num, t, nt), _part_hi(n_num, t, nt), gf, gf + P, accumulate)


def sincos(const floating[::1] x):        # IN
    """(sin(x), cos(x)) by _vtrig.h, one value at a time (test entry point)."""
    cdef Py_ssize_t i, n = x.shape[0]
    s = np.empty(n, dtype=np.float32 if floating is float else np.float64)
    c = np.empty_like(s)
    cdef floating[::1] sv = s
    cdef floating[::1] cv = c
    for i in range(n):
        if floating is float:
            fastmlp_sincos1_f(x[i], &sv[i], &cv[i])
        else:
            fastmlp_sincos1_d(x[i], &sv[i], &cv[i])
    return s, c
