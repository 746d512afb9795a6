from cython cimport floating

# Where everything lives in the flat buffers; built once per call by Python
# (fastmlp._engine.Layout) and read-only in the kernels.
cdef struct Net:
    int n_layers                  # len(units): input, hidden..., output
    const Py_ssize_t* units       # layer sizes
    const Py_ssize_t* coef_off    # W_l = params[coef_off[l]:], (units[l], units[l+1])
    const Py_ssize_t* int_off     # b_l = params[int_off[l]:], (units[l+1],)
    const Py_ssize_t* act_off     # A_l = work[act_off[l]:], (batch, units[l]), l >= 1
    const Py_ssize_t* delta_off   # D_l = work[delta_off[l]:], (batch, units[l]), hidden l
    Py_ssize_t n_coef             # params[:n_coef] are coefs (L2 applies)
    Py_ssize_t n_params
    int act                       # hidden activation code (_activations)
    int out_kind                  # output activation + loss code (_losses)
    int n_threads
