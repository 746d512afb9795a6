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
    Py_ssize_t signal_every        # samples between reads of the clock, and
    double signal_seconds          # seconds between checks for Ctrl-C
    void* stop                     # the caller's stop event (a Python object), or NULL
    void* regions                  # one region per thread (train_online)
    int live_team                  # > 0: the regions' own copies are live, for
                                   # a team of that size (OnlineMirrors.team)
    Py_ssize_t mirror_len          # values per block of a thread's own params (padded)
    Py_ssize_t region_stride       # values from one thread's region to the next


# The team's regions across an epoch's team segments, owned by the caller
# (_network.train_epoch): between two team segments the threads' own copies
# of the parameters and optimizer state stay live in them (copying them
# in and back out took ~24 of the ~35 us a segment cost, most of it the
# copies back, which write lines both cores own); online_copy_back writes
# them back before anything else reads the flat buffers.
cdef struct OnlineMirrors:
    void* buf                      # the caller's buffer, online_regions_len values
    Py_ssize_t len
    int team                       # > 0: live, laid out for a team of this size


# What the threads share and write.
cdef struct OnlineShared:
    fastmlp_spin_barrier barrier
    double sums[SLOT * ONLINE_MAX_THREADS]   # per thread (SLOT apart), two
                                             # (sum p**2, sum |p|) by sample parity
    double sqnorm0                 # sum p**2, sum |p| of the coefs before the epoch
    double l1norm0
    double total                   # summed loss, the epoch's so far (thread 0)
    Py_ssize_t n_done              # samples done (thread 0)
    int team                       # the team that ran (thread 0)
    Py_ssize_t stop                # k + 1: thread 0 saw Ctrl-C at sample k


cdef Py_ssize_t online_epoch(const Net* net, const OnlineData* d,
                             floating* params, floating* s1, floating* s2,
                             const OptConsts* c, OnlineShared* sh,
                             int n_threads) noexcept nogil

# The values (of itemsize bytes) an OnlineMirrors buffer holds for a team of nt.
cdef Py_ssize_t online_regions_len(const Net* net, int nt,
                                   Py_ssize_t itemsize) noexcept nogil

# Samples at batch size 1 on nt threads: lays out each thread's region in
# mir's buffer, runs online_epoch, returns (total, adam_t): `total`, the
# epoch's summed loss so far, with the segment's added in order.  The sums of
# the coefs' squares and absolute values (sqnorm, l1norm: INOUT) go in as
# the flat buffer's and come out as the team's last step left them; the
# threads' copies stay live in mir (flat params, s1, s2 stale until
# online_copy_back), except after Ctrl-C.  _network calls it.
cdef tuple train_online(const Net* net, int nt, const floating* Xp,
                        const floating* Yp, const unsigned char* Yb8,
                        const floating* swp, const Py_ssize_t* idx,
                        Py_ssize_t n, floating* params,
                        floating* s1, floating* s2, const OptConsts* c,
                        int solver, double lr_init, Py_ssize_t adam_t,
                        double alpha, OnlineMirrors* mir, double* sqnorm,
                        double* l1norm, double total, object stop,
                        Py_ssize_t* t_stop)

# Write the live copies in mir back to params, s1, s2 (nothing if none are live).
cdef void online_copy_back(const Net* net, OnlineMirrors* mir, floating* params,
                           floating* s1, floating* s2) noexcept nogil
