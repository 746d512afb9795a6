# Design: hidden-layer activations.
#
# Forward: _bias_act_forward adds the bias and applies the activation in one
# pass over a block of GEMM output rows, while the block is still in cache
# (the network calls it right after the GEMM of that block).
# Backward: _act_backward multiplies a delta block by the activation's
# derivative, computed from the stored OUTPUT of the layer (as scikit-learn
# does), so no pre-activation is kept.
# Threads: none here.  These are serial loops over the rows they are given;
# the caller (_network) owns the OpenMP team and hands each thread its rows.
from cython cimport floating
from libc.math cimport tanh, tanhf

from fastmlp._scalar cimport cexp


cdef inline floating clogistic(floating x) noexcept nogil:
    """1 / (1 + exp(-x)), as scipy.special.expit; exp overflow gives 0, not NaN."""
    return 1 / (1 + cexp(-x))


cdef inline floating ctanh(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline floating crelu(floating x) noexcept nogil:
    # NaN stays NaN (as np.maximum), so divergence is seen, not hidden.
    return 0 if x < 0 else x


cdef void _bias_act_forward(floating* Z, const floating* b, Py_ssize_t n_rows,
                            Py_ssize_t n_cols, int act) noexcept nogil:
    """Z[i, j] = act(Z[i, j] + b[j]) over a row-major block."""
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
        else:
            for j in range(n_cols):
                z[j] = clogistic(z[j] + b[j])


cdef void _act_backward(const floating* A, floating* D, Py_ssize_t n,
                        int act) noexcept nogil:
    """D *= act'(Z), written with the layer output A = act(Z)."""
    cdef Py_ssize_t j
    if act == ACT_IDENTITY:
        return
    elif act == ACT_RELU:
        # relu: A = max(Z, 0), so dA/dZ = 0 where A == 0 (scikit-learn's rule)
        for j in range(n):
            if A[j] == 0:
                D[j] = 0
    elif act == ACT_TANH:
        # tanh: A = tanh(Z), dA/dZ = 1 - A**2
        for j in range(n):
            D[j] = D[j] * (1 - A[j] * A[j])
    else:
        # logistic: A = 1 / (1 + exp(-Z)), dA/dZ = A * (1 - A)
        for j in range(n):
            D[j] = D[j] * A[j] * (1 - A[j])


def bias_act_forward(floating[:, ::1] Z,          # INOUT
                     const floating[::1] b,       # IN
                     int act):
    """Z = act(Z + b) in place (test entry point)."""
    if b.shape[0] != Z.shape[1]:
        raise ValueError(f"bias has {b.shape[0]} entries, Z has {Z.shape[1]} columns")
    if Z.shape[0] == 0 or Z.shape[1] == 0:
        return
    with nogil:
        _bias_act_forward(&Z[0, 0], &b[0], Z.shape[0], Z.shape[1], act)


def act_backward(const floating[:, ::1] A,        # IN
                 floating[:, ::1] D,              # INOUT
                 int act):
    """D *= act'(A) in place (test entry point)."""
    if A.shape[0] != D.shape[0] or A.shape[1] != D.shape[1]:
        raise ValueError("A and D must have the same shape")
    if A.shape[0] == 0 or A.shape[1] == 0:
        return
    with nogil:
        _act_backward(&A[0, 0], &D[0, 0], A.shape[0] * A.shape[1], act)
