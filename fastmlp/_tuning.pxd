# Design: every thread-count and size threshold of the engine, in one place.
#
# Two kinds live here.  Fixed limits are compile-time constants (enums):
# capacities and the thresholds of kernels that take no engine context.  The
# thresholds of the network engine are a struct, Tuning, that each call of
# the engine carries in its Net (_network.pxd): the defaults are in
# _tuning.pyx, and tests and bench/ pass other values explicitly
# (``tuning={...}`` on the engine's entry points and on _engine.Problem);
# nothing is a mutable module global.  bench/README.md ("Thresholds") says
# how each one was measured and how it scales with the thread count.

cdef enum:
    # _optimizers: the optimizer loop goes to a prange from this many
    # parameters, in contiguous chunks, one per thread; below it, serial
    OPTIMIZER_PARALLEL_MIN = 1 << 14
    # _blas: one-row products x W go to GEMV from this width and size of W
    # (at 256x64 or 1000x10 the GEMM is the faster, at 128x128 the GEMV)
    GEMV_MIN_N = 96
    GEMV_MIN_NK = 16384
    # _network: layers of up to this many weights get W^T copied for the
    # delta (see Tuning.delta_wt); its stack buffer holds this many values
    DELTA_WT_MAX = 4096
    # _network: the one-region step's optimizer sums hold this many threads
    STEP_MAX_THREADS = 256


cdef struct Tuning:
    # Below this much work a layer step runs serially: an OpenMP fork/join
    # costs a few microseconds on a quiet machine, and 1e6 GEMM flops are
    # ~10 us of one core.  Work is GEMM flops plus an elementwise cost per
    # output value: an exp/log costs what ~1000 GEMM flops do
    # (transcendental_flops), so a softmax + log-loss block is worth
    # splitting long before its GEMM is (digits at batch 200 went from 1.07
    # to 0.79 ms/epoch; batch 32 stays serial).
    double par_min_flops
    double transcendental_flops
    # Forward and delta row blocks aim at block_bytes of layer output, so
    # that bias + activation run on output still in cache (L2), but never
    # fewer than min_block_rows rows: BLAS packs the weight matrix once per
    # GEMM call, and smaller blocks repack it too often (784-1024-1024-10 at
    # batch 512, float32, 2 threads: 128-row blocks reached 56% of the GEMM
    # limit, one 256-row block per thread 95-99%).
    Py_ssize_t block_bytes
    Py_ssize_t min_block_rows
    # Mid-size layers: OpenBLAS runs products up to about M*N*K = 1e6 in its
    # small-matrix kernels, which do not pack, and packs anything larger.  So
    # the forward GEMM of a row block, and the weight gradient of a thread's
    # fan_in rows, are issued as pieces of at most small_gemm_mnk when a
    # piece still has small_gemm_min_rows rows (float32, 1 thread:
    # 200x64x100 forward 31 -> 24 us, weight gradient 37 -> 26 us).  The
    # delta D W^T stays whole: in pieces it measured slower.  Those kernels
    # are the SkylakeX family's only: elsewhere small_gemm_mnk is 0 (no
    # pieces; _tuning.small_gemm_mnk_for_kernel).
    double small_gemm_mnk
    Py_ssize_t small_gemm_min_rows
    # The delta D @ W^T with W^T copied contiguous (layers of up to
    # DELTA_WT_MAX weights, products small enough for OpenBLAS's small-matrix
    # kernels): at 200x10x100, 8.7 us against 6.5 with the copy.
    bint delta_wt
    # Training batches go through all layers, forward and back to the hidden
    # deltas, in ONE parallel region, each thread on its own rows (at least
    # rows_pass_min_rows each); with rows_pass_step each thread also takes
    # the optimizer step of the parameters whose gradients it made.
    bint rows_pass
    Py_ssize_t rows_pass_min_rows
    bint rows_pass_step
    # Batch size 1 on two or more threads: each thread owns a slice of every
    # hidden layer's units for the whole epoch (_online.pyx), for networks of
    # at least online_min_coefs weights (below that the meetings between
    # threads cost more than the halved work saves) and epochs of at least
    # online_min_samples samples (starting the threads and copying each
    # one's parameters in and out costs tens of microseconds).
    bint online_split
    Py_ssize_t online_min_coefs
    Py_ssize_t online_min_samples
    # One-row forward products x W in fastmlp's loop (_rank1.h) rather than
    # the GEMM: the online step's (one row times the thread's columns of W)
    # and those of any training layout of one row (batch_size=1 on one
    # thread).  On where OpenBLAS has no small-matrix kernel and would pack
    # W for every sample (_tuning.small_gemm_kernel).
    bint one_row_loop
    # Gathering a shuffled batch is split over the team from this many values.
    Py_ssize_t par_min_gather
    # Ctrl-C (and the caller's stop event): the clock is read every
    # signal_check_samples samples (at most once a batch), and they are
    # checked once signal_check_seconds have passed since the last check, so
    # a fit stops within about that long however long its steps take.
    Py_ssize_t signal_check_samples
    double signal_check_seconds
    # The team or one thread, per segment of an epoch (_pacing.pxd): pace
    # turns it on; a solo probe comes every pace_gap segments (doubling up
    # to pace_max_gap while the choice holds) and at once when a team
    # segment costs pace_trigger times the last solo one, and the team is left
    # when it costs pace_margin times one thread; the online step's
    # team chunks grow from pace_first_chunk to pace_max_chunk samples, and
    # its one-thread segments are pace_solo_chunk samples.  A fit that
    # starts within pace_memory seconds of an epoch that ended on one
    # thread (in this process) starts on one thread (_pacing.pyx).  An epoch
    # starts on the CPUs other tasks leave free once every epoch of the
    # last pace_confirm seconds started beside them, or the fit's first
    # epoch saw them twice, pace_recheck seconds apart (_pacing.EpochTeam).
    bint pace
    double pace_trigger
    double pace_margin
    Py_ssize_t pace_gap
    Py_ssize_t pace_max_gap
    Py_ssize_t pace_first_chunk
    Py_ssize_t pace_max_chunk
    Py_ssize_t pace_solo_chunk
    double pace_memory
    double pace_confirm
    double pace_recheck


cdef Tuning tuning_from(dict overrides) except *
# tuning_from, with the defaults made once for calls that pass none
cdef Tuning tuning_for(dict overrides) except *
