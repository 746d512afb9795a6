"""Temperature scaling of the tabular classifier's probabilities
(fastmlp/_temperature.py).  Oracles: a NumPy grid search of the held-out log
loss, the sigmoid of the scaled logit for two classes, and the estimator's
own members' probabilities."""
import numpy as np
import pytest
from sklearn.metrics import log_loss

from fastmlp import TabularMLPClassifier
from fastmlp._temperature import TEMPERATURE_RANGE, fit_temperature, temper


def _nll(proba, codes, w, temperature):
    p = temper(proba, temperature)
    return float(np.average(-np.log(p[np.arange(len(codes)), codes]), weights=w))


def _overconfident(n=400, k=3, seed=0):
    """Probabilities sharper than the classes they were drawn for."""
    rng = np.random.RandomState(seed)
    logits = rng.normal(scale=2.0, size=(n, k))
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    codes = np.array([rng.choice(k, p=row) for row in true])
    sharp = np.exp(3 * logits)
    return sharp / sharp.sum(axis=1, keepdims=True), codes


@pytest.mark.parametrize("weighted", [False, True])
def test_the_temperature_minimizes_the_held_out_log_loss(weighted):
    proba, codes = _overconfident()
    w = np.random.RandomState(1).uniform(0.5, 2.0, size=codes.shape[0]) if weighted else None
    t = fit_temperature(proba, codes, w)
    grid = np.exp(np.linspace(np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1]), 2001))
    losses = [_nll(proba, codes, w, g) for g in grid]
    assert _nll(proba, codes, w, t) <= min(losses) + 1e-9
    assert abs(t - grid[int(np.argmin(losses))]) < 0.01 * t
    assert 2.0 < t < 4.0   # the logits were made 3x too sharp


def test_tempering_keeps_each_rows_class_and_two_classes_are_a_scaled_logit():
    proba, _ = _overconfident(k=4)
    for t in (0.3, 1.7):
        out = temper(proba, t)
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_array_equal(out.argmax(axis=1), proba.argmax(axis=1))
    p = np.array([0.01, 0.3, 0.5, 0.9, 0.999])
    logit = np.log(p) - np.log1p(-p)
    np.testing.assert_allclose(temper(np.c_[1 - p, p], 2.5)[:, 1],
                               1 / (1 + np.exp(-logit / 2.5)), rtol=1e-12)
    np.testing.assert_array_equal(temper(proba, 1.0), proba)


def test_a_held_out_split_without_errors_stops_at_the_range():
    # the log loss falls for ever as T shrinks: the search's bound holds it
    p = np.array([[0.9, 0.1], [0.2, 0.8]] * 20)
    codes = np.array([0, 1] * 20)
    assert fit_temperature(p, codes) == pytest.approx(TEMPERATURE_RANGE[0], rel=1e-4)
    assert fit_temperature(p[:0], codes[:0]) == 1.0


def _rare_class(n=3000, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5))
    y = np.zeros(n, dtype=int)
    y[: n // 100] = 1
    X[: n // 100, 0] += 3.0
    order = rng.permutation(n)
    return X[order], y[order]


def test_the_classifier_averages_its_members_tempered_probabilities():
    X, y = _rare_class()
    clf = TabularMLPClassifier(max_iter=4, min_steps=0, random_state=0).fit(X, y)
    assert clf.temperatures_.shape == (2,) and (clf.temperatures_ != 1.0).all()
    Xt = clf._input_of(clf._columns(X))
    expected = np.mean([temper(net.predict_proba(Xt), t)
                        for net, t in zip(clf.networks_, clf.temperatures_)], axis=0)
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[clf.predict_proba(X).argmax(1)])


def test_label_smoothings_floor_on_a_rare_class_is_undone():
    # with label smoothing 0.1 no row's probability of a 1% class fell
    # below ~0.04: the log loss was worse than predicting the frequency
    X, y = _rare_class(5000)
    train, test = slice(0, 3500), slice(3500, None)
    fitted = {ts: TabularMLPClassifier(temperature_scaling=ts, random_state=0).fit(X[train],
                                                                                 y[train])
              for ts in (False, True)}
    loss = {ts: log_loss(y[test], m.predict_proba(X[test])) for ts, m in fitted.items()}
    prior = log_loss(y[test], np.tile(np.bincount(y[train]) / 3500, (1500, 1)))
    assert loss[True] < min(loss[False], prior)
    assert fitted[False].predict_proba(X[test])[:, 1].min() > 0.03
    assert fitted[True].predict_proba(X[test])[:, 1].min() < 0.01
    np.testing.assert_array_equal(fitted[True].predict(X[test]), fitted[False].predict(X[test]))


def test_without_it_or_without_held_out_rows_the_probabilities_are_the_networks():
    X, y = _rare_class(600)
    off = TabularMLPClassifier(max_iter=3, min_steps=0, temperature_scaling=False,
                               random_state=0).fit(X, y)
    assert (off.temperatures_ == 1.0).all()
    Xt = off._input_of(off._columns(X))
    np.testing.assert_array_equal(
        off.predict_proba(X), (off.networks_[0].predict_proba(Xt).astype(np.float64)
                               + off.networks_[1].predict_proba(Xt)) / 2)
    no_split = TabularMLPClassifier(max_iter=3, min_steps=0, best_epoch=False,
                                    random_state=0).fit(X, y)
    assert (no_split.temperatures_ == 1.0).all()


def test_held_out_rows_without_every_class_keep_the_networks_probabilities():
    # a rare class absent from a member's held-out rows drove its temperature
    # to the floor: the class's probabilities fell to ~1e-14, and the log
    # loss on new rows was 3.5x the untempered one
    p = np.array([[0.9, 0.1], [0.8, 0.2]] * 20)
    assert fit_temperature(p, np.zeros(40, dtype=int)) == 1.0
    proba, codes = _overconfident(k=3)
    assert fit_temperature(proba[codes != 2], codes[codes != 2]) == 1.0
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 3))
    y = np.zeros(600, dtype=int)
    y[:2] = 1          # two rows: at most one member's held-out rows see one
    X[:2, 0] += 4
    clf = TabularMLPClassifier(max_iter=3, min_steps=0, random_state=0).fit(X, y)
    assert (clf.temperatures_ == 1.0).any() and (clf.temperatures_ > 0.1).all()
    one = TabularMLPClassifier(max_iter=2, min_steps=0, random_state=0).fit(X, np.ones(600))
    assert (one.temperatures_ == 1.0).all()


def test_a_model_pickled_before_temperature_scaling_reads_as_without_it():
    import pickle

    from sklearn.base import clone

    X, y = _rare_class(600)
    clf = TabularMLPClassifier(max_iter=2, min_steps=0, temperature_scaling=False,
                               random_state=0).fit(X, y)
    state = clf.__getstate__()
    del state["temperature_scaling"], state["temperatures_"]
    old = TabularMLPClassifier.__new__(TabularMLPClassifier)
    old.__setstate__(state)
    assert old.get_params()["temperature_scaling"] is False
    np.testing.assert_array_equal(old.predict_proba(X), clf.predict_proba(X))
    assert "temperature_scaling=False" in repr(old) and clone(old).temperature_scaling is False
    pickle.loads(pickle.dumps(old))


def test_the_temperatures_repeat_bit_for_bit():
    # each member fitted its temperature in its own thread right after its
    # training, while the other member could still be training: its predict
    # then got one thread or two by timing, and the temperatures (so the
    # probabilities) changed in their last bits from fit to fit
    X, y = _rare_class(700, seed=3)
    fits = [TabularMLPClassifier(max_iter=3, min_steps=0, learn_periodic=False,
                                 random_state=5).fit(X, y) for _ in range(4)]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.temperatures_, fits[0].temperatures_)
        np.testing.assert_array_equal(other.predict_proba(X), fits[0].predict_proba(X))
