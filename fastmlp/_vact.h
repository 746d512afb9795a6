/* SiLU over arrays, as loops the compiler vectorizes (exp: _vexp.h).
 *
 * libm's exp is a call per value: a 256 x 256 SiLU layer spent about as
 * long in its forward and backward loops as in its GEMMs (44-256-256-1,
 * batch 256: 2.8 ms a step with SiLU and dropout, 1.9 with ReLU; bench
 * note in bench/README.md).  The same formulas, with _vexp.h's exp:
 *     forward   a = z / (1 + exp(-z))                 (z = x + b)
 *     backward  d *= s (1 + z (1 - s)),  s = 1 / (1 + exp(-z))
 * and the parametric SiLU's backward (fastmlp_psilu_bwd, formulas there).
 * exp(-z) overflows to inf for z below about -88 (float): a = -0, s = 0,
 * as the libm form gave; NaN stays NaN.  Clones: _simd.h.  Modules that
 * include this header compile with -fno-trapping-math (setup.py). */
#ifndef FASTMLP_VACT_H
#define FASTMLP_VACT_H
#include <stddef.h>
#include "_simd.h"
#include "_vexp.h"

#define FASTMLP_SILU_LOOPS(T, SUF)                                                  \
/* z[i] = silu(z[i] + b[i]); zpre[i] = z[i] + b[i] unless zpre is NULL */       \
FASTMLP_CLONES void fastmlp_silu_fwd_##SUF(T* z, const T* b, T* zpre, ptrdiff_t n) \
{                                                                               \
    if (zpre != NULL) {                                                         \
        FASTMLP_PRAGMA(omp simd)                                                \
        for (ptrdiff_t i = 0; i < n; i++) {                                     \
            T x = z[i] + b[i];                                                  \
            zpre[i] = x;                                                        \
            z[i] = x / ((T) 1 + fastmlp_exp1_##SUF(-x));                        \
        }                                                                       \
    } else {                                                                    \
        FASTMLP_PRAGMA(omp simd)                                                \
        for (ptrdiff_t i = 0; i < n; i++) {                                     \
            T x = z[i] + b[i];                                                  \
            z[i] = x / ((T) 1 + fastmlp_exp1_##SUF(-x));                        \
        }                                                                       \
    }                                                                           \
}                                                                               \
                                                                                \
/* d[i] *= silu'(zpre[i]), or, with a dropout mask (1/keep or 0),             \
 * d[i] = mask[i] == 0 ? 0 : d[i] * mask[i] * silu'(zpre[i]) */                 \
FASTMLP_CLONES void fastmlp_silu_bwd_##SUF(const T* zpre, const T* mask, T* d,  \
                                          ptrdiff_t n)                          \
{                                                                               \
    if (mask == NULL) {                                                         \
        FASTMLP_PRAGMA(omp simd)                                                \
        for (ptrdiff_t i = 0; i < n; i++) {                                     \
            T z = zpre[i];                                                      \
            T s = (T) 1 / ((T) 1 + fastmlp_exp1_##SUF(-z));                     \
            d[i] = d[i] * (s * ((T) 1 + z * ((T) 1 - s)));                      \
        }                                                                       \
    } else {                                                                    \
        FASTMLP_PRAGMA(omp simd)                                                \
        for (ptrdiff_t i = 0; i < n; i++) {                                     \
            T z = zpre[i];                                                      \
            T s = (T) 1 / ((T) 1 + fastmlp_exp1_##SUF(-z));                     \
            T v = d[i] * mask[i] * (s * ((T) 1 + z * ((T) 1 - s)));             \
            d[i] = mask[i] == (T) 0 ? (T) 0 : v;                                \
        }                                                                       \
    }                                                                           \
}

#define FASTMLP_PSILU_LOOPS(T, SUF)                                                 \
/* the parametric SiLU's backward over one row of n units (RealMLP's          \
 * parametric activation a = z + alpha (silu(z) - z), alpha per unit):        \
 * with e = d (* mask), s = 1 / (1 + exp(-z)),                                \
 *     d    = e (1 - alpha + alpha silu'(z))     the delta at z               \
 *     zpre = e (silu(z) - z) = e (z s - z)      dL/dalpha's terms            \
 * both exactly 0 where mask is 0 (mask NULL: no dropout) */                  \
FASTMLP_CLONES void fastmlp_psilu_bwd_##SUF(T* zpre, const T* mask, const T* alpha, \
                                           T* d, ptrdiff_t n)                 \
{                                                                               \
    FASTMLP_PRAGMA(omp simd)                                                    \
    for (ptrdiff_t i = 0; i < n; i++) {                                         \
        T z = zpre[i];                                                          \
        T s = (T) 1 / ((T) 1 + fastmlp_exp1_##SUF(-z));                         \
        T m = mask == NULL ? (T) 1 : mask[i];                                   \
        T e = d[i] * m;                                                         \
        T v = e * (((T) 1 - alpha[i]) + alpha[i] * (s * ((T) 1 + z * ((T) 1 - s)))); \
        T w = e * (z * s - z);                                                  \
        d[i] = m == (T) 0 ? (T) 0 : v;                                          \
        zpre[i] = m == (T) 0 ? (T) 0 : w;                                       \
    }                                                                           \
}

FASTMLP_SILU_LOOPS(float, f)
FASTMLP_SILU_LOOPS(double, d)
FASTMLP_PSILU_LOOPS(float, f)
FASTMLP_PSILU_LOOPS(double, d)

#endif
