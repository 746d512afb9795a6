/* Dropout masks over a row-major block, as loops the compiler vectorizes.
 *
 * The mask of unit j of row r (its position in the epoch) is drawn from
 * SplitMix64's finalizer of a counter (_dropout.pxd's _hash_bits, bit for
 * bit): kept when its top 53 bits k satisfy k < below = ceil(keep * 2**53),
 * i.e. k / 2**53 < keep.  Compiled once per instruction set (_simd.h):
 * the 64-bit multiplies are native with AVX-512 and three 32-bit ones with
 * AVX2; Cython's own loops are built for the SSE2 baseline, where this
 * loop took 11% of a SiLU 44-256-256-1 step at dropout 0.15. */
#ifndef FASTMLP_VDROPOUT_H
#define FASTMLP_VDROPOUT_H
#include <stddef.h>
#include <stdint.h>
#include "_simd.h"

static inline uint64_t fastmlp_hash_bits(uint64_t seed, ptrdiff_t layer, ptrdiff_t row,
                                         ptrdiff_t col, ptrdiff_t width)
{
    uint64_t z = seed + (uint64_t) (layer + 1) * 0x9E3779B97F4A7C15ULL
                 + (uint64_t) (row * width + col) * 0xD1B54A32D192ED03ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z = z ^ (z >> 31);
    return z >> 11;
}

#define FASTMLP_DROPOUT_LOOP(T, SUF)                                                \
/* A *= mask, mask = (k < below) * scale, row by row; mask may be NULL */        \
FASTMLP_CLONES void fastmlp_dropout_##SUF(T* A, T* mask, ptrdiff_t n_rows,         \
                                         ptrdiff_t n_cols, uint64_t below, T scale, \
                                         uint64_t seed, ptrdiff_t layer,          \
                                         ptrdiff_t row0)                          \
{                                                                                 \
    for (ptrdiff_t i = 0; i < n_rows; i++) {                                      \
        T* a = A + i * n_cols;                                                    \
        if (mask == NULL) {                                                       \
            FASTMLP_PRAGMA(omp simd)                                              \
            for (ptrdiff_t j = 0; j < n_cols; j++)                                \
                a[j] = a[j] * (fastmlp_hash_bits(seed, layer, row0 + i, j, n_cols) \
                               < below ? scale : (T) 0);                          \
        } else {                                                                  \
            T* m = mask + i * n_cols;                                             \
            FASTMLP_PRAGMA(omp simd)                                              \
            for (ptrdiff_t j = 0; j < n_cols; j++) {                              \
                m[j] = fastmlp_hash_bits(seed, layer, row0 + i, j, n_cols) < below \
                       ? scale : (T) 0;                                           \
                a[j] = a[j] * m[j];                                               \
            }                                                                     \
        }                                                                         \
    }                                                                             \
}

FASTMLP_DROPOUT_LOOP(float, f)
FASTMLP_DROPOUT_LOOP(double, d)

#endif
