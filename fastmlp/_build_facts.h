/* What the C compiler saw when it built fastmlp, as it saw it: the compiler
 * and its version, OpenMP's version macro, whether _simd.h made clones and
 * which barrier _spin_barrier.h compiled.  show_config prints these beside
 * setup.py's record (_build_info.py), so a build reports what it is, not
 * only what it was asked to be.  Every module gets the same flags. */
#ifndef FASTMLP_BUILD_FACTS_H
#define FASTMLP_BUILD_FACTS_H
#include "_simd.h"
#include "_spin_barrier.h"

#define FASTMLP_STR_(x) #x
#define FASTMLP_STR(x) FASTMLP_STR_(x)

static const char* fastmlp_compiler(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
    return "msvc " FASTMLP_STR(_MSC_FULL_VER);
#else
    return "unknown C compiler";
#endif
}

/* _OPENMP is the spec's date, e.g. 201511 for OpenMP 4.5; 0 without OpenMP */
static int fastmlp_openmp_version(void) {
#ifdef _OPENMP
    return _OPENMP;
#else
    return 0;
#endif
}
#endif
