from cython cimport floating

# Output layer codes: each output activation is fused with its loss.
cdef enum:
    OUT_IDENTITY = 0   # identity + squared error
    OUT_EXP = 1        # exp + Poisson deviance
    OUT_LOGISTIC = 2   # logistic + binary log-loss (binary, multilabel)
    OUT_SOFTMAX = 3    # softmax + log-loss (multiclass)
    OUT_HUBER = 4      # identity + Huber loss
    OUT_ABSOLUTE = 5   # identity + absolute error

cdef void _bias_out_forward(floating* Z, const floating* b, Py_ssize_t n_rows,
                            Py_ssize_t n_out, int kind) noexcept nogil

cdef double _bias_out_loss_delta(floating* Z, const floating* b,
                                 const floating* Y, const floating* sw,
                                 Py_ssize_t n_rows, Py_ssize_t n_out,
                                 int kind, double huber_delta,
                                 double* row_losses) noexcept nogil
