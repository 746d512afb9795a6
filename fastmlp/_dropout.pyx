# Design: see _dropout.pxd.
from cython cimport floating
from libc.math cimport ceil


cdef void _dropout(floating* A, floating* mask, Py_ssize_t n_rows,
                   Py_ssize_t n_cols, double keep, unsigned long long seed,
                   Py_ssize_t layer, Py_ssize_t row0) noexcept nogil:
    """A *= mask, mask = (u < keep) / keep (inverted dropout); mask may be NULL.

    u = k / 2**53 with k = _hash_bits(...), so u < keep exactly when
    k < ceil(keep * 2**53) (keep * 2**53 is exact): an integer compare,
    which vectorizes where the conversion of k to a double does not (AVX2
    has no unsigned 64-bit one); the masks are _uniform's, bit for bit."""
    cdef Py_ssize_t i, j
    cdef floating scale = <floating> (1.0 / keep)
    cdef unsigned long long below = <unsigned long long> ceil(keep * 9007199254740992.0)
    cdef floating* a
    cdef floating* m
    for i in range(n_rows):
        a = A + i * n_cols
        if mask == NULL:
            for j in range(n_cols):
                a[j] = a[j] * (scale if _hash_bits(seed, layer, row0 + i, j, n_cols) < below
                               else 0)
        else:
            m = mask + i * n_cols
            for j in range(n_cols):
                m[j] = scale if _hash_bits(seed, layer, row0 + i, j, n_cols) < below else 0
            for j in range(n_cols):
                a[j] = a[j] * m[j]
