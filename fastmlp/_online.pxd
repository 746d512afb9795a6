from cython cimport floating

from fastmlp._net cimport Net
from fastmlp._optimizers cimport OptConsts


cdef extern from "_spin_barrier.h" nogil:
    ctypedef struct fastmlp_spin_barrier:
        pass

cdef enum:
    ONLINE_MAX_THREADS = 64
    ONLINE_MAX_LAYERS = 64
    SLOT = 8                       # doubles per thread in sums: a cache line each


cdef inline Py_ssize_t _pad16(Py_ssize_t n) noexcept nogil:
    """n rounded up to 16 values: the unit of every part of a thread's region
    (train_online sizes the regions, _thread_loop lays them out)."""
    return (n + 15) // 16 * 16


# What every thread reads (see _online.pyx); pointers are floating* of the
# epoch's dtype, typed void* here.
cdef struct OnlineData:
    const void* X                  # dense X, (n_samples, n_features)
    const void* Y                  # float targets (n_samples, n_out), or NULL
    const unsigned char* Yb8       # 0/1 targets when Y is NULL
    const void* sw                 # sample weights, or NULL
    const Py_ssize_t* idx          # the epoch's order of samples
    Py_ssize_t n                   # samples in the epoch
    Py_ssize_t max_fo              # widest layer output (P's length), padded
    Py_ssize_t u_total             # all layers' units, each padded to 16
    Py_ssize_t out_len             # n_outputs, padded to 16
    int solver
    double lr_init                 # the epoch's rate (Adam: before bias correction)
    Py_ssize_t adam_t0             # Adam's step count before the epoch
    double alpha
    Py_ssize_t signal_every        # samples between checks for Ctrl-C
    void* regions                  # one region per thread (train_online)
    Py_ssize_t mirror_len          # values per block of a thread's own params (padded)
    Py_ssize_t region_stride       # values from one thread's region to the next


# What the threads share and write.
cdef struct OnlineShared:
    fastmlp_spin_barrier barrier
    double sums[SLOT * ONLINE_MAX_THREADS]   # per thread (SLOT apart), two
                                             # (sum p**2, sum |p|) by sample parity
    double sqnorm0                 # sum p**2, sum |p| of the coefs before the epoch
    double l1norm0
    double total                   # summed loss (thread 0)
    Py_ssize_t n_done              # samples done (thread 0)
    Py_ssize_t stop                # k + 1: thread 0 saw Ctrl-C at sample k


cdef Py_ssize_t online_epoch(const Net* net, const OnlineData* d,
                             floating* params, floating* s1, floating* s2,
                             const OptConsts* c, OnlineShared* sh,
                             int n_threads) noexcept nogil

# One epoch at batch size 1 on nt threads: sizes and lays out each thread's
# region, runs online_epoch, returns (loss_sum, adam_t).  _network calls it.
cdef tuple train_online(const Net* net, int nt, const floating* Xp,
                        const floating* Yp, const unsigned char* Yb8,
                        const floating* swp, const Py_ssize_t* idx,
                        Py_ssize_t n, floating* params,
                        floating* s1, floating* s2, const OptConsts* c,
                        int solver, double lr_init, Py_ssize_t adam_t,
                        double alpha)
