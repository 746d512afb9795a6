# Design: hidden-layer activations.
#
# Forward: _bias_act_forward adds the bias and applies the activation in one
# pass over a block of GEMM output rows, while the block is still in cache
# (the network calls it right after the GEMM of that block).
# Backward: _act_backward multiplies a delta block by the activation's
# derivative.  As in scikit-learn the derivative is written with the layer's
# OUTPUT A wherever A determines it (identity, logistic, tanh, relu,
# leaky_relu, elu, softplus), so no pre-activation is kept; gelu and silu are
# not monotonic, so for them the forward pass also stores Z = XW + b (Zpre)
# and the derivative reads it.  _act_backward_masked is the same under
# inverted dropout: A holds the dropped output A * mask, mask is 0 or 1/keep.
# SiLU runs as C loops that vectorize, exp included (_vact.h): with libm's
# exp it cost as much as the layer's GEMMs.
# Parametric activations (RealMLP's): A = Z + alpha * (act(Z) - Z), one
# alpha per unit, for the activations that keep Zpre (gelu, silu):
# _param_mix after _bias_act_forward, _param_act_backward in place of
# _act_backward(_masked); the latter also leaves dL/dalpha's terms in Zpre
# (the caller sums them over the rows).
# Threads: none here.  These are serial loops over the rows they are given;
# the caller (_network) owns the OpenMP team and hands each thread its rows.
from cython cimport floating

from fastmlp._scalar cimport cerf, cexp, clog1p, ctanh


cdef extern from "_vact.h" nogil:
    void fastmlp_silu_fwd_f(float* z, const float* b, float* zpre, Py_ssize_t n)
    void fastmlp_silu_fwd_d(double* z, const double* b, double* zpre, Py_ssize_t n)
    void fastmlp_silu_bwd_f(const float* zpre, const float* mask, float* d, Py_ssize_t n)
    void fastmlp_silu_bwd_d(const double* zpre, const double* mask, double* d,
                            Py_ssize_t n)
    void fastmlp_psilu_bwd_f(float* zpre, const float* mask, const float* alpha, float* d,
                             Py_ssize_t n)
    void fastmlp_psilu_bwd_d(double* zpre, const double* mask, const double* alpha,
                             double* d, Py_ssize_t n)


cdef inline void _silu_forward(floating* z, const floating* b, floating* zpre,
                               Py_ssize_t n) noexcept nogil:
    """z = silu(z + b), zpre = z + b (unless NULL): _vact.h."""
    if floating is float:
        fastmlp_silu_fwd_f(z, b, zpre, n)
    else:
        fastmlp_silu_fwd_d(z, b, zpre, n)


cdef inline void _silu_backward(const floating* zpre, const floating* mask,
                                floating* d, Py_ssize_t n) noexcept nogil:
    """d *= (mask *) silu'(zpre), 0 where mask is 0: _vact.h."""
    if floating is float:
        fastmlp_silu_bwd_f(zpre, mask, d, n)
    else:
        fastmlp_silu_bwd_d(zpre, mask, d, n)

# The Python names of the codes in _activations.pxd: the one table of them.
ACTIVATIONS = {"identity": ACT_IDENTITY, "logistic": ACT_LOGISTIC, "tanh": ACT_TANH,
               "relu": ACT_RELU, "leaky_relu": ACT_LEAKY_RELU, "elu": ACT_ELU,
               "softplus": ACT_SOFTPLUS, "gelu": ACT_GELU, "silu": ACT_SILU}
# hidden activations whose derivative needs the pre-activation Z
NEEDS_PREACTIVATION = frozenset(
    name for name, code in ACTIVATIONS.items() if _needs_preactivation(code))

cdef double LEAKY_SLOPE = 0.01     # leaky_relu: slope for Z < 0 (Keras, PyTorch)
cdef double INV_SQRT2 = 0.7071067811865476
cdef double INV_SQRT_2PI = 0.3989422804014327


cdef bint _needs_preactivation(int act) noexcept nogil:
    return act == ACT_GELU or act == ACT_SILU


cdef inline floating clogistic(floating x) noexcept nogil:
    """1 / (1 + exp(-x)), as scipy.special.expit; exp overflow gives 0, not NaN."""
    return 1 / (1 + cexp(-x))


cdef inline floating crelu(floating x) noexcept nogil:
    # NaN stays NaN (as np.maximum), so divergence is seen, not hidden.
    return 0 if x < 0 else x


cdef inline floating cact(floating z, int act) noexcept nogil:
    """act(z) for the activations that have no loop of their own below."""
    if act == ACT_LEAKY_RELU:
        return z if z > 0 else <floating> LEAKY_SLOPE * z
    elif act == ACT_ELU:
        return z if z > 0 else cexp(z) - 1
    elif act == ACT_SOFTPLUS:
        # log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)), stable both ways
        return (z if z > 0 else 0) + clog1p(cexp(-z if z > 0 else z))
    elif act == ACT_GELU:
        # z * Phi(z), Phi the standard normal CDF (exact, erf form)
        return z * <floating> 0.5 * (1 + cerf(z * <floating> INV_SQRT2))
    else:  # ACT_SILU
        return z * clogistic(z)


cdef inline floating cgrad(floating a, floating z, int act) noexcept nogil:
    """dA/dZ, from the output a (and the pre-activation z for gelu, silu)."""
    cdef floating s
    if act == ACT_IDENTITY:
        return 1
    elif act == ACT_LOGISTIC:
        return a * (1 - a)                     # A = 1 / (1 + exp(-Z))
    elif act == ACT_TANH:
        return 1 - a * a                       # A = tanh(Z)
    elif act == ACT_RELU:
        return 0 if a == 0 else 1              # A = max(Z, 0)
    elif act == ACT_LEAKY_RELU:
        return 1 if a > 0 else <floating> LEAKY_SLOPE
    elif act == ACT_ELU:
        return 1 if a > 0 else a + 1           # A = exp(Z) - 1 for Z <= 0
    elif act == ACT_SOFTPLUS:
        return 1 - cexp(-a)                    # sigmoid(Z) = 1 - exp(-A)
    elif act == ACT_GELU:
        # Phi(z) + z * phi(z)
        return (<floating> 0.5 * (1 + cerf(z * <floating> INV_SQRT2))
                + z * <floating> INV_SQRT_2PI * cexp(-z * z / 2))
    else:  # ACT_SILU: s + z s (1 - s), s = sigmoid(z)
        s = clogistic(z)
        return s * (1 + z * (1 - s))


cdef void _bias_act_forward(floating* Z, const floating* b, Py_ssize_t n_rows,
                            Py_ssize_t n_cols, int act,
                            floating* Zpre) noexcept nogil:
    """Z[i, j] = act(Z[i, j] + b[j]) over a row-major block; Zpre (if not
    NULL) receives Z + b."""
    cdef Py_ssize_t i, j
    cdef floating* z
    for i in range(n_rows):
        z = Z + i * n_cols
        if act == ACT_IDENTITY:
            for j in range(n_cols):
                z[j] = z[j] + b[j]
        elif act == ACT_RELU:
            for j in range(n_cols):
                z[j] = crelu(z[j] + b[j])
        elif act == ACT_TANH:
            for j in range(n_cols):
                z[j] = ctanh(z[j] + b[j])
        elif act == ACT_LOGISTIC:
            for j in range(n_cols):
                z[j] = clogistic(z[j] + b[j])
        elif act == ACT_SILU:
            _silu_forward(z, b, NULL if Zpre == NULL else Zpre + i * n_cols, n_cols)
        elif Zpre != NULL:
            for j in range(n_cols):
                Zpre[i * n_cols + j] = z[j] + b[j]
                z[j] = cact(Zpre[i * n_cols + j], act)
        else:
            for j in range(n_cols):
                z[j] = cact(z[j] + b[j], act)


cdef void _act_backward(const floating* A, const floating* Zpre, floating* D,
                        Py_ssize_t n, int act) noexcept nogil:
    """D *= act'(Z), written with the layer output A (or Zpre, gelu/silu)."""
    cdef Py_ssize_t j
    if act == ACT_IDENTITY:
        return
    elif act == ACT_RELU:
        # a select, not a branch, so the loop vectorizes
        for j in range(n):
            D[j] = 0 if A[j] == 0 else D[j]
    elif act == ACT_TANH:
        for j in range(n):
            D[j] = D[j] * (1 - A[j] * A[j])
    elif act == ACT_LOGISTIC:
        for j in range(n):
            D[j] = D[j] * A[j] * (1 - A[j])
    elif act == ACT_SILU:
        _silu_backward(Zpre, <const floating*> NULL, D, n)
    elif _needs_preactivation(act):
        for j in range(n):
            D[j] = D[j] * cgrad(A[j], Zpre[j], act)
    else:
        for j in range(n):
            D[j] = D[j] * cgrad(A[j], 0, act)


cdef void _act_backward_masked(const floating* A, const floating* Zpre,
                               const floating* mask, floating keep,
                               floating* D, Py_ssize_t n, int act) noexcept nogil:
    """D *= mask * act'(Z) under inverted dropout (A = act(Z) * mask)."""
    cdef Py_ssize_t j
    cdef floating a
    if act == ACT_SILU:
        _silu_backward(Zpre, mask, D, n)
        return
    # D * mask first, then act' (the product in the same order as one
    # expression); loops of selects that vectorize where act' has one
    for j in range(n):
        D[j] = 0 if mask[j] == 0 else D[j] * mask[j]
    if act == ACT_IDENTITY:
        return
    elif act == ACT_RELU:
        for j in range(n):
            D[j] = 0 if A[j] == 0 else D[j]     # A = relu(Z) * mask
    elif act == ACT_TANH:
        for j in range(n):
            a = A[j] * keep
            D[j] = D[j] * (1 - a * a)
    elif act == ACT_LOGISTIC:
        for j in range(n):
            a = A[j] * keep
            D[j] = D[j] * (a * (1 - a))
    else:
        for j in range(n):
            if mask[j] != 0:
                D[j] = D[j] * cgrad(A[j] * keep, Zpre[j] if Zpre != NULL else 0, act)


cdef void _param_mix(floating* Z, const floating* Zpre, const floating* alpha,
                     Py_ssize_t n_rows, Py_ssize_t n_cols) noexcept nogil:
    """Z = Zpre + alpha * (Z - Zpre) over a row-major block, Z holding
    act(Zpre): the parametric activation's output."""
    cdef Py_ssize_t i, j
    cdef floating* z
    cdef const floating* zp
    for i in range(n_rows):
        z = Z + i * n_cols
        zp = Zpre + i * n_cols
        for j in range(n_cols):
            z[j] = zp[j] + alpha[j] * (z[j] - zp[j])


cdef void _param_act_backward(floating* Zpre, const floating* mask, const floating* alpha,
                              floating* D, Py_ssize_t n_rows, Py_ssize_t n_cols,
                              int act) noexcept nogil:
    """Row-major block of a parametric layer, per entry, with e = D (* mask):
    D = e * (1 - alpha + alpha * act'(Z)) and Zpre = e * (act(Z) - Z), both
    exactly 0 where mask is 0 (mask NULL: no dropout).  act is gelu or silu."""
    cdef Py_ssize_t i, j, k
    cdef floating z, e, a
    for i in range(n_rows):
        k = i * n_cols
        if act == ACT_SILU:
            if floating is float:
                fastmlp_psilu_bwd_f(Zpre + k, NULL if mask == NULL else mask + k, alpha,
                                    D + k, n_cols)
            else:
                fastmlp_psilu_bwd_d(Zpre + k, NULL if mask == NULL else mask + k, alpha,
                                    D + k, n_cols)
            continue
        for j in range(n_cols):
            z = Zpre[k + j]
            e = D[k + j] if mask == NULL else D[k + j] * mask[k + j]
            a = alpha[j]
            if mask != NULL and mask[k + j] == 0:
                D[k + j] = 0
                Zpre[k + j] = 0
            else:
                D[k + j] = e * ((1 - a) + a * cgrad(0, z, act))
                Zpre[k + j] = e * (cact(z, act) - z)


def param_act_backward(floating[:, ::1] Zpre,         # INOUT: Z in, dL/dalpha terms out
                       const floating[:, ::1] mask,   # IN: 0 or 1/keep, or None
                       const floating[::1] alpha,     # IN: one per column
                       floating[:, ::1] D,            # INOUT
                       int act):
    """_param_act_backward in place (test entry point)."""
    if (Zpre.shape[0] != D.shape[0] or Zpre.shape[1] != D.shape[1]
            or alpha.shape[0] != D.shape[1]):
        raise ValueError("Zpre and D must have one shape, alpha one entry per column")
    if mask is not None and (mask.shape[0] != D.shape[0] or mask.shape[1] != D.shape[1]):
        raise ValueError("mask must have D's shape")
    if not _needs_preactivation(act):
        raise ValueError("parametric activations are gelu or silu")
    if D.shape[0] == 0 or D.shape[1] == 0:
        return
    with nogil:
        _param_act_backward(&Zpre[0, 0], &mask[0, 0] if mask is not None else NULL,
                            &alpha[0], &D[0, 0], D.shape[0], D.shape[1], act)


def bias_act_forward(floating[:, ::1] Z,          # INOUT
                     const floating[::1] b,       # IN
                     int act):
    """Z = act(Z + b) in place (test entry point)."""
    if b.shape[0] != Z.shape[1]:
        raise ValueError(f"bias has {b.shape[0]} entries, Z has {Z.shape[1]} columns")
    if Z.shape[0] == 0 or Z.shape[1] == 0:
        return
    with nogil:
        _bias_act_forward(&Z[0, 0], &b[0], Z.shape[0], Z.shape[1], act, NULL)


def act_backward(const floating[:, ::1] A,        # IN: layer output
                 const floating[:, ::1] Zpre,     # IN: pre-activation (gelu, silu) or None
                 floating[:, ::1] D,              # INOUT
                 int act):
    """D *= act'(Z) in place (test entry point)."""
    if A.shape[0] != D.shape[0] or A.shape[1] != D.shape[1]:
        raise ValueError("A and D must have the same shape")
    if _needs_preactivation(act) and Zpre is None:
        raise ValueError("this activation's derivative needs Zpre")
    if Zpre is not None and (Zpre.shape[0] != A.shape[0] or Zpre.shape[1] != A.shape[1]):
        raise ValueError("Zpre must have A's shape")
    if A.shape[0] == 0 or A.shape[1] == 0:
        return
    with nogil:
        _act_backward(&A[0, 0], &Zpre[0, 0] if Zpre is not None else NULL,
                      &D[0, 0], A.shape[0] * A.shape[1], act)


def act_backward_masked(const floating[:, ::1] A,     # IN: dropped layer output
                        const floating[:, ::1] Zpre,  # IN: pre-activation (gelu, silu) or None
                        const floating[:, ::1] mask,  # IN: 0 or 1/keep
                        double keep,
                        floating[:, ::1] D,           # INOUT
                        int act):
    """D *= mask * act'(Z) in place, 0 where mask is 0 (test entry point)."""
    if (A.shape[0] != D.shape[0] or A.shape[1] != D.shape[1] or mask.shape[0] != D.shape[0]
            or mask.shape[1] != D.shape[1]):
        raise ValueError("A, mask and D must have the same shape")
    if _needs_preactivation(act) and Zpre is None:
        raise ValueError("this activation's derivative needs Zpre")
    if Zpre is not None and (Zpre.shape[0] != A.shape[0] or Zpre.shape[1] != A.shape[1]):
        raise ValueError("Zpre must have A's shape")
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    if A.shape[0] == 0 or A.shape[1] == 0:
        return
    with nogil:
        _act_backward_masked(&A[0, 0], &Zpre[0, 0] if Zpre is not None else NULL,
                             &mask[0, 0], <floating> keep, &D[0, 0],
                             A.shape[0] * A.shape[1], act)
