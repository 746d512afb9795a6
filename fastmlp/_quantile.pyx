# Design: the 'quantile' scaling of the tabular preprocessing
# (_tabular_preprocessing.quantile_normal, the NumPy oracle) for all of a
# table's numeric columns in one parallel region.  Column c's value x, with
# Q its training quantiles at levels u = np.linspace(0, 1, n) (n >= 2,
# Q[0] < Q[n-1]), becomes
#     lo  = interp(x, Q, u)
#     hi  = 1 - interp(-x, -Q[::-1], 1 - u[::-1])
#     out = ndtri(clip((lo + hi) / 2, tail, 1 - tail))         (0 where x is NaN)
# where interp is np.interp's, bit for bit: below the first point the first
# level, above the last the last; else with j the last point at most x, the
# level at j where j is the last point or equals x, else
#     (fp[j+1] - fp[j]) / (xp[j+1] - xp[j]) * (x - xp[j]) + fp[j]
# (and NumPy's retry from j + 1 should that be NaN).  hi's reversed arrays
# are never built: their j is n - 1 - m, with m the first point at least x
# (j + 1 unless Q[j] == x), and each of their entries is written as NumPy
# computes it (-Q[i], 1 - u[i]) so that the arithmetic is the same.  u[i] is
# linspace's i * (1 / (n - 1)), 1 at the end.  No fused multiply-add
# (setup.py: -ffp-contract=off for this module), as NumPy's.
#
# The columns and their quantiles come as they are (views of X's columns,
# the fitted arrays): each is its first value's address and, for a column,
# its step in bytes, every column n_rows long; the caller keeps them alive
# for the call.  A column of fewer than 2 quantiles, or constant in fit, is
# 0 throughout.
#
# Threads: the columns are split among n_threads in static chunks (one
# region per call, so a busy machine costs at most one late thread per
# call); each value's result depends on nothing else, so not on the thread
# count.  np.interp's two calls a column, at ~60 ns a value, were most of a
# wide table's predict (16,000 x 1,000: 1.9 of 3.1 s).  Here a value takes
# ~60 ns on one thread, of which ndtri ~35 and the search and the two
# lines ~25 (a branch-free search measured the same).
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport isnan
from libc.stdint cimport uintptr_t
from scipy.special.cython_special cimport ndtri


cdef inline Py_ssize_t _last_at_most(const double* q, Py_ssize_t lo, Py_ssize_t hi,
                                     double x) noexcept nogil:
    """The last j in [lo, hi) with q[j] <= x, given q[lo] <= x (q sorted)."""
    cdef Py_ssize_t mid
    while hi - lo > 1:   # q[lo] <= x, and x < q[hi] or hi is the end
        mid = (lo + hi) >> 1
        if q[mid] <= x:
            lo = mid
        else:
            hi = mid
    return lo


cdef inline Py_ssize_t _first_at_least(const double* q, Py_ssize_t lo, Py_ssize_t hi,
                                       double x) noexcept nogil:
    """The first m in [lo, hi] with q[m] >= x, given q[hi] >= x (q sorted)."""
    cdef Py_ssize_t mid
    while hi - lo > 0:   # q[hi] >= x, and q[lo - 1] < x or lo is the start
        mid = (lo + hi) >> 1
        if q[mid] >= x:
            hi = mid
        else:
            lo = mid + 1
    return hi


cdef inline double _level(Py_ssize_t i, Py_ssize_t n, double step) noexcept nogil:
    """np.linspace(0, 1, n)[i], step = 1 / (n - 1)."""
    return 1.0 if i == n - 1 else i * step


cdef inline double _line(double slope, double dx, double fp) noexcept nogil:
    """np.interp's slope * (x - xp[j]) + fp[j], two roundings."""
    return slope * dx + fp


cdef inline double quantile_value(double x, const double* q, Py_ssize_t n,
                                  double tail) noexcept nogil:
    """One value's normal quantile (see the design note); n >= 2."""
    cdef double step = 1.0 / (n - 1), lo, hi, m, a, b, slope
    cdef Py_ssize_t j, k
    if isnan(x):
        return 0.0
    if x < q[0]:
        lo = 0.0
        hi = 1.0 - (1.0 - _level(0, n, step))    # reversed: its last level
    elif x > q[n - 1]:
        lo = 1.0
        hi = 1.0 - (1.0 - _level(n - 1, n, step))  # reversed: its first level
    else:
        j = _last_at_most(q, 0, n, x)
        # lo = interp(x, Q, u)
        if j == n - 1 or q[j] == x:
            lo = _level(j, n, step)
        else:
            a, b = _level(j, n, step), _level(j + 1, n, step)
            slope = (b - a) / (q[j + 1] - q[j])
            lo = _line(slope, x - q[j], a)
            if isnan(lo):
                lo = _line(slope, x - q[j + 1], b)
                if isnan(lo) and a == b:
                    lo = a
        # the reversed arrays' point n - 1 - k, k the first point >= x
        k = j + 1 if q[j] < x else _first_at_least(q, 0, j, x)
        if k == 0 or q[k] == x:
            hi = 1.0 - (1.0 - _level(k, n, step))
        else:
            a, b = 1.0 - _level(k, n, step), 1.0 - _level(k - 1, n, step)
            slope = (b - a) / ((-q[k - 1]) - (-q[k]))
            m = _line(slope, (-x) - (-q[k]), a)
            if isnan(m):
                m = _line(slope, (-x) - (-q[k - 1]), b)
                if isnan(m) and a == b:
                    m = a
            hi = 1.0 - m
    m = 0.5 * (lo + hi)
    if m < tail:          # np.clip: NaN stays NaN
        m = tail
    elif m > 1.0 - tail:
        m = 1.0 - tail
    return ndtri(m)


def quantile_normal_columns(
    const uintptr_t[::1] x_at,      # IN (n_cols,) each column's first value's address
    const Py_ssize_t[::1] x_step,   # IN (n_cols,) its step in bytes
    Py_ssize_t n_rows,
    const uintptr_t[::1] q_at,      # IN (n_cols,) its quantiles' address (float64, contiguous)
    const Py_ssize_t[::1] q_len,    # IN (n_cols,) how many (a column of 0 or 1, or constant, is 0)
    Py_ssize_t out_first,           # out's column of the first column
    floating[:, ::1] out,           # OUT (n_rows, out_first + n_cols at least)
    double tail,
    int n_threads,
):
    """out[i, out_first + c] = quantile_value(x_c[i]) for every column c
    and row i < n_rows (see the design note)."""
    cdef Py_ssize_t n_cols = x_at.shape[0], c, i, n, k
    cdef const char* base
    cdef const double* q
    cdef Py_ssize_t step
    if n_cols == 0 or n_rows == 0:
        return
    for c in prange(n_cols, nogil=True, num_threads=n_threads, schedule="static"):
        base = <const char*> x_at[c]
        step = x_step[c]
        q = <const double*> q_at[c]
        n = q_len[c]
        k = out_first + c
        if n < 2 or not (q[n - 1] > q[0]):
            for i in range(n_rows):
                out[i, k] = 0
        else:
            for i in range(n_rows):
                out[i, k] = <floating> quantile_value(
                    (<const double*> (base + i * step))[0], q, n, tail)
