# Design: see _dropout.pxd.
from cython cimport floating


cdef void _dropout(floating* A, floating* mask, Py_ssize_t n_rows,
                   Py_ssize_t n_cols, double keep, unsigned long long seed,
                   Py_ssize_t layer, Py_ssize_t row0) noexcept nogil:
    """A *= mask, mask = (u < keep) / keep (inverted dropout); mask may be NULL."""
    cdef Py_ssize_t i, j
    cdef floating scale = <floating> (1.0 / keep)
    cdef floating mij
    for i in range(n_rows):
        for j in range(n_cols):
            mij = scale if _uniform(seed, layer, row0 + i, j, n_cols) < keep else 0
            A[i * n_cols + j] = A[i * n_cols + j] * mij
            if mask != NULL:
                mask[i * n_cols + j] = mij
