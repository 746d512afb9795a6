# Scalar math shared by the kernels: the float32 or float64 libm call, chosen
# at compile time by the fused type, inlined where used.
from cython cimport floating
from libc.math cimport exp, expf, log, logf, sqrt, sqrtf


cdef inline floating cexp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating clog(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline floating csqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)
