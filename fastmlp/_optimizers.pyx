# Design: optimizer steps as one loop over the flat parameter buffer.
#
# The parameters are one flat buffer (all coefs, then all intercepts, as
# scikit-learn's _pack), and so are the raw gradients the network leaves:
# g = A^T delta for coefs, sum(delta) for intercepts.  Each step finishes the
# gradient on the fly, fusing the L2 term and the 1/sum(sample_weight) scale
# (times the clipping factor) into the update:
#     g_eff = (g + alpha * p + alpha1 * sign(p)) * scale   coefs [0, n_coef)
#     g_eff = g * scale                                    intercepts
# then clips it to [-clip_value, clip_value] when asked, and returns
# sum(p**2) (and sum|p|) over the updated coefs: the L2 (and L1) terms of the
# next batch's loss, so no other pass over the weights is needed.
# Update rules (scikit-learn's order of operations, so float64 results match):
#   sgd      v = momentum * v - lr * g;  p += momentum * v - lr * g (Nesterov)
#                                        or p += v
#   adam     m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g**2;
#            p += -lr_t m / (sqrt(v) + eps),  lr_t bias-corrected by the caller
#   adamw    adam, and p *= 1 - lr * weight_decay first (coefs only; lr
#            is the schedule's rate, not bias-corrected, as PyTorch's AdamW)
#   rmsprop  s = rho s + (1 - rho) g**2;  p -= lr g / (sqrt(s) + eps)
#   adagrad  s = s + g**2;                p -= lr g / (sqrt(s) + eps)
# The loops themselves are C (_simd_update.h): vectorized, with an AVX2+FMA
# clone picked at load time where the CPU has it (SIMD_PATH says which).
# Threads: above PARALLEL_MIN parameters the buffer is cut into n_threads
# contiguous chunks, one per thread (static); below it the loop is serial.
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY


from fastmlp._tuning cimport OPTIMIZER_PARALLEL_MIN as PARALLEL_MIN


cdef extern from "_simd_update.h" nogil:
    const char* fastmlp_simd_path()
    double fastmlp_sgd_f(float* p, const float* g, float* vel, Py_ssize_t lo,
                         Py_ssize_t hi, float alpha, float alpha1, float scale,
                         float clipv, float lr, float mom, int nesterov,
                         double* l1)
    double fastmlp_sgd_d(double* p, const double* g, double* vel, Py_ssize_t lo,
                         Py_ssize_t hi, double alpha, double alpha1,
                         double scale, double clipv, double lr, double mom,
                         int nesterov, double* l1)
    double fastmlp_adam_f(float* p, const float* g, float* m, float* v,
                          Py_ssize_t lo, Py_ssize_t hi, float alpha,
                          float alpha1, float scale, float clipv, float lr,
                          float b1, float b2, float one_b1, float one_b2,
                          float eps, float decay, double* l1)
    double fastmlp_adam_d(double* p, const double* g, double* m, double* v,
                          Py_ssize_t lo, Py_ssize_t hi, double alpha,
                          double alpha1, double scale, double clipv, double lr,
                          double b1, double b2, double one_b1, double one_b2,
                          double eps, double decay, double* l1)
    double fastmlp_rmsprop_f(float* p, const float* g, float* s, Py_ssize_t lo,
                             Py_ssize_t hi, float alpha, float alpha1,
                             float scale, float clipv, float lr, float rho,
                             float one_rho, float eps, double* l1)
    double fastmlp_rmsprop_d(double* p, const double* g, double* s,
                             Py_ssize_t lo, Py_ssize_t hi, double alpha,
                             double alpha1, double scale, double clipv,
                             double lr, double rho, double one_rho, double eps,
                             double* l1)

SIMD_PATH = fastmlp_simd_path().decode()
SOLVERS = {"sgd": SOLVER_SGD, "adam": SOLVER_ADAM, "rmsprop": SOLVER_RMSPROP,
           "adagrad": SOLVER_ADAGRAD, "adamw": SOLVER_ADAMW}


cdef double _update_part(int solver, floating* p, const floating* g,
                         floating* s1, floating* s2, Py_ssize_t lo,
                         Py_ssize_t hi, bint coefs, floating alpha,
                         floating scale, const OptConsts* c,
                         double* l1) noexcept nogil:
    """Update p[lo:hi], all coefs or all intercepts; return sum(p**2)."""
    cdef floating a = alpha if coefs else 0
    cdef floating a1 = <floating> c.alpha1 if coefs else 0
    cdef floating clipv = <floating> (c.clip_value if c.clip_value > 0 else INFINITY)
    cdef floating decay = 1
    cdef double rho = 1 if solver == SOLVER_ADAGRAD else c.rho
    cdef double one_rho = 1 if solver == SOLVER_ADAGRAD else 1 - c.rho
    l1[0] = 0
    if lo >= hi:
        return 0
    if solver == SOLVER_SGD:
        if floating is float:
            return fastmlp_sgd_f(p, g, s1, lo, hi, a, a1, scale, clipv,
                                 <float> c.lr, <float> c.momentum, c.nesterov, l1)
        else:
            return fastmlp_sgd_d(p, g, s1, lo, hi, a, a1, scale, clipv, c.lr,
                                 c.momentum, c.nesterov, l1)
    elif solver == SOLVER_ADAM or solver == SOLVER_ADAMW:
        if solver == SOLVER_ADAMW and coefs:
            decay = <floating> (1 - c.lr_base * c.weight_decay)
        if floating is float:
            return fastmlp_adam_f(p, g, s1, s2, lo, hi, a, a1, scale, clipv,
                                  <float> c.lr, <float> c.beta_1,
                                  <float> c.beta_2, <float> (1 - c.beta_1),
                                  <float> (1 - c.beta_2), <float> c.epsilon,
                                  decay, l1)
        else:
            return fastmlp_adam_d(p, g, s1, s2, lo, hi, a, a1, scale, clipv,
                                  c.lr, c.beta_1, c.beta_2, 1 - c.beta_1,
                                  1 - c.beta_2, c.epsilon, decay, l1)
    else:
        if floating is float:
            return fastmlp_rmsprop_f(p, g, s1, lo, hi, a, a1, scale, clipv,
                                     <float> c.lr, <float> rho,
                                     <float> one_rho, <float> c.epsilon, l1)
        else:
            return fastmlp_rmsprop_d(p, g, s1, lo, hi, a, a1, scale, clipv,
                                     c.lr, rho, one_rho, c.epsilon, l1)


cdef double _update_range(int solver, floating* p, const floating* g,
                          floating* s1, floating* s2, Py_ssize_t lo,
                          Py_ssize_t hi, Py_ssize_t n_coef, floating alpha,
                          floating scale, const OptConsts* c,
                          double* l1) noexcept nogil:
    """Update p[lo:hi]; return sum(p**2) (l1: sum|p|) over its coef part."""
    cdef Py_ssize_t mid = min(max(lo, n_coef), hi)
    cdef double sq, ignored
    sq = _update_part(solver, p, g, s1, s2, lo, mid, True, alpha, scale, c, l1)
    _update_part(solver, p, g, s1, s2, mid, hi, False, alpha, scale, c, &ignored)
    return sq


cdef double _update(int solver, floating* p, const floating* g, floating* s1,
                    floating* s2, Py_ssize_t n, Py_ssize_t n_coef,
                    floating alpha, floating scale, const OptConsts* c,
                    int n_threads, double* l1_sum) noexcept nogil:
    """One optimizer step over the flat buffer; returns sum(coefs**2) after
    it and stores sum(|coefs|) in l1_sum."""
    cdef Py_ssize_t t, lo, hi, chunk
    cdef double sq = 0, l1 = 0, l1_part
    if n_threads <= 1 or n < PARALLEL_MIN:
        return _update_range(solver, p, g, s1, s2, 0, n, n_coef, alpha, scale,
                             c, l1_sum)
    chunk = (n + n_threads - 1) // n_threads
    for t in prange(n_threads, num_threads=n_threads, schedule="static"):
        lo = t * chunk
        hi = min(n, lo + chunk)
        l1_part = 0
        if lo < hi:
            sq += _update_range(solver, p, g, s1, s2, lo, hi, n_coef, alpha,
                                scale, c, &l1_part)
        l1 += l1_part
    l1_sum[0] = l1
    return sq


cdef double _grad_sqnorm(const floating* p, const floating* g, Py_ssize_t n,
                         Py_ssize_t n_coef, floating alpha, floating alpha1,
                         floating scale) noexcept nogil:
    """sum(g_eff**2), g_eff the finished gradient (L2, L1 and scale applied)."""
    cdef Py_ssize_t j
    cdef double gj, total = 0
    for j in range(n):
        if j < n_coef:
            gj = (g[j] + alpha * p[j] + alpha1 * ((p[j] > 0) - (p[j] < 0))) * scale
        else:
            gj = g[j] * scale
        total += gj * gj
    return total


def update(str solver,
           floating[::1] params,          # INOUT
           const floating[::1] grads,     # IN: raw sums (A^T delta, sum delta)
           floating[::1] state1,          # INOUT: velocity / m / square avg
           floating[::1] state2,          # INOUT: v (adam), else unused
           Py_ssize_t n_coef, double alpha, double scale,
           double lr, double momentum=0.9, bint nesterov=True,
           double beta_1=0.9, double beta_2=0.999, double epsilon=1e-8,
           double rho=0.9, double weight_decay=0.0, double alpha1=0.0,
           double clip_value=0.0, lr_base=None, int n_threads=1,
           Py_ssize_t repeat=1):
    """One fused step (test entry point); returns (sum(coefs**2), sum|coefs|).

    ``lr`` is the step size used as is (for Adam, pass the bias-corrected one);
    ``lr_base`` (default ``lr``) is the rate AdamW's decoupled decay uses.
    ``repeat`` runs the step that many times (bench/limits.py times the kernel
    without the cost of a Python call per step); the sums are the last step's.
    """
    cdef OptConsts c
    cdef int code
    cdef Py_ssize_t r
    cdef Py_ssize_t n = params.shape[0]
    cdef double sq, l1 = 0
    code = SOLVERS[solver]
    if grads.shape[0] != n or state1.shape[0] != n:
        raise ValueError("params, grads and state1 must have the same length")
    if (code == SOLVER_ADAM or code == SOLVER_ADAMW) and state2.shape[0] != n:
        raise ValueError("adam needs state2 of the same length as params")
    if not 0 <= n_coef <= n:
        raise ValueError(f"n_coef={n_coef} is outside [0, {n}]")
    c.lr = lr
    c.lr_base = lr if lr_base is None else lr_base
    c.momentum = momentum
    c.nesterov = nesterov
    c.beta_1 = beta_1
    c.beta_2 = beta_2
    c.epsilon = epsilon
    c.rho = rho
    c.weight_decay = weight_decay
    c.alpha1 = alpha1
    c.clip_value = clip_value
    if repeat < 1:
        raise ValueError(f"repeat={repeat} must be at least 1")
    if n == 0:
        return 0.0, 0.0
    with nogil:
        for r in range(repeat):
            sq = _update(code, &params[0], &grads[0], &state1[0],
                         &state2[0] if state2.shape[0] else NULL, n, n_coef,
                         <floating> alpha, <floating> scale, &c, n_threads, &l1)
    return sq, l1


def grad_sqnorm(const floating[::1] params, const floating[::1] grads,
                Py_ssize_t n_coef, double alpha, double scale, double alpha1=0.0):
    """Squared norm of the finished gradient (test entry point)."""
    if grads.shape[0] != params.shape[0] or params.shape[0] == 0:
        raise ValueError("params and grads must be non-empty and of equal length")
    if not 0 <= n_coef <= params.shape[0]:
        raise ValueError(f"n_coef={n_coef} is outside [0, {params.shape[0]}]")
    return _grad_sqnorm(&params[0], &grads[0], params.shape[0], n_coef,
                        <floating> alpha, <floating> alpha1, <floating> scale)
