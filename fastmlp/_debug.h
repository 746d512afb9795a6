/* FASTMLP_ASSERT(cond, what): in the bounds-checked debug build
 * (FASTMLP_DEBUG=1, set by setup.py) a false cond prints what and aborts,
 * so that a broken layout invariant fails the test that reached it instead
 * of corrupting memory; in every other build it compiles to nothing. */
#ifndef FASTMLP_DEBUG_H
#define FASTMLP_DEBUG_H
#if defined(FASTMLP_DEBUG) && FASTMLP_DEBUG
#include <stdio.h>
#include <stdlib.h>
#define FASTMLP_ASSERT(cond, what)                                           \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fastmlp: layout invariant broken: %s (%s:%d)\n", \
                    (what), __FILE__, __LINE__);                             \
            abort();                                                         \
        }                                                                    \
    } while (0)
#define FASTMLP_DEBUG_BUILD 1
#else
#define FASTMLP_ASSERT(cond, what) ((void)0)
#define FASTMLP_DEBUG_BUILD 0
#endif
#endif
