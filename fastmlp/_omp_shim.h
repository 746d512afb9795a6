/* OpenMP when the build has it, a serial stand-in when it does not. */
#ifndef FASTMLP_OMP_SHIM_H
#define FASTMLP_OMP_SHIM_H
#ifdef _OPENMP
#include <omp.h>
#define FASTMLP_HAVE_OPENMP 1
/* a barrier for the team of the enclosing parallel region */
static inline void fastmlp_barrier(void) { _Pragma("omp barrier") }
#else
#define FASTMLP_HAVE_OPENMP 0
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
static inline void fastmlp_barrier(void) { }
#endif
#endif
