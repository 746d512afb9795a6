"""TabularMLPClassifier / TabularMLPRegressor: scikit-learn's checks, the
recipe's pieces against their definitions, tables with categories and
missing values, determinism and persistence."""
import doctest
import inspect
import pickle
import re
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from _tabular_helpers import expected_failed_checks
from fastmlp import TabularMLPClassifier, TabularMLPRegressor
from fastmlp._sklearn_compat import InvalidParameterError
from fastmlp._tabular_network import TabularNetClassifier, TabularNetRegressor
from fastmlp._tabular_schedules import decay_factor, lr_factor

pd = pytest.importorskip("pandas")

SMALL = dict(hidden_layer_sizes=(16,), max_iter=8, min_steps=0, batch_size=64)
ESTIMATORS = [TabularMLPClassifier, TabularMLPRegressor]


@parametrize_with_checks([TabularMLPClassifier(), TabularMLPRegressor()],
                         expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _table(n=300, seed=0):
    rng = np.random.RandomState(seed)
    df = pd.DataFrame({
        "x": rng.normal(size=n),
        "x_missing": np.where(rng.rand(n) < 0.2, np.nan, rng.normal(size=n)),
        "color": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
        "city": rng.choice([f"c{i}" for i in range(50)] + [None], n).astype(object),
        "flag": rng.rand(n) < 0.5,
    })
    signal = df["x"].to_numpy() + 2 * (df["color"] == "red").to_numpy() - df["flag"]
    return df, signal


def test_dataframe_with_categories_missing_and_unseen_values():
    df, signal = _table()
    y = np.where(signal > signal.mean(), "hi", "lo")
    clf = TabularMLPClassifier(**{**SMALL, "max_iter": 80}, random_state=0).fit(df, y)
    assert clf.score(df, y) > 0.85
    test = df.head(4).copy()
    test["color"] = pd.Categorical(["purple", None, "red", "blue"])
    test["city"] = ["nowhere", None, "c1", "c2"]
    test["x_missing"] = np.nan
    proba = clf.predict_proba(test)
    assert np.isfinite(proba).all() and proba.shape == (4, 2)
    assert list(clf.feature_names_in_) == list(df.columns)
    reg = TabularMLPRegressor(**SMALL, random_state=0).fit(df, signal)
    assert np.isfinite(reg.predict(test)).all()


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_same_seed_same_model_other_seed_other_model(cls):
    df, signal = _table(200)
    y = signal > 0 if cls is TabularMLPClassifier else signal
    method = "predict_proba" if cls is TabularMLPClassifier else "predict"
    a = getattr(cls(**SMALL, random_state=3).fit(df, y), method)(df)
    b = getattr(cls(**SMALL, random_state=3).fit(df, y), method)(df)
    c = getattr(cls(**SMALL, random_state=4).fit(df, y), method)(df)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("lr_schedule, wd_schedule, drop_schedule", [
    ("multicycle", "flat_cosine", "constant"), ("cosine", "constant", "flat_cosine"),
    ("constant", "flat_cosine", "flat_cosine")])
def test_each_minibatch_runs_at_the_scheduled_rate_decay_and_dropout(
        lr_schedule, wd_schedule, drop_schedule, monkeypatch):
    from fastmlp import _engine

    X = np.random.RandomState(0).normal(size=(64, 3))
    y = X.sum(axis=1)
    seen, history = [], []
    real_epoch = _engine.Problem.epoch

    def epoch(problem, optimizer, order, **kw):  # what the engine is handed
        seen.append((kw["lr"], optimizer.hyper["weight_decay"], kw["step_factors"]))
        return real_epoch(problem, optimizer, order, **kw)

    monkeypatch.setattr(_engine.Problem, "epoch", epoch)
    net = TabularNetRegressor(hidden_layer_sizes=(4,), solver="adamw", max_iter=12,
                              learning_rate_init=0.01, weight_decay=0.3, batch_size=16,
                              dropout=0.2,
                              callbacks=lambda est, h: history.append(h["learning_rate"][-1]),
                              random_state=0)
    net._recipe = {"lr_schedule": lr_schedule, "n_lr_cycles": 3,
                   "weight_decay_schedule": wd_schedule, "dropout_schedule": drop_schedule,
                   "label_smoothing": 0.0}
    net.fit(X, y)
    assert len(seen) == 12
    for epoch_no, (lr, wd, factors) in enumerate(seen):
        assert lr == 0.01 and wd == 0.3  # the bases; the factors do the rest
        assert factors.shape == (4, 3)  # 64 rows, batches of 16
        for b, row in enumerate(factors):
            t = (epoch_no * 4 + b + 0.5) / 48
            assert row[0] == pytest.approx(lr_factor(lr_schedule, t, 3), rel=1e-12)
            assert row[1] == pytest.approx(decay_factor(wd_schedule, t), rel=1e-12)
            assert row[2] == pytest.approx(decay_factor(drop_schedule, t), rel=1e-12)
        # the history records the epoch's mean rate
        assert history[epoch_no] == pytest.approx(0.01 * factors[:, 0].mean(), rel=1e-12)


@pytest.mark.parametrize("best_epoch, n_batches", [(False, 5), (True, 4)])
def test_min_and_max_steps_set_the_epochs_and_the_schedules_span_them(best_epoch, n_batches,
                                                                monkeypatch):
    from fastmlp import _engine

    df, signal = _table(300)  # 300 rows, 240 of them trained on with best_epoch
    seen = []
    real_epoch = _engine.Problem.epoch

    def epoch(problem, optimizer, order, **kw):
        seen.append(kw["step_factors"][:, 0].copy())
        return real_epoch(problem, optimizer, order, **kw)

    monkeypatch.setattr(_engine.Problem, "epoch", epoch)
    kw = dict(hidden_layer_sizes=(8,), max_iter=10, batch_size=64, best_epoch=best_epoch,
              n_ensemble=1, min_steps=0, random_state=0)
    # 11 steps of at most 4 or 5 a epoch: 3 epochs, and the rate's cycles end with them
    reg = TabularMLPRegressor(**kw, max_steps=11).fit(df, signal)
    assert reg.n_iter_ == len(seen) == 3 and all(f.shape == (n_batches,) for f in seen)
    last = (3 * n_batches - 0.5) / (3 * n_batches)
    assert seen[-1][-1] == pytest.approx(lr_factor("multicycle", last, 4), rel=1e-12)
    assert TabularMLPRegressor(**kw, max_steps=1).fit(df, signal).n_iter_ == 1
    # min_steps adds epochs to a small table (13 or 16 here; by default 64
    # or 52), max_steps wins
    more = TabularMLPRegressor(**{**kw, "min_steps": 61}).fit(df, signal)
    assert more.n_iter_ == -(-61 // n_batches) > 10
    assert TabularMLPRegressor(**{**kw, "min_steps": 61}, max_steps=11).fit(
        df, signal).n_iter_ == 3
    default = {k: v for k, v in kw.items() if k != "min_steps"}
    assert TabularMLPRegressor(**default).fit(df, signal).n_iter_ == -(-256 // n_batches)
    # a cap the fit does not reach changes nothing
    pred = TabularMLPRegressor(**kw, max_steps=None).fit(df, signal).predict(df)
    np.testing.assert_array_equal(
        TabularMLPRegressor(**kw, max_steps=10 * n_batches).fit(df, signal).predict(df), pred)


def test_weight_decay_schedule_changes_training():
    X = np.random.RandomState(0).normal(size=(64, 3))
    y = X.sum(axis=1)
    fits = []
    for schedule in ("constant", "flat_cosine"):
        net = TabularNetRegressor(hidden_layer_sizes=(4,), solver="adamw", max_iter=6,
                                  learning_rate_init=0.01, weight_decay=0.5, random_state=0)
        net._recipe = {"weight_decay_schedule": schedule}
        fits.append(net.fit(X, y).coefs_[0].copy())
    # the first half is identical (factor 1), the second half decays less
    assert not np.array_equal(*fits)
    assert np.abs(fits[1]).sum() > np.abs(fits[0]).sum()


@pytest.mark.parametrize("n_classes", [2, 3])
def test_label_smoothing_targets(n_classes):
    X = np.random.RandomState(0).normal(size=(12, 2))
    y = np.arange(12) % n_classes
    net = TabularNetClassifier()
    net._recipe = {"label_smoothing": 0.2}
    _, Y = net._validate_input(X, y, incremental=False, reset=True)
    k = 2 if n_classes == 2 else n_classes
    onehot = (y[:, None] == 1) if n_classes == 2 else (y[:, None] == np.arange(n_classes))
    np.testing.assert_allclose(Y, 0.8 * onehot + 0.2 / k)


def test_label_smoothing_bounds_the_confidence():
    # on separable data the smoothed log-loss is minimized at p = 1 - eps/2
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 2))
    y = X[:, 0] > 0
    kw = dict(hidden_layer_sizes=(16,), max_iter=150, batch_size=32, learning_rate_init=0.01,
              lr_schedule="constant", dropout=0.0, weight_decay=0.0, best_epoch=False,
              random_state=0)
    far = np.abs(X[:, 0]) > 0.5  # away from the class boundary
    rows = np.arange(200)[far], y[far].astype(int)

    def p_true(eps):
        clf = TabularMLPClassifier(label_smoothing=eps, **kw).fit(X, y)
        return clf.predict_proba(X)[rows], clf.network_.loss_curve_[-1]

    smooth, smooth_loss = p_true(0.4)
    sharp, _ = p_true(0.0)
    assert abs(smooth.mean() - 0.8) < 0.05 and smooth.max() < 0.9
    assert sharp.min() > 0.99
    # and the training loss is the smoothed one: at least its minimum,
    # -(0.8 log 0.8 + 0.2 log 0.2) = 0.5004, reached at p = 0.8
    assert 0.5004 <= smooth_loss < 0.56


def test_regression_target_is_standardized_and_clipped():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(150, 3))
    y = X[:, 0] + 0.5 * X[:, 1] ** 2
    kw = dict(SMALL, random_state=0, n_ensemble=1)  # one network, looked inside below
    reg = TabularMLPRegressor(**kw).fit(X, y)
    np.testing.assert_allclose(reg.y_mean_, [y.mean()])
    np.testing.assert_allclose(reg.y_scale_, [y.std()])
    # the same network, trained on the same standardized numbers, for an
    # affinely moved target (up to float rounding of the standardization)
    moved = TabularMLPRegressor(**kw).fit(X, 1e4 + 300 * y)
    np.testing.assert_allclose(moved.predict(X), 1e4 + 300 * reg.predict(X),
                               rtol=0, atol=300 * 1e-3)
    far = rng.normal(size=(50, 3)) * 100
    pred = reg.predict(far)
    assert pred.min() >= y.min() and pred.max() <= y.max()
    raw = TabularMLPRegressor(**kw, clip_output=False).fit(X, y)
    expected = raw.network_.predict(raw._input_of(raw._columns(far))) * raw.y_scale_ + raw.y_mean_
    np.testing.assert_allclose(raw.predict(far), expected, rtol=1e-12)
    off = TabularMLPRegressor(**kw, standardize_target=False).fit(X, y)
    np.testing.assert_array_equal(off.y_mean_, [0.0])
    np.testing.assert_array_equal(off.y_scale_, [1.0])




def test_targets_past_float32_without_standardization_say_so():
    # the networks train in float32: y of 1e39 became inf there, and the
    # fit ended with "Training diverged ... Lower learning_rate_init"
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 2))
    y = 1e39 * (1 + 0.1 * X[:, 0])
    kw = dict(SMALL, random_state=0, n_ensemble=1)
    with pytest.raises(ValueError, match="past float32's range.*standardize_target=True"):
        TabularMLPRegressor(**kw, standardize_target=False).fit(X, y)
    assert np.isfinite(TabularMLPRegressor(**kw).fit(X, y).predict(X)).all()
    # a row of weight 0 is never trained on: its sentinel target past float32
    # is no error, nor NumPy's cast overflow warning
    w = np.ones(40)
    w[0] = 0
    y = X[:, 0].copy()
    y[0] = 1e300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TabularMLPRegressor(**kw, standardize_target=False).fit(X, y, sample_weight=w)


def test_a_two_column_target_gives_the_same_bits_in_any_memory_order():
    # NumPy summed a C-order target's columns row by row and an F-order
    # one's (or a DataFrame's) pairwise: y_scale_ 2.2862296600484484
    # against 2.286229660048448, predictions 1e-15 apart
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2))
    y = np.round((2 * X[:, 0] + X[:, 1]) * 64) / 64
    Y = np.column_stack([y, 1 - y])
    fits = [TabularMLPRegressor(**SMALL, random_state=0, n_ensemble=1).fit(X, Yv)
            for Yv in (Y, np.asfortranarray(Y), pd.DataFrame(Y), Y[:, :1])]
    for fit in fits[1:3]:
        np.testing.assert_array_equal(fit.y_scale_, fits[0].y_scale_)
        np.testing.assert_array_equal(fit.y_mean_, fits[0].y_mean_)
        np.testing.assert_array_equal(fit.predict(X), fits[0].predict(X))
    # and each column's as a one-column target's
    np.testing.assert_array_equal(fits[3].y_scale_, fits[0].y_scale_[:1])


def test_two_column_regression_target():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(100, 3))
    Y = np.column_stack([X[:, 0], 100 * X[:, 1]])
    pred = TabularMLPRegressor(**SMALL, random_state=0).fit(X, Y).predict(X)
    assert pred.shape == (100, 2)


def test_best_epoch_is_the_latest_best_validation_score(monkeypatch):
    # the weights kept are those after the LATEST epoch of the best held-out
    # accuracy (RealMLP's use_last_best_epoch; scikit-learn keeps the first)
    import fastmlp._tabular as tab

    weights = []   # each epoch's flat parameters, recorded at its end
    stops_on = tab._stops_on

    def recording(event, net):
        saved = stops_on(event, net)
        net.set_params(callbacks=[lambda est, history: weights.append(est._params.copy())]
                       + list(net.callbacks))
        return saved

    monkeypatch.setattr(tab, "_stops_on", recording)
    df, signal = _table(300)
    clf = TabularMLPClassifier(**{**SMALL, "max_iter": 20}, n_ensemble=1,
                               random_state=0).fit(df, signal > 0)
    scores = np.asarray(clf.validation_scores_)
    assert len(scores) == clf.n_iter_ == len(weights) == 20
    best = np.flatnonzero(scores == scores.max())
    assert best.shape[0] > 1            # the case in point: tied best epochs
    assert clf.best_epoch_ == best[-1] + 1
    assert clf.network_.best_validation_score_ == scores.max()
    np.testing.assert_array_equal(clf.network_._params, weights[best[-1]])
    # with best_epoch off (or too few rows) every row trains, the last epoch stays
    for est in (TabularMLPClassifier(**SMALL, best_epoch=False, random_state=0).fit(
                    df, signal > 0),
                TabularMLPClassifier(**SMALL, random_state=0).fit(df.head(12),
                                                                  (signal > 0)[:12])):
        assert est.validation_scores_ is None and est.best_epoch_ == est.n_iter_


def test_classifier_validation_is_one_forward_pass_and_the_same_model(monkeypatch):
    # the members choose their best epoch on accuracy: computing the held-out
    # loss as well (a second forward pass a epoch) changes nothing
    df, signal = _table(300)
    y = np.where(signal > signal.mean(), "hi", "lo")
    kw = dict(SMALL, n_ensemble=1, random_state=0)
    calls = []
    real = TabularNetClassifier._validation_loss_fn

    def counted(self, *args):
        calls.append(1)
        return real(self, *args)

    monkeypatch.setattr(TabularNetClassifier, "_validation_loss_fn", counted)
    clf = TabularMLPClassifier(**kw).fit(df, y)
    assert not calls and clf.network_.validation_loss_curve_ is None
    assert len(clf.validation_scores_) == clf.n_iter_
    monkeypatch.setattr(TabularNetClassifier, "_records_validation_loss", True)
    both = TabularMLPClassifier(**kw).fit(df, y)
    assert calls and len(both.network_.validation_loss_curve_) == both.n_iter_
    np.testing.assert_array_equal(both.validation_scores_, clf.validation_scores_)
    np.testing.assert_array_equal(both.predict_proba(df), clf.predict_proba(df))


@pytest.mark.parametrize("labels", [("hi", "lo", "mid"), (0, 1, 2), (False, True)])
def test_member_validation_score_is_accuracy_score(labels):
    # a member scores its held-out rows each epoch without accuracy_score's
    # checks: the same value, and the same scores and model as with it
    from sklearn.metrics import accuracy_score

    df, signal = _table(300)
    y = np.asarray(labels, dtype=object if isinstance(labels[0], str) else None)[
        np.digitize(signal, np.quantile(signal, np.linspace(0, 1, len(labels) + 1)[1:-1]))]
    clf = TabularMLPClassifier(**dict(SMALL, n_ensemble=1, max_iter=6, max_one_hot=None),
                               random_state=0).fit(df, y)   # no codes: any X
    net = clf.network_
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, net.n_features_in_))
    y_val = y[rng.randint(0, len(y), 50)]
    assert net._score(X, y_val) == accuracy_score(y_val, net.predict(X))
    w = rng.uniform(0.5, 2, 50)
    assert net._score(X, y_val, w) == accuracy_score(y_val, net.predict(X), sample_weight=w)


def test_rare_class_is_trained_on_not_only_held_out():
    X = np.random.RandomState(0).normal(size=(60, 2))
    y = np.r_[np.zeros(59, int), 1]  # one row of class 1: no stratified split
    clf = TabularMLPClassifier(**SMALL, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, [0, 1])


def test_clone_pipeline_and_grid_search():
    df, signal = _table(160)
    y = signal > 0
    est = TabularMLPClassifier(**SMALL, random_state=0)
    assert clone(est).get_params() == est.get_params()
    pipe = make_pipeline(est).fit(df, y)
    assert pipe.predict(df).shape == (160,)
    grid = GridSearchCV(TabularMLPClassifier(**SMALL, random_state=0),
                        {"label_smoothing": [0.0, 0.1], "smooth_clip": [True, False]},
                        cv=2).fit(df, y)
    assert set(grid.best_params_) == {"label_smoothing", "smooth_clip"}


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_pickle_and_skops_round_trip(cls):
    df, signal = _table(100)
    y = signal > 0 if cls is TabularMLPClassifier else signal
    est = cls(**SMALL, random_state=0).fit(df, y)
    expected = est.predict(df)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict(df), expected)
    sio = pytest.importorskip("skops.io")
    data = sio.dumps(est)
    untrusted = sio.get_untrusted_types(data=data)
    assert all(t.startswith("fastmlp.") for t in untrusted), untrusted
    np.testing.assert_array_equal(sio.loads(data, trusted=untrusted).predict(df), expected)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_errors(cls):
    X = np.random.RandomState(0).normal(size=(30, 2))
    y = np.arange(30) % 2
    with pytest.raises(ValueError, match="requires y"):
        cls(**SMALL).fit(X, None)
    with pytest.raises(InvalidParameterError):
        cls(lr_schedule="linear").fit(X, y)
    with pytest.raises(InvalidParameterError):
        cls(dropout=1.0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="max_steps"):
        cls(max_steps=0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="min_steps"):
        cls(min_steps=-1).fit(X, y)
    fitted = cls(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :1])
    if cls is TabularMLPRegressor:
        with pytest.raises(ValueError):
            cls(**SMALL).fit(X, np.array(["a", "b"] * 15, dtype=object))
    else:
        with pytest.raises(ValueError, match="Unknown label type"):
            cls(**SMALL).fit(X, np.linspace(0, 1, 30))


def _parameter_names(cls):
    lines = inspect.getdoc(cls).splitlines()
    start = lines.index("Parameters") + 2
    end = lines.index("Attributes")
    return [line.split(" : ")[0] for line in lines[start:end] if line and not line[0].isspace()]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_docstring_documents_the_signature_and_its_defaults(cls):
    params = inspect.signature(cls).parameters
    assert _parameter_names(cls) == list(params)
    doc = inspect.getdoc(cls)
    for name, p in params.items():
        header = next(line for line in doc.splitlines() if line.startswith(name + " : "))
        assert f"default={p.default!r}" in header.replace('"', "'"), header


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_examples_run(cls):
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for test in finder.find(cls, cls.__name__, globs={}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0


def test_data_dependent_biases_formula():
    from fastmlp._tabular_network import data_dependent_biases

    rng = np.random.RandomState(0)
    W, rows = rng.normal(size=(5, 3)), rng.normal(size=(3, 5))
    b = data_dependent_biases(W, rows)
    for k in range(3):
        assert rows[k] @ W[:, k] + b[k] == pytest.approx(0, abs=1e-12)
    with pytest.raises(ValueError, match="shape"):
        data_dependent_biases(W, rows[:2])


@pytest.mark.parametrize("data_init", [True, False])
def test_each_first_layer_unit_bends_at_a_training_row(data_init):
    df, signal = _table(120)
    # a near-zero rate: the weights after one epoch are the initial ones
    reg = TabularMLPRegressor(hidden_layer_sizes=(24, 8), max_iter=1, learning_rate_init=1e-12,
                              weight_decay=0.0, dropout=0.0, data_init=data_init,
                              random_state=0).fit(df, signal)
    # the network's input: the city column (50 categories) is embedded
    from fastmlp._tabular_network import embed_codes

    from fastmlp._tabular import _network_input

    net = reg.network_
    assert len(net.embeddings_) == 1
    # with the cosines, which predict leaves to the engine to compute
    Xt = _network_input(reg.preprocessor_, reg.preprocessor_._transform_columns(
        reg._columns(df)), net._periodic, reg.embedding_dim).astype(np.float64)
    Xt = embed_codes(Xt, net._layout().embedding_col, net.embeddings_)
    Z = Xt @ net.coefs_[0] + net.intercepts_[0]
    at_a_row = np.abs(Z).min(axis=0) < 1e-5
    assert at_a_row.all() if data_init else not at_a_row.any()


@pytest.mark.parametrize("scaling", ["quantile", "robust"])
def test_numeric_scaling_reaches_the_preprocessor(scaling):
    from fastmlp._tabular_preprocessing import quantile_normal

    df, signal = _table(150)
    reg = TabularMLPRegressor(**SMALL, numeric_scaling=scaling, random_state=0).fit(df, signal)
    pre = reg.preprocessor_
    assert pre.numeric_scaling == scaling
    z = pre.transform(df)[:, 0].astype(np.float64)
    if scaling == "quantile":
        np.testing.assert_allclose(z, quantile_normal(df["x"].to_numpy(), pre.quantiles_[0]),
                                   rtol=1e-6, atol=1e-6)
    else:
        assert pre.quantiles_ == []
        assert np.abs(z).max() < 3  # smoothly clipped
    assert TabularMLPRegressor().numeric_scaling == "quantile"


@pytest.mark.parametrize("sizes", [(), (0,), (8, -1)])
def test_no_hidden_layer_is_refused_naming_what_was_given(sizes):
    # the message showed a list for a tuple ('got []' for ()), and not why
    X, y = np.random.RandomState(0).normal(size=(40, 2)), np.arange(40) % 2
    with pytest.raises(ValueError, match=re.escape(
            f"one or more positive ints (the tabular networks have at least one hidden "
            f"layer), got {sizes!r}.")):
        TabularMLPClassifier(hidden_layer_sizes=sizes).fit(X, y)
