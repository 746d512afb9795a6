from cython cimport floating
from libc.math cimport pow, sqrt

cdef enum:
    SOLVER_SGD = 0
    SOLVER_ADAM = 1
    SOLVER_RMSPROP = 2
    SOLVER_ADAGRAD = 3
    SOLVER_ADAMW = 4

cdef struct OptConsts:
    double lr            # step size of this update (Adam: bias-corrected)
    double lr_base       # the schedule's rate, before Adam's bias correction
    double momentum      # sgd
    bint nesterov        # sgd
    double beta_1        # adam, adamw
    double beta_2        # adam, adamw
    double epsilon       # adam, adamw, rmsprop, adagrad
    double rho           # rmsprop
    double weight_decay  # adamw (decoupled, coefs only)
    double alpha1        # L1 strength (coefs only)
    double clip_value    # clip each finished gradient entry; 0 = off

cdef double _grad_sqnorm(const floating* p, const floating* g, Py_ssize_t n,
                         Py_ssize_t n_coef, floating alpha, floating alpha1,
                         floating scale) noexcept nogil

cdef double _update(int solver, floating* p, const floating* g, floating* s1,
                    floating* s2, Py_ssize_t n, Py_ssize_t n_coef,
                    floating alpha, floating scale, const OptConsts* c,
                    int n_threads, double* l1_sum) noexcept nogil


cdef inline double adam_step_size(double lr, double beta_1, double beta_2,
                                  Py_ssize_t t) noexcept nogil:
    """Adam's bias-corrected step size at its t-th step (t >= 1):
    lr * sqrt(1 - beta_2**t) / (1 - beta_1**t).  The one place it is written."""
    return lr * sqrt(1 - pow(beta_2, <double> t)) / (1 - pow(beta_1, <double> t))
