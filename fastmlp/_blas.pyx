# Design: the one GEMM wrapper of the engine.  Callers think in C order
# (row-major); BLAS is column-major, so a row-major C = op(A) op(B) is the
# column-major C^T = op(B)^T op(A)^T: swap A with B and m with n, and keep the
# transpose flags.  Only scipy.linalg.cython_blas is called: fastmlp links no
# BLAS of its own, so it runs on whatever BLAS SciPy ships (and threadpoolctl
# controls it).  Three shapes of a one-row batch go elsewhere, measured on
# digits at batch size 1 (bench/README.md): a row times a transposed matrix
# (the delta D W^T) is a GEMV, which OpenBLAS runs in half the time of its
# small-matrix GEMM; rank-one products (k = 1, the weight gradient A^T D) run
# in a vectorized C loop (_rank1.h), also twice as fast as that kernel; and a
# row times a wide matrix (the forward x W of a one-row predict,
# row_times_rm) is a GEMV too, where OpenBLAS's GEMM would first pack all of
# W: 1.05 against 1.32 us at 100x256, 51 against 379 us at 1024x1024 (one
# thread, float32).  Narrow or small W stay with the GEMM, whose
# small-matrix kernel is the faster there.  Where OpenBLAS has no such
# kernel (the Haswell family), the GEMM packs all of W for every row, so
# there the forward of a one-row batch (the online step's included) and of
# a one-row predict is row_times_w, a C loop (_rank1.h;
# Tuning.one_row_loop).
from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, dgemv, sgemm, sgemv


cdef extern from "_rank1.h" nogil:
    void fastmlp_rank1_f(Py_ssize_t m, Py_ssize_t n, float alpha, const float* a,
                         Py_ssize_t inca, const float* b, float beta, float* C,
                         Py_ssize_t ldc)
    void fastmlp_rank1_d(Py_ssize_t m, Py_ssize_t n, double alpha,
                         const double* a, Py_ssize_t inca, const double* b,
                         double beta, double* C, Py_ssize_t ldc)
    void fastmlp_row_times_f(Py_ssize_t k, Py_ssize_t n, const float* a, const float* B,
                             Py_ssize_t ldb, float* c)
    void fastmlp_row_times_d(Py_ssize_t k, Py_ssize_t n, const double* a,
                             const double* B, Py_ssize_t ldb, double* c)


# One-row products x W go to GEMV from GEMV_MIN_N columns and GEMV_MIN_NK
# weights (_tuning.pxd; see above).
from fastmlp._tuning cimport GEMV_MIN_N, GEMV_MIN_NK


cdef inline void _gemv(char* trans, int m, int n, floating alpha,
                       const floating* A, int lda, const floating* x, int incx,
                       floating beta, floating* y) noexcept nogil:
    """y = alpha * op(A) @ x + beta * y, in BLAS's own (column-major) terms:
    A is (m, n) with leading dimension lda, y is contiguous."""
    cdef int one = 1
    if floating is float:
        sgemv(trans, &m, &n, &alpha, <float*> A, &lda, <float*> x, &incx,
              &beta, y, &one)
    else:
        dgemv(trans, &m, &n, &alpha, <double*> A, &lda, <double*> x, &incx,
              &beta, y, &one)


cdef void gemm_rm(bint trans_a, bint trans_b, int m, int n, int k,
                  floating alpha, const floating* A, int lda,
                  const floating* B, int ldb,
                  floating beta, floating* C, int ldc) noexcept nogil:
    """C[m, n] = alpha * op(A)[m, k] @ op(B)[k, n] + beta * C, all row-major."""
    cdef char ta = b"t" if trans_a else b"n"
    cdef char tb = b"t" if trans_b else b"n"
    if m <= 0 or n <= 0:
        return
    if k == 1 and not trans_b:
        # op(A) is the column A[:, 0] (stride lda) or the row A[0, :]; B[0, :]
        if floating is float:
            fastmlp_rank1_f(m, n, alpha, A, 1 if trans_a else lda, B, beta, C, ldc)
        else:
            fastmlp_rank1_d(m, n, alpha, A, 1 if trans_a else lda, B, beta, C, ldc)
        return
    if m == 1 and trans_b:
        # C[0, :] = alpha * B @ a + beta * C[0, :]: B (n, k) row-major is the
        # column-major (k, n) matrix, so this is GEMV 't' on it
        _gemv(b"t", k, n, alpha, B, ldb, A, lda if trans_a else 1, beta, C)
        return
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> B, &ldb,
              <float*> A, &lda, &beta, C, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> B, &ldb,
              <double*> A, &lda, &beta, C, &ldc)


cdef void row_times_rm(int n, int k, const floating* a, const floating* B,
                       floating* c, bint row_loop) noexcept nogil:
    """c[n] = a[k] @ B[k, n] (B row-major), for a predict of one row: GEMV
    'n' on B when B is wide (see the top of this file), else the GEMM, or
    with row_loop (Tuning.one_row_loop: a BLAS without small-matrix
    kernels) row_times_w.

    Not for training, and not for one row among others: GEMV sums in
    another order than the GEMM, so a row's bits would then depend on how
    the batch was cut into threads' pieces."""
    if n >= GEMV_MIN_N and <Py_ssize_t> n * k >= GEMV_MIN_NK:
        # B (k, n) row-major is the column-major (n, k) matrix
        _gemv(b"n", n, k, 1, B, n, a, 1, 0, c)
    else:
        row_product(n, k, a, B, n, c, row_loop)


cdef void row_product(int n, int k, const floating* a, const floating* B, int ldb,
                      floating* c, bint row_loop) noexcept nogil:
    """c[n] = a[k] @ B[k, n] (B row-major, ldb apart), one row: row_times_w
    with row_loop (Tuning.one_row_loop: a BLAS without small-matrix kernels,
    whose GEMM would pack B for the row), else the GEMM."""
    if row_loop:
        row_times_w(n, k, a, B, ldb, c)
    else:
        gemm_rm(False, False, 1, n, k, 1, a, k, B, ldb, 0, c, n)


cdef void row_times_w(int n, int k, const floating* a, const floating* B, int ldb,
                      floating* c) noexcept nogil:
    """c[n] = a[k] @ B[k, n] (B row-major, ldb apart), summed over k in order
    for every column (_rank1.h): a column's bits do not depend on which of
    B's columns a thread owns (the online step's split)."""
    if n <= 0:
        return
    if floating is float:
        fastmlp_row_times_f(k, n, a, B, ldb, c)
    else:
        fastmlp_row_times_d(k, n, a, B, ldb, c)


def row_times(const floating[::1] a,     # IN: (k,)
              const floating[:, ::1] B,  # IN: (k, ldb), of which columns lo:lo + n
              floating[::1] c,           # OUT: (n,)
              Py_ssize_t lo=0):
    """c = a @ B[:, lo:lo + c.shape[0]] through row_times_w (for tests)."""
    cdef Py_ssize_t n = c.shape[0]
    if a.shape[0] != B.shape[0] or lo < 0 or lo + n > B.shape[1]:
        raise ValueError("row_times: shapes do not match")
    if a.shape[0] == 0 or n == 0:
        c[:] = 0
        return
    with nogil:
        row_times_w(<int> n, <int> a.shape[0], &a[0], &B[0, lo], <int> B.shape[1], &c[0])


def gemm(const floating[:, ::1] A,   # IN
         const floating[:, ::1] B,   # IN
         floating[:, ::1] C,         # INOUT
         bint trans_a=False, bint trans_b=False,
         double alpha=1.0, double beta=0.0):
    """C = alpha * op(A) @ op(B) + beta * C on C-contiguous arrays (for tests)."""
    cdef int m = A.shape[1] if trans_a else A.shape[0]
    cdef int k = A.shape[0] if trans_a else A.shape[1]
    cdef int kb = B.shape[1] if trans_b else B.shape[0]
    cdef int n = B.shape[0] if trans_b else B.shape[1]
    if kb != k or C.shape[0] != m or C.shape[1] != n:
        raise ValueError(
            f"gemm: shapes do not match: op(A) is ({m}, {k}), op(B) is ({kb}, {n}),"
            f" C is ({C.shape[0]}, {C.shape[1]})"
        )
    if m == 0 or n == 0:
        return
    with nogil:
        gemm_rm(trans_a, trans_b, m, n, k, <floating> alpha,
                &A[0, 0] if A.shape[0] * A.shape[1] else NULL, max(1, A.shape[1]),
                &B[0, 0] if B.shape[0] * B.shape[1] else NULL, max(1, B.shape[1]),
                <floating> beta, &C[0, 0], max(1, C.shape[1]))
