/* A sense-reversing spin barrier for the threads of one OpenMP team, for
 * loops that meet several times per microsecond (_online.pyx).  libgomp's
 * `omp barrier` took 260-300 ns per meeting of two threads on the bench
 * machine; this one, a counter and a flag on their own cache lines, 34 ns
 * (bench/README.md, "Online training on two cores").  A thread that has
 * spun FASTMLP_SPIN_YIELD times yields its core on each further check, so
 * a team with more threads than free cores still makes progress.
 *
 * It needs C11 atomics, _Alignas and POSIX sched_yield.  setup.py defines
 * FASTMLP_SPIN_BARRIER=1 only where a program using this header compiled,
 * linked and ran; anywhere else (and with FASTMLP_BARRIER=omp) the same two
 * functions are OpenMP's barrier, which needs nothing but OpenMP and has
 * the same effect: every thread's writes before the meeting are visible to
 * all after it.  FASTMLP_BARRIER_KIND names the one compiled. */
#ifndef FASTMLP_SPIN_BARRIER_H
#define FASTMLP_SPIN_BARRIER_H

#if defined(FASTMLP_SPIN_BARRIER) && FASTMLP_SPIN_BARRIER && !defined(__STDC_NO_ATOMICS__)
#define FASTMLP_HAVE_SPIN_BARRIER 1
#define FASTMLP_BARRIER_KIND "spin (C11 atomics)"
#include <sched.h>
#include <stdatomic.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FASTMLP_CPU_RELAX() _mm_pause()
#else
#define FASTMLP_CPU_RELAX() ((void)0)
#endif

#define FASTMLP_SPIN_YIELD (1 << 14)

typedef struct {
    _Alignas(64) atomic_int arrived;   /* threads at the barrier this round */
    _Alignas(64) atomic_int sense;     /* flips when the last one arrives */
    int n;                             /* threads in the team */
} fastmlp_spin_barrier;

static inline void fastmlp_spin_init(fastmlp_spin_barrier* b, int n) {
    atomic_init(&b->arrived, 0);
    atomic_init(&b->sense, 0);
    b->n = n;
}

/* Wait until all n threads have called this with their own `local` (a
 * thread-private int, 0 before the first call).  Writes before the call
 * are visible to every thread after it (acquire/release on the flag). */
static inline void fastmlp_spin_wait(fastmlp_spin_barrier* b, int* local) {
    int s = *local = !*local;
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == b->n - 1) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&b->sense, s, memory_order_release);
        return;
    }
    unsigned spins = 0;
    while (atomic_load_explicit(&b->sense, memory_order_acquire) != s) {
        if (spins < FASTMLP_SPIN_YIELD) {
            spins++;
            FASTMLP_CPU_RELAX();
        } else {
            sched_yield();
        }
    }
}

#else
/* The fallback: OpenMP's barrier for the enclosing team (an orphaned
 * `omp barrier`, legal in a function called from a parallel region). */
#define FASTMLP_HAVE_SPIN_BARRIER 0
#define FASTMLP_BARRIER_KIND "OpenMP barrier (fallback)"
#include "_omp_shim.h"

typedef struct {
    int n;                             /* threads in the team */
} fastmlp_spin_barrier;

static inline void fastmlp_spin_init(fastmlp_spin_barrier* b, int n) {
    b->n = n;
}

/* The same contract as the spin barrier's; `omp barrier` flushes memory. */
static inline void fastmlp_spin_wait(fastmlp_spin_barrier* b, int* local) {
    (void) b;
    *local = !*local;
    fastmlp_barrier();
}
#endif

#endif
