# Design: the output layer, its activation fused with its loss.
#
# For each output row, one pass while the row is in cache: add the bias,
# apply the output activation (identity, exp, logistic, softmax), add the
# row's weighted loss, and overwrite the row with the output delta
#     delta = (P - Y) * sample_weight,
# which is dLoss/dZ for every pair here because each output activation is
# the canonical link of its loss.  Losses are scikit-learn's, term by term:
#   squared error   0.5 * mean_k (y - p)**2
#   Poisson         sum_k  xlogy(y, y / p) - y + p
#   binary log-loss -sum_k xlogy(y, p') + xlogy(1 - y, 1 - p')
#   log-loss        -sum_k xlogy(y, p')
# and fastmlp's regression losses (identity output), averaged over outputs
# with their deltas divided by n_outputs too, so delta is exactly dLoss/dZ:
#   Huber           mean_k  r**2 / 2 if |r| <= d else d * (|r| - d / 2)
#   absolute error  mean_k  |r|,     r = p - y
# with p' = clip(p, eps, 1 - eps), eps the dtype's machine epsilon.  Softmax
# subtracts the row maximum before exp (stable); the exps of a block run as
# one vectorized loop (_vexp.h).  Losses accumulate in double.
# The caller divides the sum by sum(sample_weight).
# Threads: none here; the caller hands each thread its rows.
from cython cimport floating
from libc.float cimport DBL_EPSILON, FLT_EPSILON

from fastmlp._scalar cimport clog

# The Python names of the codes in _losses.pxd: the one table of them.
# An output activation with its canonical loss...
OUTPUTS = {"identity": OUT_IDENTITY, "exp": OUT_EXP, "logistic": OUT_LOGISTIC,
           "softmax": OUT_SOFTMAX}
# ...and the other losses of an identity output (MLPRegressor's loss)
IDENTITY_LOSSES = {"huber": OUT_HUBER, "absolute_error": OUT_ABSOLUTE}


cdef extern from "_vexp.h" nogil:
    void fastmlp_vexp_f(float* x, Py_ssize_t n)
    void fastmlp_vexp_d(double* x, Py_ssize_t n)


cdef inline void _vexp(floating* x, Py_ssize_t n) noexcept nogil:
    """x = exp(x) in place, vectorized (_vexp.h)."""
    if floating is float:
        fastmlp_vexp_f(x, n)
    else:
        fastmlp_vexp_d(x, n)


cdef inline floating cxlogy(floating x, floating y) noexcept nogil:
    """x * log(y), 0 where x == 0 (scipy.special.xlogy)."""
    if x == 0:
        return 0
    return x * clog(y)


cdef inline floating cclip(floating p, floating eps) noexcept nogil:
    if p < eps:
        return eps
    if p > 1 - eps:
        return 1 - eps
    return p


cdef void _bias_out_forward(floating* Z, const floating* b, Py_ssize_t n_rows,
                            Py_ssize_t n_out, int kind) noexcept nogil:
    """Z = out_act(Z + b) on a block of rows.  The exps of the whole block
    run in one vectorized call between a pass that prepares their arguments
    (softmax: z - max z of the row; logistic: -z) and a pass that finishes
    (softmax: / sum of the row; logistic: 1 / (1 + e))."""
    cdef Py_ssize_t i, k
    cdef floating* z
    cdef floating zmax, total
    for i in range(n_rows):
        z = Z + i * n_out
        for k in range(n_out):
            z[k] = z[k] + b[k]
        if kind == OUT_SOFTMAX:
            zmax = z[0]
            for k in range(1, n_out):
                if z[k] > zmax:
                    zmax = z[k]
            for k in range(n_out):
                z[k] = z[k] - zmax
        elif kind == OUT_LOGISTIC:
            for k in range(n_out):
                z[k] = -z[k]
    if kind != OUT_EXP and kind != OUT_SOFTMAX and kind != OUT_LOGISTIC:
        return
    _vexp(Z, n_rows * n_out)
    if kind == OUT_LOGISTIC:
        for i in range(n_rows * n_out):
            Z[i] = 1 / (1 + Z[i])
    elif kind == OUT_SOFTMAX:
        for i in range(n_rows):
            z = Z + i * n_out
            total = 0
            for k in range(n_out):
                total = total + z[k]
            for k in range(n_out):
                z[k] = z[k] / total


cdef double _bias_out_loss_delta(floating* Z, const floating* b,
                                 const floating* Y, const floating* sw,
                                 Py_ssize_t n_rows, Py_ssize_t n_out,
                                 int kind, double huber_delta,
                                 double* row_losses) noexcept nogil:
    """Z <- (out_act(Z + b) - Y) * sw row by row; return sum_i sw_i * loss_i
    (and store each sw_i * loss_i in row_losses, unless it is NULL)."""
    cdef Py_ssize_t i, k
    cdef floating* z
    cdef const floating* y
    cdef floating p, pc, w, r, ar
    cdef floating eps = FLT_EPSILON if floating is float else DBL_EPSILON
    cdef double row_loss, total = 0
    _bias_out_forward(Z, b, n_rows, n_out, kind)
    for i in range(n_rows):
        z = Z + i * n_out
        y = Y + i * n_out
        w = 1 if sw == NULL else sw[i]
        row_loss = 0
        for k in range(n_out):
            p = z[k]
            if kind == OUT_IDENTITY:
                row_loss += 0.5 * (y[k] - p) * (y[k] - p)
            elif kind == OUT_EXP:
                # xlogy(y, y / p) - y + p
                row_loss += cxlogy(y[k], y[k] / p) - y[k] + p
            elif kind == OUT_LOGISTIC:
                pc = cclip(p, eps)
                row_loss -= cxlogy(y[k], pc) + cxlogy(1 - y[k], 1 - pc)
            elif kind == OUT_SOFTMAX:
                row_loss -= cxlogy(y[k], cclip(p, eps))
            else:
                # Huber and absolute error: the delta is the loss's own slope
                r = p - y[k]
                ar = r if r >= 0 else -r
                if kind == OUT_ABSOLUTE:
                    row_loss += ar
                    z[k] = (0 if r == 0 else (1 if r > 0 else -1)) * w / n_out
                elif ar <= huber_delta:
                    row_loss += 0.5 * r * r
                    z[k] = r * w / n_out
                else:
                    row_loss += huber_delta * (ar - 0.5 * huber_delta)
                    z[k] = (huber_delta if r > 0 else -huber_delta) * w / n_out
                continue
            z[k] = (p - y[k]) * w
        if kind == OUT_IDENTITY or kind == OUT_HUBER or kind == OUT_ABSOLUTE:
            row_loss /= n_out
        total += w * row_loss
        if row_losses != NULL:
            row_losses[i] = w * row_loss
    return total


def bias_out_forward(floating[:, ::1] Z,          # INOUT
                     const floating[::1] b,       # IN
                     int kind):
    """Z = out_act(Z + b) in place (test entry point)."""
    if b.shape[0] != Z.shape[1]:
        raise ValueError(f"bias has {b.shape[0]} entries, Z has {Z.shape[1]} columns")
    if Z.shape[0] == 0 or Z.shape[1] == 0:
        return
    with nogil:
        _bias_out_forward(&Z[0, 0], &b[0], Z.shape[0], Z.shape[1], kind)


def bias_out_loss_delta(floating[:, ::1] Z,           # INOUT: in Z, out delta
                        const floating[::1] b,        # IN
                        const floating[:, ::1] Y,     # IN
                        const floating[::1] sw,       # IN, or None
                        int kind, double huber_delta=1.0):
    """Fused output pass (test entry point); returns sum_i sw_i * loss_i."""
    cdef double total
    if b.shape[0] != Z.shape[1] or Y.shape[0] != Z.shape[0] or Y.shape[1] != Z.shape[1]:
        raise ValueError("Z, b and Y shapes do not match")
    if sw is not None and sw.shape[0] != Z.shape[0]:
        raise ValueError("sample_weight length does not match Z")
    if Z.shape[0] == 0 or Z.shape[1] == 0:
        return 0.0
    with nogil:
        total = _bias_out_loss_delta(&Z[0, 0], &b[0], &Y[0, 0],
                                     NULL if sw is None else &sw[0],
                                     Z.shape[0], Z.shape[1], kind, huber_delta,
                                     NULL)
    return total


def vexp(floating[::1] x):                   # INOUT
    """x = exp(x) in place with the engine's vectorized exp (test entry point)."""
    if x.shape[0]:
        with nogil:
            _vexp(&x[0], x.shape[0])
