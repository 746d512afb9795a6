from cython cimport floating

# Hidden activation codes; the Python layer maps names to these
# (fastmlp._engine.HIDDEN_ACTIVATIONS).
cdef enum:
    ACT_IDENTITY = 0
    ACT_LOGISTIC = 1
    ACT_TANH = 2
    ACT_RELU = 3
    ACT_LEAKY_RELU = 4
    ACT_ELU = 5
    ACT_SOFTPLUS = 6
    ACT_GELU = 7    # derivative needs the pre-activation Z
    ACT_SILU = 8    # derivative needs the pre-activation Z

cdef bint _needs_preactivation(int act) noexcept nogil

cdef void _bias_act_forward(floating* Z, const floating* b, Py_ssize_t n_rows,
                            Py_ssize_t n_cols, int act,
                            floating* Zpre) noexcept nogil

cdef void _act_backward(const floating* A, const floating* Zpre, floating* D,
                        Py_ssize_t n, int act) noexcept nogil

cdef void _act_backward_masked(const floating* A, const floating* Zpre,
                               const floating* mask, floating keep,
                               floating* D, Py_ssize_t n, int act) noexcept nogil

cdef void _param_mix(floating* Z, const floating* Zpre, const floating* alpha,
                     Py_ssize_t n_rows, Py_ssize_t n_cols) noexcept nogil

cdef void _param_act_backward(floating* Zpre, const floating* mask, const floating* alpha,
                              floating* D, Py_ssize_t n_rows, Py_ssize_t n_cols,
                              int act) noexcept nogil
