from cython cimport floating

from fastmlp._net cimport Csr, InLayer

# The typed views of a Layout, made once per Layout, and X's pointers as the
# kernels take them: shared with _predict.pyx.
cdef class _Views:
    cdef const Py_ssize_t[::1] units, coef_off, int_off, act_off, delta_off
    cdef const Py_ssize_t[::1] pre_off, mask_off
    cdef const int[::1] acts
    cdef const double[::1] keep
    cdef Py_ssize_t n_params, n_outputs   # the layout's, read once
    cdef Py_ssize_t per_n, per_k, per_d, per_off  # the input layer's periodic columns (none: 0)
    cdef Py_ssize_t cat_n, cat_d, cat_off  # its embeddings (none: cat_n = 0)
    cdef const Py_ssize_t[::1] cat_rows    # table c's first row in E, c = 0 .. cat_n
    cdef Py_ssize_t sc_off                 # and its scale (none: -1)

cdef _Views _views(layout)

cdef InLayer _in_layer(_Views v) noexcept

cdef int _check_stop(object stop) except -1

cdef const floating* _bind_x(const floating[:, ::1] X,
                             const floating[::1] X_data,
                             object X_indices,
                             const Py_ssize_t[::1] X_indptr, Csr* csr,
                             const void* placeholder)
