from cython cimport floating

# Hidden activation codes; the Python layer maps names to these.
cdef enum:
    ACT_IDENTITY = 0
    ACT_LOGISTIC = 1
    ACT_TANH = 2
    ACT_RELU = 3

cdef void _bias_act_forward(floating* Z, const floating* b, Py_ssize_t n_rows,
                            Py_ssize_t n_cols, int act) noexcept nogil

cdef void _act_backward(const floating* A, floating* D, Py_ssize_t n,
                        int act) noexcept nogil
