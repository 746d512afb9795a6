"""What a user can do to a fitted model's attributes, and to the engine's
entry points, must end in a clear error -- never in a crash or in numbers
read from outside an array.

Every case runs in its own interpreter, so that a crash (a double free, a
segfault) fails its test instead of taking the test run with it.
"""
import subprocess
import sys
import textwrap

import pytest

import _checkout

_FITTED = """
import pickle, warnings
import numpy as np
warnings.simplefilter("ignore")
from fastmlp import MLPClassifier, MLPRegressor
rng = np.random.RandomState(0)
X = rng.rand(120, 8)
y = np.arange(120) % 3
m = MLPClassifier((16,), max_iter=3, random_state=0).fit(X, y)
before = [a.copy() for a in m.coefs_ + m.intercepts_]
"""


def _run(body):
    """Run _FITTED + body in a fresh interpreter; (returncode, stdout, stderr)."""
    code = _FITTED + textwrap.dedent(body)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        cwd=_checkout.cwd()
    )
    return proc.returncode, proc.stdout, proc.stderr


def _expect_value_error(action, match):
    """``action`` (Python statements) must raise ValueError matching ``match``."""
    rc, out, err = _run(
        f"""
try:
{textwrap.indent(textwrap.dedent(action), "    ")}
except ValueError as e:
    print("ValueError:", e)
else:
    print("no error")
"""
    )
    assert rc == 0, f"the interpreter died ({rc}):\n{err[-2000:]}"
    assert out.startswith("ValueError:"), out + err[-2000:]
    assert match in out, out
    return out


REPLACED = {
    # the cases of issue 13, and their neighbours
    "coef_rows_then_partial_fit": (
        "m.coefs_[1] = np.zeros((m.coefs_[1].shape[0] + 5, 1)); m.partial_fit(X, y)",
        "coefs_[1] must have shape (16, 3); got (21, 1).",
    ),
    "intercept_then_partial_fit": (
        "m.intercepts_[0] = np.zeros(1); m.partial_fit(X, y)",
        "intercepts_[0] must have shape (16,); got (1,).",
    ),
    "coef_3x3_then_predict": (
        "m.coefs_[0] = np.zeros((3, 3)); m.predict(X)",
        "coefs_[0] must have shape (8, n_units); got (3, 3).",
    ),
    "one_layer_short_then_predict": (
        "m.coefs_ = m.coefs_[:1]; m.predict(X)",
        "n_layers_=3, so coefs_ and intercepts_ need 2 arrays each; got 1 and 2.",
    ),
    "intercepts_one_short_then_predict_proba": (
        "m.intercepts_ = m.intercepts_[:1]; m.predict_proba(X)",
        "need 2 arrays each; got 2 and 1.",
    ),
    "view_reshaped_in_place_then_predict": (
        "m.coefs_[0].shape = (16, 8); m.predict(X)",
        "coefs_[0] must have shape (8, n_units); got (16, 8).",
    ),
    "n_features_in_changed_then_predict": (
        "m.n_features_in_ = 20; m.predict(np.zeros((3, 20)))",
        "coefs_[0] must have shape (20, n_units); got (8, 16).",
    ),
    "n_layers_changed_then_predict": (
        "m.n_layers_ = 5; m.predict(X)",
        "n_layers_=5, so coefs_ and intercepts_ need 4 arrays each; got 2 and 2.",
    ),
    "output_layer_too_wide_then_predict": (
        "m.coefs_[1] = np.zeros((16, 4)); m.intercepts_[1] = np.zeros(4); m.predict(X)",
        "coefs_[1] must have shape (16, 3); got (16, 4).",
    ),
    "string_weights_then_predict": (
        "m.coefs_[0] = np.full((8, 16), 'a'); m.predict(X)",
        "coefs_[0] must hold real numbers; got dtype <U1.",
    ),
    "complex_weights_then_fit_warm": (
        "m.coefs_[0] = m.coefs_[0] + 1j; m.set_params(warm_start=True).fit(X, y)",
        "coefs_[0] must hold real numbers; got dtype complex128.",
    ),
    "coefs_not_a_list_then_predict": (
        "m.coefs_ = 'abc'; m.predict(X)",
        "coefs_ and intercepts_ must be lists of arrays; got str and list.",
    ),
    "pickle_with_transposed_coefs": (
        """
s = m.__getstate__(); s["coefs_"] = [c.T for c in s["coefs_"]]
m2 = pickle.loads(pickle.dumps(m)); m2.__setstate__(s); m2.predict(X)
""",
        "coefs_[0] must have shape (8, n_units); got (16, 8).",
    ),
    "pickle_with_n_layers_changed": (
        "m2 = pickle.loads(pickle.dumps(m)); m2.n_layers_ = 4; m2.predict(X)",
        "n_layers_=4, so coefs_ and intercepts_ need 3 arrays each; got 2 and 2.",
    ),
}


@pytest.mark.parametrize("case", sorted(REPLACED))
def test_replaced_parameters_raise_a_clear_error(case):
    action, match = REPLACED[case]
    _expect_value_error(action, match)


@pytest.mark.parametrize("dtype_or_order", ["float32", "int64", "F", "list"])
def test_right_shape_in_another_dtype_or_order_is_repacked(dtype_or_order):
    rc, out, err = _run(
        f"""
p0 = m.predict_proba(X)
W = m.coefs_[0]
kind = {dtype_or_order!r}
if kind == "F":
    m.coefs_[0] = np.asfortranarray(W)
elif kind == "list":
    m.coefs_[0] = W.tolist()
elif kind == "int64":
    m.coefs_[0] = np.round(W * 1000).astype(np.int64)
else:
    m.coefs_[0] = W.astype(kind)
expected = np.asarray(m.coefs_[0], dtype=np.float64)
h = np.maximum(X @ expected + m.intercepts_[0], 0)
z = h @ m.coefs_[1] + m.intercepts_[1]
p = np.exp(z - z.max(axis=1, keepdims=True)); p /= p.sum(axis=1, keepdims=True)
np.testing.assert_allclose(m.predict_proba(X), p, rtol=1e-6, atol=1e-9)
m.partial_fit(X, y)
assert np.isfinite(m.predict_proba(X)).all()
print("ok")
"""
    )
    assert rc == 0 and out.strip() == "ok", out + err[-2000:]


def test_a_failed_call_leaves_the_model_as_it_was():
    rc, out, err = _run(
        """
m.intercepts_[0] = np.zeros(1)
public = {k: v for k, v in vars(m).items() if not k.startswith("_")}
loss_curve = list(m.loss_curve_)
for _ in range(2):  # and again: the second failure finds the same state
    try:
        m.partial_fit(X, y)
    except ValueError:
        pass
    else:
        raise AssertionError("partial_fit accepted intercepts_[0] of shape (1,)")
    assert {k: v for k, v in vars(m).items() if not k.startswith("_")}.keys() == public.keys()
    assert m.intercepts_[0].shape == (1,)
    for a, b in zip(m.coefs_, before[:2]):
        np.testing.assert_array_equal(a, b)
    assert m.loss_curve_ == loss_curve and m.n_iter_ == public["n_iter_"]
m.intercepts_[0] = before[2]
np.testing.assert_array_equal(m.predict(X), MLPClassifier((16,), max_iter=3,
    random_state=0).fit(X, y).predict(X))
print("ok")
"""
    )
    assert rc == 0 and out.strip() == "ok", out + err[-2000:]


# The engine's own entry points check every buffer against the layout, so a
# caller other than the estimators (or an estimator bug) cannot make a kernel
# read or write outside an array either.
_ENGINE = """
from fastmlp import _engine, _network, _predict
n, f, o = 40, 8, 3
units = (f, 16, o)
L = _engine.layout_for(units, 10, "relu", "softmax")
P = L.n_params
Xd = rng.rand(n, f)
Y = np.eye(o)[np.arange(n) % o]
idx = np.arange(n, dtype=np.intp)
def epoch(params=None, grads=None, s1=None, s2=None, work=None, scratch=None, X=Xd,
          Yf=Y, sw=None, order=idx, batch=10, solver=1, csr=(None, None, None)):
    z = lambda k: np.zeros(k)
    _network.train_epoch(
        z(P) if params is None else params, z(P) if grads is None else grads,
        z(P) if s1 is None else s1, z(P) if s2 is None else s2,
        z(L.work_size) if work is None else work,
        z(L.scratch_size) if scratch is None else scratch,
        X, *csr, Yf, None, sw, order, False, batch, L, solver,
        dict(lr=1e-3, momentum=0.9, nesterov=True, beta_1=0.9, beta_2=0.999,
             epsilon=1e-8, rho=0.9), 0, 1e-4, 0.0, 1)
"""

ENGINE_CASES = {
    "params_short": ("epoch(params=np.zeros(P - 1))", "params has"),
    "grads_short": ("epoch(grads=np.zeros(P - 1))", "grads has"),
    "adam_state_missing": ("epoch(s2=np.zeros(0))", "state2"),
    "work_short": ("epoch(work=np.zeros(L.work_size - 1))", "work has room"),
    "scratch_short": ("epoch(scratch=np.zeros(1))", "scratch has room"),
    # dense X gathers its batch rows at the work buffer's end; sparse X and
    # loss_grad read rows in place and need it only up to there
    "work_without_the_gather_dense": (
        "epoch(work=np.zeros(L.work_size_in_place))", "work has room"),
    "work_short_sparse": (
        """
import scipy.sparse as sp
A = sp.csr_matrix(Xd)
epoch(X=None, work=np.zeros(L.work_size_in_place - 1),
      csr=(A.data, A.indices.astype(np.intp), A.indptr.astype(np.intp)))
""",
        "work has room",
    ),
    "loss_grad_work_short": (
        "_network.loss_grad(np.zeros(P), np.zeros(P), np.zeros(L.work_size_in_place - 1),"
        " np.zeros(L.scratch_size), Xd, None, None, None, Y, None, None, idx, 10, L,"
        " 0.0, 1)",
        "work has room",
    ),
    "batch_above_layout": ("epoch(batch=11)", "batch_size=11"),
    "x_too_narrow": ("epoch(X=Xd[:, :5].copy())", "Each row of X has 5"),
    "x_fewer_rows_than_targets": ("epoch(X=Xd[:20].copy())", "X's rows"),
    "targets_too_wide": ("epoch(Yf=np.zeros((n, o + 1)))", "targets has 4"),
    "order_out_of_range": (
        "o2 = idx.copy(); o2[7] = n; epoch(order=o2)", "sample_idx[7] = 40"),
    "order_negative": ("o2 = idx.copy(); o2[3] = -1; epoch(order=o2)", "sample_idx[3] = -1"),
    "weights_short": ("epoch(sw=np.ones(n - 1))", "sample_weight has 39"),
    "unknown_solver": ("epoch(solver=9)", "Unknown solver code 9"),
    "unshuffled_in_another_order": (
        "epoch(order=idx[::-1].copy())", "shuffled=False reads the rows in place"),
    "csr_column_out_of_range": (
        """
import scipy.sparse as sp
A = sp.csr_matrix(Xd); ind = A.indices.astype(np.intp); ind[5] = f
epoch(X=None, csr=(A.data, ind, A.indptr.astype(np.intp)))
""",
        "X.indices[5] = 8",
    ),
    "csr_indptr_past_data": (
        """
import scipy.sparse as sp
A = sp.csr_matrix(Xd); ptr = A.indptr.astype(np.intp); ptr[-1] += 3
epoch(X=None, csr=(A.data, A.indices.astype(np.intp), ptr))
""",
        "X.indptr is not a CSR row index",
    ),
    "forward_params_short": (
        "_predict.forward(np.zeros(P - 2), np.empty((n, o)), Xd, None, None, None, L, 1)",
        "params has",
    ),
    "forward_out_too_narrow": (
        "_predict.forward(np.zeros(P), np.empty((n, o - 1)), Xd, None, None, None, L, 1)",
        "Each row of out has 2",
    ),
    "forward_x_too_narrow": (
        "_predict.forward(np.zeros(P), np.empty((n, o)), Xd[:, :3].copy(), None, None,"
        " None, L, 1)",
        "Each row of X has 3",
    ),
    "loss_grad_chunk_above_layout": (
        "_network.loss_grad(np.zeros(P), np.zeros(P), np.zeros(L.work_size),"
        " np.zeros(L.scratch_size), Xd, None, None, None, Y, None, None, idx, 11, L,"
        " 0.0, 1)",
        "chunk=11",
    ),
    "loss_grad_order_out_of_range": (
        "o2 = idx.copy(); o2[0] = 10**9; _network.loss_grad(np.zeros(P), np.zeros(P),"
        " np.zeros(L.work_size), np.zeros(L.scratch_size), Xd, None, None, None, Y,"
        " None, None, o2, 10, L, 0.0, 1)",
        "sample_idx[0] = 1000000000",
    ),
}


@pytest.mark.parametrize("case", sorted(ENGINE_CASES))
def test_engine_entry_points_check_every_buffer(case):
    action, match = ENGINE_CASES[case]
    _expect_value_error(_ENGINE + textwrap.dedent(action), match)


def test_engine_entry_points_accept_what_they_check():
    """The checks above are not blind: the same calls with the right buffers run."""
    rc, out, err = _run(
        _ENGINE
        + """
epoch()
epoch(solver=0, s2=np.zeros(0))
out = np.empty((n, o))
_predict.forward(np.zeros(P), out, Xd, None, None, None, L, 1)
print("ok", np.allclose(out, 1.0 / o))
"""
    )
    assert rc == 0 and out.strip() == "ok True", out + err[-2000:]


def test_debug_build_asserts_the_layout_invariants():
    """In the bounds-checked build (FASTMLP_DEBUG=1) a Layout whose regions do
    not fit the work buffer stops the process with a message, before a
    kernel writes past the buffer; in the release build the Layout is
    trusted (it is the engine's own), so there is nothing to see."""
    from fastmlp import _network

    if not _network.DEBUG_BUILD:
        pytest.skip("release build: the layout invariants are asserted in the "
                    "FASTMLP_DEBUG=1 build only (.ci/build-matrix runs it)")
    rc, out, err = _run(
        _ENGINE
        + """
L = _engine.Layout(units, 10, "relu", "softmax")
L.act_off[2] = L.work_size   # the output layer's activations past the buffer
epoch()
print("not stopped")
"""
    )
    assert rc != 0 and "not stopped" not in out, out
    assert "layout invariant broken: A_l inside work" in err, err[-2000:]


@pytest.mark.parametrize("activation", ["tanh", ["logistic"]])
def test_predict_follows_an_activation_set_after_fit(activation):
    """predict keeps the layout it made while the parameters are intact: it
    must still follow set_params(activation=...), given as a name or a list
    (changed in place too)."""
    import numpy as np

    from fastmlp import MLPClassifier
    from fastmlp import _reference as ref

    rng = np.random.RandomState(0)
    X, y = rng.rand(50, 4), np.arange(50) % 3
    m = MLPClassifier((6,), max_iter=5, random_state=0).fit(X, y)
    before = m.predict_proba(X)
    m.set_params(activation=activation)
    name = activation if isinstance(activation, str) else activation[0]
    expected = ref.forward(X, m.coefs_, m.intercepts_, name, "softmax")[-1]
    np.testing.assert_allclose(m.predict_proba(X), expected, rtol=1e-12)
    assert not np.allclose(m.predict_proba(X), before)
    if not isinstance(activation, str):
        activation[0] = "identity"  # the same list, changed in place
        expected = ref.forward(X, m.coefs_, m.intercepts_, "identity", "softmax")[-1]
        np.testing.assert_allclose(m.predict_proba(X), expected, rtol=1e-12)



def test_kernel_entry_points_check_their_buffers():
    """The kernels' own test entry points refuse buffers that do not fit."""
    rc, out, err = _run(
        """
from fastmlp import _activations, _optimizers
A = np.zeros((4, 3)); D = np.zeros((4, 3))
msgs = []
for call in (lambda: _activations.act_backward(A, np.zeros((2, 3)), D, 7),
             lambda: _optimizers.grad_sqnorm(np.zeros(5), np.zeros(5), 6, 0.0, 1.0)):
    try:
        call()
    except ValueError as e:
        msgs.append(str(e))
print(msgs)
"""
    )
    assert rc == 0, err[-2000:]
    assert "Zpre must have A's shape" in out and "n_coef=6 is outside [0, 5]" in out, out


CSC_CASES = {
    # SciPy's tocsr read and wrote through them unchecked: a crash (10**6),
    # a write outside the arrays (-5), an entry silently dropped (n rows)
    "row_index_far_out": ("A.indices[3] = 10**6", "X.indices[3] = 1000000 is outside"),
    "row_index_negative": ("A.indices[3] = -5", "X.indices[3] = -5 is outside"),
    "row_index_one_past": ("A.indices[3] = A.shape[0]", "X.indices[3] = 40 is outside"),
    "indptr_past_data": ("A.indptr[-1] += 2", "X.indptr is not a CSC column index"),
    "indptr_falling": ("A.indptr[2] = A.indptr[3] + 1", "X.indptr is not a CSC column index"),
}


@pytest.mark.parametrize("call", ["fit", "fit(early_stopping=True)", "predict"])
@pytest.mark.parametrize("case", sorted(CSC_CASES))
def test_corrupted_csc_x_is_a_clear_error(case, call):
    # (early stopping's split indexes X's rows before the engine sees it:
    # SciPy's CSC row indexing read the bad indices too, a crash in 3 of 6)
    corrupt, match = CSC_CASES[case]
    _expect_value_error(
        f"""
import scipy.sparse as sp
from fastmlp import MLPClassifier
Xs = np.random.RandomState(1).rand(40, 6)
ys = np.arange(40) % 2
fitted = MLPClassifier((3,), max_iter=2).fit(Xs, ys)
A = sp.csc_matrix(Xs)
{corrupt}
if {call == "predict"}:
    fitted.predict(A)
else:
    MLPClassifier((3,), max_iter=2, early_stopping={"early" in call}).fit(A, ys)
""",
        match,
    )
