"""The NumPy reference keeps the engine's signatures, and this file keeps it so.

``fastmlp._reference.Problem`` is the oracle of ``fastmlp._engine.Problem``
(as thinc's ``ops.py`` is of ``numpy_ops.pyx``): the same constructor and
methods, so that a test makes the same calls on both and compares.  A
public method added to, removed from or changed in either class fails here
until the other follows.  The same holds for the layout (the reference's
``Layout`` builds what the engine's holds, from the same arguments), for
the part of the optimizer a step reads, and for the codes by which a layout
names activations, losses and solvers.  Both also refuse the same bad
inputs.
"""
import inspect

import numpy as np
import pytest
import scipy.sparse as sp

from fastmlp import _engine
from fastmlp import _reference as ref
from fastmlp._stochastic_optimizers import StochasticOptimizer

# the engine optimizer's methods that are the estimator's learning-rate
# schedule and persistence, not part of a step: the reference leaves them out
OPTIMIZER_ENGINE_ONLY = {"iteration_ends", "trigger_stopping", "set_learning_rate_init",
                         "writable", "fits", "to_state", "from_state"}
# ...and what the reference's optimizer adds (to copy the engine's state)
OPTIMIZER_REFERENCE_ONLY = {"copy_of"}
# the engine Problem's buffers, which the reference has no use for (pace:
# the team-or-one-thread choices, _pacing.pxd)
PROBLEM_ENGINE_ONLY_ATTRIBUTES = {"work", "scratch", "all_rows", "pace", "epoch_team"}
PROBLEM_ENGINE_ONLY_METHODS = {"pace_report"}


def _public(cls):
    """``__init__`` and the public methods and properties a class defines."""
    def wanted(name, member):
        if name.startswith("_") and name != "__init__":
            return False
        return inspect.isfunction(member) or isinstance(
            member, (property, classmethod, staticmethod))

    return {name: member for name, member in vars(cls).items() if wanted(name, member)}


def _assert_same_member(engine_cls, ref_cls, name):
    mine, theirs = vars(ref_cls)[name], vars(engine_cls)[name]
    assert type(mine) is type(theirs), (name, type(mine), type(theirs))
    if isinstance(theirs, property):
        return
    assert inspect.signature(getattr(ref_cls, name)) == inspect.signature(
        getattr(engine_cls, name)
    ), name


# ---------------------------------------------------------------------------
# Problem
# ---------------------------------------------------------------------------


def test_problem_has_the_same_public_methods():
    engine, mine = _public(_engine.Problem), _public(ref.Problem)
    assert set(engine) - set(mine) == PROBLEM_ENGINE_ONLY_METHODS, (
        f"only the engine's: {set(engine) - set(mine)}; only the reference's: "
        f"{set(mine) - set(engine)}"
    )
    assert not set(mine) - set(engine)
    assert {"__init__", "epoch", "loss_grad", "dense"} <= set(engine)


@pytest.mark.parametrize("name", sorted(set(_public(_engine.Problem))
                                        - PROBLEM_ENGINE_ONLY_METHODS))
def test_problem_signatures_are_equal(name):
    _assert_same_member(_engine.Problem, ref.Problem, name)


def test_problem_signatures_compare_what_matters():
    # inspect.Signature equality sees names, order, kinds and defaults: a
    # renamed, reordered, re-kinded or re-defaulted parameter is a difference
    sig = inspect.signature(_engine.Problem.epoch)
    params = list(sig.parameters.values())
    assert [p.name for p in params[:3]] == ["self", "optimizer", "order"]
    assert params[3].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.parameters["seed"].default == 0
    changed = sig.replace(parameters=[
        p.replace(default=1) if p.name == "seed" else p for p in params
    ])
    assert changed != sig


# ---------------------------------------------------------------------------
# Layout, optimizer, codes
# ---------------------------------------------------------------------------


def test_layout_has_the_same_public_methods():
    assert set(_public(_engine.Layout)) == set(_public(ref.Layout))


@pytest.mark.parametrize("name", sorted(_public(_engine.Layout)))
def test_layout_signatures_are_equal(name):
    _assert_same_member(_engine.Layout, ref.Layout, name)


def test_layout_for_builds_an_engine_layout_with_the_same_arguments():
    # layout_for is the estimators' cached way to a Layout: same parameters
    engine = inspect.signature(_engine.layout_for).parameters
    layout = inspect.signature(_engine.Layout.__init__).parameters
    assert list(engine) == [p for p in layout if p != "self"]


def test_optimizer_shares_the_step_part():
    engine, mine = _public(StochasticOptimizer), _public(ref.OptimizerState)
    assert set(engine) - set(mine) == OPTIMIZER_ENGINE_ONLY
    assert set(mine) - set(engine) == OPTIMIZER_REFERENCE_ONLY
    for name in set(engine) & set(mine):
        _assert_same_member(StochasticOptimizer, ref.OptimizerState, name)


def test_codes_are_the_engines():
    assert ref.ACTIVATION_CODES == _engine.HIDDEN_ACTIVATIONS
    assert ref.OUTPUT_CODES == {**_engine.OUTPUT_KINDS, **_engine.LOSS_KINDS}
    assert ref.SOLVER_CODES == _engine.SOLVER_CODES


LAYOUT_ATTRIBUTES = ("units", "batch_size", "acts", "out_kind", "keep", "huber_delta",
                     "max_norm", "n_coef", "n_params", "n_outputs", "uses_dropout",
                     "coef_off", "int_off")


@pytest.mark.parametrize("args, kwargs", [
    (((4, 3), 1, "relu", "identity"), {}),
    (((5, 6, 4, 3), 7, "tanh", "softmax"), {}),
    (((5, 6, 4, 1), 7, ("gelu", "silu"), "logistic"),
     {"dropout": (0.3, 0.0), "input_dropout": 0.2}),
    (((3, 8, 2), 16, "elu", "identity"),
     {"loss": "huber", "huber_delta": 0.7, "max_norm": 2.0}),
    (((3, 8, 2), 16, "softplus", "identity"), {"loss": "absolute_error"}),
    (((3, 8, 2), 16, "leaky_relu", "exp"), {"loss": "poisson", "max_norm": None}),
])
def test_layouts_built_alike_agree(args, kwargs):
    engine, mine = _engine.Layout(*args, **kwargs), ref.Layout(*args, **kwargs)
    for name in LAYOUT_ATTRIBUTES:
        a, b = getattr(engine, name), getattr(mine, name)
        np.testing.assert_array_equal(b, a, err_msg=name)
        assert np.asarray(b).dtype == np.asarray(a).dtype, name
    params = np.arange(engine.n_params, dtype=float)
    for a, b in zip(sum(engine.coef_views(params), []), sum(mine.coef_views(params), [])):
        np.testing.assert_array_equal(a, b)
        assert np.shares_memory(b, params)


# ---------------------------------------------------------------------------
# Instances: the same attributes, the same refusals
# ---------------------------------------------------------------------------


def _problem_args(sparse=False, weighted=True, dtype=np.float64, **layout_kwargs):
    rng = np.random.RandomState(0)
    layout = _engine.Layout((4, 5, 3), 6, "tanh", "softmax", **layout_kwargs)
    X = rng.normal(size=(9, 4))
    X = sp.csr_matrix(X) if sparse else X
    Y = np.eye(3, dtype=bool)[rng.randint(3, size=9)]
    sw = rng.uniform(0.5, 2, 9) if weighted else None
    params = rng.normal(size=layout.n_params).astype(dtype)
    return layout, X, Y, sw, params


@pytest.mark.parametrize("with_grad", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_problems_hold_the_same_attributes(with_grad, sparse):
    layout, X, Y, sw, params = _problem_args(sparse=sparse)
    engine = _engine.Problem(layout, X, Y, sw, params, with_grad=with_grad)
    mine = ref.Problem(layout, X, Y, sw, params, with_grad=with_grad)
    mine_public = {k for k in vars(mine) if not k.startswith("_")}
    assert set(vars(engine)) - PROBLEM_ENGINE_ONLY_ATTRIBUTES == mine_public
    assert engine.params is mine.params is params  # stepped in place, both
    assert engine.layout is mine.layout is layout
    assert engine.n_samples == mine.n_samples == 9
    assert engine.dense == mine.dense == (not sparse)
    assert engine.grads.shape == mine.grads.shape
    assert engine.grads.dtype == mine.grads.dtype == params.dtype
    assert mine.grads.shape == ((layout.n_params,) if with_grad else (0,))
    np.testing.assert_array_equal(mine.sample_weight, engine.sample_weight)


def _refusals():
    """(name, make) pairs: make(module) calls what must raise ValueError."""
    def bad_params(mod):
        layout, X, Y, sw, params = _problem_args()
        mod.Problem(layout, X, Y, sw, params[:-1])

    def params_2d(mod):
        layout, X, Y, sw, params = _problem_args()
        mod.Problem(layout, X, Y, sw, params.reshape(1, -1))

    def bad_X(mod):
        layout, X, Y, sw, params = _problem_args()
        mod.Problem(layout, X[:, :3], Y, sw, params)

    def bad_Y(mod):
        layout, X, Y, sw, params = _problem_args()
        mod.Problem(layout, X, Y[:, :2], sw, params)

    def bad_sw(mod):
        layout, X, Y, sw, params = _problem_args()
        mod.Problem(layout, X, Y, sw[:-1], params)

    def epoch(mod, batch_size=3, sparse=False, state_len=None, **layout_kwargs):
        layout, X, Y, sw, params = _problem_args(sparse=sparse, **layout_kwargs)
        problem = mod.Problem(layout, X, Y, sw, params)
        opt = StochasticOptimizer("adam", layout.n_params, params.dtype, 0.01)
        opt.set_hyperparameters(momentum=0.9, nesterov=True, beta_1=0.9, beta_2=0.999,
                                epsilon=1e-8, rho=0.9, weight_decay=0.0, alpha1=0.0,
                                clip_value=0.0)
        if state_len is not None:
            opt.state2 = opt.state2[:state_len]
        problem.epoch(opt, np.arange(9), shuffled=False, batch_size=batch_size, lr=0.01,
                      alpha=0.0, clip_norm=0.0, n_threads=1)

    return [
        ("params too short", bad_params),
        ("params 2-D", params_2d),
        ("X too narrow", bad_X),
        ("Y too narrow", bad_Y),
        ("sample_weight too short", bad_sw),
        ("batch_size 0", lambda mod: epoch(mod, batch_size=0)),
        ("batch_size over the layout's", lambda mod: epoch(mod, batch_size=7)),
        ("input dropout on sparse X",
         lambda mod: epoch(mod, sparse=True, input_dropout=0.2)),
        ("Adam's v too short", lambda mod: epoch(mod, state_len=5)),
    ]


@pytest.mark.parametrize("name, make", _refusals(), ids=[n for n, _ in _refusals()])
def test_both_refuse_the_same_inputs(name, make):
    for mod in (_engine, ref):
        with pytest.raises(ValueError):
            make(mod)


def _epoch_in_reverse_order_unshuffled(mod):
    layout, X, Y, sw, params = _problem_args()
    opt = StochasticOptimizer("sgd", layout.n_params, params.dtype, 0.1)
    opt.set_hyperparameters(momentum=0.0, nesterov=False, beta_1=0.9, beta_2=0.999,
                            epsilon=1e-8, rho=0.9, weight_decay=0.0, alpha1=0.0,
                            clip_value=0.0)
    mod.Problem(layout, X, Y, sw, params).epoch(
        opt, np.arange(9)[::-1].copy(), shuffled=False, batch_size=3, lr=0.1, alpha=0.0,
        clip_norm=0.0, n_threads=1)


def test_reference_checks_the_promise_of_shuffled_false():
    # shuffled=False promises order == arange(len(order)): the engine then
    # reads dense X's and float Y's rows in place
    with pytest.raises(ValueError, match="shuffled=False"):
        _epoch_in_reverse_order_unshuffled(ref)


def test_engine_checks_the_promise_of_shuffled_false():
    # as the reference does: sample weights, 0/1 targets and CSR rows are read
    # through order, dense X and float Y in place
    with pytest.raises(ValueError, match="shuffled=False"):
        _epoch_in_reverse_order_unshuffled(_engine)
