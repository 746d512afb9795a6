# Design: the first layer's products when X is CSR (sparse x dense, row by
# row, no BLAS): Z = X[rows] @ W for the forward pass and the weight
# gradient's X^T D.  Serial per call; the callers split rows or columns
# over the threads.  The column indices are intp or int32 (`indices32`, the
# other NULL): SciPy's int32 ones are read as they are, not widened into a
# copy half the size of the matrix.
from cython cimport floating
from libc.string cimport memset

from fastmlp._net cimport Csr


cdef inline Py_ssize_t _col(const Py_ssize_t* indices, const int* indices32,
                            Py_ssize_t p) noexcept nogil:
    return indices32[p] if indices32 != NULL else indices[p]


cdef void _csr_rows_dot(const floating* data, const Py_ssize_t* indices,
                        const int* indices32, const Py_ssize_t* indptr, const Py_ssize_t* rows,
                        Py_ssize_t r0, Py_ssize_t r1, const floating* W,
                        Py_ssize_t fo, floating* Z) noexcept nogil:
    """Z[0:r1-r0] = X[rows[r0:r1]] @ W, X in CSR (rows NULL: rows r0:r1)."""
    cdef Py_ssize_t r, row, p, k
    cdef floating v
    cdef floating* z
    cdef const floating* w
    for r in range(r0, r1):
        z = Z + (r - r0) * fo
        row = r if rows == NULL else rows[r]
        memset(z, 0, fo * sizeof(floating))
        for p in range(indptr[row], indptr[row + 1]):
            v = data[p]
            w = W + _col(indices, indices32, p) * fo
            for k in range(fo):
                z[k] = z[k] + v * w[k]


cdef void _csr_rows_tdot(const floating* data, const Py_ssize_t* indices,
                         const int* indices32, const Py_ssize_t* indptr, const Py_ssize_t* rows,
                         Py_ssize_t m, const floating* D, Py_ssize_t fo,
                         Py_ssize_t c0, Py_ssize_t c1, floating* G) noexcept nogil:
    """G[:, c0:c1] += X[rows]^T @ D[:, c0:c1], X in CSR."""
    cdef Py_ssize_t r, p, k
    cdef floating v
    cdef floating* g
    cdef const floating* d
    for r in range(m):
        d = D + r * fo
        for p in range(indptr[rows[r]], indptr[rows[r] + 1]):
            v = data[p]
            g = G + _col(indices, indices32, p) * fo
            for k in range(c0, c1):
                g[k] = g[k] + v * d[k]
