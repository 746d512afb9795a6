/* Runtime dispatch for fastmlp's C loops (_simd_update.h, _rank1.h, _vexp.h,
 * _finite.h): the build may not use -march=native, so on x86-64 each
 * FASTMLP_CLONES function is compiled for AVX-512, for AVX2+FMA and for the
 * baseline, and the loader picks the clone the CPU runs (GCC/Clang
 * target_clones, an ifunc).  That needs the compiler, the linker and the C
 * library to support ifuncs (glibc does; macOS, Windows and musl do not), so
 * setup.py probes it and defines FASTMLP_USE_CLONES=1 only where a program
 * with these clones compiled, linked and ran.  Anywhere else each function
 * is compiled once, for the baseline: the portable loops.
 * fastmlp_simd_path() names the code that runs. */
#ifndef FASTMLP_SIMD_H
#define FASTMLP_SIMD_H

#if defined(FASTMLP_USE_CLONES) && FASTMLP_USE_CLONES && defined(__x86_64__) && \
    (defined(__GNUC__) || defined(__clang__))
#define FASTMLP_HAVE_CLONES 1
/* AVX-512 is a clone of its own: on an AVX-512 EPYC it took float32 Adam over
 * 7,510 parameters from 2.7 to 2.4 us per step (bench/README.md) */
#define FASTMLP_CLONES __attribute__((target_clones("arch=x86-64-v4", \
                                                    "arch=x86-64-v3", "default")))
static inline const char* fastmlp_simd_path(void) {
    __builtin_cpu_init();
    /* the features that set the clones apart (the dispatcher checks all) */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "x86-64-v4 (AVX-512)";
    return (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
               ? "x86-64-v3 (AVX2+FMA)" : "x86-64 baseline (SSE2)";
}
#else
#define FASTMLP_HAVE_CLONES 0
#define FASTMLP_CLONES
static inline const char* fastmlp_simd_path(void) { return "portable loops (no SIMD clones)"; }
#endif

#define FASTMLP_PRAGMA(x) _Pragma(#x)

#endif
