from cython cimport floating

cdef enum:
    SOLVER_SGD = 0
    SOLVER_ADAM = 1
    SOLVER_RMSPROP = 2

cdef struct OptConsts:
    double lr          # step size of this update (Adam: bias-corrected)
    double momentum    # sgd
    bint nesterov      # sgd
    double beta_1      # adam
    double beta_2      # adam
    double epsilon     # adam, rmsprop
    double rho         # rmsprop

cdef double _grad_sqnorm(const floating* p, const floating* g, Py_ssize_t n,
                         Py_ssize_t n_coef, floating alpha,
                         floating scale) noexcept nogil

cdef double _update(int solver, floating* p, const floating* g, floating* s1,
                    floating* s2, Py_ssize_t n, Py_ssize_t n_coef,
                    floating alpha, floating scale, const OptConsts* c,
                    int n_threads) noexcept nogil
