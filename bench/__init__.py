"""Benchmark suite for fastmlp against scikit-learn and PyTorch.

Run it from the repository root::

    python -m bench            # quick mode, under 2 minutes on 2 cores
    python -m bench --full     # the sizes named in bench/README.md
    python -m bench --smoke    # minuscule sizes, fastmlp and scikit-learn only

Modules, in the order data flows through them:

- ``workloads``  the problems (shapes, batch sizes, epochs, data generators)
- ``runners``    one timed ``fit`` per library: fastmlp, scikit-learn, PyTorch
- ``gemm_limit`` NumPy matmul time at each network's own GEMM shapes
- ``report``     machine description, Markdown tables, JSON and PNG charts
- ``__main__``   the command line and the interleaved measurement loops
"""
