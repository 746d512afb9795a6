"""``numeric_scaling='both'``: each numeric column as its quantile and, in a
column of its own, its robust value (TabularPreprocessor's module
docstring), against the two single scalings' own outputs and the robust
formula written out here."""
import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastmlp import TabularMLPClassifier, TabularMLPRegressor, TabularPreprocessor

from test_tabular_periodic import _table  # numeric, numeric with NaN, categorical


@pytest.mark.parametrize("clip", [True, False])
def test_both_is_the_quantile_columns_then_the_robust_ones(clip):
    X = _table()
    kw = dict(smooth_clip=clip, n_bins=3, n_periodic=2, random_state=3, dtype=np.float64)
    both = TabularPreprocessor(numeric_scaling="both", **kw).fit(X)
    quant = TabularPreprocessor(numeric_scaling="quantile", **kw).fit(X)
    robust = TabularPreprocessor(numeric_scaling="robust", **kw).fit(X)
    rows = np.r_[X[:50], _table(n=30, seed=1)]        # training rows and new ones
    out, q, r = both.transform(rows), quant.transform(rows), robust.transform(rows)
    at = 2 + quant.indicator_columns_.shape[0]        # after the numeric columns and indicators
    assert both.n_features_out_ == q.shape[1] + 2 == out.shape[1]
    # every column of 'quantile' (bins and cosines read the quantile value),
    # with the robust columns inserted after the indicators
    np.testing.assert_array_equal(out[:, :at], q[:, :at])
    np.testing.assert_array_equal(out[:, at + 2:], q[:, at:])
    # the robust columns: 'robust''s numeric columns, and the formula
    np.testing.assert_array_equal(out[:, at:at + 2], r[:, :2])
    for k in range(2):
        x = rows[:, k].astype(float)
        med = np.nanmedian(X[:, k].astype(float))
        q1, q3 = np.nanpercentile(X[:, k].astype(float), [25, 75])
        z = (x - med) / (q3 - q1)
        if clip:
            z = z / np.sqrt(1 + (z / 3) ** 2)
        np.testing.assert_allclose(out[:, at + k], np.where(np.isnan(x), 0.0, z), atol=1e-12)
    names = list(both.get_feature_names_out())
    assert names[at:at + 2] == ["x0_robust", "x1_robust"]
    assert len(names) == out.shape[1]


@pytest.mark.parametrize("Est", [TabularMLPClassifier, TabularMLPRegressor])
def test_estimators_pass_both_on_and_learn(Est):
    rng = np.random.RandomState(0)
    X = rng.lognormal(size=(400, 3))
    # a ratio of two columns: the magnitudes matter
    t = X[:, 0] / X[:, 1]
    y = (t > np.median(t)).astype(int) if Est is TabularMLPClassifier else np.log(t)
    kw = dict(hidden_layer_sizes=(32,), n_ensemble=1, random_state=0)
    model = Est(numeric_scaling="both", **kw).fit(X, y)
    assert model.preprocessor_.numeric_scaling == "both"
    assert model.preprocessor_.n_features_out_ == 3 + 3 + 3 * 8   # quantile, robust, cosines
    assert model.network_.coefs_[0].shape[0] == model.preprocessor_.n_features_out_
    assert model.score(X, y) > (0.85 if Est is TabularMLPClassifier else 0.8)


def test_bad_scaling_is_refused():
    with pytest.raises(ValueError, match="numeric_scaling"):
        TabularPreprocessor(numeric_scaling="rank").fit(_table())
    with pytest.raises(ValueError, match="numeric_scaling"):
        TabularMLPRegressor(numeric_scaling="quantile+robust").fit(
            _table()[:, :2], np.arange(200.0))


@parametrize_with_checks([TabularPreprocessor(numeric_scaling="both", n_bins=2)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
