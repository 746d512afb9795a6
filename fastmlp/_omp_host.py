"""Where a forked child starts its OpenMP teams.

Design: GNU libgomp keeps a team's threads in a pool owned by the thread
that started the team (thread-local state), and a forked child inherits
that pool without its threads: the forking thread's next team of two or
more releases the absent threads and waits for them at the pool's dock
forever (gomp_team_start in libgomp/team.c; GCC bug 60035).  A thread
started in the child has no pool yet and builds its own, so in a forked
child the thread that forked hands every engine call that would start a
team (``run``) to a host thread of fastmlp's, started in the child, and
waits for it; every other thread was started in the child and calls
directly.  Teams then keep their threads, and so their results, whatever
the parent did before the fork: fastmlp's own teams, or another library's
on the same libgomp (LightGBM, a ``gcc -fopenmp`` extension), which
fastmlp cannot see.  (LLVM's and Intel's runtimes rebuild their pool in
the child and would not need this; the Linux builds link libgomp.)  The
one case left: a process that imports fastmlp only after it was forked
from a parent whose libgomp team ran (``os.register_at_fork`` cannot tell
it of that fork).

Only the main thread sees signals: Ctrl-C (or any exception a signal
handler raises) while the forking thread waits calls the caller's
``on_interrupt`` (an epoch's: set the stop event the engine checks, so it
stops as on the main thread) and is raised there once the call has
returned: the call reads and writes the caller's arrays until then.
"""
import os
import queue
import threading

_forking_thread = None  # the ident of the thread that forked this process
_host = None            # (thread, jobs): this process's host thread, once started


def _after_fork_in_child():
    global _forking_thread, _host
    _forking_thread = threading.get_ident()
    _host = None   # the parent's host thread did not come along


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def needs_host():
    """Would a team started from this thread meet a pool inherited through
    fork (the thread that forked this process)?"""
    return _forking_thread is not None and threading.get_ident() == _forking_thread


def threads_for(n_threads):
    """The threads a call from this thread may start teams of: ``n_threads``,
    or 1 when it needs the host (``needs_host``) and no thread can start
    (Python 3.12 refuses new threads at interpreter shutdown: a forked
    child's fit from an atexit handler raised "can't create new thread").
    One thread starts no team, so it runs here; its results differ from the
    team's by rounding, as any other change of the thread count."""
    if n_threads < 2 or not needs_host():
        return n_threads
    try:
        _jobs()
    except RuntimeError:
        return 1
    return n_threads


def run(n_threads, fn, *args, on_interrupt=None, **kwargs):
    """``fn(*args, **kwargs)``, which starts teams of up to ``n_threads``
    threads (``threads_for``'s count): on the host thread when this thread
    forked the process (``needs_host``), else here.  ``on_interrupt()`` is
    called on Ctrl-C during a call on the host."""
    if n_threads < 2 or not needs_host():
        return fn(*args, **kwargs)
    done = threading.Event()
    box = []
    _jobs().put((fn, args, kwargs, box, done))
    interrupted = None
    while True:
        try:
            done.wait()
            break
        except BaseException as exc:
            # Ctrl-C, or a signal handler's exception (a SIGALRM timeout):
            # the call uses the caller's arrays until it returns, wait for it
            if interrupted is None:
                interrupted = exc
                if on_interrupt is not None:
                    on_interrupt()
    if interrupted is not None:
        raise interrupted
    ok, value = box[0]
    if not ok:
        raise value
    return value


def _jobs():
    global _host
    if _host is None:   # (and after each fork: _after_fork_in_child)
        jobs = queue.SimpleQueue()
        thread = threading.Thread(target=_serve, args=(jobs,), daemon=True,
                                  name="fastmlp-openmp-host")
        thread.start()
        _host = (thread, jobs)
    return _host[1]


def _serve(jobs):
    while True:
        fn, args, kwargs, box, done = jobs.get()
        try:
            box.append((True, fn(*args, **kwargs)))
        except BaseException as exc:   # raised again in the caller's thread
            box.append((False, exc))
        finally:
            del fn, args, kwargs
            done.set()
