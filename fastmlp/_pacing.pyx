# Design: the pacer itself is inline C (_pacing.pxd), compiled into the
# engine's epoch loop.  This module replays it from Python, so that tests
# can drive it with made-up segment times (a quiet machine, a busy one, a
# machine that changes) and read its choices, and gives its state's names.
# It also keeps the pacer's last word from one fit to the next (remember,
# start: see the design note of _pacing.pxd).
import time

import numpy as np

from fastmlp._tuning cimport Tuning, tuning_for

# the fields of Pacer, in order: _engine.Problem.pace_report() names them
FIELDS = ("solo", "team_cost", "solo_cost", "since_probe", "gap", "chunk",
          "probing", "segments", "switches", "team_segments", "solo_segments", "skipped",
          "cpus", "warming", "probe_next")
LENGTH = PACE_LEN
assert len(FIELDS) == LENGTH


def replay(seconds, Py_ssize_t n_segments, int team, Py_ssize_t samples=1,
           dict tuning=None, others=None, int cpus=2, bint start_solo=False):
    """The threads the pacer picks for each of n_segments segments, when a
    segment of `samples` samples on nt threads takes ``seconds(nt, k)``
    (k: the segment's index) and ``others(k)`` other tasks want a CPU (None:
    unknown) on a machine of `cpus` CPUs; returns (choices, final state as a
    dict).  start_solo: the fit starts on one thread, as ``start`` sets it."""
    cdef Tuning tun = tuning_for(tuning)
    cdef double[::1] state = np.zeros(PACE_LEN)   # as _engine.Problem holds it
    cdef Pacer* p = <Pacer*> &state[0]
    cdef Py_ssize_t k
    cdef int nt
    choices = []
    p.cpus = cpus
    p.solo = start_solo
    for k in range(n_segments):
        nt = pace_choose(p, &tun, team, -1 if others is None else int(others(k)))
        choices.append(nt)
        pace_record(p, &tun, nt, team, float(seconds(nt, k)), samples)
    return choices, dict(zip(FIELDS, (float(v) for v in state)))


# When an epoch of this process last ended with one thread chosen
# (pace_clock()), or -1 when the last one ended on the team.
cdef double _solo_at = -1


def remember(double[::1] state, bint cut=False):
    """Note how an epoch ended (its pacer's ``state``, as _engine.Problem
    holds it), for the fits that start after it (``start``).  An epoch
    that ran no paced segment (pace off, one thread) says nothing, unless
    it ran on one thread because the machine was busy (`cut`)."""
    global _solo_at
    cdef Pacer* p = <Pacer*> &state[0]
    if cut:
        _solo_at = pace_clock()
    elif p.segments > 0:
        _solo_at = pace_clock() if p.solo else -1


def start(double[::1] state, dict tuning=None):
    """Set a new fit's pacer ``state`` to start on one thread when an epoch
    ended on one thread less than ``pace_memory`` seconds ago; returns
    whether it did."""
    cdef Tuning tun = tuning_for(tuning)
    cdef Pacer* p = <Pacer*> &state[0]
    if tun.pace and _solo_at >= 0 and pace_clock() - _solo_at < tun.pace_memory:
        p.solo = 1
        return True
    return False


cdef int _free_cpus() noexcept nogil:
    """The CPUs this process may use that no other task holds (tasks
    running or waiting for a CPU, less this process's own; 0 when they
    outnumber the CPUs); -1: unknown.
    This process's threads are counted before and after the total, and the
    larger count taken: a team thread that stops spinning (or wakes)
    between two reads is still this process's."""
    cdef int total = fastmlp_running_total()
    cdef int cpus = fastmlp_cpus()
    cdef int own, own2
    if total < 0:
        return -1
    if total <= 1:                     # the caller alone
        return cpus
    own = fastmlp_own_running()        # its team may be spinning still
    total = fastmlp_running_total()
    own2 = fastmlp_own_running()
    if own < 0 or own2 < 0 or total < 0:
        return -1
    own = max(own, own2)
    return max(0, cpus - (total - own if total > own else 0))


def team_for_load(int team, dict tuning=None):
    """The threads for a predict, or an epoch, to start with as the machine
    is now: `team`, or the CPUs other tasks leave free when they are fewer
    (at least 1).  Beside one busy thread on 2 cores a team of 2 has a
    thread waiting for a core at every meeting: a predict took 2-3x one
    thread's time, where the pacer's +1 margin (_cores_busy: one more task
    is noise) kept the team.  One read, which a task passing through the
    count fools now and then (0.3-4% of reads right after a team region on
    the quiet bench machine, for 0.3-4 ms): harmless for a predict, whose
    bits do not depend on its threads; an epoch waits for the load to last
    (EpochTeam).  `team` when the pacer is off or the load unknown."""
    cdef Tuning tun = tuning_for(tuning)
    cdef int free
    if team <= 1 or not tun.pace:
        return team
    free = _free_cpus()
    return team if (free < 0 or free >= team) else max(1, free)


class EpochTeam:
    """The threads each epoch of one fit starts with (_engine.Problem): the
    team, or the CPUs other tasks leave free (team_for_load) when every
    epoch of the last ``pace_confirm`` seconds or more started with fewer,
    or when the fit's first epoch saw fewer twice, ``pace_recheck`` apart.
    One read a passing task fools now and then: on the quiet bench machine
    1.4% of epochs, two in a row 0.9% (episodes of 0.3-4 ms), 3-4% of
    reads right after a fit, none of 7 of those 2 ms later.  So a quiet
    machine's fits keep their thread count and their bits.  A read right
    after an epoch costs ~25 us (this process's threads are read one by
    one while its team may still spin): after a read that found the CPUs
    free, the next comes pace_confirm / 2 later at the soonest, so that
    short epochs do not pay it each time.  The pacer then works within
    that team."""

    def __init__(self, dict tuning=None):
        cdef Tuning tun = tuning_for(tuning)
        self.tuning = tuning
        self.confirm = tun.pace_confirm
        self.recheck = tun.pace_recheck
        self.epochs = 0
        # since when every epoch started beside busy cores (None: the last
        # did not; -inf: the fit's first epoch saw them twice)
        self.busy_since = None
        self.solo_for_load = False   # the last epoch ran on one thread for it
        self.free_at = -float("inf")  # when a read last found the CPUs free

    def threads(self, int team):
        """The threads for the next epoch of a fit asking for `team`."""
        cdef int free, again
        now = time.monotonic()
        first = self.epochs == 0
        self.epochs += 1
        if self.busy_since is None and now - self.free_at < 0.5 * self.confirm:
            self.solo_for_load = False
            return team                # free a moment ago
        free = team_for_load(team, self.tuning)
        if free >= team:
            self.free_at = now
            self.busy_since = None
        elif self.busy_since is None:
            self.busy_since = now
            if first:  # one more look, a moment later
                time.sleep(self.recheck)
                again = team_for_load(team, self.tuning)
                if again < team:
                    self.busy_since = -float("inf")
                    free = max(free, again)
                else:
                    self.busy_since = None
        if self.busy_since is None or now - self.busy_since < self.confirm:
            free = team
        self.solo_for_load = free == 1 and team > 1
        return free
