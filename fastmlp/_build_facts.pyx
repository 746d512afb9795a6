# Design: what the C compiler itself reported when it built fastmlp (see
# _build_facts.h), read once at import.  setup.py's record of what it asked
# for and why is fastmlp/_build_info.py; fastmlp._config shows both and
# flags a difference.  BOUNDSCHECK is measured, not recorded: Cython's
# bounds checks (FASTMLP_DEBUG=1) leave no macro behind.
import array


cdef extern from "_build_facts.h" nogil:
    const char* fastmlp_compiler()
    int fastmlp_openmp_version()
    const char* fastmlp_simd_path()
    int FASTMLP_HAVE_CLONES
    int FASTMLP_HAVE_SPIN_BARRIER
    const char* FASTMLP_BARRIER_KIND


def _boundscheck_on():
    """True when this module was compiled with Cython's boundscheck: only then
    does reading one past the end of a view raise.  (The read stays inside
    the array: the view is the first of its two values.)"""
    cdef double[::1] both = array.array("d", [0.0, 0.0])
    cdef double[::1] first = both[:1]
    cdef Py_ssize_t past_end = 1
    cdef double value
    try:
        value = first[past_end]
    except IndexError:
        return True
    return False


COMPILER = fastmlp_compiler().decode().strip()
OPENMP_VERSION = fastmlp_openmp_version()
SIMD_CLONES = bool(FASTMLP_HAVE_CLONES)
SIMD_PATH = fastmlp_simd_path().decode()
SPIN_BARRIER = bool(FASTMLP_HAVE_SPIN_BARRIER)
BARRIER = FASTMLP_BARRIER_KIND.decode()
BOUNDSCHECK = _boundscheck_on()
