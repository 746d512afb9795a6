# Design: inverted dropout with masks drawn from a counter-based hash of
# (seed, layer, sample position in the epoch, unit), so that a mask does not
# depend on which thread draws it, or when.  The hash (SplitMix64's
# finalizer of a counter; the NumPy reference's counter_uniform is the same)
# and the mask loops are C, compiled per instruction set: _vdropout.h.
from cython cimport floating


cdef void _dropout(floating* A, floating* mask, Py_ssize_t n_rows,
                   Py_ssize_t n_cols, double keep, unsigned long long seed,
                   Py_ssize_t layer, Py_ssize_t row0) noexcept nogil
