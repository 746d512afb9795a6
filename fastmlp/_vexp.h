/* exp over an array, in place, as a loop the compiler vectorizes.
 *
 * libm's exp is a call per value, which no loop around it can vectorize:
 * the softmax + log-loss of a 200 x 10 output block spent ~9 ns per value
 * there (bench/README.md).  This is the textbook method in branch-free form:
 *     x = n ln2 + r,  |r| <= ln2 / 2,   n = round(x / ln2)
 *     exp(x) = 2**n * exp(r),           exp(r) by its Taylor series
 * with ln2 split in two parts (the high part has trailing zero bits, so
 * r_hi = x - n * ln2_hi is exact, and r = r_hi + r_lo) and the series cut
 * where its remainder is below half an ulp: degree 7 for float (0.3466**8 /
 * 8! = 5e-9), 13 for double (0.3466**14 / 14! = 4e-18).  The series is
 * summed as (1 + r_hi) + (r_lo + r**2 q(r)), with 1 + r_hi split exactly
 * into s + e (Fast2Sum: |r_hi| < 1), so that the last addition is the only
 * rounding at the result's scale: within 0.8 ulp whether or not the
 * compiler contracts a * b + c into FMAs (the x86-64-v3/v4 clones do, the
 * baseline and the portable loops cannot; Horner's 1 + r (1 + r (...))
 * reached 1.2 ulp without FMAs).  2**n is built from exponent bits, in two
 * factors so that results down to the subnormal range stay right.  Inputs
 * past the overflow (underflow) threshold give inf (0), NaN stays NaN.
 * Accuracy against NumPy's exp: tests/test_kernels.py.  Clones: _simd.h. */
#ifndef FASTMLP_VEXP_H
#define FASTMLP_VEXP_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "_simd.h"

/* The selects below compare floats, and GCC if-converts (vectorizes) the
 * loops only when comparisons may not trap: setup.py compiles the modules
 * that include this header with -fno-trapping-math (fastmlp reads no FP
 * exception flags; no value changes).  Without it the loops still give the
 * same values, one at a time. */

/* exp of one value; inlined into each loop below (and _vact.h's), where
 * the compiler vectorizes it */
static inline float fastmlp_exp1_f(float xi)
{
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    const float round_magic = 12582912.0f;   /* 1.5 * 2**23: adds round to int */
    {
        float xc = xi < -104.0f ? -104.0f : (xi > 89.0f ? 89.0f : xi);
        float t = (xc * log2e + round_magic) - round_magic;  /* round(xc / ln2) */
        float rh = xc - t * ln2_hi;                 /* exact */
        float rl = -t * ln2_lo;
        float r = rh + rl;
        float q = 1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120
                  + r * (1.0f / 720 + r * (1.0f / 5040)))));
        float s = 1.0f + rh;                        /* s + e == 1 + rh exactly */
        float e = (1.0f - s) + rh;
        float p = s + ((e + rl) + (r * r) * q);
        int32_t k = (int32_t) t;                /* in [-150, 129] */
        int32_t k1 = k / 2, k2 = k - k1;        /* each in [-75, 65]: normal */
        int32_t b1 = (k1 + 127) << 23, b2 = (k2 + 127) << 23;
        float s1, s2;
        memcpy(&s1, &b1, sizeof s1);
        memcpy(&s2, &b2, sizeof s2);
        float y = p * s1 * s2;
        y = xi < -104.0f ? 0.0f : y;
        y = xi > 89.0f ? INFINITY : y;
        return xi != xi ? xi : y;
    }
}

FASTMLP_CLONES void fastmlp_vexp_f(float* x, ptrdiff_t n)
{
    FASTMLP_PRAGMA(omp simd)
    for (ptrdiff_t i = 0; i < n; i++)
        x[i] = fastmlp_exp1_f(x[i]);
}

static inline double fastmlp_exp1_d(double xi)
{
    const double log2e = 1.44269504088896338700e+00;
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    const double round_magic = 6755399441055744.0;   /* 1.5 * 2**52 */
    {
        double xc = xi < -746.0 ? -746.0 : (xi > 710.0 ? 710.0 : xi);
        double t = (xc * log2e + round_magic) - round_magic;
        double rh = xc - t * ln2_hi;
        double rl = -t * ln2_lo;
        double r = rh + rl;
        double q = 1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120
                   + r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320
                   + r * (1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800
                   + r * (1.0 / 479001600 + r * (1.0 / 6227020800.0)))))))))));
        double s = 1.0 + rh;
        double e = (1.0 - s) + rh;
        double p = s + ((e + rl) + (r * r) * q);
        int32_t k = (int32_t) t;                /* in [-1076, 1024] */
        int32_t k1 = k / 2, k2 = k - k1;        /* each in [-538, 512]: normal */
        int64_t b1 = (int64_t) (k1 + 1023) << 52, b2 = (int64_t) (k2 + 1023) << 52;
        double s1, s2;
        memcpy(&s1, &b1, sizeof s1);
        memcpy(&s2, &b2, sizeof s2);
        double y = p * s1 * s2;
        y = xi < -746.0 ? 0.0 : y;
        y = xi > 710.0 ? INFINITY : y;
        return xi != xi ? xi : y;
    }
}

FASTMLP_CLONES void fastmlp_vexp_d(double* x, ptrdiff_t n)
{
    FASTMLP_PRAGMA(omp simd)
    for (ptrdiff_t i = 0; i < n; i++)
        x[i] = fastmlp_exp1_d(x[i]);
}

#endif
