# Design: the one place that asks OpenMP how many threads it may use.  Python
# computes the count once per call (fit, predict) and passes it down; every
# prange names it.  OMP_NUM_THREADS and threadpoolctl's OpenMP limit both act
# through omp_get_max_threads().
#
# Fork: GNU libgomp's thread pool does not survive fork; fastmlp/_omp_host.py
# says how a forked child still starts its teams (the engine's callers hand
# them to a thread started in the child), so the count here does not
# depend on forks.  OpenBLAS needs nothing of ours: its own pthread_atfork
# handler stops its threads before the fork.
import os

from fastmlp._openmp cimport FASTMLP_HAVE_OPENMP, omp_get_max_threads

OPENMP_ENABLED = bool(FASTMLP_HAVE_OPENMP)


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _requested_n_threads(n_threads):
    if n_threads is None:
        max_threads = omp_get_max_threads()
        if os.environ.get("OMP_NUM_THREADS"):
            return max(1, max_threads)
        return max(1, min(max_threads, _cpu_count()))
    n_threads = int(n_threads)
    if n_threads == 0:
        raise ValueError("n_threads=0 is invalid; use None, a positive or a negative int")
    if n_threads < 0:
        return max(1, _cpu_count() + 1 + n_threads)
    return n_threads


def effective_n_threads(n_threads=None):
    """Number of OpenMP threads a kernel may use.

    None: ``omp_get_max_threads()`` (which honours ``OMP_NUM_THREADS`` and
    threadpoolctl limits), capped by the CPUs this process may run on unless
    ``OMP_NUM_THREADS`` was set explicitly.  A positive int is taken as is;
    a negative one counts back from the CPU count (-1 means all).
    """
    if not OPENMP_ENABLED:
        return 1
    return _requested_n_threads(n_threads)
