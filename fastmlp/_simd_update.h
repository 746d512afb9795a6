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

#define FASTMLP_DEFINE_UPDATES(T, SUFFIX, SQRT)                                 \
FASTMLP_CLONES double fastmlp_sgd_##SUFFIX(                                    \
    T* p, const T* g, T* vel, ptrdiff_t lo, ptrdiff_t hi, T alpha, T scale,     \
    T lr, T mom, int nesterov)                                                  \
{                                                                               \
    double sq = 0;                                                              \
    FASTMLP_PRAGMA(omp simd reduction(+:sq))                                    \
    for (ptrdiff_t j = lo; j < hi; j++) {                                       \
        T gj = (g[j] + alpha * p[j]) * scale;                                   \
        T v = mom * vel[j] - lr * gj;                                           \
        vel[j] = v;                                                             \
        T pj = p[j] + (nesterov ? mom * v - lr * gj : v);                       \
        p[j] = pj;                                                              \
        sq += (double)pj * (double)pj;                                          \
    }                                                                           \
    return sq;                                                                  \
}                                                                               \
FASTMLP_CLONES double fastmlp_adam_##SUFFIX(                                   \
    T* p, const T* g, T* m, T* v, ptrdiff_t lo, ptrdiff_t hi, T alpha, T scale, \
    T lr, T b1, T b2, T one_b1, T one_b2, T eps)                                \
{                                                                               \
    double sq = 0;                                                              \
    FASTMLP_PRAGMA(omp simd reduction(+:sq))                                    \
    for (ptrdiff_t j = lo; j < hi; j++) {                                       \
        T gj = (g[j] + alpha * p[j]) * scale;                                   \
        T mj = b1 * m[j] + one_b1 * gj;                                         \
        T vj = b2 * v[j] + one_b2 * (gj * gj);                                  \
        m[j] = mj;                                                              \
        v[j] = vj;                                                              \
        T pj = p[j] + (-lr * mj) / (SQRT(vj) + eps);                            \
        p[j] = pj;                                                              \
        sq += (double)pj * (double)pj;                                          \
    }                                                                           \
    return sq;                                                                  \
}                                                                               \
FASTMLP_CLONES double fastmlp_rmsprop_##SUFFIX(                                \
    T* p, const T* g, T* s, ptrdiff_t lo, ptrdiff_t hi, T alpha, T scale,       \
    T lr, T rho, T one_rho, T eps)                                              \
{                                                                               \
    double sq = 0;                                                              \
    FASTMLP_PRAGMA(omp simd reduction(+:sq))                                    \
    for (ptrdiff_t j = lo; j < hi; j++) {                                       \
        T gj = (g[j] + alpha * p[j]) * scale;                                   \
        T sj = rho * s[j] + one_rho * (gj * gj);                                \
        s[j] = sj;                                                              \
        T pj = p[j] - lr * gj / (SQRT(sj) + eps);                               \
        p[j] = pj;                                                              \
        sq += (double)pj * (double)pj;                                          \
    }                                                                           \
    return sq;                                                                  \
}

FASTMLP_DEFINE_UPDATES(float, f, sqrtf)
FASTMLP_DEFINE_UPDATES(double, d, sqrt)

#endif
