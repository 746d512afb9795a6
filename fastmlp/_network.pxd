from cython cimport floating

from fastmlp._tuning cimport Tuning

# Where everything lives in the flat buffers; built once per call by Python
# (fastmlp._engine.Layout) and read-only in the kernels.  Per-layer arrays
# are indexed by the layer of units: 0 = input, n_layers - 1 = output.
cdef struct Net:
    int n_layers                  # len(units): input, hidden..., output
    const Py_ssize_t* units       # layer sizes
    const Py_ssize_t* coef_off    # W_l = params[coef_off[l]:], (units[l], units[l+1])
    const Py_ssize_t* int_off     # b_l = params[int_off[l]:], (units[l+1],)
    const Py_ssize_t* act_off     # A_l = work[act_off[l]:], (batch, units[l]), l >= 1
    const Py_ssize_t* delta_off   # D_l = work[delta_off[l]:], (batch, units[l]), hidden l
    const Py_ssize_t* pre_off     # Z_l (pre-activation) for gelu/silu layers, else -1
    const Py_ssize_t* mask_off    # dropout mask of layer l (l = 0: the dropped input), else -1
    const int* acts               # activation code of hidden layer l
    const double* keep            # 1 - dropout rate of layer l (1: no dropout)
    Py_ssize_t n_coef             # params[:n_coef] are coefs (L2, L1 apply)
    Py_ssize_t n_params
    int out_kind                  # output activation + loss code (_losses)
    double huber_delta
    double max_norm               # max L2 norm of each unit's incoming weights; 0 = off
    unsigned long long seed       # dropout masks: counter-based, seeded per epoch
    int n_threads
    Tuning tun                    # the call's thresholds (_tuning.pxd)


cdef inline floating* _at(floating* p, Py_ssize_t off) noexcept nogil:
    """p + off, keeping NULL (an unused optimizer state) NULL."""
    return NULL if p == NULL else p + off


cdef inline Py_ssize_t _part_lo(Py_ssize_t n, int t, int nt) noexcept nogil:
    """Where thread t's part of n items starts: parts of ceil(n / nt) items,
    the last ones shorter or empty (then _part_lo == _part_hi == n)."""
    cdef Py_ssize_t lo = t * ((n + nt - 1) // nt)
    return lo if lo < n else n


cdef inline Py_ssize_t _part_hi(Py_ssize_t n, int t, int nt) noexcept nogil:
    """Where thread t's part of n items ends (see _part_lo)."""
    return _part_lo(n, t + 1, nt)
