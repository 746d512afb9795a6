from cython cimport floating

from fastmlp._net cimport Csr, Net
from fastmlp._tuning cimport Tuning


cdef void _gemm_pieces(const Tuning* tun, bint trans_a, Py_ssize_t rows, Py_ssize_t n,
                       Py_ssize_t k, const floating* A, Py_ssize_t lda,
                       const floating* B, floating beta, floating* C) noexcept nogil

cdef void _forward_block(const Net* net, int l, const floating* Ain,
                           Py_ssize_t lda, const Csr* csr, const Py_ssize_t* rows,
                           Py_ssize_t r0, Py_ssize_t r1, const floating* params,
                           floating* work, floating* Z, const floating* Y,
                           const floating* sw, bint training, bint dropout,
                           Py_ssize_t row0, double* row_loss) noexcept nogil

cdef double _forward(const Net* net, const floating* X, const Csr* csr,
                     const Py_ssize_t* rows, Py_ssize_t m,
                     const floating* params, floating* work, double* row_loss,
                     const floating* Y, const floating* sw,
                     bint training, bint dropout, Py_ssize_t row0) noexcept nogil

cdef void _weight_grad(const Net* net, int l, const floating* Ain,
                       const Csr* csr, const Py_ssize_t* rows, Py_ssize_t m,
                       const floating* D, floating* gW, bint accumulate) noexcept nogil

cdef void _delta_act(const Net* net, int l, const floating* An, const floating* params,
                            floating* work, floating* Dn, Py_ssize_t start,
                            Py_ssize_t n, bint dropout) noexcept nogil

cdef bint _delta_copies_wt(const Net* net, int l, Py_ssize_t m) noexcept nogil

cdef void _copy_wt(const Net* net, int l, const floating* params,
                          floating* wt) noexcept nogil

cdef void _delta_block(const Net* net, int l, Py_ssize_t r0, Py_ssize_t r1,
                       const floating* params, const floating* wt,
                       floating* work, bint dropout) noexcept nogil

cdef void _delta_below(const Net* net, int l, Py_ssize_t m,
                       const floating* params, floating* work,
                       bint dropout) noexcept nogil

cdef void _colsum(const floating* D, Py_ssize_t m, Py_ssize_t fo,
                  Py_ssize_t c0, Py_ssize_t c1, floating* gb,
                  bint accumulate) noexcept nogil

cdef void _bias_grad(const Net* net, const floating* D, Py_ssize_t m,
                     Py_ssize_t fo, floating* gb, bint accumulate) noexcept nogil

cdef void _backward(const Net* net, const floating* X, const Csr* csr,
                    const Py_ssize_t* rows, Py_ssize_t m,
                    const floating* params, floating* grads, floating* work,
                    bint accumulate, bint dropout) noexcept nogil

cdef double _coef_sqnorm(const floating* params, Py_ssize_t n_coef) noexcept nogil

cdef double _coef_abssum(const floating* params, Py_ssize_t n_coef) noexcept nogil

cdef void _max_norm(const Net* net, floating* params, double* norms) noexcept nogil
