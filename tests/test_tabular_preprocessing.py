"""TabularPreprocessor against a column-by-column NumPy reference.

The reference below is written from the formulas in the module docstring of
``fastmlp._tabular_preprocessing`` (one column at a time, plain loops), not
from its code.
"""
import pickle

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastmlp import TabularPreprocessor
from fastmlp._tabular_preprocessing import (QUANTILE_POINTS, ROBUST_LEVELS, _category_cell,
                                            _category_cells, column_quantiles, smooth_clip,
                                            sorted_quantiles)

pd = pytest.importorskip("pandas")


def _reference_numeric(train, test, clip=True):
    """One numeric column: robust scale (IQR, else half-range, else 0),
    smooth clip, missing -> 0."""
    seen = train[~np.isnan(train)]
    q1, med, q3 = np.percentile(seen, [25, 50, 75])
    if q3 > q1:
        s = 1 / (q3 - q1)
    elif seen.max() > seen.min():
        s = 2 / (seen.max() - seen.min())
    else:
        s = 0.0
    out = []
    for x in test:
        if np.isnan(x):
            out.append(0.0)
            continue
        z = s * (x - med)
        out.append(z / np.sqrt(1 + (z / 3) ** 2) if clip else z)
    return np.array(out)


def test_smooth_clip_values():
    z = np.array([0.0, 3.0, -3.0, 1e6, -1e6])
    np.testing.assert_allclose(smooth_clip(z), [0, 3 / np.sqrt(2), -3 / np.sqrt(2), 3, -3],
                               rtol=1e-9)
    grid = np.linspace(-50, 50, 1001)
    assert np.all(np.diff(smooth_clip(grid)) > 0) and np.all(np.abs(smooth_clip(grid)) < 3)
    # close to the identity near 0: z / sqrt(1 + z^2/9) = z (1 - z^2/18 + ...)
    np.testing.assert_allclose(smooth_clip(0.01), 0.01 * (1 - 1e-4 / 18), rtol=1e-8)


@pytest.mark.parametrize("clip", [True, False])
def test_numeric_columns_match_reference(clip):
    rng = np.random.RandomState(0)
    X = np.column_stack([
        rng.standard_cauchy(300),                        # heavy tails
        np.where(rng.rand(300) < 0.2, np.nan, rng.normal(5, 2, 300)),  # missing
        np.r_[np.zeros(290), np.arange(1, 11)],          # IQR 0: half-range
        np.full(300, 7.0),                               # constant
    ])
    X_test = np.column_stack([rng.normal(size=50) * 10, np.where(rng.rand(50) < .5, np.nan, 1.),
                              rng.normal(size=50), rng.normal(size=50)])
    pre = TabularPreprocessor(smooth_clip=clip, dtype=np.float64).fit(X)
    out = pre.transform(X_test)
    assert out.shape == (50, 5)  # 4 columns + 1 indicator (column 1 had NaN)
    for j in range(4):
        np.testing.assert_allclose(out[:, j], _reference_numeric(X[:, j], X_test[:, j], clip),
                                   rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(out[:, 4], np.isnan(X_test[:, 1]))
    assert list(pre.get_feature_names_out()) == ["x0", "x1", "x2", "x3", "x1_missing"]


def test_quantile_scaling_is_scikit_learns_quantile_transformer_clipped():
    # the oracle: QuantileTransformer with the same quantiles, its normal
    # output clipped to QUANTILE_TAIL's quantiles (fastmlp's bound)
    from scipy.special import ndtri
    from sklearn.preprocessing import QuantileTransformer

    from fastmlp._tabular_preprocessing import QUANTILE_POINTS, QUANTILE_TAIL

    rng = np.random.RandomState(1)
    n = 1500  # more rows than quantiles: levels are not the rows
    X = np.column_stack([
        rng.standard_cauchy(n),
        np.where(rng.rand(n) < 0.2, np.nan, rng.lognormal(0, 2, n)),
        rng.poisson(0.7, n).astype(float),          # heavy ties
    ])
    X_test = np.column_stack([rng.standard_cauchy(400) * 3, rng.lognormal(0, 3, 400),
                              rng.randint(-1, 6, 400).astype(float)])
    X_test[::7, 1] = np.nan
    pre = TabularPreprocessor(numeric_scaling="quantile", dtype=np.float64).fit(X)
    assert [q.shape[0] for q in pre.quantiles_] == [QUANTILE_POINTS] * 3
    out = pre.transform(X_test)
    qt = QuantileTransformer(n_quantiles=QUANTILE_POINTS, output_distribution="normal",
                             subsample=None).fit(X)
    bound = -ndtri(QUANTILE_TAIL)
    expected = np.clip(qt.transform(X_test), -bound, bound)
    seen = ~np.isnan(X_test)
    # scikit-learn sends a value equal to the training minimum or maximum to
    # the bound, even when it ties with half the rows; fastmlp gives it the
    # middle of its ties' ranks (test_quantile_scaling_ties_...): compared apart
    inside = seen & (X_test > np.nanmin(X, axis=0)) & (X_test < np.nanmax(X, axis=0))
    assert inside.sum() > 900
    np.testing.assert_allclose(out[:, :3][inside], expected[inside], rtol=1e-9, atol=1e-9)
    at_min = X_test[:, 2] == 0  # poisson(0.7): about half the rows are 0
    share = np.mean(X[:, 2] == 0)
    np.testing.assert_allclose(out[at_min, 2], ndtri(share / 2), atol=5e-3)
    assert (out[:, 1][~seen[:, 1]] == 0).all()  # missing: 0, with its indicator
    np.testing.assert_array_equal(out[:, 3], np.isnan(X_test[:, 1]))


def test_quantile_scaling_ties_bounds_and_constants():
    from scipy.special import ndtri

    x = np.r_[np.zeros(700), np.ones(300)]
    X = np.column_stack([x, np.full(1000, 4.0), np.arange(1000.0)])
    pre = TabularPreprocessor(numeric_scaling="quantile", smooth_clip=True,
                              dtype=np.float64).fit(X)
    out = pre.transform(np.array([[0.0, 4.0, -5.0], [1.0, 9.0, 499.5], [0.5, 4.0, 1e9]]))
    # a tie takes the middle of its share of the ranks (to the levels' spacing)
    np.testing.assert_allclose(out[:2, 0], ndtri([0.35, 0.85]), atol=3e-3)
    assert out[0, 0] < out[2, 0] < out[1, 0]
    np.testing.assert_array_equal(out[:, 1], 0.0)  # a constant column
    # the median maps to 0; beyond the training range, the bound, not further
    np.testing.assert_allclose(out[1, 2], 0.0, atol=1e-12)
    np.testing.assert_allclose(out[[0, 2], 2], [ndtri(1e-3), -ndtri(1e-3)], rtol=1e-12)
    # smooth_clip does not apply: the values are the quantiles themselves
    grid = np.linspace(-10, 1100, 500)
    z = TabularPreprocessor(numeric_scaling="quantile", dtype=np.float64).fit(
        X[:, 2:]).transform(grid[:, None])[:, 0]
    assert np.all(np.diff(z) >= 0) and np.abs(z).max() == pytest.approx(-ndtri(1e-3))


def test_missing_indicator_only_for_columns_missing_in_fit():
    X = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 4.0]])
    pre = TabularPreprocessor(dtype=np.float64).fit(X)
    out = pre.transform(np.array([[np.nan, np.nan]]))
    # column 0 had no NaN in fit: imputed (0 = the median's image), no indicator
    np.testing.assert_array_equal(out, [[0.0, 0.0, 1.0]])
    assert TabularPreprocessor(add_missing_indicator=False).fit(X).n_features_out_ == 2


@pytest.mark.parametrize("scaling", ["quantile", "robust", "both"])
def test_infinity_ranks_past_every_finite_value(scaling):
    # as HistGradientBoosting bins it (it was an error): fit's statistics
    # read +-inf as the column's largest (smallest) finite value, and a
    # transform maps it past every finite value, as any value beyond fit's
    rng = np.random.RandomState(0)
    x = rng.normal(size=200)
    x_inf = x.copy()
    x_inf[::9], x_inf[4::13] = np.inf, -np.inf
    finite = x_inf[np.isfinite(x_inf)]
    pre = TabularPreprocessor(numeric_scaling=scaling).fit(x_inf[:, None])
    same = TabularPreprocessor(numeric_scaling=scaling).fit(
        np.clip(x_inf, finite.min(), finite.max())[:, None])
    np.testing.assert_array_equal(pre.center_, same.center_)
    np.testing.assert_array_equal(pre.scale_, same.scale_)
    for q, q_same in zip(pre.quantiles_, same.quantiles_):
        np.testing.assert_array_equal(q, q_same)
    beyond = np.array([[np.inf], [finite.max() + 1e6], [-np.inf], [finite.min() - 1e6]])
    out = pre.transform(beyond)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[2], out[3])
    assert (out[0, 0] >= pre.transform(x[:, None])[:, 0]).all() and out[0, 0] > 0
    # a column of infinities alone: +-1 for the statistics, finite outputs
    signs = TabularPreprocessor(numeric_scaling=scaling).fit(np.sign(x)[:, None] * np.inf)
    assert np.isfinite(signs.transform(np.sign(x)[:, None] * np.inf)).all()


def _frame():
    return pd.DataFrame({
        "num": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0],
        "cat": pd.Categorical(["a", "b", "a", None, "c", "a"]),
        "obj": ["x", "y", "x", "x", np.nan, "y"],
        "flag": [True, False, True, True, False, True],
        "str": pd.array(["u", "v", "u", "u", "u", None], dtype="string"),
        "nullable_int": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
    })


def test_dataframe_dtypes_choose_the_encoding():
    pre = TabularPreprocessor(dtype=np.float64).fit(_frame())
    np.testing.assert_array_equal(pre.numeric_columns_, [0, 5])
    np.testing.assert_array_equal(pre.categorical_columns_, [1, 2, 3, 4])
    assert list(pre.get_feature_names_out()) == [
        "num", "nullable_int", "num_missing", "nullable_int_missing",
        "cat_a", "cat_b", "cat_c", "cat_missing", "obj_x", "obj_y", "obj_missing",
        "flag_False", "flag_True", "str_u", "str_v", "str_missing"]
    out = pre.transform(_frame())
    # one-hot rows: each categorical block has exactly one 1 per row
    blocks = [(4, 8), (8, 11), (11, 13), (13, 16)]
    for a, b in blocks:
        np.testing.assert_array_equal(out[:, a:b].sum(axis=1), 1)
    np.testing.assert_array_equal(out[:, 4:8], [[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0],
                                                [0, 0, 0, 1], [0, 0, 1, 0], [1, 0, 0, 0]])
    np.testing.assert_array_equal(out[:, 3], [0, 1, 0, 0, 0, 0])


def test_unseen_and_missing_categories_at_transform():
    train = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 3 + ["c", "d"]})
    pre = TabularPreprocessor(max_categories=2, dtype=np.float64).fit(train)
    assert list(pre.get_feature_names_out()) == ["c_a", "c_b", "c_infrequent"]
    test = pd.DataFrame({"c": ["a", "c", "zzz", None]})
    # rare and unseen both go to "infrequent"; missing, not seen in fit: zeros
    np.testing.assert_array_equal(pre.transform(test),
                                  [[1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 0, 0]])
    # with no rare category there is no infrequent column: unseen -> zeros
    pre = TabularPreprocessor(dtype=np.float64).fit(train)
    assert pre.transform(pd.DataFrame({"c": ["new"]})).sum() == 0


def test_most_frequent_categories_kept_ties_by_value():
    col = ["q"] * 3 + ["b"] * 2 + ["a"] * 2 + ["z"]
    pre = TabularPreprocessor(max_categories=2).fit(np.array(col, dtype=object)[:, None])
    np.testing.assert_array_equal(pre.categories_[0], ["a", "q"])  # a beats b on the tie


@pytest.mark.parametrize("n", [1, 2, 3, 999, 1000, 1001, 2345, 3500, 20000])
def test_column_quantiles_are_numpys_bit_for_bit(n):
    # column_quantiles sorts once instead of np.quantile's partition; the
    # values must be np.quantile's own (same fitted models as before)
    rng = np.random.RandomState(n)
    for x in (rng.normal(size=n) * 1e3, rng.randint(0, 5, n).astype(float),
              np.round(rng.lognormal(size=n), 2), np.full(n, 7.0)):
        np.testing.assert_array_equal(
            column_quantiles(x), np.quantile(x, np.linspace(0, 1, min(QUANTILE_POINTS, n))))
        # and robust scaling's quartiles and median, from the same sort
        np.testing.assert_array_equal(sorted_quantiles(np.sort(x), ROBUST_LEVELS),
                                      np.quantile(x, ROBUST_LEVELS))
    assert column_quantiles(np.zeros(0)).shape == (0,)


def test_category_cells_convert_each_cell_as_its_own_value():
    # converted once per distinct (type, value): equal keys of other types
    # (1, 1.0, True), NaN objects, pandas.NA (whose == raises) and an
    # unhashable cell all give what converting each cell alone gives
    nan2 = float("nan")
    cells = [1, 1.0, True, "1", None, float("nan"), nan2, nan2, np.float64("nan"), pd.NA,
             pd.NaT, 3.0, np.int64(3), "a", "a", [1, 2], False, 0, 0.5] * 3
    col = np.empty(len(cells), dtype=object)
    col[:] = cells
    missing, strings = _category_cells(col)
    want = [_category_cell(v) for v in cells]
    np.testing.assert_array_equal(missing, [m for m, _ in want])
    np.testing.assert_array_equal(strings, [s for _, s in want])
    assert list(strings[:4]) == ["1", "1", "True", "1"]
    assert missing[4:11].all() and not missing[11:19].any()


def test_object_array_numbers_are_numeric_strings_categorical():
    X = np.array([[1, "a", None], [2.5, "b", 3], [None, "a", 4]], dtype=object)
    pre = TabularPreprocessor(dtype=np.float64).fit(X)
    np.testing.assert_array_equal(pre.numeric_columns_, [0, 2])
    np.testing.assert_array_equal(pre.categorical_columns_, [1])


@pytest.mark.parametrize("spec", [[1], ["b"], [False, True, False]])
def test_explicit_categorical_features(spec):
    X = pd.DataFrame({"a": [1.0, 2, 3], "b": [10, 20, 10], "c": [0.5, 0.1, 0.2]})
    pre = TabularPreprocessor(categorical_features=spec, dtype=np.float64).fit(X)
    np.testing.assert_array_equal(pre.categorical_columns_, [1])
    assert list(pre.get_feature_names_out())[-2:] == ["b_10", "b_20"]


@pytest.mark.parametrize("spec, match", [
    ([5], "outside"), (["nope"], "not a column"), ([True], "mask"), ("some", "'auto'")])
def test_bad_categorical_features(spec, match):
    X = pd.DataFrame({"a": [1.0, 2, 3], "b": [10, 20, 10]})
    with pytest.raises(ValueError, match=match):
        TabularPreprocessor(categorical_features=spec).fit(X)


def test_numeric_column_with_text_is_an_error():
    X = np.array([[1.0, "a"], [2.0, "b"]], dtype=object)
    with pytest.raises(ValueError, match="not numbers"):
        TabularPreprocessor(categorical_features=[]).fit(X)


def test_column_names_and_order_checked():
    pre = TabularPreprocessor().fit(_frame())
    with pytest.raises(ValueError, match="feature names"):
        pre.transform(_frame()[list(reversed(_frame().columns))])
    with pytest.raises(ValueError, match="features"), \
            pytest.warns(UserWarning, match="valid feature names"):
        pre.transform(_frame().iloc[:, :3].to_numpy())


def test_pickle_round_trip_and_dtype():
    pre = TabularPreprocessor().fit(_frame())
    out = pre.transform(_frame())
    assert out.dtype == np.float32
    again = pickle.loads(pickle.dumps(pre))
    np.testing.assert_array_equal(again.transform(_frame()), out)


def test_skops_needs_to_trust_only_fastmlp():
    sio = pytest.importorskip("skops.io")
    pre = TabularPreprocessor().fit(_frame())
    data = sio.dumps(pre)
    untrusted = sio.get_untrusted_types(data=data)
    assert all(t.startswith("fastmlp.") for t in untrusted), untrusted
    loaded = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(loaded.transform(_frame()), pre.transform(_frame()))


@parametrize_with_checks([TabularPreprocessor(), TabularPreprocessor(numeric_scaling="quantile")])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_feature_names_out_are_unique():
    # a category named 'missing' and the missing column were both
    # 'c_missing', as were a column 'a_missing' and a's indicator: a pandas
    # output had duplicate columns
    X = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0] * 5, "a_missing": np.arange(20.0),
                      "c": ["missing", "red", None, "red"] * 5})
    pre = TabularPreprocessor().fit(X)
    names = list(pre.get_feature_names_out())
    assert len(set(names)) == len(names)
    assert names[:6] == ["a", "a_missing", "a_missing_1", "c_missing", "c_red", "c_missing_1"]
    out = TabularPreprocessor().set_output(transform="pandas").fit_transform(X)
    assert out.columns.is_unique
    # names that do not collide are as they were
    plain = TabularPreprocessor().fit(X[["a", "c"]].replace("missing", "blue"))
    assert list(plain.get_feature_names_out()) == ["a", "a_missing", "c_blue", "c_red",
                                                   "c_missing"]
