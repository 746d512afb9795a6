# Design: optimizer steps as one loop over the flat parameter buffer.
#
# The parameters are one flat buffer (all coefs, then all intercepts, as
# scikit-learn's _pack), and so are the raw gradients the network leaves:
# g = A^T delta for coefs, sum(delta) for intercepts.  Each step finishes the
# gradient on the fly, fusing the L2 term and the 1/sum(sample_weight) scale
# (times the clipping factor) into the update:
#     g_eff = (g + alpha * p) * scale     coefs   [0, n_coef)
#     g_eff = g * scale                   intercepts [n_coef, n)
# and returns sum(p**2) over the updated coefs, which is the L2 term of the
# next batch's loss, so no other pass over the weights is needed.
# Update rules (scikit-learn's order of operations, so float64 results match):
#   sgd      v = momentum * v - lr * g;  p += momentum * v - lr * g (Nesterov)
#                                        or p += v
#   adam     m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g**2;
#            p += -lr_t m / (sqrt(v) + eps),  lr_t bias-corrected by the caller
#   rmsprop  s = rho s + (1 - rho) g**2;  p -= lr g / (sqrt(s) + eps)
# The loops themselves are C (_simd_update.h): vectorized, with an AVX2+FMA
# clone picked at load time where the CPU has it (SIMD_PATH says which).
# Threads: above PARALLEL_MIN parameters the buffer is cut into n_threads
# contiguous chunks, one per thread (static); below it the loop is serial.
from cython cimport floating
from cython.parallel cimport prange


cdef Py_ssize_t PARALLEL_MIN = 1 << 16


cdef extern from "_simd_update.h" nogil:
    const char* fastmlp_simd_path()
    double fastmlp_sgd_f(float* p, const float* g, float* vel, Py_ssize_t lo,
                         Py_ssize_t hi, float alpha, float scale, float lr,
                         float mom, int nesterov)
    double fastmlp_sgd_d(double* p, const double* g, double* vel, Py_ssize_t lo,
                         Py_ssize_t hi, double alpha, double scale, double lr,
                         double mom, int nesterov)
    double fastmlp_adam_f(float* p, const float* g, float* m, float* v,
                          Py_ssize_t lo, Py_ssize_t hi, float alpha, float scale,
                          float lr, float b1, float b2, float one_b1,
                          float one_b2, float eps)
    double fastmlp_adam_d(double* p, const double* g, double* m, double* v,
                          Py_ssize_t lo, Py_ssize_t hi, double alpha,
                          double scale, double lr, double b1, double b2,
                          double one_b1, double one_b2, double eps)
    double fastmlp_rmsprop_f(float* p, const float* g, float* s, Py_ssize_t lo,
                             Py_ssize_t hi, float alpha, float scale, float lr,
                             float rho, float one_rho, float eps)
    double fastmlp_rmsprop_d(double* p, const double* g, double* s,
                             Py_ssize_t lo, Py_ssize_t hi, double alpha,
                             double scale, double lr, double rho,
                             double one_rho, double eps)

SIMD_PATH = fastmlp_simd_path().decode()


cdef inline double _sgd_range(floating* p, const floating* g, floating* vel,
                              Py_ssize_t lo, Py_ssize_t hi, floating alpha,
                              floating scale, const OptConsts* c) noexcept nogil:
    if floating is float:
        return fastmlp_sgd_f(p, g, vel, lo, hi, alpha, scale, <float> c.lr,
                             <float> c.momentum, c.nesterov)
    else:
        return fastmlp_sgd_d(p, g, vel, lo, hi, alpha, scale, c.lr,
                             c.momentum, c.nesterov)


cdef inline double _adam_range(floating* p, const floating* g, floating* m,
                               floating* v, Py_ssize_t lo, Py_ssize_t hi,
                               floating alpha, floating scale,
                               const OptConsts* c) noexcept nogil:
    if floating is float:
        return fastmlp_adam_f(p, g, m, v, lo, hi, alpha, scale, <float> c.lr,
                              <float> c.beta_1, <float> c.beta_2,
                              <float> (1 - c.beta_1), <float> (1 - c.beta_2),
                              <float> c.epsilon)
    else:
        return fastmlp_adam_d(p, g, m, v, lo, hi, alpha, scale, c.lr,
                              c.beta_1, c.beta_2, 1 - c.beta_1, 1 - c.beta_2,
                              c.epsilon)


cdef inline double _rmsprop_range(floating* p, const floating* g, floating* s,
                                  Py_ssize_t lo, Py_ssize_t hi, floating alpha,
                                  floating scale, const OptConsts* c) noexcept nogil:
    if floating is float:
        return fastmlp_rmsprop_f(p, g, s, lo, hi, alpha, scale, <float> c.lr,
                                 <float> c.rho, <float> (1 - c.rho),
                                 <float> c.epsilon)
    else:
        return fastmlp_rmsprop_d(p, g, s, lo, hi, alpha, scale, c.lr, c.rho,
                                 1 - c.rho, c.epsilon)


cdef double _update_range(int solver, floating* p, const floating* g,
                          floating* s1, floating* s2, Py_ssize_t lo,
                          Py_ssize_t hi, Py_ssize_t n_coef, floating alpha,
                          floating scale, const OptConsts* c) noexcept nogil:
    """Update p[lo:hi]; return sum(p**2) over its coef part."""
    cdef Py_ssize_t mid = min(max(lo, n_coef), hi)
    cdef double sq = 0
    if solver == SOLVER_SGD:
        sq = _sgd_range(p, g, s1, lo, mid, alpha, scale, c)
        _sgd_range(p, g, s1, mid, hi, 0, scale, c)
    elif solver == SOLVER_ADAM:
        sq = _adam_range(p, g, s1, s2, lo, mid, alpha, scale, c)
        _adam_range(p, g, s1, s2, mid, hi, 0, scale, c)
    else:
        sq = _rmsprop_range(p, g, s1, lo, mid, alpha, scale, c)
        _rmsprop_range(p, g, s1, mid, hi, 0, scale, c)
    return sq


cdef double _update(int solver, floating* p, const floating* g, floating* s1,
                    floating* s2, Py_ssize_t n, Py_ssize_t n_coef,
                    floating alpha, floating scale, const OptConsts* c,
                    int n_threads) noexcept nogil:
    """One optimizer step over the flat buffer; returns sum(coefs**2) after it."""
    cdef Py_ssize_t t, lo, hi, chunk
    cdef double sq = 0
    if n_threads <= 1 or n < PARALLEL_MIN:
        return _update_range(solver, p, g, s1, s2, 0, n, n_coef, alpha, scale, c)
    chunk = (n + n_threads - 1) // n_threads
    for t in prange(n_threads, num_threads=n_threads, schedule="static"):
        lo = t * chunk
        hi = min(n, lo + chunk)
        if lo < hi:
            sq += _update_range(solver, p, g, s1, s2, lo, hi, n_coef, alpha,
                                scale, c)
    return sq


cdef double _grad_sqnorm(const floating* p, const floating* g, Py_ssize_t n,
                         Py_ssize_t n_coef, floating alpha,
                         floating scale) noexcept nogil:
    """sum(g_eff**2), g_eff the finished gradient (L2 and scale applied)."""
    cdef Py_ssize_t j
    cdef double gj, total = 0
    for j in range(n):
        if j < n_coef:
            gj = (g[j] + alpha * p[j]) * scale
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
           double rho=0.9, int n_threads=1):
    """One fused step (test entry point); returns sum(coefs**2) after it.

    ``lr`` is the step size used as is (for Adam, pass the bias-corrected one).
    """
    cdef OptConsts c
    cdef int code
    cdef Py_ssize_t n = params.shape[0]
    cdef double sq
    code = {"sgd": SOLVER_SGD, "adam": SOLVER_ADAM, "rmsprop": SOLVER_RMSPROP}[solver]
    if grads.shape[0] != n or state1.shape[0] != n:
        raise ValueError("params, grads and state1 must have the same length")
    if code == SOLVER_ADAM and state2.shape[0] != n:
        raise ValueError("adam needs state2 of the same length as params")
    if not 0 <= n_coef <= n:
        raise ValueError(f"n_coef={n_coef} is outside [0, {n}]")
    c.lr = lr
    c.momentum = momentum
    c.nesterov = nesterov
    c.beta_1 = beta_1
    c.beta_2 = beta_2
    c.epsilon = epsilon
    c.rho = rho
    if n == 0:
        return 0.0
    with nogil:
        sq = _update(code, &params[0], &grads[0], &state1[0],
                     &state2[0] if state2.shape[0] else NULL, n, n_coef,
                     <floating> alpha, <floating> scale, &c, n_threads)
    return sq


def grad_sqnorm(const floating[::1] params, const floating[::1] grads,
                Py_ssize_t n_coef, double alpha, double scale):
    """Squared norm of the finished gradient (test entry point)."""
    if grads.shape[0] != params.shape[0] or params.shape[0] == 0:
        raise ValueError("params and grads must be non-empty and of equal length")
    return _grad_sqnorm(&params[0], &grads[0], params.shape[0], n_coef,
                        <floating> alpha, <floating> scale)
