# Design: the team or one thread, decided while training runs.
#
# A parallel region pays off only while every thread of the team gets a
# core.  Beside another busy process (a PyTorch or BLAS loop, a second
# fastmlp) the OS deschedules one of them for milliseconds at a time, and
# the others wait at the next meeting: 2-thread fits ran 20-80x slower than
# quiet, where one thread lost less than 2x (issue 15).  So the epoch is cut
# into segments (a batch; a chunk of samples of the online step), each run
# either on the team or on one thread, and timed.  The pacer keeps the cost
# per sample of each (an average of the recent segments) and runs the
# cheaper (the team only while it costs less than pace_margin times one
# thread).  It tries the other one now and then (a probe) to see whether
# the machine changed:
#   - on the team, a solo probe every `gap` segments (a count, so a quiet
#     fit probes at the same batches every time and stays deterministic),
#     and at once when the team's average cost passes pace_trigger times
#     the last solo cost (the machine got busy);
#   - on one thread, a team probe every `gap` segments.
# Every probe doubles the gap (up to pace_max_gap), whether it confirms the
# choice or overturns it: on a busy machine a team probe now and then runs
# while both threads happen to hold a core and wins, and the team loses
# again a few segments later; backing off keeps that flip-flop rare.  The
# first segment of a fit is not timed (thread start-up, first touches of
# the buffers).
# The online step's team chunks start at pace_first_chunk samples and
# double while the team keeps winning (up to pace_max_chunk): a team that
# loses, loses little.
#
# Fits in a loop (a grid search, cross-validation) start afresh, each on
# the team until its first probes: beside one busy thread a fit of 16
# batches ran its first team segments at 2-4x one thread's cost per
# sample, and took 47-60 ms where one thread took 39.  So a fit that
# starts within pace_memory seconds of an epoch that ended on one thread,
# in this process, starts on one thread (_pacing.pyx: remember, start) and
# finds the team again by its probes.
#
# Before an epoch (or a predict) the pacer's Python side asks how many CPUs
# other tasks leave free (_pacing.pyx: team_for_load, EpochTeam), without
# the +1 margin of _cores_busy: beside one busy thread on 2 cores, a team
# of 2 keeps one thread waiting for a core at every meeting.  An epoch
# starts on fewer threads only once the load has lasted (pace_confirm), as
# one read mistakes a passing task for a busy one now and then.
#
# The team and one thread do the same arithmetic in another order: a fit
# whose pacer switched differs from one that did not by rounding only.  On
# a quiet machine the choices repeat, and so do the results; pace=False
# (a Tuning key) keeps the team throughout.  The state is plain doubles in
# a buffer the engine's Problem owns, so it lasts from epoch to epoch.
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from fastmlp._tuning cimport Tuning


cdef extern from "_load.h" nogil:
    int fastmlp_running_total()    # tasks running or runnable, ours too; -1: unknown
    int fastmlp_own_running()      # this process's threads among them; -1: unknown
    int fastmlp_cpus()             # CPUs this process may use

cdef enum:
    PACE_LEN = 15   # doubles of state (_engine.Problem owns a buffer of them)
    PACE_READ_LOAD = -2   # pace_choose's `others`: read the machine (_load.h)

cdef struct Pacer:
    double solo          # 1: one thread is the current choice
    double team_cost     # seconds per sample on the team (0: not yet known)
    double solo_cost     # seconds per sample on one thread (0: not yet known)
    double since_probe   # segments since the other choice was last tried
    double gap           # segments between probes
    double chunk         # samples per team chunk of the online step
    double probing       # 1 while the running segment is a probe
    double segments      # segments run (the first is not timed)
    double switches      # times the choice changed
    double team_segments # segments run on the team
    double solo_segments # segments run on one thread
    double skipped       # team probes skipped: the team's cores were busy
    double cpus          # CPUs this process may use
    double warming       # 1 while the running segment warms the team up for a probe
    double probe_next    # 1: the next segment is the timed part of a team probe


cdef inline double pace_clock() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + 1e-9 * ts.tv_nsec


cdef inline int _others(Pacer* p, int team, int others, bint exact) noexcept nogil:
    """How many other tasks want a CPU: `others` itself unless it is
    PACE_READ_LOAD, then read (-1: unknown).  Not exact: the machine-wide
    count less the caller, an upper bound read in ~3 us, enough to see a
    machine that is free; exact: this process's own running threads (its
    team, a BLAS pool still spinning) are subtracted."""
    cdef int total, own
    if others != PACE_READ_LOAD:
        return others
    if p.cpus == 0:
        p.cpus = fastmlp_cpus()
    total = fastmlp_running_total()
    if total < 0:
        return -1
    if not exact or total - 1 + team <= p.cpus + 1:
        return total - 1 if total > 0 else 0
    own = fastmlp_own_running()
    if own < 0:
        return -1
    return total - own if total > own else 0


cdef inline bint _cores_busy(Pacer* p, int team, int others) noexcept nogil:
    """Whether other tasks hold the cores a team of `team` would need: more
    of them than the cores the team leaves, plus one (a kernel thread or a
    short-lived process passes through the count often enough that one more
    is noise; one steady competitor is the timings' to find)."""
    others = _others(p, team, others, True)
    return others >= 0 and p.cpus > 0 and others + team > p.cpus + 1


cdef inline bint _machine_free(Pacer* p, int team, int others) noexcept nogil:
    """Whether the team's cores are free (the cheap upper bound says so)."""
    others = _others(p, team, others, False)
    return others >= 0 and p.cpus > 0 and others + team <= p.cpus


cdef inline int pace_choose(Pacer* p, const Tuning* tun, int team,
                            int others=PACE_READ_LOAD) noexcept nogil:
    """Threads for the next segment: `team` or 1 (`others`: see _others)."""
    p.probing = 0
    p.warming = 0
    if team <= 1 or not tun.pace:
        return team
    if p.gap == 0:                       # a new fit: start where the cores are
        p.gap = tun.pace_gap
        p.chunk = tun.pace_first_chunk
        if _cores_busy(p, team, others):
            p.solo = 1
    if p.solo:
        if p.probe_next:                 # the team is warm: time it
            p.probe_next = 0
            p.probing = 1
            return team
        if p.since_probe >= p.gap or (
                p.since_probe >= tun.pace_gap and _machine_free(p, team, others)):
            if _cores_busy(p, team, others):
                p.skipped += 1
                p.since_probe = 0
                p.gap = min(2 * p.gap, <double> tun.pace_max_gap)
                return 1
            # a team that has slept pays for waking up: warm it first
            p.warming = 1
            return team
        return 1
    if p.segments >= 2 and (
            p.solo_cost == 0 or p.since_probe >= p.gap
            or p.team_cost > tun.pace_trigger * p.solo_cost):
        p.probing = 1
        return 1
    return team


cdef inline void pace_record(Pacer* p, const Tuning* tun, int nt, int team,
                             double seconds, Py_ssize_t samples) noexcept nogil:
    """Account a segment of `samples` samples that took `seconds` on nt threads."""
    cdef double cost
    cdef bint solo
    if team <= 1 or not tun.pace or samples <= 0:
        return
    p.segments += 1
    if nt > 1:
        p.team_segments += 1
    else:
        p.solo_segments += 1
    if p.segments == 1:                  # start-up: not timed
        return
    if p.warming:                        # the probe's warm-up: not timed
        p.probe_next = 1
        return
    cost = seconds / samples
    if nt > 1:
        p.team_cost = cost if (p.probing or p.team_cost == 0) else 0.5 * (p.team_cost + cost)
    else:
        p.solo_cost = cost if (p.probing or p.solo_cost == 0) else 0.5 * (p.solo_cost + cost)
    if not p.probing:
        p.since_probe += 1
        if p.solo == 0 and nt > 1 and p.chunk < tun.pace_max_chunk:
            p.chunk = min(2 * p.chunk, <double> tun.pace_max_chunk)
        return
    p.since_probe = 0
    p.gap = min(2 * p.gap, <double> tun.pace_max_gap)
    if p.team_cost == 0 or p.solo_cost == 0:
        return
    # leave the team only when it clearly loses: a page fault or an
    # interrupt must not move a quiet fit off it (nor change its rounding)
    solo = p.team_cost > (tun.pace_margin if not p.solo else 1.0) * p.solo_cost
    if solo != (p.solo != 0):
        p.solo = solo
        p.switches += 1
        p.chunk = tun.pace_first_chunk
