# Design: the pacer itself is inline C (_pacing.pxd), compiled into the
# engine's epoch loop.  This module replays it from Python, so that tests
# can drive it with made-up segment times (a quiet machine, a busy one, a
# machine that changes) and read its choices, and gives its state's names.
# It also keeps the pacer's last word from one fit to the next (remember,
# start: see the design note of _pacing.pxd).
from libc.string cimport memset

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


def remember(double[::1] state):
    """Note how an epoch ended (its pacer's ``state``, as _engine.Problem
    holds it), for the fits that start after it (``start``).  An epoch
    that ran no paced segment (pace off, one thread) says nothing."""
    global _solo_at
    cdef Pacer* p = <Pacer*> &state[0]
    if p.segments > 0:
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


def cores_busy(int team):
    """Whether other tasks hold the cores a team of `team` threads would
    need, as the pacer reads it (_load.h); False when unknown.  For calls
    too short to time (a predict): they ask once, before they start."""
    cdef Pacer p
    memset(&p, 0, sizeof(Pacer))
    return team > 1 and _cores_busy(&p, team, PACE_READ_LOAD)
