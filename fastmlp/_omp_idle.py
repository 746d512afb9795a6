"""How long the OpenMP runtime's idle threads spin before they sleep.

Design: when a parallel region ends, the OpenMP runtime keeps its idle
threads spinning for the next one before they sleep: GNU libgomp 300,000
spins by default (about 8 ms of a core on the bench machine), LLVM's and
Intel's runtime 200 ms (``KMP_BLOCKTIME``).  A fit on one thread (the pacer
sends it there beside a busy process, ``_pacing.pxd``) then shares its core
with its own idle partner for 8 ms after every team segment, probe or
team predict.  Beside a single busy thread, 2-thread fits took 2.3-6.4x
their quiet time that way, and 1.2-3.3x with the spin cut to 10,000
(~0.35 ms), while the quiet figures stayed within noise (bench/README.md,
"A busy machine").

The runtime reads these settings once, when it starts (libgomp when it is
loaded, LLVM's at its first call), and only from the environment.  So at
import, before any of fastmlp's compiled modules loads the runtime,
``IDLE_SPIN`` goes into the environment where the user has set neither it
nor ``OMP_WAIT_POLICY``, the runtime is started, and the environment is put
back: child processes and other libraries' OpenMP runtimes see what the
user set, not this.  A runtime already loaded by another library before
fastmlp (the same libgomp) keeps its own setting; ``state()`` says which
applies (``show_config``).
"""
import os

# what each runtime reads, and fastmlp's value: libgomp counts spins
# (~35 ns each on the bench machine), LLVM's runtime milliseconds
IDLE_SPIN = {"GOMP_SPINCOUNT": "10000", "KMP_BLOCKTIME": "1"}

_state = {"started": False, "set": {}, "applied": False}


def _runtimes():
    """The OpenMP runtime files mapped into this process (Linux; None where
    /proc cannot tell)."""
    try:
        with open("/proc/self/maps") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return None
    names = ("libgomp", "libomp", "libiomp")
    return {line.split()[-1] for line in lines
            if any(n in line.rsplit("/", 1)[-1] for n in names)}


def start_runtime():
    """Load and start fastmlp's OpenMP runtime with IDLE_SPIN (see the
    design note), once; returns what was set."""
    if _state["started"]:
        return _state["set"]
    _state["started"] = True
    added = {}
    if "OMP_WAIT_POLICY" not in os.environ:
        added = {k: v for k, v in IDLE_SPIN.items() if k not in os.environ}
    before = _runtimes()
    os.environ.update(added)
    try:
        from fastmlp._openmp import _requested_n_threads
        # LLVM's runtime reads its settings at its first call: ask it for its
        # thread count (which starts no thread)
        _requested_n_threads(None)
    finally:
        for key in added:
            del os.environ[key]
    after = _runtimes()
    _state["set"] = added
    # a runtime file mapped by this import is one that started here; with
    # none (or no /proc), fastmlp's was loaded already, or cannot be told
    _state["applied"] = bool(added) and before is not None and bool(after - before)
    return added


def state():
    """A line on the idle threads' setting in force, for show_config."""
    from fastmlp._openmp import OPENMP_ENABLED
    if not OPENMP_ENABLED:
        return "idle threads: none (a build without OpenMP)"
    parts = []
    if _state["applied"]:
        parts.append(", ".join(f"{k}={v}" for k, v in _state["set"].items())
                     + " (set by fastmlp at import)")
    keys = ("OMP_WAIT_POLICY",) + tuple(IDLE_SPIN)
    yours = [f"{k}={os.environ[k]}" for k in keys if k in os.environ]
    if yours:
        parts.append(", ".join(yours) + " (yours)")
    if not parts:
        return ("idle threads: the runtime's default spin (it was started before "
                "fastmlp, or this is not Linux; see fastmlp/_omp_idle.py)")
    return "idle threads: " + "; ".join(parts)
