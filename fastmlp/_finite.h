/* Is every value finite?  Each value's exponent field is tested directly:
 * adding one at its lowest bit carries into the sign bit exactly when the
 * field is all ones (inf or NaN), so the test is an AND, an ADD and an OR
 * per value, an integer reduction that vectorizes (a float reduction or a
 * compare would not).  One clone per instruction set (_simd.h): NumPy's sum,
 * which this replaces, runs AVX2/AVX-512 code too. */
#ifndef FASTMLP_FINITE_H
#define FASTMLP_FINITE_H
#include <stddef.h>
#include <stdint.h>
#include "_simd.h"

#define FASTMLP_DEFINE_FINITE(T, U, EXP, ONE, SIGN, SUFFIX)                     \
FASTMLP_CLONES int fastmlp_finite_##SUFFIX(const T* x, ptrdiff_t n)            \
{                                                                               \
    const U* bits = (const U*) x;                                               \
    U bad = 0;                                                                  \
    FASTMLP_PRAGMA(omp simd reduction(|:bad))                                   \
    for (ptrdiff_t i = 0; i < n; i++) bad |= (bits[i] & EXP) + ONE;             \
    return (bad >> SIGN) == 0;                                                  \
}

FASTMLP_DEFINE_FINITE(float, uint32_t, 0x7f800000u, 0x00800000u, 31, f)
FASTMLP_DEFINE_FINITE(double, uint64_t, 0x7ff0000000000000u, 0x0010000000000000u, 63, d)

#endif
