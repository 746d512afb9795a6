# Design: the one place that asks OpenMP how many threads it may use.  Python
# computes the count once per call (fit, predict) and passes it down; every
# prange names it.  OMP_NUM_THREADS and threadpoolctl's OpenMP limit both act
# through omp_get_max_threads().
#
# Fork: GNU libgomp keeps a team's threads in a pool owned by the thread that
# started the team (thread-local state), and a forked child inherits that
# pool without the threads.  The child's next team of two or more releases
# the absent threads and waits for them at the pool's dock forever
# (gomp_team_start in libgomp/team.c; GCC bug 60035).  A team of one never
# reaches the dock (gomp_team_start returns first, gomp_team_end frees it),
# and the engine does not even enter a region with one thread.  So a
# process forked after this one handed out more than one thread runs on one
# thread, and says so once (_fork_serial_warning).  Forked children of a
# process that never did keep their threads: forkserver's children are forks
# of a server that only imported us, and a team there is safe.  (LLVM's and
# Intel's runtimes rebuild their pool in the child and would not need this;
# the Linux builds link libgomp.)  OpenBLAS needs nothing of ours: its own
# pthread_atfork handler stops its threads before the fork.
import os
import warnings

from fastmlp._openmp cimport FASTMLP_HAVE_OPENMP, omp_get_max_threads

OPENMP_ENABLED = bool(FASTMLP_HAVE_OPENMP)

_handed_out_team = False    # effective_n_threads returned > 1 (here, or in a parent)
_forked_after_team = False  # ...before the fork that made this process
_fork_warned = False


def _after_fork_in_child():
    """Registered with os.register_at_fork: a child remembers whether its
    parent may have started a team, and warns anew."""
    global _forked_after_team, _fork_warned
    _forked_after_team = _handed_out_team
    _fork_warned = False


if OPENMP_ENABLED and hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _fork_serial_warning(n_threads):
    global _fork_warned
    if _fork_warned:
        return
    _fork_warned = True
    warnings.warn(
        f"fastmlp uses 1 thread instead of {n_threads} in this process: it was "
        "forked (os.fork, or multiprocessing's 'fork' start method) after "
        "fastmlp had started OpenMP threads in the parent, and GNU libgomp's "
        "thread pool does not survive fork (a team of threads would hang "
        "here).  To train with several threads in child processes, start "
        "them with the 'spawn' or 'forkserver' start method, e.g. "
        "multiprocessing.get_context('forkserver').Pool().",
        RuntimeWarning,   # from Cython: at the Python line that asked for threads
    )


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

    Always 1 in a process forked after this one (or an ancestor) returned
    more than one: libgomp's threads do not survive fork (see the design
    note); the first such call warns with a RuntimeWarning.
    """
    global _handed_out_team
    if not OPENMP_ENABLED:
        return 1
    n_threads = _requested_n_threads(n_threads)
    if n_threads > 1:
        if _forked_after_team:
            _fork_serial_warning(n_threads)
            return 1
        _handed_out_team = True
    return n_threads
