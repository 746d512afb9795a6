# Design: the default values of the engine's Tuning (declared, with what
# each threshold is for, in _tuning.pxd), and the one function that turns
# explicit overrides into the struct an engine call carries.  Python-level
# sizes of the estimator and _engine live here too.

import os

# The pacer (_pacing.pxd) is on unless the environment says FASTMLP_PACE=0
# when fastmlp is imported: the team then runs throughout, whatever else
# runs on the machine (README, "A busy machine").
PACE_DEFAULT = os.environ.get("FASTMLP_PACE", "1").strip() != "0"

# Measured on the bench machine (bench/README.md); see _tuning.pxd.
DEFAULTS = {
    "par_min_flops": 1e6,
    "transcendental_flops": 1000.0,
    "block_bytes": 1 << 21,
    "min_block_rows": 256,
    "small_gemm_mnk": None,  # by BLAS kernel: small_gemm_mnk_for_kernel()
    "small_gemm_min_rows": 8,
    "delta_wt": True,
    "rows_pass": True,
    "rows_pass_min_rows": 64,
    "rows_pass_step": True,
    "online_split": True,
    "online_min_coefs": 2048,
    "online_min_samples": 256,
    "one_row_loop": None,  # by BLAS kernel: not small_gemm_kernel()
    "par_min_gather": 1 << 14,
    "signal_check_samples": 16,
    "signal_check_seconds": 0.05,
    "pace": PACE_DEFAULT,
    "pace_trigger": 2.0,
    "pace_margin": 1.25,
    "pace_gap": 8,
    "pace_max_gap": 128,
    "pace_first_chunk": 16,
    "pace_max_chunk": 512,
    "pace_solo_chunk": 64,
    "pace_memory": 1.0,
    "pace_confirm": 0.01,
    "pace_recheck": 0.002,
}

# OpenBLAS's small-matrix kernels (no packing below M*N*K ~ 1e6), which the
# GEMM pieces of Tuning.small_gemm_mnk are cut for, exist in its SkylakeX
# kernel family only.  Elsewhere the pieces only repack W more often: on
# the Haswell kernel (AMD EPYC without AVX-512) 100-256-128-10 at batch 256,
# float32, took 151 ms/epoch with them and 88 without (1 thread; 83 and 55
# on 2).  So they are on where that kernel runs, and off (0) elsewhere.
# One-row batches' products x W (Tuning.one_row_loop) follow the
# same kernels: where they exist they beat fastmlp's loop (142 against 177
# ns at 64x48, AVX-512, bench/README.md); on the Haswell kernel the GEMM
# packs all of W for every sample, and the loop took digits' 20-epoch
# online fit (float32, 2 threads) from 218 to 113 ms.
SMALL_GEMM_KERNELS = ("skylakex", "cooperlake", "sapphirerapids")
SMALL_GEMM_MNK = 1e6
_small_kernels = None


def small_gemm_kernel():
    """Does the BLAS fastmlp calls (SciPy's) have OpenBLAS's small-matrix
    kernels?  Read once."""
    global _small_kernels
    if _small_kernels is None:
        from threadpoolctl import ThreadpoolController

        arch = ""
        for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
            if "scipy" in str(lib.filepath):
                arch = str(getattr(lib, "architecture", "") or "").lower()
                break
        _small_kernels = arch in SMALL_GEMM_KERNELS
    return _small_kernels


def small_gemm_mnk_for_kernel():
    """small_gemm_mnk for the BLAS fastmlp calls."""
    return SMALL_GEMM_MNK if small_gemm_kernel() else 0.0


# Rows per block of a prediction: each thread keeps a block in its own
# scratch through every layer (_predict.forward); up to one block, serial.
PREDICT_BLOCK_ROWS = 256
# Rows per engine call when L-BFGS (or a validation loss) sweeps the data.
LBFGS_CHUNK_ROWS = 2048


cdef Tuning tuning_from(dict overrides) except *:
    """The defaults, with ``overrides`` (None or a dict of DEFAULTS' keys)."""
    cdef Tuning t
    values = DEFAULTS if not overrides else {**DEFAULTS, **overrides}
    if len(values) != len(DEFAULTS):
        unknown = sorted(set(values) - set(DEFAULTS))
        raise ValueError(f"Unknown tuning keys {unknown}; known: {sorted(DEFAULTS)}.")
    t.par_min_flops = values["par_min_flops"]
    t.transcendental_flops = values["transcendental_flops"]
    t.block_bytes = values["block_bytes"]
    t.min_block_rows = values["min_block_rows"]
    t.small_gemm_mnk = (small_gemm_mnk_for_kernel() if values["small_gemm_mnk"] is None
                        else values["small_gemm_mnk"])
    t.small_gemm_min_rows = values["small_gemm_min_rows"]
    t.delta_wt = values["delta_wt"]
    t.rows_pass = values["rows_pass"]
    t.rows_pass_min_rows = values["rows_pass_min_rows"]
    t.rows_pass_step = values["rows_pass_step"]
    t.online_split = values["online_split"]
    t.online_min_coefs = values["online_min_coefs"]
    t.online_min_samples = values["online_min_samples"]
    t.one_row_loop = (not small_gemm_kernel() if values["one_row_loop"] is None
                         else values["one_row_loop"])
    t.par_min_gather = values["par_min_gather"]
    t.signal_check_samples = values["signal_check_samples"]
    t.signal_check_seconds = values["signal_check_seconds"]
    t.pace = values["pace"]
    t.pace_trigger = values["pace_trigger"]
    t.pace_margin = values["pace_margin"]
    t.pace_gap = values["pace_gap"]
    t.pace_max_gap = values["pace_max_gap"]
    t.pace_first_chunk = values["pace_first_chunk"]
    t.pace_max_chunk = values["pace_max_chunk"]
    t.pace_solo_chunk = values["pace_solo_chunk"]
    t.pace_memory = values["pace_memory"]
    t.pace_confirm = values["pace_confirm"]
    t.pace_recheck = values["pace_recheck"]
    if t.block_bytes < 1 or t.min_block_rows < 1 or t.small_gemm_min_rows < 1:
        raise ValueError("block_bytes, min_block_rows and small_gemm_min_rows must be >= 1.")
    if t.rows_pass_min_rows < 1 or t.signal_check_samples < 1:
        raise ValueError("rows_pass_min_rows and signal_check_samples must be >= 1.")
    if not t.signal_check_seconds >= 0:
        raise ValueError("signal_check_seconds must be >= 0.")
    if (t.pace_gap < 1 or t.pace_max_gap < t.pace_gap or t.pace_first_chunk < 1
            or t.pace_max_chunk < t.pace_first_chunk or t.pace_solo_chunk < 1
            or not t.pace_trigger > 0 or not t.pace_margin >= 1
            or not t.pace_memory >= 0 or not t.pace_confirm >= 0
            or not t.pace_recheck >= 0):
        raise ValueError("the pace_* keys must be >= 1 (the maxima at least their starts) "
                         "pace_trigger > 0, pace_margin >= 1 and pace_memory, pace_confirm "
                         "and pace_recheck >= 0.")
    return t


cdef Tuning DEFAULT_TUNING
cdef bint _have_default = False


cdef Tuning tuning_for(dict overrides) except *:
    """tuning_from(overrides), without rebuilding the defaults when None
    (a one-row predict pays nothing for them; they are made at the first
    call, which reads the BLAS kernel)."""
    global DEFAULT_TUNING, _have_default
    if overrides is not None:
        return tuning_from(overrides)
    if not _have_default:
        DEFAULT_TUNING = tuning_from(None)
        _have_default = True
    return DEFAULT_TUNING


def set_pace_default(bint on):
    """Turn the pacer on or off for every engine call on the default tuning
    (as FASTMLP_PACE does at import); returns the setting it replaces.  For
    tests of bit-repeatable fits: a pacer that switches a fit between the
    team and one thread changes its rounding (README, "A busy machine")."""
    global _have_default
    old = DEFAULTS["pace"]
    DEFAULTS["pace"] = bool(on)
    _have_default = False
    return old
