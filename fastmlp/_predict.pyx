# Design: prediction.  Row blocks stream through every layer: each thread
# takes whole blocks and keeps one in its own scratch (two halves, ping-pong)
# through all layers, so memory is O(threads * block * width) and a block's
# activations stay in cache between layers.  The threads take the blocks
# one at a time as they come free (dynamic schedule): a thread the OS has
# descheduled holds up one block, not its static half of them (digits'
# 8 blocks beside a busy process, 2 threads: 24 ms for 20 predicts, against
# 72-102 ms static; bench/README.md).  A block's result does not depend on
# the thread that computes it.  One-row blocks use GEMV where W
# is wide, and fastmlp's loop elsewhere where OpenBLAS has no small-matrix
# kernel (_blas.row_times_rm, Tuning.one_row_loop).  No dropout, no loss.
# With an input layer
# (periodic columns, embeddings, input scale), a block's rows first go through it into
# the thread's scratch (_input_layer.pyx); with parametric activations each
# hidden layer keeps its Z in a third part of the scratch for the mix.
# An interruptible call (a user's predict) runs the blocks in spans of about
# Tuning.signal_check_seconds each, at least PREDICT_SPAN_BLOCKS per thread,
# and checks for Ctrl-C (and the caller's stop event) between them: a long
# predict stops within about that long, as scikit-learn's between its NumPy
# operations, where it ran to its end; each block is computed as before.
from cython cimport floating
from cython.parallel cimport prange

import numpy as np

from fastmlp._activations cimport _bias_act_forward, _param_mix
from fastmlp._blas cimport row_times_rm
from fastmlp._contract cimport check_codes, check_len, check_x
from fastmlp._csr cimport _csr_rows_dot
from fastmlp._layers cimport _gemm_pieces
from fastmlp._losses cimport _bias_out_forward
from fastmlp._net cimport Csr, InLayer
from fastmlp._network cimport _Views, _bind_x, _check_stop, _in_layer, _views
from fastmlp._openmp cimport omp_get_thread_num
from fastmlp._pacing cimport pace_clock
from fastmlp._input_layer cimport _input_rows
from fastmlp._tuning cimport Tuning, tuning_for
from fastmlp._tuning import PREDICT_BLOCK_ROWS

# the fewest blocks per thread in an interruptible call's span: each span
# ends with the team's join, which waits for the slowest thread's last block
cdef enum:
    PREDICT_SPAN_BLOCKS = 16


cdef void _forward_rows(const Tuning* tun, const Py_ssize_t* units,
                        const Py_ssize_t* coef_off,
                        const Py_ssize_t* int_off, int n_layers, const int* acts,
                        int out_kind, const floating* params, const floating* X,
                        const Csr* csr, Py_ssize_t r0, Py_ssize_t r1,
                        floating* scratch, Py_ssize_t half,
                        floating* out, const InLayer* inlayer,
                        floating* xe, Py_ssize_t pa_off, floating* zpre) noexcept nogil:
    """out[r0:r1] = the network's output for X rows r0:r1 (prediction).

    The block ping-pongs between two scratch halves, layer after layer.
    inlayer is the input layer (_input_layer.pyx); with one, xe is
    the thread's room for it (else NULL) and the block goes through it
    there first.  pa_off >= 0: parametric activations (alphas from there,
    layer after layer), zpre the thread's room for a block's Z."""
    cdef Py_ssize_t m = r1 - r0
    cdef Py_ssize_t fi, fo
    cdef Py_ssize_t alpha = pa_off
    cdef int l
    cdef const floating* src
    cdef floating* dst
    for l in range(n_layers - 1):
        fi = units[l]
        fo = units[l + 1]
        if l == n_layers - 2:
            dst = out + r0 * fo
        else:
            dst = scratch + (l % 2) * half
        if l == 0 and csr.data != NULL:
            _csr_rows_dot(<const floating*> csr.data, csr.indices, csr.indices32,
                          csr.indptr, NULL, r0, r1, params + coef_off[0], fo, dst)
        else:
            src = X + r0 * fi if l == 0 else scratch + ((l - 1) % 2) * half
            if l == 0 and xe != NULL:
                _input_rows(inlayer, X, r0, r1, fi, params, xe)
                src = xe
            if m == 1:
                row_times_rm(fo, fi, src, params + coef_off[l], dst, tun.one_row_loop)
            else:
                _gemm_pieces(tun, False, m, fo, fi, src, fi, params + coef_off[l], 0, dst)
        if l == n_layers - 2:
            _bias_out_forward(dst, params + int_off[l], m, fo, out_kind)
        elif pa_off >= 0:
            _bias_act_forward(dst, params + int_off[l], m, fo, acts[l + 1], zpre)
            _param_mix(dst, zpre, params + alpha, m, fo)
            alpha += fo
        else:
            _bias_act_forward(dst, params + int_off[l], m, fo, acts[l + 1], NULL)


def forward(const floating[::1] params,       # IN: flat coefs + intercepts
            floating[:, ::1] out,             # OUT: (n_samples, n_outputs)
            const floating[:, ::1] X,         # IN: dense X, or None
            const floating[::1] X_data,       # IN: CSR X, or None
            object X_indices,
            const Py_ssize_t[::1] X_indptr,
            layout, int n_threads, Py_ssize_t block=PREDICT_BLOCK_ROWS, dict tuning=None,
            bint interruptible=False, object stop=None):
    """Predict: stream row blocks through every layer into `out`.

    Each thread takes whole blocks of `block` rows and keeps them in its own
    scratch through all layers, so memory is O(threads * block * width) and
    the activations of a block stay in cache between layers.  No dropout.
    `interruptible`: raise KeyboardInterrupt on Ctrl-C (or once `stop`, an
    event, is set) between spans of blocks; `out` is then partly written.
    """
    cdef _Views v = _views(layout)
    cdef int n_layers = v.units.shape[0]
    cdef Py_ssize_t n = out.shape[0]
    cdef Py_ssize_t width = 0, nb, blk, l, b0, b1, span
    cdef double t0, dt
    cdef int nt
    cdef int out_kind = layout.out_kind
    cdef Csr csr
    cdef const floating* Xp = NULL
    cdef floating[::1] scratch
    cdef Tuning tun = tuning_for(tuning)
    cdef InLayer inlayer = _in_layer(v)
    cdef Py_ssize_t per_room = 0, pre_room = 0, room
    cdef Py_ssize_t pa_off = layout.parametric_off if layout.parametric else -1
    check_len(params.shape[0], v.n_params, "params")
    check_len(out.shape[1], v.n_outputs, "Each row of out")
    check_x(X, X_data, X_indices, X_indptr, n, v.units[0], "X's rows (one per row of out)")
    if v.cat_n:
        check_codes(layout, X)
    if block < 1:
        raise ValueError(f"block={block} must be at least 1.")
    for l in range(1, n_layers):
        width = max(width, v.units[l])
    if n == 0:
        return
    block = min(block, n)  # scratch for the rows there are, not a whole block
    nb = (n + block - 1) // block
    nt = 1 if (n_threads <= 1 or nb < 2) else min(n_threads, <int> nb)
    if v.per_n * v.per_k > 0 or v.cat_n > 0 or v.sc_off >= 0:
        if X is None:
            raise ValueError("the input layer (periodic columns, embeddings, input scale) "
                             "needs dense X")
        per_room = block * v.units[0]  # each thread's block through the input layer
    if pa_off >= 0:
        pre_room = block * width  # each thread's Z of a hidden layer
    room = 2 * block * width + per_room + pre_room
    scratch = np.empty(nt * room, dtype=np.float32 if floating is float else np.float64)
    Xp = _bind_x(X, X_data, X_indices, X_indptr, &csr, &params[0])
    b0 = 0
    span = min(nb, PREDICT_SPAN_BLOCKS * nt) if interruptible else nb
    while b0 < nb:
        b1 = min(nb, b0 + span)
        t0 = pace_clock()
        with nogil:
            if nt == 1:
                for blk in range(b0, b1):
                    _forward_rows(&tun, &v.units[0], &v.coef_off[0], &v.int_off[0],
                                  n_layers, &v.acts[0], out_kind, &params[0],
                                  Xp, &csr, blk * block, min(n, (blk + 1) * block),
                                  &scratch[0], block * width, &out[0, 0], &inlayer,
                                  &scratch[0] + 2 * block * width if per_room else NULL,
                                  pa_off, &scratch[0] + 2 * block * width + per_room)
            else:
                for blk in prange(b0, b1, num_threads=nt, schedule="dynamic"):
                    _forward_rows(&tun, &v.units[0], &v.coef_off[0], &v.int_off[0],
                                  n_layers, &v.acts[0], out_kind, &params[0],
                                  Xp, &csr, blk * block, min(n, (blk + 1) * block),
                                  &scratch[0] + omp_get_thread_num() * room,
                                  block * width, &out[0, 0], &inlayer,
                                  &scratch[0] + omp_get_thread_num() * room
                                  + 2 * block * width if per_room else NULL,
                                  pa_off, &scratch[0] + omp_get_thread_num() * room
                                  + 2 * block * width + per_room)
        dt = pace_clock() - t0
        b0 = b1
        if b0 < nb:
            _check_stop(stop)
            # the next span: about signal_check_seconds at this span's rate
            if dt > 0:
                span = max(PREDICT_SPAN_BLOCKS * nt,
                           <Py_ssize_t> (span * tun.signal_check_seconds / dt))
