/* The periodic input layer's loops (_input_layer.pyx), in C so that they
 * vectorize (sin and cos: _vtrig.h) and are compiled once per instruction
 * set (_simd.h).  X is row-major with p columns; its first n_num columns are
 * the numeric values z, its last P = n_num * K columns the periodic ones,
 * column tail + k K + q (tail = p - P) for numeric column k, frequency q:
 *     theta = f[k K + q] * z_k + ph[k K + q]
 *     Xe[:, tail + k K + q] = cos(theta),  S[:, k K + q] = sin(theta)
 * and, given G = dL/dXe[:, tail:] (m x P, rows ldg apart),
 *     gf[c]  (+)= sum_i -S[i, c] * z_k[i] * G[i, c]
 *     gph[c] (+)= sum_i -S[i, c] * G[i, c]
 * summed over the rows in order, whatever the columns' split over threads.
 * fastmlp_pbld_*: the same with each numeric column's per-column linear
 * layer (PBLD), whose d outputs are Xe's last n_num d columns. */
#ifndef FASTMLP_VPERIODIC_H
#define FASTMLP_VPERIODIC_H
#include <stddef.h>
#include <string.h>
#include "_simd.h"
#include "_vtrig.h"

/* the linear layer's cosines are computed this many at a time */
#define FASTMLP_PBLD_CHUNK 16

#define FASTMLP_PERIODIC_LOOPS(T, SUF)                                              \
/* rows r0:r1 of X into the same rows of Xe, periodic columns computed;          \
 * S (m x P, same rows) receives the sines unless NULL */                         \
FASTMLP_CLONES void fastmlp_periodic_fwd_##SUF(                                   \
    const T* X, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t p, ptrdiff_t n_num,         \
    ptrdiff_t K, const T* f, const T* ph, T* Xe, T* S)                            \
{                                                                                 \
    ptrdiff_t P = n_num * K, tail = p - P;                                        \
    for (ptrdiff_t i = r0; i < r1; i++) {                                         \
        const T* x = X + i * p;                                                   \
        T* e = Xe + i * p;                                                        \
        if (e != x)                                                               \
            memcpy(e, x, (size_t) tail * sizeof(T));                              \
        for (ptrdiff_t k = 0; k < n_num; k++) {                                   \
            T z = x[k];                                                           \
            const T* fk = f + k * K;                                              \
            const T* pk = ph + k * K;                                             \
            T* ek = e + tail + k * K;                                             \
            if (S != NULL) {                                                      \
                T* sk = S + i * P + k * K;                                        \
                FASTMLP_PRAGMA(omp simd)                                          \
                for (ptrdiff_t q = 0; q < K; q++) {                               \
                    T sv, cv;                                                     \
                    fastmlp_sincos1_##SUF(fk[q] * z + pk[q], &sv, &cv);           \
                    ek[q] = cv;                                                   \
                    sk[q] = sv;                                                   \
                }                                                                 \
            } else {                                                              \
                FASTMLP_PRAGMA(omp simd)                                          \
                for (ptrdiff_t q = 0; q < K; q++) {                               \
                    T sv, cv;                                                     \
                    fastmlp_sincos1_##SUF(fk[q] * z + pk[q], &sv, &cv);           \
                    ek[q] = cv;                                                   \
                }                                                                 \
            }                                                                     \
        }                                                                         \
    }                                                                             \
}                                                                                 \
                                                                                  \
/* the gradients of numeric columns k0:k1 (all their K frequencies), over        \
 * rows 0:m; Xe supplies z (its first columns are X's) */                         \
FASTMLP_CLONES void fastmlp_periodic_bwd_##SUF(                                   \
    const T* Xe, ptrdiff_t m, ptrdiff_t p, ptrdiff_t n_num, ptrdiff_t K,          \
    const T* S, const T* G, ptrdiff_t ldg, ptrdiff_t k0, ptrdiff_t k1, T* gf,     \
    T* gph)                                                                       \
{                                                                                 \
    ptrdiff_t P = n_num * K;                                                      \
    for (ptrdiff_t i = 0; i < m; i++) {                                           \
        for (ptrdiff_t k = k0; k < k1; k++) {                                     \
            T z = Xe[i * p + k];                                                  \
            const T* sk = S + i * P + k * K;                                      \
            const T* gk = G + i * ldg + k * K;                                    \
            T* gfk = gf + k * K;                                                  \
            T* gpk = gph + k * K;                                                 \
            FASTMLP_PRAGMA(omp simd)                                              \
            for (ptrdiff_t q = 0; q < K; q++) {                                   \
                T t = -sk[q] * gk[q];                                             \
                gpk[q] = gpk[q] + t;                                              \
                gfk[q] = gfk[q] + t * z;                                          \
            }                                                                     \
        }                                                                         \
    }                                                                             \
}                                                                                 \
                                                                                  \
/* PBLD's per-column linear layer (d > 0): numeric column k's K cosines     \
 * are mixed into d columns, Xe's last n_num d (tail = p - n_num d):           \
 *     Xe[:, tail + k d + j] = b[k d + j] + sum_q cos(theta_kq) A[(k K + q) d + j] \
 * (the sum vectorized: its order is the compiler's, fixed per build); S and   \
 * C (m x P, same rows) receive the sines and cosines unless NULL */           \
FASTMLP_CLONES void fastmlp_pbld_fwd_##SUF(                                       \
    const T* X, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t p, ptrdiff_t n_num,         \
    ptrdiff_t K, ptrdiff_t d, const T* f, const T* ph, const T* A, const T* b,    \
    T* Xe, T* S, T* C)                                                            \
{                                                                                 \
    ptrdiff_t P = n_num * K, tail = p - n_num * d;                                \
    T sbuf[FASTMLP_PBLD_CHUNK], cbuf[FASTMLP_PBLD_CHUNK];                         \
    for (ptrdiff_t i = r0; i < r1; i++) {                                         \
        const T* x = X + i * p;                                                   \
        T* e = Xe + i * p;                                                        \
        if (e != x)                                                               \
            memcpy(e, x, (size_t) tail * sizeof(T));                              \
        for (ptrdiff_t k = 0; k < n_num; k++) {                                   \
            T z = x[k];                                                           \
            T* ek = e + tail + k * d;                                             \
            for (ptrdiff_t j = 0; j < d; j++)                                     \
                ek[j] = b[k * d + j];                                             \
            for (ptrdiff_t q0 = 0; q0 < K; q0 += FASTMLP_PBLD_CHUNK) {            \
                ptrdiff_t n = K - q0 < FASTMLP_PBLD_CHUNK ? K - q0                \
                                                          : FASTMLP_PBLD_CHUNK;   \
                ptrdiff_t c0 = k * K + q0;                                        \
                /* the sines and cosines straight into S and C (training),     \
                 * else into the chunk's buffers (prediction) */                \
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
/* their gradients for numeric columns k0:k1, over rows 0:m in order, given   \
 * G = dL/dXe at the d output columns (m x n_num d, rows ldg apart):            \
 *     gb[k d + j] (+)= sum_i G[i, k d + j]                                     \
 *     gA[c d + j] (+)= sum_i C[i, c] G[i, k d + j]        (c = k K + q)        \
 *     dC[i, c]     = sum_j A[c d + j] G[i, k d + j]                            \
 * then gf and gph as fastmlp_periodic_bwd with dC for G */                     \
FASTMLP_CLONES void fastmlp_pbld_bwd_##SUF(                                       \
    const T* Xe, ptrdiff_t m, ptrdiff_t p, ptrdiff_t n_num, ptrdiff_t K,          \
    ptrdiff_t d, const T* S, const T* C, const T* A, const T* G, ptrdiff_t ldg,   \
    ptrdiff_t k0, ptrdiff_t k1, T* gf, T* gph, T* gA, T* gb)                      \
{                                                                                 \
    ptrdiff_t P = n_num * K;                                                      \
    for (ptrdiff_t i = 0; i < m; i++) {                                           \
        for (ptrdiff_t k = k0; k < k1; k++) {                                     \
            T z = Xe[i * p + k];                                                  \
            const T* gk = G + i * ldg + k * d;                                    \
            for (ptrdiff_t j = 0; j < d; j++)                                     \
                gb[k * d + j] = gb[k * d + j] + gk[j];                            \
            const T* sk = S + i * P + k * K;                                      \
            const T* ck = C + i * P + k * K;                                      \
            const T* ak = A + k * K * d;                                          \
            T* gak = gA + k * K * d;                                              \
            T* gfk = gf + k * K;                                                  \
            T* gpk = gph + k * K;                                                 \
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
