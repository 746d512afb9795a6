"""The scikit-learn API of fastmlp's training options: every new parameter is
in ``get_params``, invalid values raise ``InvalidParameterError``, and
the options survive ``GridSearchCV``, ``clone`` and pickle; the cached
training layout is keyed by every option.
"""
import pickle

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from fastmlp import MLPClassifier, MLPRegressor

from _option_helpers import (
    _multiclass,
    _regression,
    _flat,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


NEW_PARAMS = (
    "rho", "weight_decay", "alpha_l1", "grad_clip_norm", "grad_clip_value",
    "warmup_epochs", "lr_decay", "lr_step_size", "lr_min", "dropout",
    "input_dropout", "max_norm", "scoring", "max_time", "callbacks",
)


def test_new_parameters_in_get_params():
    clf = MLPClassifier().get_params()
    reg = MLPRegressor().get_params()
    for name in NEW_PARAMS:
        assert name in clf and name in reg, name
    assert "class_weight" in clf and "class_weight" not in reg
    assert "huber_delta" in reg and "huber_delta" not in clf


@pytest.mark.parametrize("Est,params", [
    (MLPClassifier, {"dropout": 1.0}),
    (MLPClassifier, {"dropout": -0.1}),
    (MLPClassifier, {"input_dropout": -0.1}),
    (MLPClassifier, {"input_dropout": 1.0}),
    (MLPClassifier, {"max_norm": 0}),
    (MLPClassifier, {"weight_decay": -1}),
    (MLPClassifier, {"lr_decay": 0}),
    (MLPClassifier, {"lr_decay": 1.5}),
    (MLPClassifier, {"warmup_epochs": -1}),
    (MLPClassifier, {"warmup_epochs": 1.5}),
    (MLPClassifier, {"lr_step_size": 0}),
    (MLPClassifier, {"lr_min": -1e-3}),
    (MLPClassifier, {"grad_clip_value": 0}),
    (MLPClassifier, {"grad_clip_norm": 0}),
    (MLPClassifier, {"alpha_l1": -0.1}),
    (MLPClassifier, {"rho": 1.0}),
    (MLPClassifier, {"max_time": 0}),
    (MLPClassifier, {"class_weight": "auto"}),
    (MLPClassifier, {"learning_rate": "linear"}),
    (MLPClassifier, {"solver": "adamax"}),
    (MLPRegressor, {"huber_delta": 0}),
    (MLPRegressor, {"loss": "hinge"}),
    (MLPRegressor, {"learning_rate": "linear"}),
])
def test_invalid_values_raise_invalid_parameter_error(Est, params):
    X, y = _multiclass() if Est is MLPClassifier else _regression()
    with pytest.raises(InvalidParameterError):
        Est(hidden_layer_sizes=(3,), max_iter=2, **params).fit(X, y)


def test_grid_search_over_new_options():
    X, y = _multiclass(n=60)
    grid = GridSearchCV(
        MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0),
        {"dropout": [0.0, 0.2], "solver": ["adamw", "adagrad"],
         "activation": ["gelu", "silu"]},
        cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 8
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_estimator_.solver in ("adamw", "adagrad")


def test_clone_and_pickle_keep_new_options():
    X, y = _multiclass()
    params = dict(hidden_layer_sizes=(5, 4), solver="adamw", weight_decay=0.05,
                  activation=["gelu", "elu"], dropout=[0.1, 0.2], input_dropout=0.05,
                  max_norm=2.0, grad_clip_norm=5.0, grad_clip_value=1.0,
                  learning_rate="cosine", warmup_epochs=2, lr_min=1e-4, alpha_l1=1e-3,
                  class_weight="balanced", scoring="loss", max_time=100.0,
                  callbacks=None, max_iter=6, random_state=0)
    est = MLPClassifier(**params)
    c = clone(est)
    for k, v in params.items():
        assert c.get_params()[k] == v, k
    est.fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    assert loaded.get_params() == est.get_params()
    # the loaded model keeps training exactly as the original
    est.set_params(warm_start=True, max_iter=2)
    loaded.set_params(warm_start=True, max_iter=2)
    est.fit(X, y)
    loaded.fit(X, y)
    assert_array_equal(_flat(loaded), _flat(est))
    reg = MLPRegressor(loss="huber", huber_delta=0.5, hidden_layer_sizes=(4,), max_iter=3,
                       random_state=0)
    assert clone(reg).get_params()["huber_delta"] == 0.5


@pytest.mark.parametrize(
    "option", [{"dropout": 0.3}, {"input_dropout": 0.2}, {"max_norm": 0.5}]
)
def test_cached_training_layout_is_keyed_by_every_option(option):
    """Layouts are cached; a fit after one with another option must get its
    own layout, so it trains exactly as it does with an empty cache."""
    from fastmlp import _engine

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] > 0).astype(int)
    params = dict(hidden_layer_sizes=(7,), max_iter=3, batch_size=16, random_state=0)
    _engine.layout_for.cache_clear()
    MLPClassifier(**params, **option).fit(X, y)
    after_other = MLPClassifier(**params).fit(X, y)
    _engine.layout_for.cache_clear()
    fresh = MLPClassifier(**params).fit(X, y)
    for a, b in zip(after_other.coefs_ + after_other.intercepts_, fresh.coefs_ + fresh.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", ["yes", 2, None])
def test_progress_must_be_a_bool(bad):
    X, y = _multiclass()
    with pytest.raises(InvalidParameterError, match="The 'progress' parameter"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, progress=bad).fit(X, y)
