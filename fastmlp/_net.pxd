# Design: what every part of the network engine shares, declared once and
# compiled into each module that cimports it (no .pyx): the Net a call runs
# on, the CSR view of X, and the small inline helpers that decide how a
# step is cut into threads, row blocks and GEMM pieces.  _network.pyx builds
# a Net per call; _layers, _step, _online and _predict read it.
from cython cimport floating

from fastmlp._activations cimport ACT_IDENTITY, ACT_LEAKY_RELU, ACT_RELU
from fastmlp._losses cimport OUT_ABSOLUTE, OUT_HUBER, OUT_IDENTITY

from fastmlp._tuning cimport Tuning


cdef extern from "_debug.h" nogil:
    # checks of the layout invariants: live in the debug build only
    void FASTMLP_ASSERT(bint cond, const char* what)
    int FASTMLP_DEBUG_BUILD

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
    Py_ssize_t batch_size         # rows the work buffer holds per layer
    Py_ssize_t work_size          # length of the work buffer
    # the input layer (_input_layer.pyx): periodic columns (per_n * per_k == 0: none)
    Py_ssize_t per_n              # numeric columns (X's first), each with
    Py_ssize_t per_k              # per_k periodic columns, which are X's last
    Py_ssize_t per_d              # or (per_d > 0) mixed into per_d columns, X's last
    Py_ssize_t per_off            # f = params[per_off:], then ph, per_n * per_k each,
                                  # then A (per_n, per_k, per_d) and b (per_n, per_d)
    Py_ssize_t per_size           # their count
    double per_lr                 # their learning rate, as a factor of the others'
    Py_ssize_t cat_n              # categorical columns with embeddings (0: none), whose
    Py_ssize_t cat_d              # cat_d output columns each sit before the periodic ones;
    const Py_ssize_t* cat_rows    # table c is E's rows cat_rows[c]:cat_rows[c + 1]
    Py_ssize_t cat_off            # E = params[cat_off:], (cat_rows[cat_n], cat_d)
    double cat_lr                 # its learning rate, as a factor of the others'
    Py_ssize_t sc_off             # the input scale s = params[sc_off:], units[0]; -1: none
    double sc_lr                  # its learning rate, as a factor of the others'
    Py_ssize_t emb_off            # Xe = work[emb_off:], (batch, units[0])
    Py_ssize_t esin_off           # the periodic columns' sines, (batch, per_n * per_k)
    Py_ssize_t ecos_off           # and cosines, kept when per_d > 0
    Py_ssize_t ecode_off          # the batch's codes, (batch, cat_n), with embeddings
    Py_ssize_t egrad_off          # G, the loss's gradient at Xe: those columns, or all
                                  # with the scale
    Py_ssize_t xs_off             # Xe before the scale, (batch, units[0])
    # parametric activations (_activations.pyx): alpha_l for each hidden layer l,
    # params[pa_off:] in layer order (units[1], units[2], ...); -1: none
    Py_ssize_t pa_off
    double pa_lr                  # their learning rate, as a factor of the others'


# What prediction needs of the input layer (_predict.pyx, _input_layer._input_rows)
cdef struct InLayer:
    Py_ssize_t per_n, per_k, per_d, per_off   # as Net's
    Py_ssize_t cat_n, cat_d, cat_off
    const Py_ssize_t* cat_rows
    Py_ssize_t sc_off


cdef inline bint _has_input_layer(const Net* net) noexcept nogil:
    """Does the call run the input layer (_input_layer.pyx): periodic
    columns, embeddings, an input scale, or some of them?"""
    return net.per_n * net.per_k > 0 or net.cat_n > 0 or net.sc_off >= 0


cdef inline Py_ssize_t _per_out(const Net* net) noexcept nogil:
    """The periodic layer's output columns (X's last): per_k or per_d per
    numeric column."""
    return net.per_n * (net.per_d if net.per_d > 0 else net.per_k)


cdef inline Py_ssize_t _in_out(const Net* net) noexcept nogil:
    """The input layer's output columns (X's last): the embeddings', then
    the periodic layer's."""
    return net.cat_n * net.cat_d + _per_out(net)


cdef inline bint _has_param_act(const Net* net) noexcept nogil:
    """Are the hidden activations parametric (one alpha per unit)?"""
    return net.pa_off >= 0


cdef inline Py_ssize_t _alpha_off(const Net* net, int l) noexcept nogil:
    """Offset of hidden layer l's alphas in params (parametric activations)."""
    cdef Py_ssize_t off = net.pa_off
    cdef int k
    for k in range(1, l):
        off += net.units[k]
    return off


cdef inline Py_ssize_t _n_alpha(const Net* net) noexcept nogil:
    """How many alphas there are: every hidden unit's."""
    return _alpha_off(net, net.n_layers - 1) - net.pa_off


cdef inline floating* _at(floating* p, Py_ssize_t off) noexcept nogil:
    """p + off, keeping NULL (an unused optimizer state) NULL."""
    return NULL if p == NULL else p + off


cdef inline Py_ssize_t _part_lo(Py_ssize_t n, int t, int nt) noexcept nogil:
    """Where thread t's part of n items starts: parts of ceil(n / nt) items,
    the last ones shorter or empty (then _part_lo == _part_hi == n)."""
    cdef Py_ssize_t lo = t * ((n + nt - 1) // nt)
    FASTMLP_ASSERT(n >= 0 and t >= 0 and nt >= 1, "a part of n items over nt threads")
    return lo if lo < n else n


cdef inline Py_ssize_t _part_hi(Py_ssize_t n, int t, int nt) noexcept nogil:
    """Where thread t's part of n items ends (see _part_lo)."""
    return _part_lo(n, t + 1, nt)


cdef struct Csr:
    const void* data              # floating*, NULL when X is dense
    const Py_ssize_t* indices     # the column indices, intp or
    const int* indices32          # int32 (SciPy's usual; the other NULL)
    const Py_ssize_t* indptr


cdef inline double _act_work(const Net* net, int act) noexcept nogil:
    """GEMM-flop equivalent of one hidden activation value (fwd + bwd)."""
    if act == ACT_IDENTITY or act == ACT_RELU or act == ACT_LEAKY_RELU:
        return 2
    return net.tun.transcendental_flops


cdef inline double _out_work(const Net* net, int kind) noexcept nogil:
    """GEMM-flop equivalent of one output value (activation, loss, delta)."""
    if kind == OUT_IDENTITY or kind == OUT_HUBER or kind == OUT_ABSOLUTE:
        return 4
    return 2 * net.tun.transcendental_flops    # exp (+ log) per value


cdef inline int _team(const Net* net, double flops, Py_ssize_t n_items) noexcept nogil:
    """Threads for one step: 1 when the step is too small to split."""
    if net.n_threads <= 1 or flops < net.tun.par_min_flops or n_items < 2:
        return 1
    return net.n_threads if net.n_threads < n_items else <int> n_items


cdef inline Py_ssize_t _block_rows(const Tuning* tun, Py_ssize_t m, Py_ssize_t width,
                                   int nt, Py_ssize_t itemsize) noexcept nogil:
    """Rows per block: tun.block_bytes of output, at least tun.min_block_rows."""
    cdef Py_ssize_t rb = tun.block_bytes // (width * itemsize + 1)
    if rb < tun.min_block_rows:
        rb = tun.min_block_rows
    if nt > 1 and rb * nt > m:
        rb = (m + nt - 1) // nt
    if rb < 1:
        rb = 1
    return rb


cdef inline Py_ssize_t _piece_rows(const Tuning* tun, Py_ssize_t rows,
                                   double mnk_per_row) noexcept nogil:
    """Rows per GEMM piece (see Tuning.small_gemm_mnk): all rows unless
    pieces of at most small_gemm_mnk keep small_gemm_min_rows rows or more;
    the rows are shared evenly, so no piece is a small leftover."""
    cdef Py_ssize_t pr, n_pieces, even, by_four
    if rows * mnk_per_row <= tun.small_gemm_mnk:
        return rows
    pr = <Py_ssize_t> (tun.small_gemm_mnk / mnk_per_row)
    if pr < tun.small_gemm_min_rows:
        return rows
    n_pieces = (rows + pr - 1) // pr
    even = (rows + n_pieces - 1) // n_pieces
    # a multiple of 4 rows runs ~10% faster in those kernels (115 vs 97-108
    # GFLOP/s at 8-15 rows, bench/README.md)
    by_four = (even + 3) // 4 * 4
    return by_four if by_four <= pr else even


cdef inline floating* _layer_buf(floating* work, Py_ssize_t off,
                                 Py_ssize_t shift) noexcept nogil:
    return NULL if off < 0 else work + off + shift


cdef inline void _assert_rows(const Net* net, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    """Debug build: rows r0:r1 of a batch fit the work buffer's regions."""
    FASTMLP_ASSERT(0 <= r0 and r0 <= r1 and r1 <= net.batch_size,
                   "batch rows within the layout's batch_size")


cdef inline void _assert_layout(const Net* net) noexcept nogil:
    """Debug build: every region of the work buffer, and every layer's
    weights and biases, lie inside their buffers (what the kernels, bounds
    checks off, take on trust)."""
    cdef int l
    cdef Py_ssize_t b = net.batch_size
    FASTMLP_ASSERT(net.n_coef <= net.n_params, "coefs inside params")
    for l in range(net.n_layers - 1):
        FASTMLP_ASSERT(net.coef_off[l] >= 0 and net.coef_off[l]
                       + net.units[l] * net.units[l + 1] <= net.n_coef, "W_l inside the coefs")
        FASTMLP_ASSERT(net.int_off[l] >= net.n_coef and net.int_off[l]
                       + net.units[l + 1] <= net.n_params, "b_l inside params")
    for l in range(net.n_layers):
        if l >= 1:
            FASTMLP_ASSERT(net.act_off[l] >= 0 and net.act_off[l] + b * net.units[l]
                           <= net.work_size, "A_l inside work")
        if 1 <= l < net.n_layers - 1:
            FASTMLP_ASSERT(net.delta_off[l] >= 0 and net.delta_off[l] + b * net.units[l]
                           <= net.work_size, "D_l inside work")
        if net.pre_off[l] >= 0:
            FASTMLP_ASSERT(net.pre_off[l] + b * net.units[l] <= net.work_size,
                           "Z_l inside work")
        if net.mask_off[l] >= 0:
            FASTMLP_ASSERT(net.mask_off[l] + b * net.units[l] <= net.work_size,
                           "dropout mask of layer l inside work")
    if net.sc_off >= 0:
        FASTMLP_ASSERT(net.sc_off >= net.n_coef and net.sc_off + net.units[0] <= net.n_params,
                       "the input scale inside params")
        FASTMLP_ASSERT(net.xs_off >= 0 and net.xs_off + b * net.units[0] <= net.work_size
                       and net.emb_off >= 0 and net.emb_off + b * net.units[0] <= net.work_size
                       and net.egrad_off >= 0
                       and net.egrad_off + b * net.units[0] <= net.work_size,
                       "Xe, unscaled Xe and G inside work")
    if net.pa_off >= 0:
        FASTMLP_ASSERT(net.pa_off >= net.n_coef and net.pa_off + _n_alpha(net) <= net.n_params,
                       "the alphas inside params")
        for l in range(1, net.n_layers - 1):
            FASTMLP_ASSERT(net.pre_off[l] >= 0, "Z_l kept for each parametric layer")
    if net.per_n * net.per_k > 0:
        FASTMLP_ASSERT(net.per_n + _per_out(net) <= net.units[0],
                       "numeric and periodic output columns inside X")
        FASTMLP_ASSERT(net.per_size == 2 * net.per_n * net.per_k
                       + (net.per_n * net.per_k + net.per_n) * net.per_d,
                       "f, ph, A, b counted")
        FASTMLP_ASSERT(net.per_off >= net.n_coef and net.per_off + net.per_size
                       <= net.n_params, "f, ph, A, b inside params")
        FASTMLP_ASSERT(net.emb_off >= 0 and net.emb_off + b * net.units[0] <= net.work_size
                       and net.esin_off >= 0 and net.egrad_off >= 0
                       and net.esin_off + b * net.per_n * net.per_k <= net.work_size
                       and net.egrad_off + b * _per_out(net) <= net.work_size,
                       "Xe, its sines and G inside work")
        FASTMLP_ASSERT(net.per_d == 0 or (net.ecos_off >= 0 and net.ecos_off
                       + b * net.per_n * net.per_k <= net.work_size),
                       "the cosines inside work")
    if net.cat_n > 0:
        FASTMLP_ASSERT(net.cat_d >= 1 and net.per_n + _in_out(net) <= net.units[0],
                       "numeric, embedding and periodic output columns inside X")
        FASTMLP_ASSERT(net.cat_off >= net.n_coef and net.cat_off
                       + net.cat_rows[net.cat_n] * net.cat_d <= net.n_params,
                       "E inside params")
        FASTMLP_ASSERT(net.emb_off >= 0 and net.emb_off + b * net.units[0] <= net.work_size
                       and net.ecode_off >= 0 and net.ecode_off + b * net.cat_n
                       <= net.work_size and net.egrad_off >= 0
                       and net.egrad_off + b * _in_out(net) <= net.work_size,
                       "Xe, the codes and G inside work")
