"""Parametric activations (``Layout(parametric=True)``, the tabular
estimators' ``parametric_activation``): the kernel against its formula, the
engine's refusals, and the fitted ``activation_weights_`` as views that are
checked, used and kept.  The engine against the NumPy reference and finite
differences: tests/test_reference_parametric.py."""
import pickle

import numpy as np
import pytest
from scipy.special import expit, ndtr

from fastmlp import TabularMLPClassifier, TabularMLPRegressor, _activations, _engine, _network
from fastmlp._engine import HIDDEN_ACTIVATIONS
from fastmlp._sklearn_compat import InvalidParameterError


def _silu(z):
    return z * expit(z), expit(z) * (1 + z * (1 - expit(z)))


def _gelu(z):
    return z * ndtr(z), ndtr(z) + z * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act, fn", [("silu", _silu), ("gelu", _gelu)])
@pytest.mark.parametrize("masked", [False, True])
def test_backward_kernel_is_its_formula(act, fn, masked, dtype):
    rng = np.random.RandomState(0)
    z = rng.normal(scale=4, size=(7, 37)).astype(dtype)
    z[0, :4] = [-200, 200, 0, -30]  # exp's ends
    d = rng.normal(size=z.shape).astype(dtype)
    alpha = rng.uniform(-0.5, 1.5, z.shape[1]).astype(dtype)
    mask = (rng.rand(*z.shape) < 0.7).astype(dtype) / dtype(0.7) if masked else None
    if masked:  # a dropped unit's delta is exactly 0, whatever came from above
        d[1, :3] = [np.inf, -np.inf, np.nan]
        mask[1, :3] = 0
    g, dg = fn(z.astype(np.float64))
    with np.errstate(invalid="ignore"):
        e = d.astype(np.float64) * (1 if mask is None else mask)
        want_d = e * (1 - alpha + alpha * dg)
        want_t = e * (g - z)
    if masked:
        want_d[mask == 0] = 0
        want_t[mask == 0] = 0
    zpre, got_d = z.copy(), d.copy()
    _activations.param_act_backward(zpre, mask, alpha, got_d, HIDDEN_ACTIVATIONS[act])
    tol = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got_d, want_d, rtol=tol, atol=tol)
    np.testing.assert_allclose(zpre, want_t, rtol=tol, atol=tol)
    if masked:
        assert (got_d[mask == 0] == 0).all() and (zpre[mask == 0] == 0).all()


def test_backward_kernel_checks_its_arguments():
    z, d, a = np.zeros((2, 3)), np.zeros((2, 3)), np.ones(3)
    with pytest.raises(ValueError, match="gelu or silu"):
        _activations.param_act_backward(z, None, a, d, HIDDEN_ACTIVATIONS["relu"])
    with pytest.raises(ValueError, match="one entry per column"):
        _activations.param_act_backward(z, None, np.ones(2), d, HIDDEN_ACTIVATIONS["silu"])
    with pytest.raises(ValueError, match="mask"):
        _activations.param_act_backward(z, np.zeros((1, 3)), a, d, HIDDEN_ACTIVATIONS["silu"])


def test_layout_places_the_alphas_last_and_refuses_other_activations():
    lay = _engine.Layout((5, 4, 3, 2), 8, "silu", "identity", periodic=(2, 1),
                         input_scale=True, parametric=True, parametric_lr=0.5)
    plain = _engine.Layout((5, 4, 3, 2), 8, "silu", "identity", periodic=(2, 1),
                           input_scale=True)
    assert lay.parametric_off == plain.n_params and lay.n_params == plain.n_params + 7
    assert lay.parametric_lr == 0.5
    with pytest.raises(ValueError, match="need 'silu' or 'gelu'.*got 'tanh'"):
        _engine.Layout((5, 4, 3, 2), 8, ("silu", "tanh"), "identity", parametric=True)
    with pytest.raises(ValueError, match="parametric_lr"):
        _engine.Layout((5, 4, 2), 8, "silu", "identity", parametric=True, parametric_lr=0)


def test_batch_size_one_never_takes_the_online_step():
    tuning = dict(online_split=True, online_min_coefs=0, online_min_samples=1)
    for parametric in (False, True):
        lay = _engine.Layout((6, 8, 3), 1, "silu", "softmax", parametric=parametric)
        team = _network.online_threads(lay, 1, 100, True, 0.0, 2, tuning=tuning)
        assert team == (1 if parametric else 2)


def _data(n=400, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    return X, np.sin(2 * X[:, 0]) + X[:, 1] ** 2


SMALL = dict(hidden_layer_sizes=(24, 12), max_iter=12, batch_size=64, random_state=0)


def test_alphas_are_learned_views_used_by_predict():
    X, y = _data()
    reg = TabularMLPRegressor(**SMALL, parametric_activation=True).fit(X, y)
    net = reg.network_
    alphas = net.activation_weights_
    assert [a.shape for a in alphas] == [(24,), (12,)]
    assert all(np.shares_memory(a, net._params) for a in alphas)
    assert all(np.abs(a - 1).max() > 1e-3 for a in alphas)  # they moved from 1
    # predict is the hand-written network with them
    Xt = reg.preprocessor_.transform(X).astype(np.float64)
    if net.periodic_frequencies_ is not None:
        n_num, k = net.periodic_frequencies_.shape
        z = Xt[:, :n_num]
        theta = z[:, :, None] * net.periodic_frequencies_ + net.periodic_phases_
        Xt[:, Xt.shape[1] - n_num * k:] = np.cos(theta).reshape(len(X), -1)
    A = Xt
    for W, b, a in zip(net.coefs_[:-1], net.intercepts_[:-1], alphas):
        Z = A @ W + b
        A = Z + a * (_silu(Z)[0] - Z)
    out = (A @ net.coefs_[-1] + net.intercepts_[-1]).ravel()
    np.testing.assert_allclose(net.predict(Xt), out, rtol=1e-5, atol=1e-6)


def test_replaced_alphas_are_checked_and_used():
    X, y = _data()
    reg = TabularMLPRegressor(**SMALL, parametric_activation=True).fit(X, y)
    before = reg.predict(X)
    reg.network_.activation_weights_ = [np.zeros(24), np.zeros(12)]  # identity layers
    linear = reg.predict(X)
    assert not np.allclose(linear, before)
    reg.network_.activation_weights_ = [np.zeros(24)]
    with pytest.raises(ValueError, match="list of 2 arrays, one per hidden layer; got list of 1"):
        reg.predict(X)
    reg.network_.activation_weights_ = [np.zeros(24), np.zeros(11)]
    with pytest.raises(ValueError, match=r"activation_weights_\[1\] must be a real array of "
                                         r"shape \(12,\)"):
        reg.predict(X)


@pytest.mark.parametrize("cls", [TabularMLPClassifier, TabularMLPRegressor])
def test_same_seed_same_model_pickle_and_skops(cls):
    X, y = _data(300)
    y = y > np.median(y) if cls is TabularMLPClassifier else y
    a = cls(**SMALL, parametric_activation=True, activation="gelu").fit(X, y)
    b = cls(**SMALL, parametric_activation=True, activation="gelu").fit(X, y)
    np.testing.assert_array_equal(a.network_._params, b.network_._params)
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(c.predict(X), a.predict(X))
    for x, y_ in zip(c.network_.activation_weights_, a.network_.activation_weights_):
        np.testing.assert_array_equal(x, y_)
    sio = pytest.importorskip("skops.io")
    data = sio.dumps(a)
    untrusted = sio.get_untrusted_types(data=data)
    assert all(t.startswith("fastmlp.") for t in untrusted), untrusted
    np.testing.assert_array_equal(sio.loads(data, trusted=untrusted).predict(X), a.predict(X))


def test_the_rate_factor_scales_how_far_the_alphas_move():
    X, y = _data()
    moves = []
    for factor in (0.1, 10.0):
        reg = TabularMLPRegressor(**SMALL, parametric_activation=True,
                                  parametric_activation_lr=factor).fit(X, y)
        moves.append(np.abs(reg.network_.activation_weights_[0] - 1).mean())
    assert moves[1] > 5 * moves[0]


def test_parameters_are_checked_and_onnx_refuses():
    from fastmlp import to_onnx

    X, y = _data(100)
    with pytest.raises(InvalidParameterError, match="parametric_activation_lr"):
        TabularMLPRegressor(parametric_activation=True, parametric_activation_lr=0).fit(X, y)
    with pytest.raises(ValueError, match="need 'silu' or 'gelu'.*'relu'"):
        TabularMLPRegressor(**SMALL, parametric_activation=True, activation="relu").fit(X, y)
    reg = TabularMLPRegressor(**{**SMALL, "max_iter": 2}, n_periodic=0,
                              parametric_activation=True).fit(X, y)
    with pytest.raises(ValueError, match="parametric activations"):
        to_onnx(reg.network_)
