/* The periodic input layer's loops (_input_layer.pyx), in C so that they
 * vectorize (sin and cos: _vtrig.h) and are compiled once per instruction
 * set (_simd.h).  X is row-major with p columns; its first n_num columns are
 * the numeric values z; for numeric column k and frequency q (c = k K + q)
 *     theta = f[c] * z_k + ph[c],  C[:, c] = cos(theta),  S[:, c] = sin(theta)
 * With d = 0, X's last P = n_num K columns, tail + c (tail = p - P), get C;
 * with d > 0 (PBLD's per-column linear layer) its last n_num d columns,
 * tail + k d + j (tail = p - n_num d), get b[k d + j] + sum_q C[:, c] A[c d + j].
 * The gradients are summed over the rows in order, whatever the columns'
 * split over threads. */
#ifndef FASTMLP_VPERIODIC_H
#define FASTMLP_VPERIODIC_H
#include <stddef.h>
#include <string.h>
#include "_simd.h"
#include "_vtrig.h"

/* sines and cosines are computed this many at a time (the chunk buffers) */
#define FASTMLP_PERIODIC_CHUNK 16
/* with d = 0, a row's (column, frequency) pairs this many at a time, in one
 * loop over them: K (8 by default) is half a vector or less, and a loop
 * per column over its K frequencies ran mostly masked and in its epilogue
 * (7% of a churn fit, 16 numeric columns; 2% over the whole row) */
#define FASTMLP_PERIODIC_ROW_CHUNK 256

#define FASTMLP_PERIODIC_LOOPS(T, SUF)                                              \
/* rows r0:r1 of X into the same rows of Xe, the layer's output columns          \
 * computed (d = 0: the cosines; d > 0: the linear layers' outputs, from A and  \
 * b); S and C (m x P, same rows) receive the sines and (d > 0) the cosines     \
 * unless NULL */                                                                 \
FASTMLP_CLONES void fastmlp_periodic_fwd_##SUF(                                   \
    const T* X, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t p, ptrdiff_t n_num,         \
    ptrdiff_t K, ptrdiff_t d, const T* f, const T* ph, const T* A, const T* b,    \
    T* Xe, T* S, T* C)                                                            \
{                                                                                 \
    ptrdiff_t P = n_num * K, w = d > 0 ? d : K, tail = p - n_num * w;             \
    T sbuf[FASTMLP_PERIODIC_ROW_CHUNK], cbuf[FASTMLP_PERIODIC_CHUNK];               \
    T zbuf[FASTMLP_PERIODIC_ROW_CHUNK];                                           \
    /* |theta| <= max|f| max|z| + max|ph|: a row past FASTMLP_SINCOS_NEAR         \
     * has its values past it redone by libm (_vtrig.h), after the loops,         \
     * which stay as they are */                                                  \
    T fmax = 0, pmax = 0;                                                         \
    for (ptrdiff_t c = 0; c < P; c++) {                                           \
        fmax = fastmlp_far_##SUF(fmax, f[c]);                                     \
        pmax = fastmlp_far_##SUF(pmax, ph[c]);                                    \
    }                                                                             \
    for (ptrdiff_t i = r0; i < r1; i++) {                                         \
        const T* x = X + i * p;                                                   \
        T* e = Xe + i * p;                                                        \
        T zmax = 0;                                                               \
        for (ptrdiff_t k = 0; k < n_num; k++)                                     \
            zmax = fastmlp_far_##SUF(zmax, x[k]);                                 \
        int far = zmax * fmax + pmax > FASTMLP_SINCOS_NEAR_##SUF;                 \
        if (e != x)                                                               \
            memcpy(e, x, (size_t) tail * sizeof(T));                              \
        /* d = 0: pair c = k K + q's cosine is column tail + c, contiguous;   \
         * zbuf holds each pair's z_k, so one loop runs over all pairs */      \
        for (ptrdiff_t c0 = 0; d == 0 && c0 < P; c0 += FASTMLP_PERIODIC_ROW_CHUNK) { \
            ptrdiff_t n = P - c0 < FASTMLP_PERIODIC_ROW_CHUNK ? P - c0                \
                                                          : FASTMLP_PERIODIC_ROW_CHUNK; \
            for (ptrdiff_t c = 0, k = c0 / K, q = c0 % K; c < n; c++) {           \
                zbuf[c] = x[k];                                                   \
                if (++q == K) { q = 0; k++; }                                     \
            }                                                                     \
            T* sk = S != NULL ? S + i * P + c0 : sbuf;                            \
            T* ck = e + tail + c0;                                                \
            const T* fk = f + c0;                                                 \
            const T* pk = ph + c0;                                                \
            FASTMLP_PRAGMA(omp simd)                                              \
            for (ptrdiff_t c = 0; c < n; c++) {                                   \
                T sv, cv;                                                         \
                fastmlp_sincos1_##SUF(fk[c] * zbuf[c] + pk[c], &sv, &cv);         \
                sk[c] = sv;                                                       \
                ck[c] = cv;                                                       \
            }                                                                     \
            for (ptrdiff_t c = 0; far && c < n; c++)                              \
                fastmlp_sincos_far_##SUF(fk[c] * zbuf[c] + pk[c], &sk[c], &ck[c]);\
        }                                                                         \
        for (ptrdiff_t k = 0; d > 0 && k < n_num; k++) {                          \
            T z = x[k];                                                           \
            T* ek = e + tail + k * w;                                             \
            for (ptrdiff_t j = 0; j < d; j++)                                     \
                ek[j] = b[k * d + j];                                             \
            for (ptrdiff_t q0 = 0; q0 < K; q0 += FASTMLP_PERIODIC_CHUNK) {            \
                ptrdiff_t n = K - q0 < FASTMLP_PERIODIC_CHUNK ? K - q0                \
                                                          : FASTMLP_PERIODIC_CHUNK;   \
                ptrdiff_t c0 = k * K + q0;                                        \
                /* the cosines are kept in C (training) or the chunk's      \
                 * buffer (prediction) */                                      \
                T* sk = S != NULL ? S + i * P + c0 : sbuf;                        \
                T* ck = C != NULL ? C + i * P + c0 : cbuf;                        \
                const T* fk = f + c0;                                             \
                const T* pk = ph + c0;                                            \
                FASTMLP_PRAGMA(omp simd)                                          \
                for (ptrdiff_t q = 0; q < n; q++) {                               \
                    T sv, cv;                                                     \
                    fastmlp_sincos1_##SUF(fk[q] * z + pk[q], &sv, &cv);           \
                    sk[q] = sv;                                                   \
                    ck[q] = cv;                                                   \
                }                                                                 \
                for (ptrdiff_t q = 0; far && q < n; q++)                          \
                    fastmlp_sincos_far_##SUF(fk[q] * z + pk[q], &sk[q], &ck[q]);  \
                /* one output at a time, in a register (A's column j is      \
                 * strided by d) */                                            \
                for (ptrdiff_t j = 0; j < d; j++) {                               \
                    const T* aj = A + c0 * d + j;                                 \
                    T acc = 0;                                                    \
                    FASTMLP_PRAGMA(omp simd reduction(+:acc))                     \
                    for (ptrdiff_t q = 0; q < n; q++)                             \
                        acc += ck[q] * aj[q * d];                                 \
                    ek[j] = ek[j] + acc;                                          \
                }                                                                 \
            }                                                                     \
        }                                                                         \
    }                                                                             \
}                                                                                 \
                                                                                  \
/* the gradients of numeric columns k0:k1 (all their K frequencies, and with    \
 * d > 0 their A and b), over rows 0:m in order, given G = dL/dXe at the        \
 * layer's output columns (m x n_num w, rows ldg apart; w = K, or d).  With     \
 * d > 0: gb[k d + j] (+)= sum_i G[i, k d + j], gA[c d + j] (+)= sum_i          \
 * C[i, c] G[i, k d + j] and dC[i, c] = sum_j A[c d + j] G[i, k d + j]          \
 * (c = k K + q); with d = 0, dC = G.  Then gf and gph from dC.  Xe supplies z  \
 * (its first columns are X's) */                                                 \
FASTMLP_CLONES void fastmlp_periodic_bwd_##SUF(                                   \
    const T* Xe, ptrdiff_t m, ptrdiff_t p, ptrdiff_t n_num, ptrdiff_t K,          \
    ptrdiff_t d, const T* S, const T* C, const T* A, const T* G, ptrdiff_t ldg,   \
    ptrdiff_t k0, ptrdiff_t k1, T* gf, T* gph, T* gA, T* gb)                      \
{                                                                                 \
    ptrdiff_t P = n_num * K, w = d > 0 ? d : K;                                   \
    for (ptrdiff_t i = 0; i < m; i++) {                                           \
        for (ptrdiff_t k = k0; k < k1; k++) {                                     \
            T z = Xe[i * p + k];                                                  \
            const T* sk = S + i * P + k * K;                                      \
            const T* gk = G + i * ldg + k * w;                                    \
            T* gfk = gf + k * K;                                                  \
            T* gpk = gph + k * K;                                                 \
            if (d == 0) {                                                         \
                FASTMLP_PRAGMA(omp simd)                                          \
                for (ptrdiff_t q = 0; q < K; q++) {                               \
                    T t = -sk[q] * gk[q];                                         \
                    gpk[q] = gpk[q] + t;                                          \
                    gfk[q] = gfk[q] + t * z;                                      \
                }                                                                 \
                continue;                                                         \
            }                                                                     \
            const T* ck = C + i * P + k * K;                                      \
            const T* ak = A + k * K * d;                                          \
            T* gak = gA + k * K * d;                                              \
            for (ptrdiff_t j = 0; j < d; j++)                                     \
                gb[k * d + j] = gb[k * d + j] + gk[j];                            \
            /* vectorized over the K frequencies, A and gA strided by d */     \
            FASTMLP_PRAGMA(omp simd)                                              \
            for (ptrdiff_t q = 0; q < K; q++) {                                   \
                T dc = 0;                                                         \
                for (ptrdiff_t j = 0; j < d; j++) {                               \
                    dc += ak[q * d + j] * gk[j];                                  \
                    gak[q * d + j] += ck[q] * gk[j];                              \
                }                                                                 \
                T t = -sk[q] * dc;                                                \
                gpk[q] = gpk[q] + t;                                              \
                gfk[q] = gfk[q] + t * z;                                          \
            }                                                                     \
        }                                                                         \
    }                                                                             \
}

FASTMLP_PERIODIC_LOOPS(float, f)
FASTMLP_PERIODIC_LOOPS(double, d)

#endif
