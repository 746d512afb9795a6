/* One-row products (batch size 1, and a predict of one row), as loops the
 * compiler vectorizes.
 *
 * Rank-one products C = alpha * a b^T + beta * C (row-major, b contiguous):
 * the weight gradient A^T D of a one-row batch.  OpenBLAS sends k = 1 through
 * its general small-matrix kernel, which on digits at batch size 1 (64x100
 * and 100x10) took 1.0 us per sample against 0.47 us for this loop
 * (bench/README.md); the loop is store-bound, so it only has to vectorize.
 * One clone per instruction set (_simd.h). */
#ifndef FASTMLP_RANK1_H
#define FASTMLP_RANK1_H
#include <stddef.h>
#include "_simd.h"

/* beta follows BLAS: 0 means C is not read (NaN or garbage there is
 * overwritten), anything else scales C first. */
#define FASTMLP_DEFINE_RANK1(T, SUFFIX)                                         \
FASTMLP_CLONES void fastmlp_rank1_##SUFFIX(                                    \
    ptrdiff_t m, ptrdiff_t n, T alpha, const T* a, ptrdiff_t inca,              \
    const T* b, T beta, T* C, ptrdiff_t ldc)                                    \
{                                                                               \
    for (ptrdiff_t i = 0; i < m; i++) {                                         \
        T ai = alpha * a[i * inca];                                             \
        T* c = C + i * ldc;                                                     \
        if (beta == 0) {                                                        \
            FASTMLP_PRAGMA(omp simd)                                            \
            for (ptrdiff_t j = 0; j < n; j++) c[j] = ai * b[j];                 \
        } else if (beta == 1) {                                                 \
            FASTMLP_PRAGMA(omp simd)                                            \
            for (ptrdiff_t j = 0; j < n; j++) c[j] += ai * b[j];                \
        } else {                                                                \
            FASTMLP_PRAGMA(omp simd)                                            \
            for (ptrdiff_t j = 0; j < n; j++) c[j] = beta * c[j] + ai * b[j];   \
        }                                                                       \
    }                                                                           \
}

FASTMLP_DEFINE_RANK1(float, f)
FASTMLP_DEFINE_RANK1(double, d)

/* A row times a matrix, c[j] = sum over i of a[i] B[i, j] (B row-major, ldb
 * apart; i ascending for every j): the forward x W of a one-row batch or
 * predict.
 * OpenBLAS's Haswell-family GEMM has no small-matrix kernel and packs all of
 * W for each row: on digits (64x100, two threads) that packing took 16% of
 * an online fit.  c is written, not read. */
#define FASTMLP_DEFINE_ROW_TIMES(T, SUFFIX)                                     \
FASTMLP_CLONES void fastmlp_row_times_##SUFFIX(                                \
    ptrdiff_t k, ptrdiff_t n, const T* a, const T* B, ptrdiff_t ldb, T* c)      \
{                                                                               \
    if (k <= 0) {                                                               \
        for (ptrdiff_t j = 0; j < n; j++) c[j] = 0;                             \
        return;                                                                 \
    }                                                                           \
    T a0 = a[0];                                                                \
    FASTMLP_PRAGMA(omp simd)                                                    \
    for (ptrdiff_t j = 0; j < n; j++) c[j] = a0 * B[j];                         \
    for (ptrdiff_t i = 1; i < k; i++) {                                         \
        T ai = a[i];                                                            \
        const T* b = B + i * ldb;                                               \
        FASTMLP_PRAGMA(omp simd)                                                \
        for (ptrdiff_t j = 0; j < n; j++) c[j] += ai * b[j];                    \
    }                                                                           \
}

FASTMLP_DEFINE_ROW_TIMES(float, f)
FASTMLP_DEFINE_ROW_TIMES(double, d)

#endif
