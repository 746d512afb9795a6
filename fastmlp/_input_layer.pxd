from cython cimport floating

from fastmlp._net cimport InLayer, Net


cdef void _input_forward(const Net* net, const floating* X, Py_ssize_t m,
                         const floating* params, floating* work) noexcept nogil

cdef void _input_backward(const Net* net, Py_ssize_t m, const floating* params,
                          floating* work, floating* grads, bint accumulate) noexcept nogil

cdef void _input_rows(const InLayer* il, const floating* X, Py_ssize_t r0, Py_ssize_t r1,
                      Py_ssize_t p, const floating* params, floating* Xe) noexcept nogil
