"""Embedded categorical columns (``max_one_hot``): the preprocessor's codes
against their rule written out here, the network's input layout against
the engine's, the fitted tables as views that train, pickle and are
checked when replaced, predictions against the lookup done by hand, and
scikit-learn's estimator checks."""
import pickle

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from _tabular_helpers import expected_failed_checks
from fastmlp import (MLPRegressor, TabularMLPClassifier, TabularMLPRegressor,
                     TabularPreprocessor)
from fastmlp._tabular_network import embed_codes, embedding_init, network_input

CATS = np.array([f"c{i:02d}" for i in range(12)])


def _table(n=300, seed=0):
    rng = np.random.RandomState(seed)
    X = np.empty((n, 4), dtype=object)
    X[:, 0] = rng.normal(size=n)
    X[:, 1] = rng.choice(np.append(CATS, None), size=n)        # 12 categories + missing
    X[:, 2] = rng.choice(["x", "y"], size=n)                     # 2: one-hot
    X[:, 3] = rng.choice(CATS[:10], size=n)                      # 10, never missing
    return X


def test_codes_follow_the_rule():
    X = _table()
    pre = TabularPreprocessor(max_one_hot=8, dtype=np.float64).fit(X)
    assert pre.embedded_.tolist() == [True, False, True]
    np.testing.assert_array_equal(pre.categories_[0], CATS)     # every category kept
    np.testing.assert_array_equal(pre.embedding_cards_, [1 + 12 + 1, 1 + 10])
    names = pre.get_feature_names_out().tolist()
    assert names == ["x0", "x2_x", "x2_y", "x1_code", "x3_code"]
    Z = np.empty((5, 4), dtype=object)
    Z[:, 0] = 0.0
    Z[:, 1] = ["c00", "c11", None, "new", "c05"]
    Z[:, 2] = "x"
    Z[:, 3] = ["c09", None, "c11", "c00", "c03"]   # c11 unseen in column 3
    out = pre.transform(Z)
    # category i: 1 + i; missing: 1 + 12 where fit saw it, else 0; unseen: 0
    np.testing.assert_array_equal(out[:, 3], [1, 12, 13, 0, 6])
    np.testing.assert_array_equal(out[:, 4], [10, 0, 0, 1, 4])
    one_hot = TabularPreprocessor(dtype=np.float64).fit(X)
    assert not one_hot.embedded_.any() and one_hot.embedding_cards_.shape == (0,)
    np.testing.assert_array_equal(one_hot.transform(X)[:, :3],
                                  TabularPreprocessor(max_one_hot=12, dtype=np.float64)
                                  .fit(X).transform(X)[:, :3])


def test_categories_seen_once_share_the_unseen_code():
    X = np.empty((9, 1), dtype=object)
    X[:, 0] = ["a", "a", "b", "c", "c", "c", "d", None, None]   # b and d once
    pre = TabularPreprocessor(max_one_hot=1, dtype=np.float64).fit(X)
    np.testing.assert_array_equal(pre.categories_[0], ["a", "c"])
    assert pre.has_infrequent_[0] and pre.has_missing_[0]
    np.testing.assert_array_equal(pre.embedding_cards_, [1 + 2 + 1])
    np.testing.assert_array_equal(pre.transform(X)[:, 0], [1, 1, 0, 2, 2, 2, 0, 3, 3])
    # an ID-like column: every value once, one shared code
    ids = np.array([[f"id{i}"] for i in range(50)], dtype=object)
    pre = TabularPreprocessor(max_one_hot=8).fit(ids)
    np.testing.assert_array_equal(pre.embedding_cards_, [1])
    assert not pre.transform(ids).any()


def test_codes_sit_before_the_cosines():
    X = _table()
    pre = TabularPreprocessor(max_one_hot=8, n_periodic=3, random_state=0).fit(X)
    names = pre.get_feature_names_out().tolist()
    assert names[3:5] == ["x1_code", "x3_code"] and names[5:] == ["x0_cos0", "x0_cos1",
                                                                   "x0_cos2"]
    plain = TabularPreprocessor(n_periodic=3, random_state=0).fit(X)
    np.testing.assert_array_equal(pre.transform(X)[:, -3:], plain.transform(X)[:, -3:])


def test_network_input_puts_each_code_before_its_placeholders():
    Xt = np.arange(2 * 7, dtype=np.float64).reshape(2, 7)   # 2 front, 2 codes, 3 cosines
    Xt[:, 2:4] = [[1, 2], [3, 0]]
    learned = network_input(Xt, (1, 3), 3, 2, 3)
    np.testing.assert_array_equal(learned, [[0, 1, 1, 0, 0, 2, 0, 0, 4, 5, 6],
                                            [7, 8, 3, 0, 0, 0, 0, 0, 11, 12, 13]])
    # frozen cosines are plain columns: the codes go last
    frozen = network_input(Xt, None, 3, 2, 1)
    np.testing.assert_array_equal(frozen, Xt[:, [0, 1, 4, 5, 6, 2, 3]])
    assert network_input(Xt, None, 3, 0, 8) is Xt


def _fitted(**kw):
    X = _table(600)
    rng = np.random.RandomState(1)
    effect = dict(zip(CATS, rng.normal(size=12)))
    y = X[:, 0].astype(float) + np.array([effect.get(c, 0.0) for c in X[:, 1]])
    params = dict(hidden_layer_sizes=(16,), max_iter=12, batch_size=64, n_periodic=2,
                  max_one_hot=8, embedding_dim=3, n_ensemble=1, random_state=0)
    return TabularMLPRegressor(**{**params, **kw}).fit(X, y), X


def test_tables_are_views_start_from_their_init_and_move():
    model, X = _fitted()
    net = model.network_
    E = net.embeddings_
    assert [e.shape for e in E] == [(14, 3), (11, 3)]
    assert all(np.shares_memory(e, net._params) for e in E)
    lay = net._layout()
    assert lay.embedding == ((14, 11), 3)
    np.testing.assert_array_equal(
        net._params[lay.embedding_off:lay.embedding_off + 75],
        np.concatenate([e.ravel() for e in E]))
    E0 = embedding_init((14, 11), 3, net.random_state)
    assert not E0[0][0].any() and not E0[1][0].any()     # the unseen code: zeros
    assert np.abs(E0[0][1:]).max() > 1.0                  # standard normal
    # trained rows move; the unseen code's row has no gradient and stays 0
    assert not np.allclose(E[0][1:], E0[0][1:])
    assert not E[0][0].any() and not E[1][0].any()
    # 1 numeric + 2 one-hot + 2 x 3 embedding + 2 cosines
    assert net.n_features_in_ == 1 + 2 + 6 + 2 and net.coefs_[0].shape == (11, 16)


def test_predictions_match_the_lookup_by_hand():
    model, X = _fitted()
    net, pre = model.network_, model.preprocessor_
    Xt = network_input(pre.transform(X[:50]), net._periodic, pre.periodic_frequencies_.size,
                       2, 3).astype(np.float64)
    Xe = embed_codes(Xt, 3, net.embeddings_)
    # the periodic layer's cosines at the learned frequencies
    z = Xe[:, :1]
    Xe[:, -2:] = np.cos(z * net.periodic_frequencies_[0] + net.periodic_phases_[0])
    plain = MLPRegressor(hidden_layer_sizes=(16,), activation=net.activation)
    plain.coefs_, plain.intercepts_ = net.coefs_, net.intercepts_
    plain.n_layers_, plain.n_outputs_, plain.out_activation_ = 3, 1, "identity"
    plain.n_features_in_ = Xe.shape[1]
    want = plain.predict(Xe) * model.y_scale_[0] + model.y_mean_[0]
    np.testing.assert_allclose(model.predict(X[:50]),
                               np.clip(want, model.y_min_, model.y_max_), rtol=1e-10,
                               atol=1e-10)


def test_unseen_and_missing_categories_predict():
    model, X = _fitted()
    Z = X[:4].copy()
    Z[:, 1] = ["never", None, "c03", "never"]
    Z[:, 3] = [None, "c00", "zzz", "c01"]
    pred = model.predict(Z)
    assert np.isfinite(pred).all()
    # an unseen category reads the zero row: the same as any other unseen one
    Z2 = Z.copy()
    Z2[0, 1] = "other"
    np.testing.assert_array_equal(model.predict(Z2), pred)


def test_replaced_tables_are_checked_used_and_pickle():
    model, X = _fitted()
    net = model.network_
    pred = model.predict(X)
    E = [e.copy() for e in net.embeddings_]
    net.embeddings_ = [E[0]]
    with pytest.raises(ValueError, match="embeddings_ must be a list of 2 arrays, one per "
                                         "embedded column"):
        model.predict(X)
    net.embeddings_ = [E[0], np.zeros((11, 2))]
    with pytest.raises(ValueError, match=r"embeddings_\[1\] must be a real array of shape"):
        model.predict(X)
    net.embeddings_ = [E[0] * 0, E[1]]
    assert not np.allclose(model.predict(X), pred)
    net.embeddings_ = E
    np.testing.assert_array_equal(model.predict(X), pred)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), pred)
    sio = pytest.importorskip("skops.io")
    data = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=data)
    assert all(t.startswith("fastmlp.") for t in untrusted), untrusted
    np.testing.assert_array_equal(sio.loads(data, trusted=untrusted).predict(X), pred)


def test_same_seed_same_model_and_every_combination_fits():
    a, X = _fitted()
    b, _ = _fitted()
    np.testing.assert_array_equal(a.network_._params, b.network_._params)
    for kw in (dict(periodic_dim=2), dict(learn_periodic=False), dict(n_periodic=0),
               dict(input_scale=True), dict(n_ensemble=2), dict(data_init=False),
               dict(max_one_hot=1)):
        model, _ = _fitted(**kw)
        assert np.isfinite(model.predict(X)).all(), kw
    # frozen cosines are plain columns, before the embeddings
    frozen, _ = _fitted(learn_periodic=False)
    assert frozen.network_._layout().embedding_col == 1 + 2 + 2


def test_data_init_sees_the_looked_up_rows():
    model, X = _fitted(max_iter=1, learning_rate_init=1e-12)
    net = model.network_
    rows = net._init_rows
    assert rows.shape == (16, 11)
    # each block is its table's row at some code (not the code and zeros)
    for c, table in enumerate(net._embedding_init):
        block = rows[:, 3 + 3 * c:6 + 3 * c].astype(np.float64)
        match = np.abs(block[:, None, :] - table[None, 1:, :]).max(axis=2).min(axis=1)
        assert match.max() < 1e-6
    Z = rows.astype(np.float64) @ net.coefs_[0] + net.intercepts_[0]
    np.testing.assert_allclose(np.diag(Z), 0, atol=1e-4)


def test_embeddings_learn_many_categories_better_than_pooled_one_hot():
    # 60 categories, each with its own slope and offset: one-hot pools all
    # but max_categories=32 of them; the embeddings keep each
    rng = np.random.RandomState(0)
    n = 3000
    cats = np.array([f"k{i}" for i in range(60)])
    X = np.empty((n, 2), dtype=object)
    X[:, 0] = rng.normal(size=n)
    X[:, 1] = rng.choice(cats, size=n)
    effect = dict(zip(cats, rng.normal(size=60)))
    e = np.array([effect[c] for c in X[:, 1]])
    y = X[:, 0].astype(float) * e + e + 0.1 * rng.normal(size=n)
    scores = {}
    for max_one_hot in (None, 8):
        model = TabularMLPRegressor(max_one_hot=max_one_hot, random_state=0).fit(
            X[:2000], y[:2000])
        scores[max_one_hot] = model.score(X[2000:], y[2000:])
    assert scores[8] > 0.95 and scores[None] < 0.8, scores   # measured: 0.99 and 0.65


def test_bad_parameters_are_scikit_learn_errors():
    X = _table(50)
    for bad in (dict(max_one_hot=0), dict(embedding_dim=0), dict(embedding_lr=0.0),
                dict(max_one_hot=2.5)):
        with pytest.raises(ValueError, match="must be"):
            TabularMLPRegressor(**bad).fit(X, np.zeros(50))
    with pytest.raises(ValueError, match="max_one_hot"):
        TabularPreprocessor(max_one_hot=-1).fit(X)


def test_onnx_refuses_the_embeddings():
    from fastmlp import to_onnx

    model, _ = _fitted(n_periodic=0)
    with pytest.raises(ValueError, match="a network with categorical embeddings \\(a "):
        to_onnx(model.network_)


# min_steps=0: these check the embeddings, not the step rule (which the
# defaults' own checks cover), in a quarter of the time
@parametrize_with_checks([TabularPreprocessor(max_one_hot=1),
                          TabularMLPRegressor(max_one_hot=1, embedding_dim=2, min_steps=0),
                          TabularMLPClassifier(max_one_hot=1, n_ensemble=2, min_steps=0)],
                         expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_with_embeddings(estimator, check):
    check(estimator)
