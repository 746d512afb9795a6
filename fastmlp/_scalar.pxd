# Scalar math shared by the kernels: the float32 or float64 libm call, chosen
# at compile time by the fused type, inlined where used.
from cython cimport floating
from libc.math cimport (erf, erff, exp, expf, log, log1p, log1pf, logf, sqrt,
                        sqrtf, tanh, tanhf)


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


cdef inline floating clog1p(floating x) noexcept nogil:
    if floating is float:
        return log1pf(x)
    else:
        return log1p(x)


cdef inline floating ctanh(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline floating cerf(floating x) noexcept nogil:
    if floating is float:
        return erff(x)
    else:
        return erf(x)
