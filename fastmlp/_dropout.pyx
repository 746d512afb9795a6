# Design: see _dropout.pxd.
from cython cimport floating
from libc.math cimport ceil


cdef extern from "_vdropout.h" nogil:
    void fastmlp_dropout_f(float* A, float* mask, Py_ssize_t n_rows, Py_ssize_t n_cols,
                           unsigned long long below, float scale, unsigned long long seed,
                           Py_ssize_t layer, Py_ssize_t row0)
    void fastmlp_dropout_d(double* A, double* mask, Py_ssize_t n_rows, Py_ssize_t n_cols,
                           unsigned long long below, double scale, unsigned long long seed,
                           Py_ssize_t layer, Py_ssize_t row0)


cdef void _dropout(floating* A, floating* mask, Py_ssize_t n_rows,
                   Py_ssize_t n_cols, double keep, unsigned long long seed,
                   Py_ssize_t layer, Py_ssize_t row0) noexcept nogil:
    """A *= mask, mask = (u < keep) / keep (inverted dropout); mask may be NULL.

    u = k / 2**53 with k the hash's 53 bits (_vdropout.h), so u < keep
    exactly when k < ceil(keep * 2**53) (keep * 2**53 is exact): an integer
    compare, which vectorizes where converting k to a double does not."""
    cdef floating scale = <floating> (1.0 / keep)
    cdef unsigned long long below = <unsigned long long> ceil(keep * 9007199254740992.0)
    if floating is float:
        fastmlp_dropout_f(A, mask, n_rows, n_cols, below, scale, seed, layer, row0)
    else:
        fastmlp_dropout_d(A, mask, n_rows, n_cols, below, scale, seed, layer, row0)
