from cython cimport floating


cdef void _csr_rows_dot(const floating* data, const Py_ssize_t* indices,
                        const int* indices32, const Py_ssize_t* indptr, const Py_ssize_t* rows,
                        Py_ssize_t r0, Py_ssize_t r1, const floating* W,
                        Py_ssize_t fo, floating* Z) noexcept nogil

cdef void _csr_rows_tdot(const floating* data, const Py_ssize_t* indices,
                         const int* indices32, const Py_ssize_t* indptr, const Py_ssize_t* rows,
                         Py_ssize_t m, const floating* D, Py_ssize_t fo,
                         Py_ssize_t c0, Py_ssize_t c1, floating* G) noexcept nogil
