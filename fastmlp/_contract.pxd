# Design: the engine's entry contract.  Every `def` of the engine that takes
# buffers checks each one against the Layout before any kernel touches it,
# because the kernels run with bounds checking off and trust every length and
# offset.  The checks are O(1) per buffer, plus one pass over the arrays whose
# values the kernels use as offsets (the epoch's row order, a CSR matrix's
# indptr and indices).  A failed check raises ValueError naming the buffer,
# the size the layout needs and the size found; nothing has been written then.
from cython cimport floating

# a CSR matrix's column indices: SciPy's int32, or intp
ctypedef fused index_t:
    int
    Py_ssize_t


cdef inline int check_len(Py_ssize_t found, Py_ssize_t needed, str what) except -1:
    """found == needed, or ValueError."""
    if found != needed:
        raise ValueError(f"{what} has {found} values; the network's layout needs {needed}.")
    return 0


cdef inline int check_room(Py_ssize_t found, Py_ssize_t needed, str what) except -1:
    """found >= needed (a scratch buffer may be larger), or ValueError."""
    if found < needed:
        raise ValueError(f"{what} has room for {found} values; the network's layout "
                         f"needs {needed}.")
    return 0


cdef inline int check_indices(const index_t* idx, Py_ssize_t n, Py_ssize_t bound,
                              str what) except -1:
    """0 <= idx[i] < bound for every i < n, or ValueError."""
    cdef Py_ssize_t i, bad = -1
    with nogil:
        for i in range(n):
            if idx[i] < 0 or idx[i] >= bound:
                bad = i
                break
    if bad >= 0:
        raise ValueError(f"{what}[{bad}] = {idx[bad]} is outside [0, {bound}).")
    return 0


cdef inline int check_in_order(const Py_ssize_t* idx, Py_ssize_t n) except -1:
    """idx[i] == i for every i < n, or ValueError: with shuffled=False the
    engine reads X's and the targets' rows in place, so the order must be
    the rows' own."""
    cdef Py_ssize_t i, bad = -1
    with nogil:
        for i in range(n):
            if idx[i] != i:
                bad = i
                break
    if bad >= 0:
        raise ValueError(f"shuffled=False reads the rows in place, so sample_idx must be "
                         f"0, 1, 2, ...; sample_idx[{bad}] = {idx[bad]}.")
    return 0


cdef inline int check_weight_sums(const floating* sw, const Py_ssize_t* idx, Py_ssize_t n,
                                  Py_ssize_t batch) except -1:
    """Every batch of `batch` rows of idx (in order; NULL: rows 0, 1, ...)
    has sample weights that do not sum to 0, or ZeroDivisionError with
    NumPy's message: a batch's gradient is divided by its weights' sum, and
    scikit-learn's np.average raises this there.  The sums are the engine's
    own: doubles, row by row."""
    cdef Py_ssize_t start = 0, i
    cdef double total
    cdef bint zero = False
    with nogil:
        while start < n and not zero:
            total = 0
            for i in range(start, min(start + batch, n)):
                total += sw[idx[i] if idx != NULL else i]
            zero = total == 0
            start += batch
    if zero:
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    return 0


cdef inline bint indices_are_int32(object indices) except -1:
    """Whether a CSR matrix's column indices are int32 (else intp); a
    ValueError for anything else (the kernels read them as one or the other)."""
    dtype = getattr(indices, "dtype", None)
    if dtype is None or dtype.kind != "i" or dtype.itemsize not in (
            sizeof(int), sizeof(Py_ssize_t)):
        raise ValueError(f"X.indices must be an int32 or intp array, got "
                         f"{type(indices).__name__} of dtype {dtype}.")
    return dtype.itemsize == sizeof(int) and dtype.itemsize != sizeof(Py_ssize_t)


cdef inline int check_csr(const Py_ssize_t[::1] indptr, object indices,
                          Py_ssize_t n_data, Py_ssize_t n_rows,
                          Py_ssize_t n_features) except -1:
    """A CSR matrix of n_rows rows and n_features columns, or ValueError;
    its indices int32 or intp (``indices_are_int32``)."""
    cdef Py_ssize_t r, bad = -1
    cdef const int[::1] i32
    cdef const Py_ssize_t[::1] i64
    if indptr is None or indices is None:
        raise ValueError("A CSR X needs its indptr and indices.")
    if indices_are_int32(indices):
        i32 = indices
        i64 = None
    else:
        i32 = None
        i64 = indices
    check_len(indptr.shape[0], n_rows + 1, "X.indptr")
    check_len(indices.shape[0], n_data, "X.indices")
    with nogil:
        if indptr[0] != 0 or indptr[n_rows] > n_data:
            bad = 0
        else:
            for r in range(n_rows):
                if indptr[r + 1] < indptr[r]:
                    bad = r + 1
                    break
    if bad >= 0:
        raise ValueError(f"X.indptr is not a CSR row index of {n_data} values "
                         f"(entry {bad}).")
    if n_data and i32 is not None:
        check_indices(&i32[0], n_data, n_features, "X.indices")
    elif n_data:
        check_indices(&i64[0], n_data, n_features, "X.indices")
    return 0


cdef inline int check_x(const floating[:, ::1] X,
                        const floating[::1] X_data,
                        object X_indices,
                        const Py_ssize_t[::1] X_indptr,
                        Py_ssize_t n_rows, Py_ssize_t n_features,
                        str rows_what) except -1:
    """X, dense or CSR, of n_rows rows (rows_what names what sets that
    number) and n_features columns, or ValueError."""
    if X is not None:
        check_len(X.shape[0], n_rows, rows_what)
        check_len(X.shape[1], n_features, "Each row of X")
    elif X_data is not None:
        check_csr(X_indptr, X_indices, X_data.shape[0], n_rows, n_features)
    else:
        raise ValueError("The engine needs X: dense or CSR.")
    return 0


cdef inline Py_ssize_t check_data(layout,
                                  const floating[:, ::1] X,
                                  const floating[::1] X_data,
                                  object X_indices,
                                  const Py_ssize_t[::1] X_indptr,
                                  const floating[:, ::1] Y,
                                  const unsigned char[:, ::1] Y_bool,
                                  const floating[::1] sample_weight,
                                  const Py_ssize_t[::1] sample_idx) except -1:
    """X (dense or CSR), the targets (float or 0/1, exactly one), the sample
    weights and the row order against the layout; returns the number of rows."""
    cdef Py_ssize_t n_features = layout.units[0]
    cdef Py_ssize_t n_out = layout.n_outputs
    cdef Py_ssize_t n_rows
    if (Y is None) == (Y_bool is None):
        raise ValueError("The engine takes float targets or 0/1 targets: exactly one.")
    if Y is not None:
        n_rows = Y.shape[0]
        check_len(Y.shape[1], n_out, "Each row of the targets")
    else:
        n_rows = Y_bool.shape[0]
        check_len(Y_bool.shape[1], n_out, "Each row of the targets")
    check_x(X, X_data, X_indices, X_indptr, n_rows, n_features,
            "X's rows (one per target row)")
    if sample_weight is not None:
        check_len(sample_weight.shape[0], n_rows, "sample_weight")
    if sample_idx.shape[0]:
        check_indices(&sample_idx[0], sample_idx.shape[0], n_rows, "sample_idx")
    return n_rows


cdef inline int check_codes(layout, const floating[:, ::1] X) except -1:
    """Every code X holds for the input layer's embeddings (column
    layout.embedding_col + c * d for table c) is an integer in [0,
    cards[c]), or ValueError: the kernels read table rows at them.  Called
    only for a layout with embeddings (one pass over those columns)."""
    cdef Py_ssize_t c, i, col, card, bad = -1
    cdef Py_ssize_t n = 0 if X is None else X.shape[0]
    cdef double v
    cards, d = layout.embedding
    for c in range(len(cards) if n else 0):
        card = cards[c]
        col = layout.embedding_col + c * d
        with nogil:
            for i in range(n):
                v = X[i, col]
                # NaN fails the first test; the cast is safe once 0 <= v < card
                if not (v >= 0 and v < card) or v != <double> (<Py_ssize_t> v):
                    bad = i
                    break
        if bad >= 0:
            raise ValueError(f"X[{bad}, {col}] = {X[bad, col]!r} is not a code of embedding "
                             f"table {c}: an integer in [0, {card}) was expected.")
    return 0
