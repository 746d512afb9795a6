"""The periodic features of TabularPreprocessor (``n_periodic``), against
the formula of its module docstring written out here row by row, and their
effect in the tabular estimators."""
import pickle

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from _tabular_helpers import expected_failed_checks
from fastmlp import TabularMLPClassifier, TabularMLPRegressor, TabularPreprocessor
from fastmlp._tabular_network import network_input, periodic_linear_embed, periodic_linear_init
from fastmlp._tabular_preprocessing import PERIODIC_SPREAD, periodic_frequencies


def _table(n=200, seed=0):
    rng = np.random.RandomState(seed)
    X = np.empty((n, 3), dtype=object)
    X[:, 0] = rng.normal(size=n)
    X[:, 1] = np.where(rng.rand(n) < 0.2, np.nan, rng.lognormal(size=n))
    X[:, 2] = rng.choice(["a", "b", None], size=n)
    return X


def test_periodic_columns_match_the_formula():
    X = _table()
    pre = TabularPreprocessor(n_periodic=5, periodic_scale=0.7, random_state=3,
                              dtype=np.float64).fit(X)
    plain = TabularPreprocessor(dtype=np.float64).fit(X)
    out, base = pre.transform(X[:40]), plain.transform(X[:40])
    n_base = base.shape[1]
    assert out.shape == (40, n_base + 2 * 5) and pre.n_features_out_ == out.shape[1]
    np.testing.assert_array_equal(out[:, :n_base], base)   # the other columns unchanged
    f, p = pre.periodic_frequencies_, pre.periodic_phases_
    assert f.shape == p.shape == (2, 5)
    for r in range(40):
        for k in range(2):                      # numeric column k, its scaled value z
            z = base[r, k]
            for i in range(5):
                assert out[r, n_base + 5 * k + i] == pytest.approx(
                    np.cos(f[k, i] * z + p[k, i]), abs=1e-12)
    names = list(pre.get_feature_names_out())
    assert names[n_base:] == [f"x{j}_cos{i}" for j in (0, 1) for i in range(5)]


def test_a_missing_value_gets_the_cosines_of_its_phases():
    X = _table()
    pre = TabularPreprocessor(n_periodic=3, random_state=0, dtype=np.float64).fit(X)
    row = X[:1].copy()
    row[0, 1] = np.nan
    out = pre.transform(row)[0]
    np.testing.assert_allclose(out[-3:], np.cos(pre.periodic_phases_[1]), atol=1e-15)


def test_frequency_scales_spread_log_evenly():
    f, p = periodic_frequencies(20000, 4, 2.0, 0)
    sigma = 2.0 * PERIODIC_SPREAD ** ((np.arange(4) - 3) / 3)
    # each column's frequencies are 2 pi sigma_i N(0, 1): sample std within 2%
    np.testing.assert_allclose(f.std(axis=0), 2 * np.pi * sigma, rtol=0.02)
    assert p.min() >= -np.pi and p.max() <= np.pi
    one, _ = periodic_frequencies(20000, 1, 2.0, 0)
    assert one.std() == pytest.approx(2 * np.pi * 2.0, rel=0.02)
    assert periodic_frequencies(3, 0, 1.0, 0)[0].shape == (3, 0)


def test_random_state_fixes_the_features():
    X = _table()
    a = TabularPreprocessor(n_periodic=4, random_state=1).fit(X).transform(X)
    b = TabularPreprocessor(n_periodic=4, random_state=1).fit(X).transform(X)
    c = TabularPreprocessor(n_periodic=4, random_state=2).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("features", [dict(n_periodic=4), dict(n_bins=6)])
def test_blocks_of_rows_give_the_same_features(features, monkeypatch):
    # the periodic and the binned features are computed in blocks of rows
    from fastmlp import _tabular_preprocessing as tp

    X = _table(n=300)
    pre = TabularPreprocessor(random_state=0, **features).fit(X)
    whole = pre.transform(X)
    monkeypatch.setattr(tp, "_FEATURE_BLOCK_ROWS", 7)
    np.testing.assert_array_equal(pre.transform(X), whole)


def test_pickle_and_skops_keep_the_frequencies():
    X = _table()
    pre = TabularPreprocessor(n_periodic=4, random_state=0).fit(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(pre)).transform(X),
                                  pre.transform(X))
    sio = pytest.importorskip("skops.io")
    data = sio.dumps(pre)
    untrusted = sio.get_untrusted_types(data=data)
    assert all(t.startswith("fastmlp.") for t in untrusted), untrusted
    np.testing.assert_array_equal(sio.loads(data, trusted=untrusted).transform(X),
                                  pre.transform(X))


def test_bad_parameters_are_scikit_learn_errors():
    X = _table()
    with pytest.raises(ValueError, match="n_periodic"):
        TabularPreprocessor(n_periodic=-1).fit(X)
    with pytest.raises(ValueError, match="periodic_scale"):
        TabularPreprocessor(periodic_scale=0.0).fit(X)
    with pytest.raises(ValueError, match="n_periodic"):
        TabularMLPRegressor(n_periodic=1.5).fit(X, np.zeros(len(X)))


def test_periodic_features_fit_a_wiggly_target_better():
    # y = sin(4 x): a smooth function with many bends, what the periodic
    # features are for (the paper's largest gain is on such regressions)
    rng = np.random.RandomState(0)
    x = rng.uniform(-2, 2, (1200, 1))
    y = np.sin(4 * x[:, 0]) + 0.05 * rng.normal(size=1200)
    kw = dict(hidden_layer_sizes=(64, 64), max_iter=40, batch_size=32,
              learning_rate_init=0.003, random_state=0)
    errors = {}
    for n_periodic in (0, 16):
        model = TabularMLPRegressor(n_periodic=n_periodic, **kw).fit(x[:1000], y[:1000])
        errors[n_periodic] = np.sqrt(np.mean((model.predict(x[1000:]) - y[1000:]) ** 2))
    assert model.preprocessor_.n_features_out_ == 17
    assert errors[16] < 0.5 * errors[0], errors   # measured: 0.08 and 0.72


@parametrize_with_checks([TabularPreprocessor(n_periodic=3, random_state=0)])
def test_sklearn_compatible_with_periodic_features(estimator, check):
    check(estimator)


def _fitted(learn, **kw):
    rng = np.random.RandomState(0)
    x = rng.uniform(-2, 2, (600, 2))
    y = np.sin(3 * x[:, 0]) + x[:, 1]
    # periodic_dim=0: the cosines go to the first layer (the linear layers'
    # own tests are below)
    params = dict(hidden_layer_sizes=(32,), max_iter=15, batch_size=64, n_periodic=4,
                  learn_periodic=learn, periodic_dim=0, n_ensemble=1, random_state=0)
    return TabularMLPRegressor(**{**params, **kw}).fit(x, y), x


def test_learned_frequencies_start_from_the_drawn_ones_and_move():
    model, x = _fitted(True)
    net, pre = model.network_, model.preprocessor_
    assert net.periodic_frequencies_.shape == net.periodic_phases_.shape == (2, 4)
    # views into the flat buffer the engine trains, after the intercepts
    assert np.shares_memory(net.periodic_frequencies_, net._params)
    assert not np.allclose(net.periodic_frequencies_, pre.periodic_frequencies_)
    assert np.abs(net.periodic_frequencies_ - pre.periodic_frequencies_).max() < 1.0
    frozen, _ = _fitted(False)
    assert not hasattr(frozen.network_, "periodic_frequencies_")
    # the network's predictions use the learned frequencies: the same network
    # on the preprocessor's (drawn) periodic columns predicts otherwise
    Xt = pre.transform(x[:50]).astype(np.float64)
    from fastmlp import MLPRegressor
    plain = MLPRegressor(hidden_layer_sizes=(32,))
    plain.coefs_, plain.intercepts_ = net.coefs_, net.intercepts_
    plain.n_layers_, plain.n_outputs_, plain.out_activation_ = 3, 1, "identity"
    plain.n_features_in_ = Xt.shape[1]
    plain.activation = net.activation
    assert not np.allclose(plain.predict(Xt), net.predict(Xt))


def test_pickle_and_skops_keep_the_learned_frequencies():
    model, x = _fitted(True)
    pred = model.predict(x)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(x), pred)
    np.testing.assert_array_equal(again.network_.periodic_frequencies_,
                                  model.network_.periodic_frequencies_)
    sio = pytest.importorskip("skops.io")
    data = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=data)
    assert all(t.startswith("fastmlp.") for t in untrusted), untrusted
    np.testing.assert_array_equal(sio.loads(data, trusted=untrusted).predict(x), pred)


def test_replaced_frequencies_are_checked_and_used():
    model, x = _fitted(True)
    net = model.network_
    f = net.periodic_frequencies_.copy()
    net.periodic_frequencies_ = np.zeros((3, 4))
    with pytest.raises(ValueError, match="periodic_frequencies_"):
        model.predict(x)
    net.periodic_frequencies_ = f * 0          # the right shape: packed and used
    zero = model.predict(x)
    net.periodic_frequencies_ = f
    assert not np.allclose(zero, model.predict(x))


def test_same_seed_same_learned_model():
    a, x = _fitted(True)
    b, _ = _fitted(True)
    np.testing.assert_array_equal(a.network_._params, b.network_._params)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))


@pytest.mark.parametrize("extra,what", [(dict(), "a periodic input layer"),
                                        (dict(n_periodic=0, input_scale=True), "an input scale")])
def test_onnx_refuses_a_network_with_an_input_layer(extra, what):
    from fastmlp import to_onnx

    model, _ = _fitted(True, **extra)
    with pytest.raises(ValueError, match=f"cannot export a network with {what}"):
        to_onnx(model.network_)


def test_input_scale_is_learned_from_one_and_used():
    model, x = _fitted(True, input_scale=True)
    net = model.network_
    p = model.preprocessor_.n_features_out_
    assert net.input_scale_.shape == (p,)
    assert np.shares_memory(net.input_scale_, net._params)
    assert not np.allclose(net.input_scale_, 1.0) and np.abs(net.input_scale_ - 1).max() < 1
    pred = model.predict(x)
    s = net.input_scale_.copy()
    net.input_scale_ = np.ones(p)                  # replaced: packed and used
    assert not np.allclose(model.predict(x), pred)
    net.input_scale_ = np.ones(p + 1)
    with pytest.raises(ValueError, match="input_scale_"):
        model.predict(x)
    net.input_scale_ = s
    np.testing.assert_array_equal(model.predict(x), pred)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(x), pred)
    off, _ = _fitted(True, input_scale=False)
    assert not hasattr(off.network_, "input_scale_")


# min_steps=0: these check the layers, not the step rule (which the
# defaults' own checks cover), in a quarter of the time
@parametrize_with_checks([TabularMLPRegressor(input_scale=True, min_steps=0),
                          TabularMLPClassifier(input_scale=True, min_steps=0),
                          TabularMLPRegressor(periodic_dim=3, min_steps=0),
                          TabularMLPClassifier(periodic_dim=3, n_ensemble=2, min_steps=0)],
                         expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_with_the_input_scale_and_the_linear_layers(estimator, check):
    check(estimator)


# periodic_dim: each numeric column's cosines mixed by its own linear layer


def test_linear_layers_are_views_start_from_their_init_and_move():
    model, x = _fitted(True, periodic_dim=3)
    net, pre = model.network_, model.preprocessor_
    A, b = net.periodic_linear_coefs_, net.periodic_linear_intercepts_
    assert A.shape == (2, 4, 3) and b.shape == (2, 3)
    assert np.shares_memory(A, net._params) and np.shares_memory(b, net._params)
    # the flat buffer's tail: f, ph, A, b, in that order, right after the intercepts
    off = net._layout().periodic_off
    np.testing.assert_array_equal(net._params[off + 16:off + 40], A.ravel())
    np.testing.assert_array_equal(net._params[off + 40:off + 46], b.ravel())
    A0, b0 = periodic_linear_init((2, 4, 3), net.random_state)
    assert np.abs(A0).max() <= 0.5 and np.abs(b0).max() <= 0.5   # +-1/sqrt(4)
    assert not np.allclose(A, A0) and np.abs(A - A0).max() < 1.0
    # the network reads 2 numeric + 6 linear-layer columns, not 2 + 8 cosines
    assert pre.n_features_out_ == 2 + 8 and net.n_features_in_ == 2 + 6
    assert net.coefs_[0].shape == (8, 32)


def test_linear_layers_predictions_match_the_embedding_by_hand():
    # the engine's layer against periodic_linear_embed run on the learned
    # parameters, then the plain network on the embedded input
    model, x = _fitted(True, periodic_dim=2)
    net = model.network_
    Xt = network_input(model.preprocessor_.transform(x[:40]), net._periodic)
    Xe = Xt.astype(np.float64)
    Xe[:, 2:] = periodic_linear_embed(
        Xe[:, :2], net.periodic_frequencies_, net.periodic_phases_,
        net.periodic_linear_coefs_, net.periodic_linear_intercepts_)
    from fastmlp import MLPRegressor
    plain = MLPRegressor(hidden_layer_sizes=(32,), activation=net.activation)
    plain.coefs_, plain.intercepts_ = net.coefs_, net.intercepts_
    plain.n_layers_, plain.n_outputs_, plain.out_activation_ = 3, 1, "identity"
    plain.n_features_in_ = Xe.shape[1]
    want = plain.predict(Xe) * model.y_scale_[0] + model.y_mean_[0]
    np.testing.assert_allclose(model.predict(x[:40]), np.clip(want, model.y_min_, model.y_max_),
                               rtol=1e-10, atol=1e-10)


def test_linear_layers_replaced_are_checked_and_used_and_pickle():
    model, x = _fitted(True, periodic_dim=3)
    net = model.network_
    pred = model.predict(x)
    A = net.periodic_linear_coefs_.copy()
    net.periodic_linear_coefs_ = np.zeros((2, 4, 2))
    with pytest.raises(ValueError, match="periodic_linear_coefs_"):
        model.predict(x)
    net.periodic_linear_coefs_ = A * 0
    assert not np.allclose(model.predict(x), pred)
    net.periodic_linear_coefs_ = A
    np.testing.assert_array_equal(model.predict(x), pred)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(x), pred)
    sio = pytest.importorskip("skops.io")
    data = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=data)
    np.testing.assert_array_equal(sio.loads(data, trusted=untrusted).predict(x), pred)
    b, _ = _fitted(True, periodic_dim=3)
    np.testing.assert_array_equal(b.network_._params, net._params)   # same seed


def test_linear_layers_with_the_input_scale_and_without_learning():
    model, x = _fitted(True, periodic_dim=3, input_scale=True)
    assert model.network_.input_scale_.shape == (2 + 6,)
    frozen, _ = _fitted(False, periodic_dim=3)   # frozen cosines: no linear layer
    assert not hasattr(frozen.network_, "periodic_linear_coefs_")
    assert frozen.network_.n_features_in_ == 2 + 8
    none, _ = _fitted(True, periodic_dim=3, n_periodic=0)
    assert not hasattr(none.network_, "periodic_frequencies_")
    with pytest.raises(ValueError, match="periodic_dim"):
        TabularMLPRegressor(periodic_dim=-1).fit(x, np.zeros(len(x)))


def test_data_init_sees_the_rows_as_the_first_layer_does():
    # the first layer's data-dependent biases put each unit's bend through
    # a training row of the network's input, the linear layers' columns
    # included (at their starting values)
    model, x = _fitted(True, periodic_dim=3, max_iter=1, learning_rate_init=1e-12)
    net = model.network_
    rows = net._init_rows
    Xt = network_input(model.preprocessor_.transform(x), net._periodic)
    assert rows.shape == (32, Xt.shape[1])
    f, ph, A, b = net._periodic_init
    np.testing.assert_allclose(rows[:, 2:], periodic_linear_embed(rows[:, :2], f, ph, A, b),
                               rtol=1e-5, atol=1e-6)
    assert np.abs(rows[:, 2:]).max() > 0.01
    Z = rows.astype(np.float64) @ net.coefs_[0] + net.intercepts_[0]
    np.testing.assert_allclose(np.diag(Z), 0, atol=1e-4)


def test_onnx_refuses_the_linear_layers():
    from fastmlp import to_onnx

    model, _ = _fitted(True, periodic_dim=2)
    with pytest.raises(ValueError, match="periodic input layer"):
        to_onnx(model.network_)
