from cython cimport floating

from fastmlp._net cimport Net


cdef void _input_forward(const Net* net, const floating* X, Py_ssize_t m,
                         const floating* params, floating* work) noexcept nogil

cdef void _input_backward(const Net* net, Py_ssize_t m, const floating* params,
                          floating* work, floating* grads, bint accumulate) noexcept nogil

cdef void _input_rows(const floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t p,
                      Py_ssize_t n_num, Py_ssize_t K, Py_ssize_t d, const floating* params,
                      Py_ssize_t per_off, Py_ssize_t sc_off, floating* Xe) noexcept nogil
