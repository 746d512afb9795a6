/* Optimizer steps over a range of the flat parameter buffer, in C so that
 * the loops vectorize: `omp simd reduction` lets the compiler split the
 * sum(p**2) reduction into lanes (only that sum is reassociated; every
 * parameter update keeps scikit-learn's order of operations), and on x86-64
 * each function is compiled twice -- for AVX2+FMA and for the baseline --
 * with the right one picked at load time (GCC/Clang target_clones), since the
 * build may not use -march=native.  fastmlp_simd_path() says which runs.
 * Formulas: see the design note of _optimizers.pyx. */
#ifndef FASTMLP_SIMD_UPDATE_H
#define FASTMLP_SIMD_UPDATE_H
#include <math.h>
#include <stddef.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(FASTMLP_NO_CLONES)
#define FASTMLP_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
static inline const char* fastmlp_simd_path(void) {
    __builtin_cpu_init();
    return (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
               ? "x86-64-v3 (AVX2+FMA)" : "x86-64 baseline (SSE2)";
}
#else
#define FASTMLP_CLONES
static inline const char* fastmlp_simd_path(void) { return "portable C"; }
#endif

#define FASTMLP_PRAGMA(x) _Pragma(#x)

/* The finished gradient of one parameter: L2 (alpha) and L1 (alpha1) terms,
 * the 1/sum(sample_weight) scale (times the clip-by-norm factor), then
 * clip-by-value to [-clipv, clipv] (clipv = INFINITY when off; NaN stays NaN
 * so divergence is still seen). */
#define FASTMLP_GRAD(T)                                                         \
    T pj0 = p[j];                                                               \
    T gj = (g[j] + alpha * pj0 + alpha1 * (T)((pj0 > 0) - (pj0 < 0))) * scale;   \
    gj = gj > clipv ? clipv : (gj < -clipv ? -clipv : gj);

#define FASTMLP_SUMS(T)                                                         \
    sq += (double)pj * (double)pj;                                              \
    l1 += (double)(pj < 0 ? -pj : pj);

#define FASTMLP_DEFINE_UPDATES(T, SUFFIX, SQRT)                                 \
FASTMLP_CLONES double fastmlp_sgd_##SUFFIX(                                    \
    T* p, const T* g, T* vel, ptrdiff_t lo, ptrdiff_t hi, T alpha, T alpha1,    \
    T scale, T clipv, T lr, T mom, int nesterov, double* l1_out)                \
{                                                                               \
    double sq = 0, l1 = 0;                                                      \
    FASTMLP_PRAGMA(omp simd reduction(+:sq, l1))                                \
    for (ptrdiff_t j = lo; j < hi; j++) {                                       \
        FASTMLP_GRAD(T)                                                         \
        T v = mom * vel[j] - lr * gj;                                           \
        vel[j] = v;                                                             \
        T pj = pj0 + (nesterov ? mom * v - lr * gj : v);                        \
        p[j] = pj;                                                              \
        FASTMLP_SUMS(T)                                                         \
    }                                                                           \
    *l1_out = l1;                                                               \
    return sq;                                                                  \
}                                                                               \
/* Adam; AdamW when decay = 1 - lr * weight_decay < 1 (decoupled decay). */     \
FASTMLP_CLONES double fastmlp_adam_##SUFFIX(                                   \
    T* p, const T* g, T* m, T* v, ptrdiff_t lo, ptrdiff_t hi, T alpha,          \
    T alpha1, T scale, T clipv, T lr, T b1, T b2, T one_b1, T one_b2, T eps,    \
    T decay, double* l1_out)                                                    \
{                                                                               \
    double sq = 0, l1 = 0;                                                      \
    FASTMLP_PRAGMA(omp simd reduction(+:sq, l1))                                \
    for (ptrdiff_t j = lo; j < hi; j++) {                                       \
        FASTMLP_GRAD(T)                                                         \
        T mj = b1 * m[j] + one_b1 * gj;                                         \
        T vj = b2 * v[j] + one_b2 * (gj * gj);                                  \
        m[j] = mj;                                                              \
        v[j] = vj;                                                              \
        T pj = pj0 * decay + (-lr * mj) / (SQRT(vj) + eps);                     \
        p[j] = pj;                                                              \
        FASTMLP_SUMS(T)                                                         \
    }                                                                           \
    *l1_out = l1;                                                               \
    return sq;                                                                  \
}                                                                               \
/* RMSprop; Adagrad when rho = one_rho = 1 (s accumulates g**2). */             \
FASTMLP_CLONES double fastmlp_rmsprop_##SUFFIX(                                \
    T* p, const T* g, T* s, ptrdiff_t lo, ptrdiff_t hi, T alpha, T alpha1,      \
    T scale, T clipv, T lr, T rho, T one_rho, T eps, double* l1_out)            \
{                                                                               \
    double sq = 0, l1 = 0;                                                      \
    FASTMLP_PRAGMA(omp simd reduction(+:sq, l1))                                \
    for (ptrdiff_t j = lo; j < hi; j++) {                                       \
        FASTMLP_GRAD(T)                                                         \
        T sj = rho * s[j] + one_rho * (gj * gj);                                \
        s[j] = sj;                                                              \
        T pj = pj0 - lr * gj / (SQRT(sj) + eps);                                \
        p[j] = pj;                                                              \
        FASTMLP_SUMS(T)                                                         \
    }                                                                           \
    *l1_out = l1;                                                               \
    return sq;                                                                  \
}

FASTMLP_DEFINE_UPDATES(float, f, sqrtf)
FASTMLP_DEFINE_UPDATES(double, d, sqrt)

#endif
