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
 * summed over the rows in order, whatever the columns' split over threads. */
#ifndef FASTMLP_VPERIODIC_H
#define FASTMLP_VPERIODIC_H
#include <stddef.h>
#include <string.h>
#include "_simd.h"
#include "_vtrig.h"

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
}

FASTMLP_PERIODIC_LOOPS(float, f)
FASTMLP_PERIODIC_LOOPS(double, d)

#endif
