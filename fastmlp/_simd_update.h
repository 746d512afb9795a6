/* Optimizer steps over a range of the flat parameter buffer, in C so that
 * the loops vectorize: `omp simd reduction` lets the compiler split the
 * sum(p**2) reduction into lanes (only that sum is reassociated; every
 * parameter update keeps scikit-learn's order of operations), and each
 * function has one clone per instruction set (_simd.h).
 * Formulas: see the design note of _optimizers.pyx. */
#ifndef FASTMLP_SIMD_UPDATE_H
#define FASTMLP_SIMD_UPDATE_H
#include <math.h>
#include <stddef.h>
#include "_simd.h"

/* type-generic min/max/abs that vectorize (minps/maxps/andps) */
#define FASTMLP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FASTMLP_MAX(a, b) ((a) > (b) ? (a) : (b))
#define FASTMLP_ABS(a) ((a) < 0 ? -(a) : (a))

/* The finished gradient of one parameter: L2 (alpha) term and the
 * 1/sum(sample_weight) scale (times the clip-by-norm factor); in the FULL
 * variant also the L1 (alpha1) term and clip-by-value to [-clipv, clipv],
 * NaN kept NaN: MIN(clipv, g) and MAX(-clipv, .) return their second
 * operand when the compare fails, as minps/maxps do (clipped to +clipv, a
 * NaN gradient kept a diverged fit's weights finite, and the estimator,
 * which checks the weights, returned it).  Each update is written
 * twice, plain and FULL, so the common case (no L1, no clipping) keeps the
 * shortest vector loop; both are branch-free so `omp simd` vectorizes them. */
#define FASTMLP_GRAD_PLAIN(T)                                                   \
    T pj0 = p[j];                                                               \
    T gj = (g[j] + alpha * pj0) * scale;

#define FASTMLP_GRAD_FULL(T)                                                    \
    T pj0 = p[j];                                                               \
    T sgn = (T)((pj0 > 0) - (pj0 < 0));                                         \
    T gj = (g[j] + alpha * pj0 + alpha1 * sgn) * scale;                         \
    gj = FASTMLP_MAX(-clipv, FASTMLP_MIN(clipv, gj));

#define FASTMLP_SUMS(T)                                                         \
    sq += pj * pj;                                                             \
    l1 += FASTMLP_ABS(pj);        

/* One loop over [lo, hi): GRAD computes gj from p[j], g[j]; STEP updates the
 * state and sets pj, the new parameter; SUMS adds pj to the sums. */
#define FASTMLP_LOOP(T, GRAD, STEP, SUMS)                                       \
    FASTMLP_PRAGMA(omp simd reduction(+:sq, l1))                                \
    for (ptrdiff_t j = lo; j < hi; j++) {                                       \
        GRAD(T)                                                                 \
        STEP                                                                    \
        p[j] = pj;                                                              \
        SUMS(T)                                                                 \
    }

/* without L1 the sum |p| is not needed: leaving it out of the plain loop
 * takes a compare, a blend and an add off every vector of parameters */
#define FASTMLP_SUMS_SQ(T)                                                      \
    sq += pj * pj;

/* The sums run in T: a float loop with double accumulators does not
 * vectorize, and these sums only feed the penalty terms of the loss. */
#define FASTMLP_BOTH_LOOPS(T, STEP)                                             \
    T sq = 0, l1 = 0;                                                           \
    if (alpha1 == 0 && !(clipv < INFINITY)) {                                   \
        FASTMLP_LOOP(T, FASTMLP_GRAD_PLAIN, STEP, FASTMLP_SUMS_SQ)              \
    } else {                                                                    \
        FASTMLP_LOOP(T, FASTMLP_GRAD_FULL, STEP, FASTMLP_SUMS)                  \
    }                                                                           \
    *l1_out = l1;                                                               \
    return sq;

#define FASTMLP_DEFINE_UPDATES(T, SUFFIX, SQRT)                                 \
FASTMLP_CLONES double fastmlp_sgd_##SUFFIX(                                    \
    T* p, const T* g, T* vel, ptrdiff_t lo, ptrdiff_t hi, T alpha, T alpha1,    \
    T scale, T clipv, T lr, T mom, int nesterov, double* l1_out)                \
{                                                                               \
    if (nesterov) {                                                             \
        FASTMLP_BOTH_LOOPS(T,                                                   \
            T v = mom * vel[j] - lr * gj; vel[j] = v;                           \
            T pj = pj0 + (mom * v - lr * gj);)                                  \
    } else {                                                                    \
        FASTMLP_BOTH_LOOPS(T,                                                   \
            T v = mom * vel[j] - lr * gj; vel[j] = v;                           \
            T pj = pj0 + v;)                                                    \
    }                                                                           \
}                                                                               \
/* Adam; AdamW when decay = 1 - lr * weight_decay < 1 (decoupled decay). */     \
FASTMLP_CLONES double fastmlp_adam_##SUFFIX(                                   \
    T* p, const T* g, T* m, T* v, ptrdiff_t lo, ptrdiff_t hi, T alpha,          \
    T alpha1, T scale, T clipv, T lr, T b1, T b2, T one_b1, T one_b2, T eps,    \
    T decay, double* l1_out)                                                    \
{                                                                               \
    FASTMLP_BOTH_LOOPS(T,                                                       \
        T mj = b1 * m[j] + one_b1 * gj;                                         \
        T vj = b2 * v[j] + one_b2 * (gj * gj);                                  \
        m[j] = mj; v[j] = vj;                                                   \
        T pj = pj0 * decay + (-lr * mj) / (SQRT(vj) + eps);)                    \
}                                                                               \
/* RMSprop; Adagrad when rho = one_rho = 1 (s accumulates g**2). */             \
FASTMLP_CLONES double fastmlp_rmsprop_##SUFFIX(                                \
    T* p, const T* g, T* s, ptrdiff_t lo, ptrdiff_t hi, T alpha, T alpha1,      \
    T scale, T clipv, T lr, T rho, T one_rho, T eps, double* l1_out)            \
{                                                                               \
    FASTMLP_BOTH_LOOPS(T,                                                       \
        T sj = rho * s[j] + one_rho * (gj * gj);                                \
        s[j] = sj;                                                              \
        T pj = pj0 - lr * gj / (SQRT(sj) + eps);)                               \
}

FASTMLP_DEFINE_UPDATES(float, f, sqrtf)
FASTMLP_DEFINE_UPDATES(double, d, sqrt)

#endif
