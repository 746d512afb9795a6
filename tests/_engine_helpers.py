"""Small problems and thin wrappers to call the compiled engine directly."""
import numpy as np
import scipy.sparse as sp

from fastmlp import _engine, _network, _predict
from fastmlp import _reference as ref

# per-dtype tolerance for compiled vs reference results
RTOL = {np.float64: 1e-10, np.float32: 2e-4}
ATOL = {np.float64: 1e-12, np.float32: 1e-5}


def tol(dtype):
    dtype = np.dtype(dtype).type
    return {"rtol": RTOL[dtype], "atol": ATOL[dtype]}


def make_targets(rng, out_activation, n_samples, n_out, dtype, poisson_rate=2.0):
    """Targets an output activation expects: one-hot (softmax), 0/1
    (logistic), counts (exp), reals (identity)."""
    if out_activation == "softmax":
        Y = np.eye(n_out)[rng.randint(n_out, size=n_samples)]
    elif out_activation == "logistic":
        Y = (rng.uniform(size=(n_samples, n_out)) < 0.5).astype(float)
    elif out_activation == "exp":
        Y = rng.poisson(poisson_rate, size=(n_samples, n_out)).astype(float)
    else:
        Y = rng.normal(size=(n_samples, n_out))
    return Y.astype(dtype)


def make_problem(units, out_activation, n_samples=37, dtype=np.float64, seed=0,
                 weighted=False, sparse=False):
    """X, Y (one-hot/indicator for classification), sample_weight, params."""
    rng = np.random.RandomState(seed)
    n_in, n_out = units[0], units[-1]
    if sparse:
        X = sp.random(n_samples, n_in, density=0.3, format="csr", random_state=rng,
                      dtype=np.float64).astype(dtype)
    else:
        X = rng.normal(size=(n_samples, n_in)).astype(dtype)
    Y = make_targets(rng, out_activation, n_samples, n_out, dtype)
    sw = rng.uniform(0.1, 2.0, size=n_samples).astype(dtype) if weighted else None
    n_params = sum(a * b + b for a, b in zip(units[:-1], units[1:]))
    params = (rng.uniform(-1, 1, n_params) / np.sqrt(max(units))).astype(dtype)
    return X, Y, sw, params


def engine_loss_grad(params, X, Y, sw, units, activation, out_activation, alpha,
                     chunk=None, n_threads=1, tuning=None):
    n = X.shape[0]
    chunk = chunk or n
    layout = _engine.Layout(units, chunk, activation, out_activation)
    dense, data, indices, indptr = _engine.csr_parts(X)
    grads = np.empty_like(params)
    work = np.empty(layout.work_size, dtype=params.dtype)
    loss = _network.loss_grad(
        params, grads, work, np.empty(layout.scratch_size), dense, data, indices, indptr,
        np.ascontiguousarray(Y, dtype=params.dtype), None, sw,
        np.arange(n, dtype=np.intp), chunk, layout, alpha, n_threads, tuning=tuning,
    )
    return loss, grads


def engine_sgd_epoch(params, X, Y, sw, units, activation, out_activation, alpha,
                     batch_size, lr, order=None, n_threads=1, solver="sgd",
                     momentum=0.0, clip=0.0, state=None, opt_extra=None,
                     layout_extra=None, seed=0, tuning=None, pace=None):
    """One engine epoch; returns (loss, params) with params updated in place.
    ``tuning``: thresholds other than the engine's defaults (_tuning.pyx);
    ``pace``: the pacer's state (_pacing.pxd), updated in place, or None."""
    n = X.shape[0]
    layout = _engine.Layout(units, batch_size, activation, out_activation,
                            **(layout_extra or {}))
    dense, data, indices, indptr = _engine.csr_parts(X)
    state = state or {}
    s1 = state.setdefault("s1", np.zeros_like(params))
    s2 = state.setdefault("s2", np.zeros_like(params))
    order = np.arange(n, dtype=np.intp) if order is None else np.asarray(order, dtype=np.intp)
    opt = {"lr": lr, "momentum": momentum, "nesterov": False, "beta_1": 0.9,
           "beta_2": 0.999, "epsilon": 1e-8, "rho": 0.9, **(opt_extra or {})}
    loss_sum, t = _network.train_epoch(
        params, np.empty_like(params), s1, s2, np.empty(layout.work_size, dtype=params.dtype),
        np.empty(layout.scratch_size), dense, data, indices, indptr,
        np.ascontiguousarray(Y, dtype=params.dtype), None, sw, order,
        not np.array_equal(order, np.arange(n)), batch_size, layout,
        _engine.SOLVER_CODES[solver], opt, state.get("t", 0), alpha, clip, n_threads, seed,
        tuning, pace,
    )
    state["t"] = t
    return loss_sum / n, params


def engine_forward(params, X, units, activation, out_activation, n_threads=1, block=256,
                   tuning=None):
    layout = _engine.Layout(units, 0, activation, out_activation)
    dense, data, indices, indptr = _engine.csr_parts(X)
    out = np.empty((X.shape[0], units[-1]), dtype=params.dtype)
    _predict.forward(params, out, dense, data, indices, indptr, layout, n_threads, block,
                     tuning)
    return out


def reference_forward(params, X, units, activation, out_activation):
    coefs, intercepts = ref.unpack(params, units)
    return ref.forward(X, coefs, intercepts, activation, out_activation)[-1]


def plain_sgd(n_params, lr):
    """The reference's SGD without momentum, decay, L1 or clipping: a step
    is exactly -lr times the finished gradient."""
    opt = ref.OptimizerState("sgd", n_params, np.float64, lr)
    opt.set_hyperparameters(momentum=0.0, nesterov=False, beta_1=0.9, beta_2=0.999,
                            epsilon=1e-8, rho=0.9, weight_decay=0.0, alpha1=0.0,
                            clip_value=0.0)
    return opt


def central_gradient(loss, params, step=1e-6):
    """Central differences of ``loss()``, which reads ``params``: each entry
    moved by +-step in place, then restored."""
    numeric = np.empty_like(params)
    for j in range(params.shape[0]):
        saved = params[j]
        params[j] = saved + step
        up = loss()
        params[j] = saved - step
        down = loss()
        params[j] = saved
        numeric[j] = (up - down) / (2 * step)
    return numeric


def dense_tanh_forward(layout, Xe, params):
    """The dense layers of ``layout``'s network (tanh hidden, identity or
    softmax output) run by hand in float64 on an input layer's output Xe:
    the oracle of the input layer's forward (test_periodic, test_embedding)."""
    from fastmlp import _engine

    plain = _engine.Layout(tuple(layout.units), Xe.shape[0], "tanh",
                           "softmax" if layout.n_outputs == 3 else "identity")
    coefs, ints = plain.coef_views(params[:plain.n_params].astype(np.float64))
    A = Xe
    for i, (W, b) in enumerate(zip(coefs, ints)):
        A = A @ W + b
        if i < len(coefs) - 1:
            A = np.tanh(A)
    if layout.n_outputs == 3:
        A = np.exp(A - A.max(axis=1, keepdims=True))
        A /= A.sum(axis=1, keepdims=True)
    return A


def engine_optimizer(solver, n_params, dtype, lr, *, momentum=0.9, beta_2=0.999,
                     weight_decay=0.0):
    """The engine's optimizer state with the hyperparameters the input-layer
    tests share (no L1, no clipping by value)."""
    from fastmlp._stochastic_optimizers import StochasticOptimizer

    opt = StochasticOptimizer(solver, n_params, np.dtype(dtype), lr)
    opt.set_hyperparameters(momentum=momentum, nesterov=False, beta_1=0.9, beta_2=beta_2,
                            epsilon=1e-8, rho=0.9, weight_decay=weight_decay, alpha1=0.0,
                            clip_value=0.0)
    return opt


def adam_epochs_per_thread_count(make_problem, n_rows, batch_size, epochs=3):
    """The parameters after ``epochs`` Adam epochs (shuffled, the pacer off,
    every loop allowed a team) on ``make_problem()``'s fresh ``(layout, X,
    Y, sample_weight, params)``, with 1 and then 2 threads."""
    from fastmlp import _engine

    out = []
    for n_threads in (1, 2):
        layout, X, Y, sw, params = make_problem()
        prob = _engine.Problem(layout, X, Y, sw, params,
                               tuning={"pace": False, "par_min_flops": 0})
        opt = engine_optimizer("adam", layout.n_params, params.dtype, 0.01)
        order = np.random.RandomState(1).permutation(n_rows)
        for _ in range(epochs):
            prob.epoch(opt, order, shuffled=True, batch_size=batch_size, lr=0.01,
                       alpha=1e-4, clip_norm=0.0, n_threads=n_threads)
        out.append(prob.params.copy())
    return out


def check_sgd_epoch_steps_by_the_gradient(layout, X, Y, params):
    """One batch of all rows, plain SGD at rate 0.1: the parameters move by
    exactly -0.1 times the gradient that loss_grad gives (checked by finite
    differences elsewhere), to the dtype's rounding."""
    from fastmlp import _engine

    n, dtype = X.shape[0], params.dtype
    prob = _engine.Problem(layout, X, Y, None, params.copy())
    prob.loss_grad(alpha=0.0, n_threads=1)
    grad = prob.grads.astype(np.float64)
    opt = engine_optimizer("sgd", layout.n_params, dtype, 0.1, momentum=0.0)
    step = _engine.Problem(layout, X, Y, None, params.copy())
    step.epoch(opt, np.arange(n), shuffled=False, batch_size=n, lr=0.1, alpha=0.0,
               clip_norm=0.0, n_threads=2)
    np.testing.assert_allclose(step.params, params - 0.1 * grad,
                               rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-14)


def adam_epochs_engine_and_reference(units, X, Y, sw, *, clip_norm, clip_value=0.0,
                                     epochs=3, batch_size=32, **layout_kw):
    """The engine and the NumPy reference Problem (_reference_problem), from
    the same start (normal, scale 0.4, seed 0), through ``epochs`` Adam
    epochs (beta_2 0.95, rate 0.01, alpha 1e-3, shuffled and dropped out by
    a seed per epoch, 2 threads) of a silu network with hidden dropout 0.2,
    0.1 and a softmax output: [(layout, params in float64, epoch losses,
    Adam's t)] for the engine, then the reference."""
    from fastmlp import _engine, _reference_problem as refp
    from fastmlp._stochastic_optimizers import StochasticOptimizer

    dtype, n, out = X.dtype, X.shape[0], []
    for mod, Opt in ((_engine, StochasticOptimizer), (refp, refp.OptimizerState)):
        layout = mod.Layout(units, batch_size, "silu", "softmax", dropout=(0.2, 0.1),
                            **layout_kw)
        params = np.random.RandomState(0).normal(scale=0.4, size=layout.n_params).astype(dtype)
        prob = mod.Problem(layout, X, Y, sw, params)
        opt = Opt("adam", layout.n_params, np.dtype(dtype), 0.01)
        opt.set_hyperparameters(momentum=0.9, nesterov=False, beta_1=0.9, beta_2=0.95,
                                epsilon=1e-8, rho=0.9, weight_decay=0.0, alpha1=0.0,
                                clip_value=clip_value)
        losses = [prob.epoch(opt, np.random.RandomState(e).permutation(n), shuffled=True,
                             batch_size=batch_size, lr=0.01, alpha=1e-3, clip_norm=clip_norm,
                             n_threads=2, seed=e) for e in range(epochs)]
        out.append((layout, prob.params.astype(np.float64), losses, opt.t))
    return out


def full_batch_step(mod, layout, X, Y, solver, *, alpha):
    """How far one full-batch epoch of ``solver`` (rate 0.01, momentum 0.9,
    beta_2 0.95, weight decay 0.1, one thread) moves the parameters from a
    normal start (scale 0.5, seed 0), in module ``mod``: the engine
    (fastmlp._engine) or the NumPy reference (fastmlp._reference_problem)."""
    from fastmlp import _engine, _reference_problem as refp
    from fastmlp._stochastic_optimizers import StochasticOptimizer

    Opt = StochasticOptimizer if mod is _engine else refp.OptimizerState
    start = np.random.RandomState(0).normal(scale=0.5, size=layout.n_params)
    params = start.copy()
    opt = Opt(solver, layout.n_params, np.dtype(np.float64), 0.01)
    opt.set_hyperparameters(momentum=0.9, nesterov=False, beta_1=0.9, beta_2=0.95,
                            epsilon=1e-8, rho=0.9, weight_decay=0.1, alpha1=0.0,
                            clip_value=0.0)
    mod.Problem(layout, X, Y, None, params).epoch(
        opt, np.arange(X.shape[0]), shuffled=False, batch_size=X.shape[0], lr=0.01,
        alpha=alpha, clip_norm=0.0, n_threads=1)
    return params - start
