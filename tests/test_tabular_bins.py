"""The piecewise-linear features of TabularPreprocessor (``n_bins``), against
the formula of its module docstring written out here value by value, and
through the tabular estimators (computing them in blocks of rows:
test_tabular_periodic.py)."""
import numpy as np
import pytest
from scipy.stats import norm
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastmlp import TabularMLPClassifier, TabularMLPRegressor, TabularPreprocessor

from test_tabular_periodic import _table  # numeric, numeric with NaN, categorical


@pytest.mark.parametrize("scaling", ["quantile", "robust"])
def test_binned_columns_match_the_formula(scaling):
    X = _table()
    T = 5
    pre = TabularPreprocessor(numeric_scaling=scaling, n_bins=T, n_periodic=2, random_state=3,
                              dtype=np.float64).fit(X)
    plain = TabularPreprocessor(numeric_scaling=scaling, n_periodic=2, random_state=3,
                                dtype=np.float64).fit(X)
    out, base = pre.transform(X[:60]), plain.transform(X[:60])
    at = 2 + plain.indicator_columns_.shape[0]   # after the numeric columns and indicators
    assert out.shape == (60, base.shape[1] + 2 * T) and pre.n_features_out_ == out.shape[1]
    # every other column as without the bins
    np.testing.assert_array_equal(out[:, :at], base[:, :at])
    np.testing.assert_array_equal(out[:, at + 2 * T:], base[:, at:])
    edges = [norm.ppf(min(max(t / T, 1e-3), 1 - 1e-3)) for t in range(T + 1)]
    for r in range(60):
        for k in range(2):
            z = base[r, k]                      # the scaled value (0 where missing)
            for t in range(T):
                want = min(max((z - edges[t]) / (edges[t + 1] - edges[t]), 0.0), 1.0)
                assert out[r, at + T * k + t] == pytest.approx(want, abs=1e-12)
    names = list(pre.get_feature_names_out())
    assert names[at:at + 2 * T] == [f"x{j}_bin{t}" for j in (0, 1) for t in range(T)]


def test_with_quantile_scaling_each_bin_holds_its_share_of_the_rows():
    rng = np.random.RandomState(0)
    X = rng.lognormal(size=(4000, 1))
    out = TabularPreprocessor(numeric_scaling="quantile", n_bins=4, add_missing_indicator=False,
                              dtype=np.float64).fit(X).transform(X)
    bins = out[:, 1:5]
    # the rows past bin t's upper edge (bin t full) are the upper 1 - (t + 1) / 4
    np.testing.assert_allclose((bins[:, :3] == 1).mean(axis=0), [0.75, 0.5, 0.25], atol=0.01)
    # each row is inside (0 < value < 1) one bin at most
    assert (((bins > 0) & (bins < 1)).sum(axis=1) <= 1).all()


@pytest.mark.parametrize("Est", [TabularMLPClassifier, TabularMLPRegressor])
def test_estimators_pass_n_bins_on_and_learn(Est):
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(400, 3))
    y = (X[:, 0] > 0.3).astype(int) if Est is TabularMLPClassifier else np.sign(X[:, 0] - 0.3)
    kw = dict(hidden_layer_sizes=(16,), n_ensemble=1, random_state=0)
    model = Est(n_bins=8, **kw).fit(X, y)
    assert model.preprocessor_.n_bins == 8
    assert model.preprocessor_.n_features_out_ == 3 + 3 * 8 + 3 * 8   # numeric, bins, cosines
    assert model.network_.coefs_[0].shape[0] == model.preprocessor_.n_features_out_
    assert model.score(X, y) > (0.9 if Est is TabularMLPClassifier else 0.85)
    plain = Est(**kw).fit(X, y)
    assert plain.preprocessor_.n_bins == 0
    assert plain.network_.coefs_[0].shape[0] == 3 + 3 * 8


def test_bad_n_bins_is_refused():
    with pytest.raises(ValueError, match="n_bins"):
        TabularPreprocessor(n_bins=-1).fit(_table())
    with pytest.raises(ValueError, match="n_bins"):
        TabularMLPClassifier(n_bins=1.5).fit(_table()[:, :2], np.arange(300) % 2)


@parametrize_with_checks([TabularPreprocessor(n_bins=3, numeric_scaling="quantile")])
def test_sklearn_compatible(estimator, check):
    check(estimator)
