# Design: the finiteness half of check_array for _fastcheck's fast paths.
# scikit-learn sums X and checks the sum (falling back to an element-wise
# isfinite when the sum overflows); NumPy's reduction plus the errstate
# around it cost ~3 us, most of a one-row predict.  _finite.h tests every
# value's exponent bits instead, which answers the same question without
# the overflow case.
from cython cimport floating


cdef extern from "_finite.h" nogil:
    int fastmlp_finite_f(const float* x, Py_ssize_t n)
    int fastmlp_finite_d(const double* x, Py_ssize_t n)


def all_finite(const floating[:, ::1] X):
    """True when no value of the C-contiguous X is NaN or +-inf."""
    cdef Py_ssize_t n = X.shape[0] * X.shape[1]
    cdef bint ok
    if n == 0:
        return True
    with nogil:
        if floating is float:
            ok = fastmlp_finite_f(&X[0, 0], n)
        else:
            ok = fastmlp_finite_d(&X[0, 0], n)
    return ok
