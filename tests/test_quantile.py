"""The compiled quantile scaling (_quantile.pyx) against its NumPy oracle,
``_tabular_preprocessing.quantile_normal``, bit for bit: the tabular
estimators' fits and predictions keep their bits only if every value does."""
import numpy as np
import pytest

from fastmlp._quantile import quantile_normal_columns
from fastmlp._tabular_preprocessing import (QUANTILE_PARALLEL_VALUES, QUANTILE_TAIL,
                                            _quantile_normal_into, column_quantiles,
                                            quantile_normal)

BIG = np.finfo(np.float64).max


def _columns(rng, n):
    """Training columns of every shape the quantiles take: ties (integer
    codes, 0/1 flags, rounded values), a constant, tiny and huge spans, a
    range past the largest float, few points."""
    return [rng.standard_normal(n), rng.integers(0, 10, n).astype(float),
            rng.integers(0, 2, n).astype(float), np.full(n, 3.0),
            np.round(rng.standard_normal(n), 1), rng.standard_normal(n) * 1e-310,
            rng.standard_normal(n) * 1e307, rng.exponential(size=n) * 1e5,
            np.where(rng.random(n) < 0.5, -BIG, BIG) * rng.random(n)]


def _values(rng, q, m):
    """m values to scale: uniform over the quantiles' range, the quantiles
    themselves (ties hit exactly), outside both ends, NaN, signed zeros and
    infinities."""
    lo, hi = (q[0], q[-1]) if q.size else (-1.0, 1.0)
    with np.errstate(over="ignore"):
        inside = rng.uniform(lo, hi, m) if np.isfinite(hi - lo) else rng.uniform(-1, 1, m) * BIG
    hits = q[rng.integers(0, q.size, m)] if q.size else np.zeros(m)
    with np.errstate(over="ignore"):
        edges = [np.nan, lo - 1.0, hi + 1.0, -0.0, 0.0, np.inf, -np.inf, lo, hi,
                 np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)]
    x = np.concatenate([inside, hits, edges])
    return x[rng.permutation(x.size)]


def _oracle(x, q, dtype):
    with np.errstate(all="ignore"):
        z = quantile_normal(x, q)
    z[np.isnan(x)] = 0.0
    return z.astype(dtype)


def _bits(a):
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_fit", [1, 2, 3, 4, 5, 7, 1000, 5000])
def test_every_value_is_the_oracles_bit_for_bit(dtype, n_fit):
    rng = np.random.default_rng(n_fit)
    quantiles = [column_quantiles(c) for c in _columns(rng, n_fit)] + [
        np.zeros(0), np.array([-BIG, 0.0, BIG]), np.array([1.0, 1.0, 1.0, 2.0, 2.0])]
    xs = [_values(rng, q, 300) for q in quantiles]
    n_rows = min(x.size for x in xs)
    xs = [x[:n_rows].copy() for x in xs]
    out = np.full((n_rows, len(xs) + 2), 7.0, dtype=dtype)
    _quantile_normal_into(out, xs, quantiles)
    for k, (x, q) in enumerate(zip(xs, quantiles)):
        np.testing.assert_array_equal(_bits(out[:, k]), _bits(_oracle(x, q, dtype)),
                                      err_msg=f"column {k}, {q.size} quantiles")
    assert (out[:, len(xs):] == 7.0).all()   # nothing written past the columns


@pytest.mark.parametrize("n_threads", [1, 2, 3, 8])
def test_threads_and_strided_columns_change_nothing(n_threads):
    # columns read as views of a C-ordered table (a step of a row), split
    # among any number of threads, out's columns from out_first on
    rng = np.random.default_rng(0)
    table = rng.standard_normal((2000, 5)) * [1, 10, 100, 1e-3, 1]
    table[::7, 2] = np.nan
    table[:, 4] = np.round(table[:, 4])
    quantiles = [column_quantiles(table[:1000, j][~np.isnan(table[:1000, j])])
                 for j in range(5)]
    out = np.zeros((2000, 8))
    xs = [table[:, j] for j in range(5)]
    quantile_normal_columns(
        np.array([x.ctypes.data for x in xs], dtype=np.uintp),
        np.array([x.strides[0] for x in xs], dtype=np.intp), 2000,
        np.array([q.ctypes.data for q in quantiles], dtype=np.uintp),
        np.array([q.shape[0] for q in quantiles], dtype=np.intp), 2, out, QUANTILE_TAIL,
        n_threads)
    for j in range(5):
        np.testing.assert_array_equal(out[:, 2 + j], _oracle(xs[j], quantiles[j], np.float64))
    assert not out[:, :2].any() and not out[:, 7].any()


def test_a_table_big_enough_for_the_team():
    rng = np.random.default_rng(1)
    n_cols = QUANTILE_PARALLEL_VALUES // 40 + 3   # 40 rows
    quantiles = [column_quantiles(rng.standard_normal(50) * (k + 1)) for k in range(n_cols)]
    xs = [rng.standard_normal(40) * (k + 1) for k in range(n_cols)]
    out = np.zeros((40, n_cols), dtype=np.float32)
    _quantile_normal_into(out, xs, quantiles)
    for k in range(n_cols):
        np.testing.assert_array_equal(out[:, k], _oracle(xs[k], quantiles[k], np.float32))


def test_no_rows_or_no_columns():
    out = np.zeros((0, 3))
    _quantile_normal_into(out, [np.zeros(0)] * 3, [np.linspace(0, 1, 5)] * 3)
    out = np.ones((4, 0))
    _quantile_normal_into(out, [], [])
