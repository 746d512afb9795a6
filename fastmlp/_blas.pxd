from cython cimport floating

cdef void gemm_rm(bint trans_a, bint trans_b, int m, int n, int k,
                  floating alpha, const floating* A, int lda,
                  const floating* B, int ldb,
                  floating beta, floating* C, int ldc) noexcept nogil

cdef void row_times_rm(int n, int k, const floating* a, const floating* B,
                       floating* c, bint row_loop) noexcept nogil

cdef void row_times_w(int n, int k, const floating* a, const floating* B, int ldb,
                      floating* c) noexcept nogil

cdef void row_product(int n, int k, const floating* a, const floating* B, int ldb,
                      floating* c, bint row_loop) noexcept nogil
