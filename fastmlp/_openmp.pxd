cdef extern from "_omp_shim.h" nogil:
    int FASTMLP_HAVE_OPENMP
    int omp_get_max_threads()
    int omp_get_thread_num()
    int omp_get_num_threads()
    void fastmlp_barrier()
