# Design: the periodic input layer (learnable periodic numeric embeddings:
# Gorishniy et al. 2022; RealMLP's PBLD, Holzmueller et al. 2024), a stage
# ahead of the first dense layer.  X's first n_num columns are numeric
# values z; its last P = n_num * K columns are overwritten, per batch, by
#     cos(f[k, q] * z_k + ph[k, q])        k < n_num, q < K
# with f and ph learned: they sit in the flat parameter buffer after the
# intercepts (Net.per_off: f, then ph; not coefs, so no L2 or weight
# decay), and the optimizer updates them with everything else.  The first
# dense layer mixes the features, which is the "linear" part of PBLD.
#
# Forward (_periodic_forward): the batch's rows are copied into the work
# buffer's Xe region with the periodic columns computed, and their sines
# kept (S) for the backward pass.  Backward (_periodic_backward), after the
# layers' own: G = D_1 @ W_0[tail rows]^T, the loss's gradient with respect
# to the periodic columns, then
#     grad f[k, q]  = sum_i -sin(theta_ikq) * z_ik * G[i, c(k, q)]
#     grad ph[k, q] = sum_i -sin(theta_ikq) * G[i, c(k, q)]
# raw, as every other gradient (the optimizer step scales them).
#
# Threads: the forward and the GEMM of G split rows; the sums split the
# numeric columns, each column's sum running over the rows in order, so the
# gradients do not depend on the thread count.  The loops are C
# (_vperiodic.h), vectorized with _vtrig.h's sin and cos.
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset

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
                                Py_ssize_t K, const float* S, const float* G,
                                Py_ssize_t k0, Py_ssize_t k1, float* gf, float* gph)
    void fastmlp_periodic_bwd_d(const double* Xe, Py_ssize_t m, Py_ssize_t p, Py_ssize_t n_num,
                                Py_ssize_t K, const double* S, const double* G,
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


cdef void _periodic_rows(const floating* X, Py_ssize_t r0, Py_ssize_t r1,
                         Py_ssize_t p, Py_ssize_t n_num, Py_ssize_t K,
                         const floating* params, Py_ssize_t per_off,
                         floating* Xe) noexcept nogil:
    """Rows r0:r1 of X into rows 0:r1-r0 of Xe, periodic columns computed
    (prediction: no sines kept)."""
    _fwd_rows(X + r0 * p, 0, r1 - r0, p, n_num, K, params + per_off,
              params + per_off + n_num * K, Xe, <floating*> NULL)


cdef void _periodic_forward(const Net* net, const floating* X, Py_ssize_t m,
                            const floating* params, floating* Xe,
                            floating* S) noexcept nogil:
    """Xe = X with its periodic columns computed, S their sines (m rows)."""
    cdef Py_ssize_t p = net.units[0]
    cdef Py_ssize_t P = net.per_n * net.per_k
    cdef const floating* f = params + net.per_off
    cdef int nt = _team(net, m * (P * SINCOS_FLOPS + p), m)
    cdef int t
    if nt == 1:
        _fwd_rows(X, 0, m, p, net.per_n, net.per_k, f, f + P, Xe, S)
        return
    for t in prange(nt, num_threads=nt, schedule="static"):
        _fwd_rows(X, _part_lo(m, t, nt), _part_hi(m, t, nt), p, net.per_n,
                  net.per_k, f, f + P, Xe, S)


cdef void _bwd_cols(const floating* Xe, Py_ssize_t m, Py_ssize_t p, Py_ssize_t n_num,
                    Py_ssize_t K, const floating* S, const floating* G, Py_ssize_t k0,
                    Py_ssize_t k1, floating* gf, floating* gph,
                    bint accumulate) noexcept nogil:
    if k0 >= k1:
        return
    if not accumulate:
        memset(gf + k0 * K, 0, (k1 - k0) * K * sizeof(floating))
        memset(gph + k0 * K, 0, (k1 - k0) * K * sizeof(floating))
    if floating is float:
        fastmlp_periodic_bwd_f(Xe, m, p, n_num, K, S, G, k0, k1, gf, gph)
    else:
        fastmlp_periodic_bwd_d(Xe, m, p, n_num, K, S, G, k0, k1, gf, gph)


cdef void _periodic_backward(const Net* net, const floating* Xe, Py_ssize_t m,
                             const floating* params, floating* work, floating* grads,
                             bint accumulate) noexcept nogil:
    """grads[per_off:] (+)= the raw gradients of f and ph, from the first
    layer's delta D_1 (left in `work` by _layers._backward)."""
    cdef Py_ssize_t p = net.units[0]
    cdef Py_ssize_t h = net.units[1]
    cdef Py_ssize_t n_num = net.per_n, K = net.per_k
    cdef Py_ssize_t P = n_num * K
    cdef const floating* D1 = work + (net.act_off[1] if net.n_layers == 2 else net.delta_off[1])
    cdef const floating* W_tail = params + net.coef_off[0] + (p - P) * h
    cdef floating* G = work + net.egrad_off
    cdef const floating* S = work + net.esin_off
    cdef floating* gf = grads + net.per_off
    cdef int nt = _team(net, 2.0 * m * P * h, m)
    cdef int t
    cdef Py_ssize_t r0, r1
    # G = D_1 @ W_0[tail]^T: the loss's gradient at the periodic columns
    if nt == 1:
        gemm_rm(False, True, m, P, h, 1, D1, h, W_tail, h, 0, G, P)
    else:
        for t in prange(nt, num_threads=nt, schedule="static"):
            r0 = _part_lo(m, t, nt)
            r1 = _part_hi(m, t, nt)
            if r0 < r1:
                gemm_rm(False, True, r1 - r0, P, h, 1, D1 + r0 * h, h, W_tail, h, 0,
                        G + r0 * P, P)
    nt = _team(net, 4.0 * m * P, n_num)
    if nt == 1:
        _bwd_cols(Xe, m, p, n_num, K, S, G, 0, n_num, gf, gf + P, accumulate)
        return
    for t in prange(nt, num_threads=nt, schedule="static"):
        _bwd_cols(Xe, m, p, n_num, K, S, G, _part_lo(n_num, t, nt),
                  _part_hi(n_num, t, nt), gf, gf + P, accumulate)


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
