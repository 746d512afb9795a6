"""How fastmlp was built: what setup.py recorded (fastmlp/_build_info.py)
agrees with what the compiler reported (fastmlp/_build_facts.pyx), and
show_config says it.  .ci/build-matrix checks each configuration further."""
import io

from fastmlp import _build_facts, _openmp, _optimizers, show_config
from fastmlp._config import get_config


def test_the_build_is_what_setup_py_recorded():
    b = get_config()["build"]
    assert b["setup_record"], "fastmlp/_build_info.py is missing: not built by setup.py"
    assert b["mismatches"] == []
    assert b["openmp"] == _openmp.OPENMP_ENABLED == bool(b["openmp_version"])
    assert set(b["why"]) == {"openmp", "simd_clones", "barrier"}


def test_the_clones_and_the_kernels_agree():
    portable = "portable" in _optimizers.SIMD_PATH
    assert _build_facts.SIMD_CLONES is not portable
    assert _build_facts.SIMD_PATH == _optimizers.SIMD_PATH


def test_show_config_names_the_compiler_and_each_choice():
    out = io.StringIO()
    show_config(file=out)
    text = out.getvalue()
    assert text.startswith(f"fastmlp built by {_build_facts.COMPILER}")
    for label in ("OpenMP:", "SIMD clones:", "online step's barrier:", "bounds checks"):
        assert label in text
    assert "MISMATCH" not in text


def test_an_unbuilt_source_tree_says_how_to_build_it(tmp_path):
    # `pip install .` then python in the checkout: Python imports the
    # unbuilt sources first, and the error was only "No module named
    # 'fastmlp._openmp'" (scikit-learn says how to build in that case too)
    import os
    import shutil
    import subprocess
    import sys

    import fastmlp

    src = os.path.dirname(os.path.abspath(fastmlp.__file__))
    shutil.copytree(src, tmp_path / "fastmlp",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # -S, then the site directories by hand: without their .pth files, an
    # editable install's finder cannot lend the checkout's compiled modules
    code = "import site, sys; sys.path.extend(site.getsitepackages()); import fastmlp"
    res = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0
    message = res.stderr.strip().splitlines()[-1]
    assert message.startswith("ImportError: No module named 'fastmlp._openmp': fastmlp's "
                              "compiled modules are not built in ")
    assert "pip install -e ." in message
