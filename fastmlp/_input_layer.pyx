# Design: the input layer of the tabular networks, ahead of the first dense
# layer, with three optional parts.
#
# 1. Periodic columns (learnable periodic numeric embeddings: Gorishniy et
#    al. 2022; RealMLP's PBLD, Holzmueller et al. 2024).  X's first n_num
#    columns are numeric values z, and for k < n_num, q < K
#        C[k, q] = cos(f[k, q] * z_k + ph[k, q])
#    With per_d = 0, X's last P = n_num * K columns are overwritten, per
#    batch, by C (the first dense layer mixes them).  With per_d = d > 0
#    (PBLD's per-column linear layer), X's last Q = n_num * d columns are
#    overwritten by  b[k, j] + sum_q C[k, q] A[k, q, j]  (j < d): each
#    numeric column's own linear layer, so the first dense layer reads d
#    columns per numeric column instead of K (RealMLP: K = 16, d = 3).
# 2. Categorical embeddings: cat_n categorical columns, each with its own
#    table E_c of cat_rows[c + 1] - cat_rows[c] rows of cat_d values.  They
#    own the cat_n * cat_d columns just before the periodic layer's output
#    (from c0 = units[0] - Q - cat_n * cat_d): X holds column c's code, an
#    integer checked at the entry (_contract.check_codes), in column c0 +
#    c * cat_d, and Xe[:, c0 + c * cat_d + j] = E_c[code, j].  Equal to a
#    one-hot column per category and a linear layer with no bias, with one
#    table row read instead of a GEMM over every category's column.
# 3. A diagonal scale (RealMLP's "scaling layer"): Xe[:, j] *= s[j], every
#    column, after the others are computed; s starts at 1.
#
# f, ph (A, b), E and s sit in the flat parameter buffer after the
# intercepts (Net.per_off: f, then ph, A, b, Net.per_size in all;
# Net.cat_off: E; Net.sc_off: s).  They are not coefs (no L2, no weight
# decay); the optimizer steps them with everything else, at their own rate
# factors (Net.per_lr, Net.cat_lr, Net.sc_lr; _network.train_epoch).
#
# Forward (_input_forward): the batch's rows are copied into the work
# buffer's Xe region with the periodic layer's columns computed and its
# sines (and with per_d, cosines) kept, the embeddings' rows written and
# the codes kept, then scaled (the unscaled copy kept).  Backward
# (_input_backward), after the layers' own: G = D_1 @ W_0^T, the loss's
# gradient at Xe (only at the input layer's output columns without the
# scale), then
#     grad s[j]     = sum_i Xs[i, j] * G[i, j]          (Xs: unscaled Xe)
#     G'[:, c]      = s[c] * G[:, c]                    (through the scale)
#     grad E_c[r, j] = sum over rows i with code r of G'[i, c0 + c d + j]
#     dC[i, k, q]   = G'[i, c(k, q)], or with per_d
#                     sum_j A[k, q, j] G'[i, c(k, j)], and then
#                     grad A[k, q, j] = sum_i C[i, k, q] G'[i, c(k, j)]
#                     grad b[k, j]    = sum_i G'[i, c(k, j)]
#     grad f[k, q]  = sum_i -sin(theta_ikq) * z_ik * dC[i, k, q]
#     grad ph[k, q] = sum_i -sin(theta_ikq) * dC[i, k, q]
# raw, as every other gradient (the optimizer step scales them).
#
# Threads: the forward and the GEMM of G split rows; the sums split
# columns (numeric or categorical), each column's sum running over the
# rows in order, so the gradients do not depend on the thread count.  The
# periodic loops are C (_vperiodic.h), vectorized with _vtrig.h's sin and
# cos.
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy, memset

import numpy as np

from fastmlp._blas cimport gemm_rm
from fastmlp._net cimport (FASTMLP_ASSERT, InLayer, Net, _in_out, _part_hi, _part_lo,
                           _per_out, _team)


cdef extern from "_vperiodic.h" nogil:
    void fastmlp_periodic_fwd_f(const float* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t p,
                                Py_ssize_t n_num, Py_ssize_t K, Py_ssize_t d, const float* f,
                                const float* ph, const float* A, const float* b, float* Xe,
                                float* S, float* C)
    void fastmlp_periodic_fwd_d(const double* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t p,
                                Py_ssize_t n_num, Py_ssize_t K, Py_ssize_t d, const double* f,
                                const double* ph, const double* A, const double* b,
                                double* Xe, double* S, double* C)
    void fastmlp_periodic_bwd_f(const float* Xe, Py_ssize_t m, Py_ssize_t p, Py_ssize_t n_num,
                                Py_ssize_t K, Py_ssize_t d, const float* S, const float* C,
                                const float* A, const float* G, Py_ssize_t ldg, Py_ssize_t k0,
                                Py_ssize_t k1, float* gf, float* gph, float* gA, float* gb)
    void fastmlp_periodic_bwd_d(const double* Xe, Py_ssize_t m, Py_ssize_t p, Py_ssize_t n_num,
                                Py_ssize_t K, Py_ssize_t d, const double* S, const double* C,
                                const double* A, const double* G, Py_ssize_t ldg,
                                Py_ssize_t k0, Py_ssize_t k1, double* gf, double* gph,
                                double* gA, double* gb)
    void fastmlp_sincos1_f(float x, float* s, float* c)
    void fastmlp_sincos1_d(double x, double* s, double* c)
    void fastmlp_sincos_far_f(float x, float* s, float* c)
    void fastmlp_sincos_far_d(double x, double* s, double* c)


# GEMM-flop equivalent of one sin + cos (the polynomial and the reduction)
cdef double SINCOS_FLOPS = 40


cdef void _fwd_rows(const floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t p,
                    Py_ssize_t n_num, Py_ssize_t K, Py_ssize_t d, const floating* per,
                    floating* Xe, floating* S, floating* C) noexcept nogil:
    """Rows r0:r1 of X into the same rows of Xe, the periodic layer's output
    columns computed from per = (f, ph, A, b); S and C (sines, cosines; C
    only with d > 0) kept unless NULL."""
    cdef Py_ssize_t P = n_num * K
    if floating is float:
        fastmlp_periodic_fwd_f(X, r0, r1, p, n_num, K, d, per, per + P, per + 2 * P,
                               per + 2 * P + P * d, Xe, S, C)
    else:
        fastmlp_periodic_fwd_d(X, r0, r1, p, n_num, K, d, per, per + P, per + 2 * P,
                               per + 2 * P + P * d, Xe, S, C)


cdef void _scale_rows(floating* Xe, const floating* Xs, Py_ssize_t r0, Py_ssize_t r1,
                      Py_ssize_t p, const floating* sc) noexcept nogil:
    """Xe[r0:r1, j] = Xs[r0:r1, j] * sc[j] (Xs may be Xe)."""
    cdef Py_ssize_t i, j
    for i in range(r0, r1):
        for j in range(p):
            Xe[i * p + j] = Xs[i * p + j] * sc[j]


cdef void _embed_rows(const floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t p,
                      Py_ssize_t c0, Py_ssize_t e, Py_ssize_t d, const Py_ssize_t* rows,
                      const floating* E, floating* Xe, floating* codes) noexcept nogil:
    """Xe[i, c0 + c d + j] = E[rows[c] + code, j], code = X[i, c0 + c d], for
    rows i in r0:r1 (the same rows of X and Xe); codes[i, c] = code unless
    NULL.  The codes were checked at the entry (_contract.check_codes)."""
    cdef Py_ssize_t i, c, j, code
    cdef const floating* src
    cdef floating* dst
    for i in range(r0, r1):
        for c in range(e):
            code = <Py_ssize_t> X[i * p + c0 + c * d]
            FASTMLP_ASSERT(0 <= code and code < rows[c + 1] - rows[c], "a code inside its table")
            if codes != NULL:
                codes[i * e + c] = X[i * p + c0 + c * d]
            src = E + (rows[c] + code) * d
            dst = Xe + i * p + c0 + c * d
            for j in range(d):
                dst[j] = src[j]


cdef void _input_rows(const InLayer* il, const floating* X, Py_ssize_t r0, Py_ssize_t r1,
                      Py_ssize_t p, const floating* params, floating* Xe) noexcept nogil:
    """Rows r0:r1 of X through the input layer into rows 0:r1-r0 of Xe
    (prediction: no sines, cosines or codes, no unscaled copy kept)."""
    cdef Py_ssize_t P = il.per_n * il.per_k
    cdef Py_ssize_t Q = il.per_n * (il.per_d if il.per_d > 0 else il.per_k)
    if P > 0:
        _fwd_rows(X + r0 * p, 0, r1 - r0, p, il.per_n, il.per_k, il.per_d,
                  params + il.per_off, Xe, <floating*> NULL, <floating*> NULL)
    else:
        memcpy(Xe, X + r0 * p, (r1 - r0) * p * sizeof(floating))
    if il.cat_n > 0:
        _embed_rows(X + r0 * p, 0, r1 - r0, p, p - Q - il.cat_n * il.cat_d, il.cat_n,
                    il.cat_d, il.cat_rows, params + il.cat_off, Xe, <floating*> NULL)
    if il.sc_off >= 0:
        _scale_rows(Xe, Xe, 0, r1 - r0, p, params + il.sc_off)


cdef void _forward_part(const Net* net, const floating* X, Py_ssize_t r0, Py_ssize_t r1,
                        const floating* params, floating* work) noexcept nogil:
    cdef Py_ssize_t p = net.units[0]
    cdef Py_ssize_t P = net.per_n * net.per_k
    cdef floating* Xe = work + net.emb_off
    cdef floating* dst = work + (net.xs_off if net.sc_off >= 0 else net.emb_off)
    if r0 >= r1:
        return
    if P > 0:
        _fwd_rows(X, r0, r1, p, net.per_n, net.per_k, net.per_d, params + net.per_off, dst,
                  work + net.esin_off, work + net.ecos_off if net.per_d else NULL)
    else:
        memcpy(dst + r0 * p, X + r0 * p, (r1 - r0) * p * sizeof(floating))
    if net.cat_n > 0:
        _embed_rows(X, r0, r1, p, p - _in_out(net), net.cat_n, net.cat_d, net.cat_rows,
                    params + net.cat_off, dst, work + net.ecode_off)
    if net.sc_off >= 0:
        _scale_rows(Xe, dst, r0, r1, p, params + net.sc_off)


cdef void _input_forward(const Net* net, const floating* X, Py_ssize_t m,
                         const floating* params, floating* work) noexcept nogil:
    """work's Xe = X through the input layer (m rows), with the periodic
    columns' sines, the codes and the unscaled Xe kept for the backward pass."""
    cdef Py_ssize_t p = net.units[0]
    cdef Py_ssize_t P = net.per_n * net.per_k
    cdef int nt = _team(net, m * (P * (SINCOS_FLOPS + 2 * net.per_d) + 2 * p
                                  + net.cat_n * net.cat_d), m)
    cdef int t
    if nt == 1:
        _forward_part(net, X, 0, m, params, work)
        return
    for t in prange(nt, num_threads=nt, schedule="static"):
        _forward_part(net, X, _part_lo(m, t, nt), _part_hi(m, t, nt), params, work)


cdef void _bwd_cols(const Net* net, const floating* Xe, Py_ssize_t m,
                    const floating* params, const floating* work, const floating* G,
                    Py_ssize_t ldg, Py_ssize_t k0, Py_ssize_t k1, floating* grads,
                    bint accumulate) noexcept nogil:
    """grads of f, ph (and A, b) for numeric columns k0:k1, from G (the
    loss's gradient at the layer's output columns, rows ldg apart)."""
    cdef Py_ssize_t p = net.units[0], n_num = net.per_n, K = net.per_k, d = net.per_d
    cdef Py_ssize_t P = n_num * K
    cdef floating* gf = grads + net.per_off
    cdef const floating* S = work + net.esin_off
    if k0 >= k1:
        return
    if not accumulate:
        memset(gf + k0 * K, 0, (k1 - k0) * K * sizeof(floating))
        memset(gf + P + k0 * K, 0, (k1 - k0) * K * sizeof(floating))
        if d:
            memset(gf + 2 * P + k0 * K * d, 0, (k1 - k0) * K * d * sizeof(floating))
            memset(gf + 2 * P + P * d + k0 * d, 0, (k1 - k0) * d * sizeof(floating))
    if floating is float:
        fastmlp_periodic_bwd_f(Xe, m, p, n_num, K, d, S, work + net.ecos_off,
                               params + net.per_off + 2 * P, G, ldg, k0, k1, gf, gf + P,
                               gf + 2 * P, gf + 2 * P + P * d)
    else:
        fastmlp_periodic_bwd_d(Xe, m, p, n_num, K, d, S, work + net.ecos_off,
                               params + net.per_off + 2 * P, G, ldg, k0, k1, gf, gf + P,
                               gf + 2 * P, gf + 2 * P + P * d)


cdef void _embed_grad_cols(const floating* codes, Py_ssize_t m, Py_ssize_t e, Py_ssize_t d,
                           const Py_ssize_t* rows, const floating* G, Py_ssize_t ldg,
                           Py_ssize_t c0, Py_ssize_t c1, floating* gE,
                           bint accumulate) noexcept nogil:
    """For tables c in c0:c1: grad E_c[r, j] (+)= sum over rows i with
    codes[i, c] = r of G[i, c d + j] (G: the loss's gradient at the
    embeddings' columns, rows ldg apart), the rows in order."""
    cdef Py_ssize_t i, c, j
    cdef floating* dst
    cdef const floating* g
    if c0 >= c1:
        return
    if not accumulate:
        memset(gE + rows[c0] * d, 0, (rows[c1] - rows[c0]) * d * sizeof(floating))
    for c in range(c0, c1):
        for i in range(m):
            # Xe[i, c d + j] = E_c[code, j]: the row read takes the gradient
            dst = gE + (rows[c] + <Py_ssize_t> codes[i * e + c]) * d
            g = G + i * ldg + c * d
            for j in range(d):
                dst[j] = dst[j] + g[j]


cdef void _scale_cols(const floating* Xs, floating* G, Py_ssize_t m, Py_ssize_t p,
                      Py_ssize_t tail, Py_ssize_t c0, Py_ssize_t c1, const floating* sc,
                      floating* gs, bint accumulate) noexcept nogil:
    """gs[c0:c1] (+)= sum over rows of Xs * G; then G's embedding and
    periodic columns (tail and after) among c0:c1 times sc: the gradient
    through the scale."""
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
    """grads[per_off:], grads[cat_off:] and grads[sc_off:] (+)= the raw
    gradients of f, ph (A, b), E and s, from the first layer's delta D_1
    (left in `work` by _layers._backward) and the forward pass's Xe, sines
    (cosines), codes and unscaled Xe."""
    cdef Py_ssize_t p = net.units[0]
    cdef Py_ssize_t h = net.units[1]
    cdef Py_ssize_t n_num = net.per_n
    cdef Py_ssize_t P = n_num * net.per_k
    cdef Py_ssize_t Q = _per_out(net)              # the periodic layer's output columns
    cdef Py_ssize_t T = _in_out(net)               # and the embeddings' before them
    cdef Py_ssize_t e = net.cat_n
    cdef bint scaled = net.sc_off >= 0
    cdef Py_ssize_t cols = p if scaled else T       # G's columns: all, or the layer's
    cdef const floating* D1 = work + (net.act_off[1] if net.n_layers == 2 else net.delta_off[1])
    cdef const floating* W = params + net.coef_off[0] + (p - cols) * h
    cdef floating* G = work + net.egrad_off
    cdef const floating* Xz = work + (net.xs_off if scaled else net.emb_off)
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
            _scale_cols(Xz, G, m, p, p - T, 0, p, params + net.sc_off, grads + net.sc_off,
                        accumulate)
        else:
            for t in prange(nt, num_threads=nt, schedule="static"):
                _scale_cols(Xz, G, m, p, p - T, _part_lo(p, t, nt), _part_hi(p, t, nt),
                            params + net.sc_off, grads + net.sc_off, accumulate)
    if e > 0:
        # the embeddings' part of G: from column cols - T, rows cols apart
        nt = _team(net, 2.0 * m * e * net.cat_d, e)
        if nt == 1:
            _embed_grad_cols(work + net.ecode_off, m, e, net.cat_d, net.cat_rows,
                             G + cols - T, cols, 0, e, grads + net.cat_off, accumulate)
        else:
            for t in prange(nt, num_threads=nt, schedule="static"):
                _embed_grad_cols(work + net.ecode_off, m, e, net.cat_d, net.cat_rows,
                                 G + cols - T, cols, _part_lo(e, t, nt), _part_hi(e, t, nt),
                                 grads + net.cat_off, accumulate)
    if P == 0:
        return
    # the periodic columns' part of G: from column cols - Q, rows cols apart
    nt = _team(net, 4.0 * m * P * (1 + net.per_d), n_num)
    if nt == 1:
        _bwd_cols(net, Xz, m, params, work, G + cols - Q, cols, 0, n_num, grads, accumulate)
        return
    for t in prange(nt, num_threads=nt, schedule="static"):
        _bwd_cols(net, Xz, m, params, work, G + cols - Q, cols, _part_lo(n_num, t, nt),
                  _part_hi(n_num, t, nt), grads, accumulate)


def sincos(const floating[::1] x):        # IN
    """(sin(x), cos(x)) by _vtrig.h, one value at a time, as the layer's
    loops compute them (test entry point)."""
    cdef Py_ssize_t i, n = x.shape[0]
    s = np.empty(n, dtype=np.float32 if floating is float else np.float64)
    c = np.empty_like(s)
    cdef floating[::1] sv = s
    cdef floating[::1] cv = c
    for i in range(n):
        if floating is float:
            fastmlp_sincos1_f(x[i], &sv[i], &cv[i])
            fastmlp_sincos_far_f(x[i], &sv[i], &cv[i])
        else:
            fastmlp_sincos1_d(x[i], &sv[i], &cv[i])
            fastmlp_sincos_far_d(x[i], &sv[i], &cv[i])
    return s, c
