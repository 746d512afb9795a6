# Design: inverted dropout with masks drawn from a counter-based hash of
# (seed, layer, sample position in the epoch, unit), so that a mask does not
# depend on which thread draws it, or when.
from cython cimport floating


cdef inline unsigned long long _hash_bits(unsigned long long seed, Py_ssize_t layer,
                                          Py_ssize_t row, Py_ssize_t col,
                                          Py_ssize_t width) noexcept nogil:
    """53 random bits from a hash of (seed, layer, row, col) (splitmix64 finalizer)."""
    cdef unsigned long long z = (seed + <unsigned long long> (layer + 1) * 0x9E3779B97F4A7C15ULL
                                 + <unsigned long long> (row * width + col) * 0xD1B54A32D192ED03ULL)
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    z = z ^ (z >> 31)
    return z >> 11


cdef inline double _uniform(unsigned long long seed, Py_ssize_t layer,
                            Py_ssize_t row, Py_ssize_t col,
                            Py_ssize_t width) noexcept nogil:
    """U[0, 1) from a hash of (seed, layer, row, col): _hash_bits / 2**53."""
    return _hash_bits(seed, layer, row, col, width) * (1.0 / 9007199254740992.0)


cdef void _dropout(floating* A, floating* mask, Py_ssize_t n_rows,
                   Py_ssize_t n_cols, double keep, unsigned long long seed,
                   Py_ssize_t layer, Py_ssize_t row0) noexcept nogil
