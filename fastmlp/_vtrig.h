/* sin and cos of one value, written so that a loop around them vectorizes
 * (the periodic columns of the input layer, _input_layer.pyx; libm's sincos is a call per
 * value, ~15 ns, which would cost a 16-frequency layer as much as the
 * GEMMs of a 256-wide network).
 *
 * The textbook method, branch-free:
 *     x = n (pi/2) + r,  |r| <= pi/4,  n = round(x * 2/pi)
 * with pi/2 in three parts (Cody and Waite: the first two have trailing
 * zero bits, so n * part is exact while |n| < 2**16 in float, 2**20 in
 * double), then sin(r) and cos(r) by their Taylor series, cut where the
 * remainder at pi/4 is below half an ulp (float: degrees 9 and 10, whose
 * next terms are 2e-9 and 1e-10; double: 17 and 18, next 8e-20, 3e-21),
 * and the quadrant n mod 4 (the low bits of the rounding sum, read as an
 * integer) picks and signs them.  Within a few ulp of the exact values for
 * |x| up to about 1e5 (float) or 1e6 (double); past that the reduction
 * loses bits, and past |x| 2/pi ~ 2**22 (float) or 2**51 (double) the
 * rounding trick loses n itself and the results leave [-1, 1] (cos(1e10f)
 * was 2e20).  So the periodic layer's loops (_vperiodic.h) bound each
 * row's |x| by its largest |frequency| |z| + |phase| (fastmlp_far_*), and
 * for a row whose bound is past FASTMLP_SINCOS_NEAR redo the values past
 * it with libm's sin and cos (fastmlp_sincos_far_*) after their vector
 * loops, which stay as they were: only inputs that the tabular
 * preprocessing never makes reach them (robust scaling without its clip).
 * inf and NaN give NaN.  Accuracy against NumPy: tests/test_periodic.py. */
#ifndef FASTMLP_VTRIG_H
#define FASTMLP_VTRIG_H
#include <math.h>
#include <stdint.h>
#include <string.h>

/* |x| up to which fastmlp_sincos1_* are within a few ulp (above) */
#define FASTMLP_SINCOS_NEAR_f 1.0e5f
#define FASTMLP_SINCOS_NEAR_d 1.0e6

/* the running maximum of |x| (NaN leaves it) */
static inline float fastmlp_far_f(float m, float x)
{
    float a = x < 0 ? -x : x;
    return a > m ? a : m;
}

static inline double fastmlp_far_d(double m, double x)
{
    double a = x < 0 ? -x : x;
    return a > m ? a : m;
}

/* sin and cos of x by libm when x is past the reduction's range */
static inline void fastmlp_sincos_far_f(float x, float* s_out, float* c_out)
{
    if (fabsf(x) > FASTMLP_SINCOS_NEAR_f) {
        *s_out = sinf(x);
        *c_out = cosf(x);
    }
}

static inline void fastmlp_sincos_far_d(double x, double* s_out, double* c_out)
{
    if (fabs(x) > FASTMLP_SINCOS_NEAR_d) {
        *s_out = sin(x);
        *c_out = cos(x);
    }
}

static inline void fastmlp_sincos1_f(float x, float* s_out, float* c_out)
{
    const float two_over_pi = 0.636619772367581343f;
    const float p1 = 1.5703125f;                  /* pi/2 = p1 + p2 + p3 */
    const float p2 = 4.83751296997070312e-4f;
    const float p3 = 7.54978995489188216e-8f;
    const float round_magic = 12582912.0f;        /* 1.5 * 2**23 */
    float u = x * two_over_pi + round_magic;       /* n in the low mantissa bits */
    float t = u - round_magic;                    /* n = round(x * 2/pi) */
    float r = ((x - t * p1) - t * p2) - t * p3;
    int32_t bits;
    memcpy(&bits, &u, sizeof bits);
    float r2 = r * r;
    float s = r + r * r2 * (-1.0f / 6 + r2 * (1.0f / 120 + r2 * (-1.0f / 5040
              + r2 * (1.0f / 362880))));
    float c = 1.0f + r2 * (-0.5f + r2 * (1.0f / 24 + r2 * (-1.0f / 720
              + r2 * (1.0f / 40320 + r2 * (-1.0f / 3628800)))));
    int32_t q = bits & 3;
    float sv = (q & 1) ? c : s;                   /* q = 0: (s, c); 1: (c, -s) */
    float cv = (q & 1) ? s : c;                   /* 2: (-s, -c); 3: (-c, s) */
    sv = (q & 2) ? -sv : sv;
    cv = ((q + 1) & 2) ? -cv : cv;
    *s_out = sv;
    *c_out = cv;
}

static inline void fastmlp_sincos1_d(double x, double* s_out, double* c_out)
{
    const double two_over_pi = 6.36619772367581382433e-01;
    const double p1 = 1.57079632673412561417e+00;  /* fdlibm's pio2_1, _2, _2t */
    const double p2 = 6.07710050630396597660e-11;
    const double p3 = 2.02226624879595063154e-21;
    const double round_magic = 6755399441055744.0;  /* 1.5 * 2**52 */
    double u = x * two_over_pi + round_magic;
    double t = u - round_magic;
    double r = ((x - t * p1) - t * p2) - t * p3;
    int64_t bits;
    memcpy(&bits, &u, sizeof bits);
    double r2 = r * r;
    double s = r + r * r2 * (-1.0 / 6 + r2 * (1.0 / 120 + r2 * (-1.0 / 5040
               + r2 * (1.0 / 362880 + r2 * (-1.0 / 39916800 + r2 * (1.0 / 6227020800.0
               + r2 * (-1.0 / 1307674368000.0 + r2 * (1.0 / 355687428096000.0))))))));
    double c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24 + r2 * (-1.0 / 720 + r2 * (1.0 / 40320
               + r2 * (-1.0 / 3628800 + r2 * (1.0 / 479001600.0 + r2 * (-1.0 / 87178291200.0
               + r2 * (1.0 / 20922789888000.0 + r2 * (-1.0 / 6402373705728000.0)))))))));
    int64_t q = bits & 3;
    double sv = (q & 1) ? c : s;
    double cv = (q & 1) ? s : c;
    sv = (q & 2) ? -sv : sv;
    cv = ((q + 1) & 2) ? -cv : cv;
    *s_out = sv;
    *c_out = cv;
}

#endif
