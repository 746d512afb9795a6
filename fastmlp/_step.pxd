from cython cimport floating

from fastmlp._net cimport Csr, Net
from fastmlp._optimizers cimport OptConsts


cdef struct StepOpt:
    # the optimizer step each thread takes in _step_rows_split (ROWS_PASS_STEP)
    int solver
    void* params        # floating*: the flat parameters and optimizer state
    void* s1
    void* s2            # NULL unless adam
    double alpha
    double scale
    const OptConsts* c

cdef void _rows_pass(const Net* net, const floating* X, const Csr* csr,
                     const Py_ssize_t* rows, Py_ssize_t m, Py_ssize_t r0,
                     Py_ssize_t r1, const floating* params, floating* work,
                     double* row_loss, const floating* Y, const floating* sw,
                     bint dropout, Py_ssize_t row0,
                     const floating* Xsrc) noexcept nogil

cdef int _rows_team(const Net* net, Py_ssize_t m, bint dense) noexcept nogil

cdef void _grads_share(const Net* net, const floating* X, Py_ssize_t m, int t,
                       int nt, floating* grads, floating* work,
                       const StepOpt* opt, double* sums) noexcept nogil

cdef double _step_rows_split(const Net* net, const floating* X,
                             const Csr* csr, const Py_ssize_t* rows,
                             Py_ssize_t m, int nt, floating* params,
                             floating* grads, floating* work, double* row_loss,
                             const floating* Y, const floating* sw,
                             bint dropout, Py_ssize_t row0,
                             const StepOpt* opt, double* sums,
                             const floating* Xsrc) noexcept nogil
