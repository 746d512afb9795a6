"""The row-major GEMM wrapper against NumPy: dtype x transposes x shapes."""
import numpy as np
import pytest

from fastmlp._blas import gemm, row_times

TOL = {np.float32: 1e-5, np.float64: 1e-13}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
# k = 1 (rank one) runs in fastmlp's own loop, m = 1 with trans_b in GEMV,
# the rest in GEMM
@pytest.mark.parametrize("m, n, k", [(1, 1, 1), (7, 5, 3), (1, 100, 64), (33, 1, 17), (64, 10, 100),
                                     (64, 100, 1), (37, 13, 1), (1, 100, 10), (1, 13, 37)])
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (1.0, 1.0), (0.5, 2.0)])
def test_gemm_matches_numpy(dtype, trans_a, trans_b, m, n, k, alpha, beta):
    rng = np.random.RandomState(0)
    A = rng.normal(size=(k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.normal(size=(n, k) if trans_b else (k, n)).astype(dtype)
    C = rng.normal(size=(m, n)).astype(dtype)
    expected = alpha * (A.T if trans_a else A) @ (B.T if trans_b else B) + beta * C
    gemm(A, B, C, trans_a, trans_b, alpha, beta)
    assert C.dtype == dtype
    np.testing.assert_allclose(C, expected, rtol=TOL[dtype], atol=TOL[dtype] * 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, k, trans_b", [(9, 1, False), (9, 3, False), (1, 3, True),
                                           (1, 1, True), (2, 3, True)])
def test_gemm_beta_zero_does_not_read_c(dtype, m, k, trans_b):
    # BLAS semantics: with beta = 0 the old C is overwritten, NaN included
    # (k = 1: fastmlp's rank-one loop; m = 1 with trans_b: GEMV; else GEMM)
    rng = np.random.RandomState(1)
    A = rng.normal(size=(k, m)).astype(dtype)
    B = rng.normal(size=(11, k) if trans_b else (k, 11)).astype(dtype)
    C = np.full((m, 11), np.nan, dtype=dtype)
    gemm(A, B, C, trans_a=True, trans_b=trans_b)
    np.testing.assert_allclose(C, A.T @ (B.T if trans_b else B), rtol=TOL[dtype])


def test_gemm_rejects_mismatched_shapes():
    A = np.ones((3, 4))
    with pytest.raises(ValueError, match="shapes do not match"):
        gemm(A, np.ones((5, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="shapes do not match"):
        gemm(A, np.ones((4, 2)), np.zeros((2, 2)))


def test_gemm_reads_read_only_inputs():
    A = np.arange(6.0).reshape(2, 3)
    B = np.arange(12.0).reshape(3, 4)
    A.flags.writeable = False
    B.flags.writeable = False
    C = np.zeros((2, 4))
    gemm(A, B, C)
    np.testing.assert_allclose(C, A @ B)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k, n", [(1, 1), (64, 100), (50, 10), (3, 37), (100, 256)])
def test_row_times_matches_numpy_and_any_columns_give_the_same_bits(dtype, k, n):
    # the online step's forward: each thread computes its own columns of
    # x @ W, and a column's value may not depend on which columns those are
    rng = np.random.RandomState(2)
    a = rng.normal(size=k).astype(dtype)
    B = rng.normal(size=(k, n)).astype(dtype)
    c = np.full(n, np.nan, dtype=dtype)  # written, not read
    row_times(a, B, c)
    np.testing.assert_allclose(c, a @ B, rtol=TOL[dtype], atol=TOL[dtype] * 10)
    for lo, hi in [(0, n // 2), (n // 2, n), (n // 3, n // 3 + 1), (n - 1, n)]:
        part = np.full(hi - lo, np.nan, dtype=dtype)
        row_times(a, B, part, lo)
        np.testing.assert_array_equal(part, c[lo:hi])
    with pytest.raises(ValueError, match="shapes do not match"):
        row_times(a, B, c, 1)
